/*
 * batch.c - the batch engine: many set-type commands encoded back to back in
 * one buffer and sent a chunk per sendmsg (C layer).
 *
 * Why it is fast: ipvsadm pays a socket, a family lookup and an ACK round trip
 * per command; here the kernel receives ~2,000 commands per sendmsg and
 * processes them in order inside that one call. Only failures are answered
 * (no NLM_F_ACK on the commands), and the chunk's last command carries
 * NLM_F_ACK, so its reply (ACK or error) is the barrier that says the chunk is
 * done. Every command has its own sequence number, so each error reply names
 * its command.
 *
 * Why replies can be lost, and what happens then: error replies queue on our
 * socket while the kernel works through a chunk, and nothing reads them until
 * sendmsg returns. If they overflow the receive buffer the kernel drops them
 * and the next receive fails with ENOBUFS; the commands themselves were still
 * executed. So chunks are capped to what the receive buffer can answer for
 * (every command failing), and a command whose reply may have been dropped is
 * reported UNKNOWN, never re-sent: sending it again could apply it twice, or
 * apply it out of order. The Python layer (pyipvs/batch.py) turns UNKNOWN into
 * exact results by rolling back and replaying; see there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <linux/netlink.h>

#include "core.h"

/* What one error reply costs in the receive buffer. The kernel charges the
 * socket buffer's true size, not the 36 bytes of a capped error: measured on
 * 6.1 as 768 bytes; twice that leaves room for extended-ACK attributes. */
#define REPLY_COST 1536
#define RECV_SIZE (64 * 1024)
#define GROW_MIN (256 * 1024)
/* A command's state while its chunk is in flight. */
#define STATE_SENT 255
/* IP_VS_CONN_F_TUNNEL: the one forwarding method that may cross families. */
#define FWD_TUNNEL 2

struct cmd_rec {
    size_t off;
    uint16_t len;     /* padded to NLMSG_ALIGN */
    uint8_t cmd;
    uint8_t state;    /* PYIPVS_BATCH_* or STATE_SENT while in flight */
    int32_t err;      /* positive errno once FAILED */
};

struct pyipvs_batch {
    unsigned char *buf;
    size_t len, cap;
    struct cmd_rec *cmds;
    size_t n, ncap;
    unsigned char *rbuf;
};

int pyipvs_batch_new(struct pyipvs_batch **out)
{
    struct pyipvs_batch *b = calloc(1, sizeof(*b));

    *out = NULL;
    if (b == NULL)
        return -ENOMEM;
    *out = b;
    return 0;
}

void pyipvs_batch_free(struct pyipvs_batch *b)
{
    if (b == NULL)
        return;
    free(b->buf);
    free(b->cmds);
    free(b->rbuf);
    free(b);
}

size_t pyipvs_batch_count(const struct pyipvs_batch *b)
{
    return b->n;
}

/* Room for one more message and its record; on failure nothing changes. */
static int reserve(struct pyipvs_batch *b)
{
    if (b->cap - b->len < PYIPVS_MSG_MAX) {
        size_t cap = b->cap < GROW_MIN ? GROW_MIN : b->cap * 2;
        unsigned char *p = realloc(b->buf, cap);

        if (p == NULL)
            return -ENOMEM;
        b->buf = p;
        b->cap = cap;
    }
    if (b->n == b->ncap) {
        size_t ncap = b->ncap ? b->ncap * 2 : 1024;
        struct cmd_rec *c = realloc(b->cmds, ncap * sizeof(*c));

        if (c == NULL)
            return -ENOMEM;
        b->cmds = c;
        b->ncap = ncap;
    }
    return 0;
}

/* Family and seq are written at apply time, so a batch is not tied to one
 * handle and can be replayed with fresh sequence numbers. */
