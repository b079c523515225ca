/*
 * list_floor.c - the kernel floor of a full IPVS table read (benchmarks
 * layer; compiled and run by benchmarks/bench_list.py, not part of pyipvs).
 *
 * The cheapest sequence of kernel reads that yields every service and every
 * real server with counters: one GET_SERVICE dump, then one GET_DEST dump
 * per service, with the GET_DEST requests prebuilt before the clock starts
 * and every reply discarded unparsed (only bytes and messages are counted).
 * Raw netlink, no libnl, nothing else in the way.
 *
 * The receive strategy is a parameter, which is how the options for the C
 * core were measured:
 *   poll   poll() before every recvmsg() (a blocking-style exchange)
 *   recv   recvmsg(MSG_DONTWAIT) first, poll() only when nothing is queued
 *   mmsg   one recvmmsg(MSG_DONTWAIT) drains a whole dump
 *   multi  K sockets: one dump request in flight on each, then drain each
 *   small  as mmsg, but the GET_DEST dumps go to a second socket that never
 *          receives more than 4 KiB: the kernel sizes each dump chunk from a
 *          socket's largest receive so far (capped at 32 KiB) and allocates
 *          and clears that much per chunk, even for a dump of a few hundred
 *          bytes; the service dump keeps large chunks (the kernel resumes it
 *          by walking the list from its start, so small ones cost a walk
 *          each). csrc/snapshot.c reads this way.
 *   threads  as small, but the GET_DEST dumps split between K threads,
 *          each with a small-receive socket of its own (services i, i + K,
 *          ...): not a sequence, so not the floor the listing targets are
 *          measured against, but what a reader with K CPUs can reach
 *          (csrc/snapshot.c reads with a helper thread for listings)
 *   services  the service dump alone: what a consistent read pays on top
 *          of the floor (csrc/snapshot.c dumps the services again after the
 *          servers, IPVS having no "dump interrupted" flag)
 *
 * The floor is the cheapest of them for the table at hand (bench_list.py).
 *   list_floor MODE K REPS [INTERVAL]   (run inside the target network namespace)
 *
 * With INTERVAL (seconds), repetition i starts INTERVAL * i after the first,
 * as a poller's reads do. With INTERVAL "-", each repetition waits for a
 * line on stdin instead, and the program ends at EOF: paced by a harness
 * that takes turns with other readers (benchmarks/bench_poll.py).
 *
 * Prints one line per repetition: "MODE K SECONDS SERVICES MESSAGES BYTES
 * CPU USER", CPU being the process's CPU seconds (every thread, user and
 * system) in that repetition and USER the user-space part of it
 * (getrusage, which the kernel samples in ticks: a mean over many
 * repetitions means something, one alone does not).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#define BUF (64 * 1024)
#define SMALL 4096 /* what the small mode's second socket receives at most */
#define SLOTS 8
#define MAXSOCK 64

/* Per thread: the threads mode's readers each have their own. */
static __thread unsigned char *bufs;
static __thread size_t rxlen = BUF; /* what the next receives take at most */
static uint16_t family;
static uint32_t seqno = 1;
static __thread unsigned long n_msgs, n_bytes;

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static int open_sock(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    int size = 4 << 20;
    struct sockaddr_nl a = {.nl_family = AF_NETLINK};

    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        die("bind");
    return fd;
}

static void put_attr(unsigned char *buf, size_t *off, uint16_t type, const void *data,
                     uint16_t len)
{
    struct nlattr *na = (struct nlattr *)(buf + *off);

    na->nla_type = type;
    na->nla_len = NLA_HDRLEN + len;
    memcpy(buf + *off + NLA_HDRLEN, data, len);
    *off += NLA_ALIGN(na->nla_len);
}

static size_t begin(unsigned char *buf, uint16_t type, uint16_t flags, uint8_t cmd, uint8_t ver)
{
    struct nlmsghdr *n = (struct nlmsghdr *)buf;
    struct genlmsghdr *g = (struct genlmsghdr *)(buf + NLMSG_HDRLEN);

    memset(buf, 0, NLMSG_HDRLEN + GENL_HDRLEN);
    n->nlmsg_type = type;
    n->nlmsg_flags = flags;
    n->nlmsg_seq = seqno++;
    g->cmd = cmd;
    g->version = ver;
    return NLMSG_HDRLEN + GENL_HDRLEN;
}

static void send_msg(int fd, void *buf, size_t len)
{
    struct sockaddr_nl k = {.nl_family = AF_NETLINK};

    ((struct nlmsghdr *)buf)->nlmsg_len = (uint32_t)len;
    if (sendto(fd, buf, len, 0, (struct sockaddr *)&k, sizeof(k)) != (ssize_t)len)
        die("sendto");
}

