/*
 * nl.c - the handle: one generic netlink socket per handle (and a second,
 * raw one for dumps received in small chunks: core_small_fd; and two for a
 * table read's helper thread: core_helper_fd), created in the requested
 * network namespace, the IPVS family resolved once, and the
 * request/reply exchange (C layer, over libnl-genl-3).
 *
 * libnl creates, binds and resolves; after that this file reads and writes the
 * raw descriptor itself. That keeps control of three things libnl's receive
 * path gets in the way of: a bounded wait for every reply, the kernel's own
 * errno (libnl folds ESRCH and ENOENT into one code, and ipvsadm prints them
 * differently), and the receive size (the kernel sizes each dump chunk from
 * the caller's last receive buffer).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "core.h"
#include "uapi_ip_vs.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

/* Receiving with 64 KiB lets the kernel use its largest dump chunk (32 KiB);
 * socket buffers of a few MiB leave room for the ACKs of a large batch. */
#define RECV_BUF_SIZE CORE_RECV_MAX
#define SOCK_BUF_SIZE (4 * 1024 * 1024)

struct pyipvs_handle {
    struct nl_sock *sk;
    int fd;
    uint16_t family;
    uint32_t port;       /* our netlink port id: replies carry it */
    uint32_t seq;
    int timeout_ms;      /* <= 0: wait forever */
    int broken;          /* replies may be out of step: reopen */
    int small_fd;        /* dest dumps received in small chunks (core_small_fd), -1: none */
    int helper_fd[2];    /* a second reader's small and large sockets (core_helper_fd) */
    int read_threads;    /* table reads: 1, or 2 with a helper (pyipvs_handle_set_read_threads) */
    struct core_memo memo; /* the last table read's service list (core_memo) */
    unsigned char *rbuf;
    /* Per thread that sends and receives (io_slot): start of the
     * send/receive in progress, 0: none (atomic). */
    long busy_since_ms[CORE_IO_SLOTS];
    int abandoned;       /* the caller gave up: start no more (atomic) */
};

/* libnl reports its own codes; these matter only while connecting, where the
 * syscall's errno is what the caller wants to see. */
static int open_errno(int nlerr, int saved_errno)
{
    switch (nlerr < 0 ? -nlerr : nlerr) {
    case NLE_NOMEM:
        return -ENOMEM;
    case NLE_PERM:
    case NLE_NOACCESS:
        return -EPERM;
    case NLE_AF_NOSUPPORT:
        return -EAFNOSUPPORT;
    default:
        return saved_errno > 0 ? -saved_errno : -EIO;
    }
}

static int connect_here(struct pyipvs_handle *h)
{
    int rc;

    h->sk = nl_socket_alloc();
    if (h->sk == NULL)
        return -ENOMEM;
    errno = 0;
    rc = genl_connect(h->sk);
    if (rc < 0)
        return open_errno(rc, errno);
    h->fd = nl_socket_get_fd(h->sk);
    /* Optional: without it the table read uses the main socket. */
    h->small_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    /* Optional too, and made here because only here is the namespace at
     * hand: without them a table read stays on one thread. */
    for (int i = 0; i < 2; i++)
        h->helper_fd[i] = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    return 0;
}

/* The socket belongs to the namespace it was created in, so only creation has
 * to happen there; the thread returns home at once and nothing else (other
 * threads, later calls) ever runs in the target namespace. */
static int connect_in_netns(struct pyipvs_handle *h, const char *path)
{
    int target, home, rc;

    target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0)
        return -errno;
    home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) {
        rc = -errno;
        close(target);
        return rc;
    }
    if (setns(target, CLONE_NEWNET) < 0) {
        rc = -errno;
    } else {
        rc = connect_here(h);
        if (setns(home, CLONE_NEWNET) < 0 && rc == 0)
            rc = -errno;
    }
    close(home);
    close(target);
    return rc;
}

static void raise_buffer(int fd, int force_opt, int opt, int size)
{
    /* The FORCE variants need CAP_NET_ADMIN; without it the plain option is
     * capped at net.core.[rw]mem_max, which is still an improvement. */
    if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) == 0)
        return;
    (void)setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
}

