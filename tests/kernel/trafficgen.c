/*
 * trafficgen: real packets and TCP handshakes for the kernel tests and the
 * benchmarks (test tooling, not part of pyipvs). tests/kernel/traffic.py
 * compiles it with gcc at test time and runs it inside a network namespace;
 * see that module for the supported interface. Everything it sends goes
 * through the kernel's real stack, so IPVS creates its entries as it would
 * for any client.
 *
 *   trafficgen udp|syn|ack SRC NADDR NPORT SPORT DST DPORT
 *       One UDP datagram (udp), TCP SYN (syn) or bare TCP ACK (ack) per flow,
 *       flows being
 *       (SRC + i / NPORT, SPORT + i % NPORT) for i < NADDR * NPORT. Sent on a
 *       raw socket with our own IP header: the source need not be a local
 *       address, and one sendmmsg carries up to 1024 flows, which keeps a
 *       million flows within seconds even under emulation. Prints "sent N".
 *   trafficgen tcp SRC NADDR NPORT SPORT DST DPORT close|reset|hold [LADDR LPORT]...
 *       Real connect()s from those source pairs (SRC must be local, e.g. an
 *       AnyIP route "local SRC/len dev lo"), 256 in flight. LADDR LPORT: listeners
 *       this process accepts on. IPVS hands packets for a real server that
 *       is a local address to the local stack unchanged (its "Local"
 *       forwarding), so such a listener binds the VIP and virtual port.
 *       close: the client closes at once (FIN); reset: it aborts (RST);
 *       hold: connections stay open. Prints "ok N failed M"; with hold it
 *       then waits for end of input before exiting, which closes everything.
 *   trafficgen --mark N ...
 *       Marks every packet with N (SO_MARK), for IPVS fwmark services without
 *       a firewall rule.
 *   trafficgen --listen-ns PATH tcp ...
 *       Creates the listeners inside the network namespace PATH (the IPVS
 *       director, when its real servers are local) and connects from the
 *       namespace it was started in (the clients').
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 1024
#define INFLIGHT 256

static unsigned mark; /* SO_MARK for every socket; 0: none */
static const char *listen_ns; /* namespace file for the listeners; NULL: ours */

static int enter_ns(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
        perror("trafficgen: setns");
        return -1;
    }
    close(fd);
    return 0;
}

static void set_mark(int fd)
{
    if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0)
        perror("trafficgen: SO_MARK");
}

/* Bind to addresses that are local only through a "local" route (AnyIP):
 * IPv4 accepts that anyway, IPv6 wants the address assigned unless freebind. */
static void set_freebind(int fd, int af)
{
    int one = 1;
    if (af == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);
    else
        setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
}

struct addr {
    int af;
    uint8_t b[16]; /* network order; IPv4 in the first 4 */
};

static int parse_addr(const char *s, struct addr *a)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, s, a->b) == 1) {
        a->af = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, a->b) == 1) {
        a->af = AF_INET6;
        return 0;
    }
    return -1;
}

/* a + n, carrying through the address bytes (the tail 4 for IPv4). */
static void addr_add(const struct addr *a, uint32_t n, struct addr *out)
{
    int last = a->af == AF_INET ? 3 : 15;
    uint32_t carry = n;
    *out = *a;
    for (int i = last; i >= 0 && carry; i--) {
        uint32_t v = out->b[i] + (carry & 0xff);
        carry = (carry >> 8) + (v >> 8);
        out->b[i] = (uint8_t)v;
    }
}

static socklen_t sockaddr_of(const struct addr *a, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->af == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)ss;
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        memcpy(&s->sin_addr, a->b, 4);
        return sizeof *s;
    }
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    memcpy(&s6->sin6_addr, a->b, 16);
    return sizeof *s6;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        acc += (uint32_t)(p[n - 1] << 8);
    return acc;
}

static uint16_t fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

/* The transport checksum over the pseudo-header; the kernel does not fill
 * it in for a header-included packet (IPv6 UDP must carry one). */