/* Per datagram: returns 1 when the dump's DONE (or an error) was in it. */
static int scan(const unsigned char *buf, int len, void (*each)(const struct nlmsghdr *))
{
    const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

    n_bytes += (unsigned long)len;
    for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        n_msgs++;
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
            return 1;
        if (each != NULL)
            each(h);
    }
    return 0;
}

static void wait_in(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    if (poll(&p, 1, 5000) != 1)
        die("poll (timeout)");
}

/* Read one dump to its end with the given strategy. */
static void drain(int fd, const char *mode, void (*each)(const struct nlmsghdr *))
{
    int done = 0;

    while (!done) {
        if (strcmp(mode, "poll") == 0 || strcmp(mode, "recv") == 0) {
            ssize_t n;

            if (mode[0] == 'p')
                wait_in(fd);
            n = recv(fd, bufs, rxlen, MSG_DONTWAIT);
            if (n < 0 && errno == EAGAIN) {
                wait_in(fd);
                continue;
            }
            if (n < 0)
                die("recv");
            done = scan(bufs, (int)n, each);
        } else {
            struct mmsghdr m[SLOTS];
            struct iovec iov[SLOTS];
            int n;

            memset(m, 0, sizeof(m));
            for (int i = 0; i < SLOTS; i++) {
                iov[i].iov_base = bufs + (size_t)i * BUF;
                iov[i].iov_len = rxlen;
                m[i].msg_hdr.msg_iov = &iov[i];
                m[i].msg_hdr.msg_iovlen = 1;
            }
            n = recvmmsg(fd, m, SLOTS, MSG_DONTWAIT, NULL);
            if (n < 0 && errno == EAGAIN) {
                wait_in(fd);
                continue;
            }
            if (n < 0)
                die("recvmmsg");
            for (int i = 0; i < n && !done; i++)
                done = scan(iov[i].iov_base, (int)m[i].msg_len, each);
        }
    }
}

static void on_family(const struct nlmsghdr *h)
{
    int len = (int)h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
    const struct nlattr *a = (const void *)((const unsigned char *)h + NLMSG_HDRLEN + GENL_HDRLEN);

    for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
         len -= NLA_ALIGN(a->nla_len), a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len)))
        if (a->nla_type == CTRL_ATTR_FAMILY_ID)
            memcpy(&family, (const char *)a + NLA_HDRLEN, 2);
}

/* Prebuilt GET_DEST requests, one per service, from an untimed service dump. */
static unsigned char (*reqs)[256];
static size_t *req_len;
static size_t nreq, capreq;

static void on_service(const struct nlmsghdr *h)
{
    const struct nlattr *outer = (const void *)((const unsigned char *)h + NLMSG_HDRLEN + GENL_HDRLEN);
    const struct nlattr *a = (const void *)((const char *)outer + NLA_HDRLEN);
    int len = outer->nla_len - NLA_HDRLEN;
    unsigned char *r;
    size_t off, nest;

    if (nreq == capreq) {
        capreq = capreq ? capreq * 2 : 1024;
        reqs = realloc(reqs, capreq * sizeof(*reqs));
        req_len = realloc(req_len, capreq * sizeof(*req_len));
        if (reqs == NULL || req_len == NULL)
            die("realloc");
    }
    r = reqs[nreq];
    off = begin(r, family, NLM_F_REQUEST | NLM_F_DUMP, 8 /* GET_DEST */, 1);
    nest = off;
    off += NLA_HDRLEN;
    for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
         len -= NLA_ALIGN(a->nla_len), a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len)))
        if (a->nla_type >= 1 && a->nla_type <= 5) /* AF, PROTOCOL, ADDR, PORT, FWMARK */
            put_attr(r, &off, a->nla_type, (const char *)a + NLA_HDRLEN, a->nla_len - NLA_HDRLEN);
    ((struct nlattr *)(r + nest))->nla_type = NLA_F_NESTED | 1; /* CMD_ATTR_SERVICE */
    ((struct nlattr *)(r + nest))->nla_len = (uint16_t)(off - nest);
    ((struct nlmsghdr *)r)->nlmsg_len = (uint32_t)off;
    req_len[nreq++] = off;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The process's CPU time, every thread's, user and system (the kernel's
 * work for a dump runs in the thread that receives it). */
static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The process's user-space CPU seconds. */
static double user_now(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
}

static void services_dump(int fd, const char *mode, void (*each)(const struct nlmsghdr *))
{
    unsigned char req[64];
    size_t off = begin(req, family, NLM_F_REQUEST | NLM_F_DUMP, 4 /* GET_SERVICE */, 1);

    send_msg(fd, req, off);
    drain(fd, mode, each);
}