static int commit(struct pyipvs_batch *b, int cmd, int len)
{
    struct cmd_rec *c;
    size_t padded;

    if (len < 0)
        return len;
    padded = NLMSG_ALIGN((size_t)len);
    memset(b->buf + b->len + len, 0, padded - (size_t)len);
    c = &b->cmds[b->n++];
    c->off = b->len;
    c->len = (uint16_t)padded;
    c->cmd = (uint8_t)cmd;
    c->state = PYIPVS_BATCH_PENDING;
    c->err = 0;
    b->len += padded;
    return 0;
}

int pyipvs_batch_service(struct pyipvs_batch *b, int cmd, const struct pyipvs_service *svc)
{
    int rc;

    switch (cmd) {
    case PYIPVS_CMD_NEW_SERVICE:
    case PYIPVS_CMD_SET_SERVICE:
    case PYIPVS_CMD_DEL_SERVICE:
        if (svc == NULL)
            return -EINVAL;
        break;
    case PYIPVS_CMD_ZERO:
        break;
    case PYIPVS_CMD_FLUSH:
        svc = NULL;
        break;
    default:
        return -EINVAL;
    }
    rc = reserve(b);
    if (rc < 0)
        return rc;
    return commit(b, cmd, pyipvs_encode_service(b->buf + b->len, PYIPVS_MSG_MAX, 0,
                                                PYIPVS_NLM_REQUEST, 0, cmd, svc));
}

int pyipvs_batch_dest(struct pyipvs_batch *b, int cmd, const struct pyipvs_service *svc,
                      const struct pyipvs_dest *d)
{
    int rc;

    if (cmd != PYIPVS_CMD_NEW_DEST && cmd != PYIPVS_CMD_SET_DEST && cmd != PYIPVS_CMD_DEL_DEST)
        return -EINVAL;
    if (svc == NULL || d == NULL)
        return -EINVAL;
    /* What IPVS.add_server refuses before sending is refused here too, so a
     * batch fails at add time, not thousands of commands later: a negative
     * weight, thresholds beyond INT_MAX, and a server of another family
     * than its service unless tunnelled (deletes find servers by address
     * alone, so they may name either family). */
    if (d->weight < 0 || d->u_threshold > INT32_MAX || d->l_threshold > INT32_MAX)
        return -ERANGE;
    if (cmd != PYIPVS_CMD_DEL_DEST && d->af != 0 && d->af != svc->af &&
        d->fwd_method != FWD_TUNNEL)
        return -EAFNOSUPPORT;
    rc = reserve(b);
    if (rc < 0)
        return rc;
    return commit(b, cmd, pyipvs_encode_dest(b->buf + b->len, PYIPVS_MSG_MAX, 0,
                                             PYIPVS_NLM_REQUEST, 0, cmd, svc, d));
}

/* Back to the first n commands (n <= count): what an all-or-nothing append
 * that failed half way undoes (csrc/batch_args.c). */
void batch_rewind(struct pyipvs_batch *b, size_t n)
{
    if (n < b->n) {
        b->len = b->cmds[n].off;
        b->n = n;
    }
}

int pyipvs_batch_daemon(struct pyipvs_batch *b, int cmd, const struct pyipvs_daemon *d)
{
    int rc;

    if ((cmd != PYIPVS_CMD_NEW_DAEMON && cmd != PYIPVS_CMD_DEL_DAEMON) || d == NULL)
        return -EINVAL;
    rc = reserve(b);
    if (rc < 0)
        return rc;
    return commit(b, cmd, pyipvs_encode_daemon(b->buf + b->len, PYIPVS_MSG_MAX, 0,
                                               PYIPVS_NLM_REQUEST, 0, cmd, d));
}

int pyipvs_batch_timeouts(struct pyipvs_batch *b, const struct pyipvs_timeouts *t)
{
    int rc;

    if (t == NULL)
        return -EINVAL;
    rc = reserve(b);
    if (rc < 0)
        return rc;
    return commit(b, PYIPVS_CMD_SET_CONFIG,
                  pyipvs_encode_timeouts(b->buf + b->len, PYIPVS_MSG_MAX, 0,
                                         PYIPVS_NLM_REQUEST, 0, t));
}