static uint16_t l4_csum(const struct addr *s, const struct addr *d, int proto,
                        const uint8_t *l4, size_t len)
{
    size_t alen = s->af == AF_INET ? 4 : 16;
    uint32_t acc = sum16(s->b, alen, 0);
    acc = sum16(d->b, alen, acc);
    acc += (uint32_t)proto + (uint32_t)len;
    uint16_t c = fold(sum16(l4, len, acc));
    return c ? c : 0xffff;
}

/* One packet: IP header + UDP (8 bytes + 4 payload) or TCP SYN (20 bytes). */
/* tcp: 0 for UDP, else the TCP flags (0x02 SYN, 0x10 ACK). */
static size_t build(uint8_t *pkt, int tcp, const struct addr *s, uint16_t sport,
                    const struct addr *d, uint16_t dport, uint32_t seq)
{
    int syn = tcp != 0;
    size_t l4len = syn ? 20 : 12, hl = s->af == AF_INET ? 20 : 40;
    uint8_t *l4 = pkt + hl;
    int proto = syn ? IPPROTO_TCP : IPPROTO_UDP;
    memset(pkt, 0, hl + l4len);
    if (s->af == AF_INET) {
        pkt[0] = 0x45;
        pkt[2] = (uint8_t)((hl + l4len) >> 8);
        pkt[3] = (uint8_t)(hl + l4len);
        pkt[6] = 0x40; /* DF; id 0 lets the kernel pick one */
        pkt[8] = 64;
        pkt[9] = (uint8_t)proto;
        memcpy(pkt + 12, s->b, 4);
        memcpy(pkt + 16, d->b, 4);
        uint16_t c = fold(sum16(pkt, 20, 0));
        pkt[10] = (uint8_t)(c >> 8);
        pkt[11] = (uint8_t)c;
    } else {
        pkt[0] = 0x60;
        pkt[4] = (uint8_t)(l4len >> 8);
        pkt[5] = (uint8_t)l4len;
        pkt[6] = (uint8_t)proto;
        pkt[7] = 64;
        memcpy(pkt + 8, s->b, 16);
        memcpy(pkt + 24, d->b, 16);
    }
    l4[0] = (uint8_t)(sport >> 8);
    l4[1] = (uint8_t)sport;
    l4[2] = (uint8_t)(dport >> 8);
    l4[3] = (uint8_t)dport;
    if (syn) {
        l4[4] = (uint8_t)(seq >> 24);
        l4[5] = (uint8_t)(seq >> 16);
        l4[6] = (uint8_t)(seq >> 8);
        l4[7] = (uint8_t)seq;
        if (tcp & 0x10) { /* the ACK of a handshake: seq + 1, some ack number */
            uint32_t s1 = seq + 1;
            l4[4] = (uint8_t)(s1 >> 24);
            l4[5] = (uint8_t)(s1 >> 16);
            l4[6] = (uint8_t)(s1 >> 8);
            l4[7] = (uint8_t)s1;
            l4[8] = 0x12;
            l4[11] = 0x01;
        }
        l4[12] = 5 << 4;
        l4[13] = (uint8_t)tcp;
        l4[14] = 0xff;
        l4[15] = 0xff;
        uint16_t c = l4_csum(s, d, proto, l4, l4len);
        l4[16] = (uint8_t)(c >> 8);
        l4[17] = (uint8_t)c;
    } else {
        l4[4] = (uint8_t)(l4len >> 8);
        l4[5] = (uint8_t)l4len;
        memcpy(l4 + 8, "pyip", 4);
        uint16_t c = l4_csum(s, d, proto, l4, l4len);
        l4[6] = (uint8_t)(c >> 8);
        l4[7] = (uint8_t)c;
    }
    return hl + l4len;
}