/* The threads mode's reader: every step-th prebuilt request from first. */
struct reader {
    int fd;
    size_t first, step;
    unsigned long msgs, bytes;
};

static void *read_share(void *arg)
{
    struct reader *r = arg;

    bufs = malloc((size_t)SLOTS * BUF);
    if (bufs == NULL)
        die("malloc");
    rxlen = SMALL;
    n_msgs = n_bytes = 0;
    for (size_t i = r->first; i < nreq; i += r->step) {
        send_msg(r->fd, reqs[i], req_len[i]);
        drain(r->fd, "mmsg", NULL);
    }
    r->msgs = n_msgs;
    r->bytes = n_bytes;
    free(bufs);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "mmsg";
    int k = argc > 2 ? atoi(argv[2]) : 1;
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    int paced = argc > 4 && strcmp(argv[4], "-") == 0;
    double interval = argc > 4 && !paced ? atof(argv[4]) : 0, start;
    int fds[MAXSOCK];
    unsigned char req[64];
    size_t off;

    if (k < 1 || k > MAXSOCK)
        k = 1;
    if (strcmp(mode, "small") == 0)
        k = 2; /* fds[1], never used for a larger receive: the GET_DEST dumps */
    int readers = k;

    if (strcmp(mode, "threads") == 0) {
        if (readers >= MAXSOCK)
            readers = MAXSOCK - 1;
        k = readers + 1; /* fds[1..readers]: one per reader */
    }
    bufs = malloc((size_t)SLOTS * BUF);
    if (bufs == NULL)
        die("malloc");
    for (int i = 0; i < k; i++)
        fds[i] = open_sock();

    off = begin(req, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
    put_attr(req, &off, CTRL_ATTR_FAMILY_NAME, "IPVS", 5);
    send_msg(fds[0], req, off);
    drain(fds[0], "poll", on_family);
    if (family == 0) {
        fprintf(stderr, "no IPVS family\n");
        return 3;
    }
    services_dump(fds[0], "poll", on_service);

    start = now();
    for (int rep = 0; rep < reps; rep++) {
        double t0, c0, u0;
        char go[16];

        if (paced && fgets(go, sizeof(go), stdin) == NULL)
            break;
        t0 = now();
        if (interval > 0 && start + interval * rep > t0) {
            double wait = start + interval * rep - t0;
            struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};

            nanosleep(&ts, NULL);
            t0 = now();
        }
        c0 = cpu_now();
        u0 = user_now();

        n_msgs = n_bytes = 0;
        if (strcmp(mode, "services") == 0) {
            services_dump(fds[0], "mmsg", NULL);
        } else if (strcmp(mode, "small") == 0) {
            services_dump(fds[0], "mmsg", NULL);
            rxlen = SMALL;
            for (size_t i = 0; i < nreq; i++) {
                send_msg(fds[1], reqs[i], req_len[i]);
                drain(fds[1], "mmsg", NULL);
            }
            rxlen = BUF;
        } else if (strcmp(mode, "threads") == 0) {
            pthread_t tid[MAXSOCK];
            struct reader r[MAXSOCK];

            services_dump(fds[0], "mmsg", NULL);
            for (int j = 0; j < readers; j++) {
                r[j] = (struct reader){fds[j + 1], (size_t)j, (size_t)readers, 0, 0};
                if (pthread_create(&tid[j], NULL, read_share, &r[j]) != 0)
                    die("pthread_create");
            }
            for (int j = 0; j < readers; j++) {
                pthread_join(tid[j], NULL);
                n_msgs += r[j].msgs;
                n_bytes += r[j].bytes;
            }
        } else if (strcmp(mode, "multi") == 0) {
            services_dump(fds[0], "mmsg", NULL);
            for (size_t i = 0; i < nreq; i += (size_t)k) {
                size_t batch = nreq - i < (size_t)k ? nreq - i : (size_t)k;

                for (size_t j = 0; j < batch; j++)
                    send_msg(fds[j], reqs[i + j], req_len[i + j]);
                for (size_t j = 0; j < batch; j++)
                    drain(fds[j], "mmsg", NULL);
            }
        } else {
            services_dump(fds[0], mode, NULL);
            for (size_t i = 0; i < nreq; i++) {
                send_msg(fds[0], reqs[i], req_len[i]);
                drain(fds[0], mode, NULL);
            }
        }
        printf("%s %d %.6f %zu %lu %lu %.6f %.6f\n", mode, readers, now() - t0, nreq, n_msgs,
               n_bytes, cpu_now() - c0, user_now() - u0);
        fflush(stdout);
    }
    return 0;
}