static void configure(struct pyipvs_handle *h)
{
    int one = 1;

    raise_buffer(h->fd, SO_SNDBUFFORCE, SO_SNDBUF, SOCK_BUF_SIZE);
    raise_buffer(h->fd, SO_RCVBUFFORCE, SO_RCVBUF, SOCK_BUF_SIZE);
    if (h->timeout_ms > 0) {
        /* Only libnl's blocking receive during family resolution relies on
         * this; our own waits use poll(). */
        struct timeval tv = {h->timeout_ms / 1000, (h->timeout_ms % 1000) * 1000};
        (void)setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    /* Small error replies (no echo of the request) keep a batch's ACKs from
     * filling the receive buffer; both options are absent before 4.3/4.12. */
    (void)setsockopt(h->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    (void)setsockopt(h->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
}

int pyipvs_handle_open(struct pyipvs_handle **out, const char *netns, int timeout_ms)
{
    struct pyipvs_handle *h;
    struct sockaddr_nl local;
    socklen_t alen = sizeof(local);
    int rc, id;

    *out = NULL;
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    h->fd = -1;
    h->small_fd = -1;
    h->helper_fd[0] = h->helper_fd[1] = -1;
    h->read_threads = 1;
    h->timeout_ms = timeout_ms;
    h->rbuf = malloc(RECV_BUF_SIZE);
    if (h->rbuf == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = netns != NULL ? connect_in_netns(h, netns) : connect_here(h);
    if (rc < 0)
        goto fail;
    configure(h);

    /* An unknown family is what a kernel without IPVS looks like; ipvsadm
     * reports that as "Protocol not available". */
    id = genl_ctrl_resolve(h->sk, UAPI_GENL_NAME);
    if (id < 0) {
        rc = id == -NLE_NOMEM ? -ENOMEM : -ENOPROTOOPT;
        goto fail;
    }
    h->family = (uint16_t)id;

    if (getsockname(h->fd, (struct sockaddr *)&local, &alen) < 0) {
        rc = -errno;
        goto fail;
    }
    h->port = local.nl_pid;
    h->seq = nl_socket_use_seq(h->sk) + 1;
    *out = h;
    return 0;

fail:
    pyipvs_handle_close(h);
    return rc;
}

void pyipvs_handle_close(struct pyipvs_handle *h)
{
    if (h == NULL)
        return;
    if (h->sk != NULL)
        nl_socket_free(h->sk);
    if (h->small_fd >= 0)
        close(h->small_fd);
    for (int i = 0; i < 2; i++)
        if (h->helper_fd[i] >= 0)
            close(h->helper_fd[i]);
    free(h->memo.services);
    free(h->rbuf);
    free(h);
}

int pyipvs_handle_fd(const struct pyipvs_handle *h)
{
    return h->fd;
}

int pyipvs_handle_broken(const struct pyipvs_handle *h)
{
    return h->broken;
}

int pyipvs_handle_family(const struct pyipvs_handle *h)
{
    return h->family;
}

int pyipvs_handle_set_rcvbuf(struct pyipvs_handle *h, int bytes)
{
    int got;
    socklen_t l = sizeof(got);

    if (bytes <= 0)
        return -EINVAL;
    if (setsockopt(h->fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0 &&
        setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) < 0)
        return -errno;
    if (getsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &got, &l) < 0)
        return -errno;
    return got;
}

uint16_t core_family(const struct pyipvs_handle *h)
{
    return h->family;
}

uint32_t core_next_seq(struct pyipvs_handle *h)
{
    /* Atomic: a table read's helper thread numbers its requests too. */
    return __atomic_fetch_add(&h->seq, 1, __ATOMIC_RELAXED);
}

int core_timeout_ms(const struct pyipvs_handle *h)
{
    return h->timeout_ms;
}

void core_mark_broken(struct pyipvs_handle *h)
{
    /* Atomic: a table read's helper thread may mark it too. */
    __atomic_store_n(&h->broken, 1, __ATOMIC_RELAXED);
}

/* Which busy_since_ms entry a send or receive on fd marks: only a table
 * read's helper thread uses the helper's sockets, so the socket says which
 * thread it is (no thread-local variable: in a shared object each access
 * is a call to __tls_get_addr, four per dump). */
static int io_slot(const struct pyipvs_handle *h, int fd)
{
    return fd >= 0 && (fd == h->helper_fd[0] || fd == h->helper_fd[1]);
}

static int io_begin(struct pyipvs_handle *h, int fd)
{
    if (__atomic_load_n(&h->abandoned, __ATOMIC_ACQUIRE)) {
        core_mark_broken(h);
        return -ETIMEDOUT;
    }
    __atomic_store_n(&h->busy_since_ms[io_slot(h, fd)], core_now_ms(), __ATOMIC_RELEASE);
    return 0;
}

static void io_end(struct pyipvs_handle *h, int fd)
{
    __atomic_store_n(&h->busy_since_ms[io_slot(h, fd)], 0, __ATOMIC_RELEASE);
}

int core_small_fd(const struct pyipvs_handle *h)
{
    return h->small_fd;
}

int core_helper_fd(const struct pyipvs_handle *h, int large)
{
    return h->read_threads > 1 ? h->helper_fd[large != 0] : -1;
}

int pyipvs_handle_set_read_threads(struct pyipvs_handle *h, int n)
{
    if (n < 1)
        return -EINVAL;
    h->read_threads = n > 1 && h->helper_fd[0] >= 0 && h->helper_fd[1] >= 0 ? 2 : 1;
    return h->read_threads;
}

struct core_memo *core_memo(struct pyipvs_handle *h)
{
    return &h->memo;
}

void pyipvs_handle_forget_table(struct pyipvs_handle *h)
{
    h->memo.valid = 0;
}

/* Whether a request may change the table: anything but a GET. A batch is
 * judged by its first message (batches only change). */
static int changes_table(const void *buf, size_t len)
{
    uint8_t cmd;

    if (len < NLMSG_HDRLEN + 1)
        return 0;
    cmd = ((const uint8_t *)buf)[NLMSG_HDRLEN]; /* struct genlmsghdr's cmd */
    return cmd != PYIPVS_CMD_GET_SERVICE && cmd != PYIPVS_CMD_GET_DEST &&
           cmd != PYIPVS_CMD_GET_DAEMON && cmd != PYIPVS_CMD_GET_CONFIG && cmd != PYIPVS_CMD_GET_INFO;
}

int core_send(struct pyipvs_handle *h, const void *buf, size_t len)
{
    return core_send_on(h, h->fd, buf, len);
}

int core_send_on(struct pyipvs_handle *h, int fd, const void *buf, size_t len)
{
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t n;
    int rc = io_begin(h, fd);

    if (rc < 0)
        return rc;
    if (changes_table(buf, len))
        h->memo.valid = 0;
    for (;;) {
        n = sendto(fd, buf, len, 0, (const struct sockaddr *)&kernel, sizeof(kernel));
        if (n >= 0 || errno != EINTR)
            break;
    }
    rc = n == (ssize_t)len ? 0 : n >= 0 ? -EMSGSIZE : -errno;
    io_end(h, fd);
    return rc;
}

ssize_t core_recvmsg(struct pyipvs_handle *h, struct msghdr *m, int flags)
{
    ssize_t n;
    int rc = io_begin(h, h->fd);

    if (rc < 0)
        return rc;
    n = recvmsg(h->fd, m, flags);
    if (n < 0)
        n = -errno;
    io_end(h, h->fd);
    return n;
}

int core_recvmmsg(struct pyipvs_handle *h, struct mmsghdr *v, unsigned int n, int flags)
{
    return core_recvmmsg_on(h, h->fd, v, n, flags);
}

int core_recvmmsg_on(struct pyipvs_handle *h, int fd, struct mmsghdr *v, unsigned int n, int flags)
{
    int got, rc = io_begin(h, fd);

    if (rc < 0)
        return rc;
    got = recvmmsg(fd, v, n, flags, NULL);
    if (got < 0)
        got = -errno;
    io_end(h, fd);
    return got;
}

long pyipvs_handle_busy_ms(const struct pyipvs_handle *h)
{
    long most = 0;

    for (int i = 0; i < CORE_IO_SLOTS; i++) {
        long since = __atomic_load_n(&h->busy_since_ms[i], __ATOMIC_ACQUIRE);

        if (since && core_now_ms() - since + 1 > most)
            most = core_now_ms() - since + 1;
    }
    return most;
}

void pyipvs_handle_abandon(struct pyipvs_handle *h)
{
    __atomic_store_n(&h->abandoned, 1, __ATOMIC_RELEASE);
}

/* The coarse clock: deadlines and the stall guard need milliseconds, not
 * nanoseconds, and a read loop asks for the time several times per dump
 * (thousands of dumps per table). The fine clock is a vDSO read of the TSC
 * on most machines, but where the kernel has no usable TSC (the emulated
 * test VM: HPET) it is a system call of a few microseconds; the coarse one
 * is a vDSO read of the last tick everywhere (resolution 1-10 ms). */
long core_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int readable_now(const struct pyipvs_handle *h)
{
    struct pollfd p = {.fd = h->fd, .events = POLLIN};

    return poll(&p, 1, 0) != 0; /* an error: let the receive report it */
}

/* One bounded wait. A timeout leaves a reply possibly still on its way, so
 * the handle is marked broken rather than trusted with the next request. */
static int wait_readable(struct pyipvs_handle *h)
{
    struct pollfd p = {.fd = h->fd, .events = POLLIN};
    long deadline = core_now_ms() + h->timeout_ms;
    int wait = h->timeout_ms > 0 ? h->timeout_ms : -1;
    int r;

    for (;;) {
        r = poll(&p, 1, wait);
        if (r > 0)
            return 0;
        if (r == 0) {
            h->broken = 1;
            return -ETIMEDOUT;
        }
        if (errno != EINTR) {
            h->broken = 1;
            return -errno;
        }
        if (h->timeout_ms > 0) {
            wait = (int)(deadline - core_now_ms());
            if (wait < 0)
                wait = 0;
        }
    }
}

/* Returns the datagram's length, 0 for "nothing for us, wait again", or a
 * negative errno. */
static ssize_t receive(struct pyipvs_handle *h)
{
    struct sockaddr_nl from;
    struct iovec iov = {.iov_base = h->rbuf, .iov_len = RECV_BUF_SIZE};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
                       .msg_iovlen = 1};
    ssize_t n;

    n = core_recvmsg(h, &m, MSG_DONTWAIT);
    if (n < 0) {
        if (n == -EINTR || n == -EAGAIN)
            return 0;
        return n; /* ENOBUFS: the kernel dropped replies */
    }
    if (m.msg_flags & MSG_TRUNC)
        return -EMSGSIZE;
    if (from.nl_pid != 0)
        return 0; /* not from the kernel */
    return n;
}

static int kernel_error(const struct nlmsghdr *nlh)
{
    const struct nlmsgerr *e = NLMSG_DATA(nlh);

    if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(int)))
        return -EBADMSG;
    if (e->error > 0 || e->error < -4095)
        return -EBADMSG;
    return e->error;
}