int pyipvs_batch_results(const struct pyipvs_batch *b, size_t start, size_t n, uint8_t *states,
                         int32_t *errs, uint8_t *cmds)
{
    size_t i;

    if (start > b->n || n > b->n - start)
        return -EINVAL;
    for (i = 0; i < n; i++) {
        const struct cmd_rec *c = &b->cmds[start + i];

        if (states != NULL)
            states[i] = c->state;
        if (errs != NULL)
            errs[i] = c->err;
        if (cmds != NULL)
            cmds[i] = c->cmd;
    }
    return 0;
}

int pyipvs_batch_reset(struct pyipvs_batch *b, size_t start, size_t end)
{
    size_t i;

    if (start > end || end > b->n)
        return -EINVAL;
    for (i = start; i < end; i++) {
        b->cmds[i].state = PYIPVS_BATCH_PENDING;
        b->cmds[i].err = 0;
    }
    return 0;
}

/* --- sending ------------------------------------------------------------ */

struct run {
    struct pyipvs_handle *h;
    struct pyipvs_batch *b;
    int fd;
    uint32_t port;
    int timeout_ms;
    struct pyipvs_batch_report *r;
};

static int sock_get(int fd, int opt)
{
    int v = 0;
    socklen_t len = sizeof(v);

    if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0)
        return -errno;
    return v;
}

/* getsockopt reports the doubled value the kernel keeps; setting takes half. */
static int sock_set(int fd, int force_opt, int opt, int size)
{
    if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) == 0)
        return 0;
    if (setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size)) == 0)
        return 0;
    return -errno;
}