static int raw_flows(int tcp, const struct addr *src, uint32_t naddr, uint32_t nport,
                     uint16_t sport0, const struct addr *dst, uint16_t dport)
{
    int fd = socket(dst->af, SOCK_RAW, IPPROTO_RAW); /* IPPROTO_RAW implies header-included */
    if (fd < 0) {
        perror("trafficgen: raw socket");
        return 1;
    }
    set_mark(fd);
    int big = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
    static uint8_t pkts[BATCH][64];
    static struct iovec iov[BATCH];
    static struct mmsghdr msgs[BATCH];
    struct sockaddr_storage to;
    socklen_t tolen = sockaddr_of(dst, 0, &to);
    uint64_t total = (uint64_t)naddr * nport, sent = 0, i = 0;
    while (i < total) {
        unsigned n = 0;
        for (; n < BATCH && i < total; n++, i++) {
            struct addr s;
            addr_add(src, (uint32_t)(i / nport), &s);
            uint16_t sport = (uint16_t)(sport0 + i % nport);
            iov[n].iov_base = pkts[n];
            iov[n].iov_len = build(pkts[n], tcp, &s, sport, dst, dport, (uint32_t)i * 7919u);
            memset(&msgs[n], 0, sizeof msgs[n]);
            msgs[n].msg_hdr.msg_iov = &iov[n];
            msgs[n].msg_hdr.msg_iovlen = 1;
            msgs[n].msg_hdr.msg_name = &to;
            msgs[n].msg_hdr.msg_namelen = tolen;
        }
        unsigned done = 0;
        while (done < n) {
            int r = sendmmsg(fd, msgs + done, n - done, 0);
            if (r < 0) {
                if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
                    poll(NULL, 0, 1);
                    continue;
                }
                perror("trafficgen: sendmmsg");
                close(fd);
                return 1;
            }
            done += (unsigned)r;
        }
        sent += n;
    }
    close(fd);
    printf("sent %llu\n", (unsigned long long)sent);
    return 0;
}

enum end_mode { END_CLOSE, END_RESET, END_HOLD };