/* One datagram of the reply stream, as the receive path and the replay
 * entry point (replay.c) both see it. Returns 0 (w->done says whether the
 * request is finished) or a negative errno when the stream itself is bad. */
int core_walk_datagram(struct core_walk *w, const void *buf, size_t n)
{
    const struct nlmsghdr *nlh;
    int left = n > INT32_MAX ? INT32_MAX : (int)n;
    int rc;

    for (nlh = buf; !w->done && NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left)) {
        /* Anything for another request (a stale reply) is skipped. */
        if (nlh->nlmsg_seq != w->seq || nlh->nlmsg_pid != w->port)
            continue;
        switch (nlh->nlmsg_type) {
        case NLMSG_NOOP:
            break;
        case NLMSG_OVERRUN:
            return -ENOBUFS;
        case NLMSG_ERROR:
            rc = kernel_error(nlh);
            /* A dump ends with DONE; a zero "ACK" there is not the end. */
            if (rc < 0 || !w->dump) {
                w->result = rc;
                w->done = 1;
            }
            break;
        case NLMSG_DONE:
            if (w->dump) {
                if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
                    int err;

                    memcpy(&err, NLMSG_DATA(nlh), sizeof(err));
                    if (err < 0 && err >= -4095)
                        w->result = err;
                }
                w->done = 1;
            }
            break;
        default:
            if (nlh->nlmsg_type != w->family || w->fn == NULL || w->consumer_err)
                break;
            rc = w->fn(nlh, nlh->nlmsg_len, w->arg);
            if (rc < 0)
                w->consumer_err = rc;
            break;
        }
    }
    /* Trailing garbage: the stream can no longer be trusted. */
    if (!w->done && left != 0 && n > 0)
        return -EBADMSG;
    return 0;
}