static int wait_readable(struct run *x, long deadline)
{
    struct pollfd p = {.fd = x->fd, .events = POLLIN};
    int r, wait;

    for (;;) {
        wait = -1;
        if (x->timeout_ms > 0) {
            long left = deadline - core_now_ms();
            wait = left > 0 ? (int)left : 0;
        }
        r = poll(&p, 1, wait);
        if (r > 0)
            return 0;
        if (r == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

static int send_chunk(struct run *x, const unsigned char *p, size_t len)
{
    return core_send(x->h, p, len);
}

/* One error reply: record it if it names a command of the chunk [i, j) whose
 * first seq is s0. Returns 1 when it answered the barrier (the last one). */
static int on_error(struct run *x, const struct nlmsghdr *nlh, size_t i, size_t j, uint32_t s0)
{
    const struct nlmsgerr *e = NLMSG_DATA(nlh);
    uint32_t k = nlh->nlmsg_seq - s0; /* unsigned: wraps cleanly */
    struct cmd_rec *c;

    if (nlh->nlmsg_pid != x->port || k >= j - i)
        return 0; /* a stale reply of an earlier exchange */
    if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(int)))
        return 0;
    c = &x->b->cmds[i + k];
    if (e->error < 0 && e->error >= -4095) {
        c->state = PYIPVS_BATCH_FAILED;
        c->err = -e->error;
        x->r->failed++;
    } else {
        c->state = PYIPVS_BATCH_OK;
    }
    return i + k == j - 1;
}

/* Reads the chunk's replies until the barrier has answered. After an
 * overrun the barrier's reply may itself be gone; since the kernel finished
 * the whole chunk before sendmsg returned, draining the queue then suffices. */
static int collect(struct run *x, size_t i, size_t j, uint32_t s0, int *overrun)
{
    long deadline = core_now_ms() + x->timeout_ms;
    struct sockaddr_nl from;
    struct iovec iov = {.iov_base = x->b->rbuf, .iov_len = RECV_SIZE};
    struct msghdr m;
    int rc;

    for (;;) {
        const struct nlmsghdr *nlh;
        ssize_t n;
        int left, barrier = 0;

        if (!*overrun) {
            rc = wait_readable(x, deadline);
            if (rc < 0)
                return rc;
        }
        memset(&m, 0, sizeof(m));
        m.msg_name = &from;
        m.msg_namelen = sizeof(from);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        n = core_recvmsg(x->h, &m, MSG_DONTWAIT);
        if (n < 0) {
            if (n == -EINTR)
                continue;
            if (n == -EAGAIN || n == -EWOULDBLOCK) {
                if (*overrun)
                    return 0;
                continue;
            }
            if (n == -ENOBUFS) {
                *overrun = 1;
                x->r->overruns++;
                continue;
            }
            return (int)n;
        }
        if (from.nl_pid != 0 || (m.msg_flags & MSG_TRUNC))
            continue;
        left = (int)n;
        for (nlh = (const struct nlmsghdr *)x->b->rbuf; NLMSG_OK(nlh, left);
             nlh = NLMSG_NEXT(nlh, left)) {
            if (nlh->nlmsg_type == NLMSG_ERROR && on_error(x, nlh, i, j, s0))
                barrier = 1;
        }
        if (barrier)
            return 0;
    }
}

/* Commands of the chunk still in flight: answered by silence (success), or,
 * after an overrun or a failed wait, of unknown outcome. */
static void settle(struct run *x, size_t i, size_t j, int known)
{
    size_t k;

    for (k = i; k < j; k++) {
        struct cmd_rec *c = &x->b->cmds[k];

        if (c->state != STATE_SENT)
            continue;
        if (known) {
            c->state = PYIPVS_BATCH_OK;
        } else {
            c->state = PYIPVS_BATCH_UNKNOWN;
            x->r->unknown++;
        }
    }
}

/* The chunk starting at i: at most max_msgs commands and max_bytes bytes,
 * but always at least one command. */
static size_t chunk_end(const struct pyipvs_batch *b, size_t i, size_t end, size_t max_msgs,
                        size_t max_bytes)
{
    size_t j = i + 1, bytes = b->cmds[i].len;

    while (j < end && j - i < max_msgs && bytes + b->cmds[j].len <= max_bytes)
        bytes += b->cmds[j++].len;
    return j;
}

static int run_chunk(struct run *x, size_t i, size_t j, int *overrun, size_t *failed)
{
    struct pyipvs_batch *b = x->b;
    uint16_t family = core_family(x->h);
    uint32_t s0 = 0;
    size_t k, before = x->r->failed;
    int rc;

    for (k = i; k < j; k++) {
        struct nlmsghdr *nlh = (struct nlmsghdr *)(b->buf + b->cmds[k].off);
        uint32_t seq = core_next_seq(x->h);

        if (k == i)
            s0 = seq;
        nlh->nlmsg_type = family;
        nlh->nlmsg_seq = seq;
        nlh->nlmsg_pid = 0;
        nlh->nlmsg_flags = k + 1 == j ? PYIPVS_NLM_DOIT : PYIPVS_NLM_REQUEST;
        b->cmds[k].state = STATE_SENT;
        b->cmds[k].err = 0;
    }
    rc = send_chunk(x, b->buf + b->cmds[i].off, b->cmds[j - 1].off + b->cmds[j - 1].len -
                                                     b->cmds[i].off);
    if (rc < 0) {
        /* A refused sendmsg delivered nothing. */
        for (k = i; k < j; k++)
            b->cmds[k].state = PYIPVS_BATCH_PENDING;
        return rc;
    }
    x->r->chunks++;
    x->r->sent += j - i;
    *overrun = 0;
    rc = collect(x, i, j, s0, overrun);
    settle(x, i, j, rc == 0 && !*overrun);
    *failed = x->r->failed - before;
    if (rc < 0)
        core_mark_broken(x->h); /* a late reply may still come */
    return rc;
}

int pyipvs_batch_apply(struct pyipvs_handle *h, struct pyipvs_batch *b, size_t start, size_t end,
                       const struct pyipvs_batch_opts *o, struct pyipvs_batch_report *r)
{
    struct run x = {h, b, -1, 0, 0, r};
    struct sockaddr_nl local;
    socklen_t alen = sizeof(local);
    size_t i, max_msgs, max_bytes, fits;
    int old_rcvbuf = -1, rcvbuf, sndbuf, rc = 0;
    uint32_t flags = o != NULL ? o->flags : 0;

    memset(r, 0, sizeof(*r));
    r->next = start;
    if (start > end || end > b->n)
        return -EINVAL;
    if (pyipvs_handle_broken(h))
        return -ENOTCONN;
    if (b->rbuf == NULL && (b->rbuf = malloc(RECV_SIZE)) == NULL)
        return -ENOMEM;
    x.fd = pyipvs_handle_fd(h);
    x.timeout_ms = core_timeout_ms(h);
    if (getsockname(x.fd, (struct sockaddr *)&local, &alen) < 0)
        return -errno;
    x.port = local.nl_pid;

    if (o != NULL && o->rcvbuf > 0) {
        old_rcvbuf = sock_get(x.fd, SO_RCVBUF);
        rc = sock_set(x.fd, SO_RCVBUFFORCE, SO_RCVBUF, o->rcvbuf);
        if (rc < 0)
            return rc;
    }
    rcvbuf = sock_get(x.fd, SO_RCVBUF);
    sndbuf = sock_get(x.fd, SO_SNDBUF);
    r->rcvbuf = rcvbuf;
    r->sndbuf = sndbuf;
    max_msgs = o != NULL && o->chunk_msgs ? o->chunk_msgs : PYIPVS_BATCH_CHUNK_MSGS;
    /* netlink refuses a datagram above the send buffer minus 32 bytes. */
    max_bytes = sndbuf > 64 ? (size_t)sndbuf - 64 : PYIPVS_MSG_MAX;
    if (o != NULL && o->chunk_bytes && o->chunk_bytes < max_bytes)
        max_bytes = o->chunk_bytes;
    if (!(flags & PYIPVS_BATCH_NO_ADAPT)) {
        fits = rcvbuf > REPLY_COST ? (size_t)rcvbuf / REPLY_COST : 1;
        if (max_msgs > fits)
            max_msgs = fits;
    }

    for (i = start; i < end;) {
        size_t j = chunk_end(b, i, end, max_msgs, max_bytes), failed = 0;
        int overrun = 0;

        rc = run_chunk(&x, i, j, &overrun, &failed);
        if (rc < 0) {
            r->next = b->cmds[i].state == PYIPVS_BATCH_PENDING ? i : j;
            break;
        }
        i = r->next = j;
        if ((flags & PYIPVS_BATCH_STOP_ON_ERROR) && (failed || overrun))
            break;
        if (overrun) {
            if (flags & PYIPVS_BATCH_STOP_ON_LOST)
                break;
            /* The buffer answered for fewer replies than assumed. */
            if (!(flags & PYIPVS_BATCH_NO_ADAPT) && max_msgs > 1)
                max_msgs /= 2;
        }
    }
    r->chunk_msgs = (uint32_t)max_msgs;
    if (old_rcvbuf > 0)
        (void)sock_set(x.fd, SO_RCVBUFFORCE, SO_RCVBUF, old_rcvbuf / 2);
    return rc;
}

int pyipvs_batch_message(const struct pyipvs_batch *b, size_t i, void *out, size_t size)
{
    if (i >= b->n)
        return -EINVAL;
    if (size < b->cmds[i].len)
        return -EMSGSIZE;
    memcpy(out, b->buf + b->cmds[i].off, b->cmds[i].len);
    return (int)b->cmds[i].len;
}