static int tcp_flows(const struct addr *src, uint32_t naddr, uint32_t nport, uint16_t sport0,
                     const struct addr *dst, uint16_t dport, enum end_mode mode,
                     char **listen_args, int nlisten)
{
    uint64_t total = (uint64_t)naddr * nport;
    struct rlimit rl = {1 << 20, 1 << 20};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && mode == END_HOLD)
        perror("trafficgen: setrlimit (hold needs two descriptors per connection)");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return perror("trafficgen: epoll"), 1;
    int one = 1, own_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (listen_ns && (own_ns < 0 || enter_ns(listen_ns) < 0))
        return 1;
    for (int k = 0; k < nlisten; k++) {
        struct addr la;
        struct sockaddr_storage ss;
        if (parse_addr(listen_args[2 * k], &la) < 0)
            return fprintf(stderr, "trafficgen: bad listen address\n"), 2;
        socklen_t len = sockaddr_of(&la, (uint16_t)atoi(listen_args[2 * k + 1]), &ss);
        int l = socket(la.af, SOCK_STREAM | SOCK_NONBLOCK, 0);
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        set_freebind(l, la.af);
        if (l < 0 || bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 4096) < 0)
            return perror("trafficgen: listen"), 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)l << 1 | 1};
        epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    }
    if (listen_ns && setns(own_ns, CLONE_NEWNET) < 0)
        return perror("trafficgen: setns back"), 1;
    uint64_t started = 0, ok = 0, failed = 0, inflight = 0;
    struct epoll_event evs[256];
    while (ok + failed < total) {
        while (inflight < INFLIGHT && started < total) {
            struct addr s;
            struct sockaddr_storage ss, ds;
            addr_add(src, (uint32_t)(started / nport), &s);
            socklen_t sl = sockaddr_of(&s, (uint16_t)(sport0 + started % nport), &ss);
            socklen_t dl = sockaddr_of(dst, dport, &ds);
            started++;
            int c = socket(dst->af, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (c < 0) {
                failed++;
                continue;
            }
            setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            set_mark(c);
            set_freebind(c, dst->af);
            if (bind(c, (struct sockaddr *)&ss, sl) < 0 ||
                (connect(c, (struct sockaddr *)&ds, dl) < 0 && errno != EINPROGRESS)) {
                close(c);
                failed++;
                continue;
            }
            struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)c << 1};
            epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
            inflight++;
        }
        int n = epoll_wait(ep, evs, 256, 5000);
        if (n == 0) { /* nothing answered for 5 s: count what is left as failed */
            failed += inflight;
            inflight = 0;
            if (started >= total)
                break;
            continue;
        }
        for (int k = 0; k < n; k++) {
            int fd = (int)(evs[k].data.u64 >> 1);
            if (evs[k].data.u64 & 1) { /* a listener: accept what is queued */
                int a;
                while ((a = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
                    if (mode != END_HOLD)
                        close(a);
                continue;
            }
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
            epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            inflight--;
            if (err) {
                failed++;
                close(fd);
                continue;
            }
            ok++;
            if (mode == END_RESET) {
                struct linger lg = {1, 0};
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            }
            if (mode != END_HOLD)
                close(fd);
        }
    }
    /* Accept the last ones still queued, so the servers saw every handshake. */
    for (int n; (n = epoll_wait(ep, evs, 256, 50)) > 0;)
        for (int k = 0; k < n; k++)
            if (evs[k].data.u64 & 1) {
                int a, fd = (int)(evs[k].data.u64 >> 1);
                while ((a = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
                    if (mode != END_HOLD)
                        close(a);
            }
    printf("ok %llu failed %llu\n", (unsigned long long)ok, (unsigned long long)failed);
    fflush(stdout);
    if (mode == END_HOLD) {
        char buf[64];
        while (read(0, buf, sizeof buf) > 0)
            ;
    }
    return 0;
}

int main(int argc, char **argv)
{
    while (argc > 2 && (!strcmp(argv[1], "--mark") || !strcmp(argv[1], "--listen-ns"))) {
        if (argv[1][2] == 'm')
            mark = (unsigned)strtoul(argv[2], NULL, 0);
        else
            listen_ns = argv[2];
        argc -= 2;
        argv += 2;
    }
    if (argc < 8) {
        fprintf(stderr, "usage: trafficgen udp|syn|tcp SRC NADDR NPORT SPORT DST DPORT ...\n");
        return 2;
    }
    struct addr src, dst;
    if (parse_addr(argv[2], &src) < 0 || parse_addr(argv[6], &dst) < 0 || src.af != dst.af) {
        fprintf(stderr, "trafficgen: SRC and DST must be addresses of one family\n");
        return 2;
    }
    uint32_t naddr = (uint32_t)strtoul(argv[3], NULL, 10);
    uint32_t nport = (uint32_t)strtoul(argv[4], NULL, 10);
    uint16_t sport = (uint16_t)atoi(argv[5]), dport = (uint16_t)atoi(argv[7]);
    if (!nport || sport + nport - 1 > 65535) {
        fprintf(stderr, "trafficgen: source ports out of range\n");
        return 2;
    }
    if (!strcmp(argv[1], "udp") || !strcmp(argv[1], "syn") || !strcmp(argv[1], "ack")) {
        int tcp = argv[1][0] == 's' ? 0x02 : argv[1][0] == 'a' ? 0x10 : 0;
        return raw_flows(tcp, &src, naddr, nport, sport, &dst, dport);
    }
    if (!strcmp(argv[1], "tcp") && argc >= 9 && (argc - 9) % 2 == 0) {
        enum end_mode m = !strcmp(argv[8], "hold") ? END_HOLD
                        : !strcmp(argv[8], "reset") ? END_RESET : END_CLOSE;
        return tcp_flows(&src, naddr, nport, sport, &dst, dport, m, argv + 9, (argc - 9) / 2);
    }
    fprintf(stderr, "trafficgen: bad arguments\n");
    return 2;
}