int core_transact(struct pyipvs_handle *h, const void *req, size_t len, int dump,
                  core_reply_fn fn, void *arg)
{
    const struct nlmsghdr *rq = req;
    struct core_walk w = {.seq = rq->nlmsg_seq, .port = h->port, .family = h->family,
                          .dump = dump, .fn = fn, .arg = arg};
    int rc;

    if (h->broken)
        return -ENOTCONN;
    rc = core_send(h, req, len);
    if (rc < 0)
        return rc;
    /* The kernel handles a request inside sendmsg() and queues its ACK or
     * error before sendmsg() returns, except when the handler returns -EINTR:
     * netlink_rcv_skb() then sends nothing at all. IPVS does that when a sync
     * daemon is stopped before its thread first ran (kthread_stop() gives
     * -EINTR; seen on 6.1 under load, start then stop). Nothing queued now
     * means no answer is coming: say so instead of waiting out the timeout
     * (ipvsadm 1.31 waits for ever). */
    if (!dump && !readable_now(h))
        return -EINTR;

    while (!w.done) {
        ssize_t n;

        rc = wait_readable(h);
        if (rc < 0)
            return rc;
        n = receive(h);
        if (n < 0) {
            h->broken = 1;
            return (int)n;
        }
        rc = core_walk_datagram(&w, h->rbuf, (size_t)n);
        if (rc < 0) {
            h->broken = 1;
            return rc;
        }
    }
    return w.result < 0 ? w.result : w.consumer_err;
}
