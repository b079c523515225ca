/*
 * snapshot.c - the whole table in one call: every service, every real server
 * of every service, with counters, into three flat arrays, checked for
 * consistency (C layer; see pyipvs_table_read in pyipvs.h).
 *
 * Why it is shaped this way (measured in the TCG VM, benchmarks/bench_list.py):
 * the kernel answers GET_DEST for one service at a time and a netlink socket
 * runs one dump at a time, so the cost is per service. The kernel does all the
 * work synchronously: the first chunk of a dump is queued before sendmsg()
 * returns, and the DONE (or the next chunk) is produced inside the recvmsg()
 * that consumes the previous chunk. So there is nothing to wait for and
 * nothing to overlap: the cheapest sequence is sendmsg() plus one recvmmsg()
 * that drains the whole dump (chunks and DONE) in a single system call, with
 * the request re-encoded into one reused buffer. poll() is only entered when a
 * receive would block (a dump continuation deferred by a full receive
 * buffer), and every such wait is bounded by the handle's timeout.
 *
 * Chunk size: the kernel allocates (and clears) each dump chunk at the size
 * of the largest receive the socket has made, up to 32 KiB, however little
 * goes in it. The service dump wants large chunks (the kernel resumes it by
 * walking the service list from the start, once per chunk); a service's
 * servers mostly fit 4 KiB. So GET_DEST dumps go first to the handle's second
 * socket, which never receives more than 4 KiB (core_small_fd), and move to
 * the main socket while the table's services are too big for it (read_dests).
 * Measured in the emulated VM at 5,000 x 10: 0.60 s of kernel reads against
 * 1.05-1.29 s with 32 KiB chunks (benchmarks/RESULTS.md, session 15).
 *
 * Consistency: IPVS sets no NLM_F_DUMP_INTR, so the service list is dumped
 * again after the servers and must match (identity and settings, in order);
 * a server dump that spanned several chunks (the kernel resumes it by index,
 * so a concurrent add or delete can duplicate or skip an entry) is read a
 * second time and must match too. Otherwise the whole read is retried.
 *
 * A poller reads the same table again and again, so a read starts from the
 * list the handle's last read ended with (its second dump, struct core_memo)
 * instead of dumping the services first: one service dump per read instead
 * of two (at 20,000 services, about a tenth of the whole read in the VM).
 * The check is the same one: the list the servers were read for must equal
 * the list dumped after them; it was only dumped earlier, so the window
 * is longer. A list that no longer matches means the table changed between
 * the reads, not during this one: the read then starts over as a first read
 * would, and does not count it as a retry.
 *
 * Two readers (pyipvs_handle_set_read_threads, for one-off listings): the
 * server dumps of the second half of the list go to a helper thread with
 * two sockets of its own (small and large receives, as above), opened with
 * the handle in its namespace. The kernel does a dump's work in the thread
 * that receives it and holds IPVS's mutex only while it fills a chunk, so
 * two readers overlap the rest. Measured in the VM with two CPUs (20,000 x
 * 10 and 5,000 x 10, benchmarks/list_floor.c and bench_list.py, session 19):
 * paired medians of 0.70-1.00x the time of one reader, for 1.3-1.65x the
 * CPU time, which is why pollers keep one. The checks are the same: the list before and
 * after, and each resumed dump read twice. A reader that fails or sees a
 * change stops the other at its next service.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <linux/netlink.h>

#include "core.h"

#define RX_SLOTS 8
#define RX_SIZE (64 * 1024) /* lets the kernel use its largest chunk (32 KiB) */

struct rx {
    unsigned char *buf;             /* RX_SLOTS x RX_SIZE */
    struct mmsghdr msgs[RX_SLOTS];
    struct iovec iov[RX_SLOTS];
    struct sockaddr_nl from[RX_SLOTS];
    struct core_dest_shape shape;   /* the servers' replies (dest_shape.c) */
};

struct dvec {
    struct pyipvs_dest *items;
    size_t n, cap;
};

static struct pyipvs_dest *dvec_push(struct dvec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        struct pyipvs_dest *p = realloc(v->items, cap * sizeof(*p));

        if (p == NULL)
            return NULL;
        v->items = p;
        v->cap = cap;
    }
    return &v->items[v->n++];
}

/* The server array of the last table freed, kept for the next read. Memory
 * written for the first time costs the kernel a page fault and a cleared
 * page: in the emulated VM, writing 27 MB (200,000 servers) into fresh
 * memory took 0.11-0.13 s, into memory already written 0.008 s. A poller
 * frees a table per read, so its later reads reuse the array: at 20,000 x
 * 10, minor faults per read went from about 2,700 to none after the second.
 * One spare, the largest offered, for the whole process: tables are freed
 * on whatever thread drops them. */
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dvec spare;

static struct dvec spare_take(void)
{
    struct dvec v;

    pthread_mutex_lock(&spare_lock);
    v = spare;
    spare.items = NULL;
    spare.cap = 0;
    pthread_mutex_unlock(&spare_lock);
    v.n = 0;
    return v;
}

static void spare_give(struct pyipvs_dest *items, size_t cap)
{
    if (items == NULL)
        return;
    pthread_mutex_lock(&spare_lock);
    if (cap > spare.cap) {
        struct pyipvs_dest *old = spare.items;

        spare.items = items;
        spare.cap = cap;
        items = old;
    }
    pthread_mutex_unlock(&spare_lock);
    free(items);
}

static int rx_init(struct rx *r)
{
    memset(&r->shape, 0, sizeof(r->shape));
    r->buf = malloc((size_t)RX_SLOTS * RX_SIZE);
    if (r->buf == NULL)
        return -ENOMEM;
    return 0;
}

/* Arms every slot to receive at most len bytes (<= RX_SIZE). */
static void rx_arm(struct rx *r, size_t len)
{
    for (int i = 0; i < RX_SLOTS; i++) {
        r->iov[i].iov_base = r->buf + (size_t)i * RX_SIZE;
        r->iov[i].iov_len = len;
        memset(&r->msgs[i].msg_hdr, 0, sizeof(r->msgs[i].msg_hdr));
        r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
        r->msgs[i].msg_hdr.msg_iovlen = 1;
        r->msgs[i].msg_hdr.msg_name = &r->from[i];
        r->msgs[i].msg_hdr.msg_namelen = sizeof(r->from[i]);
        r->msgs[i].msg_len = 0;
    }
}

/* Receive whatever is queued (at least one datagram), waiting only if
 * nothing is: returns the number of datagrams or a negative errno. */
static int rx_some(struct pyipvs_handle *h, struct rx *r, int fd, size_t len, long deadline)
{
    for (;;) {
        int n;

        rx_arm(r, len);
        n = core_recvmmsg_on(h, fd, r->msgs, RX_SLOTS, MSG_DONTWAIT);
        if (n > 0)
            return n;
        if (n < 0 && n != -EAGAIN && n != -EINTR) {
            core_mark_broken(h);
            return n; /* ENOBUFS: replies were dropped */
        }
        if (n == -EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int tmo = core_timeout_ms(h), wait = -1, rc;

            if (tmo > 0) {
                wait = (int)(deadline - core_now_ms());
                if (wait < 0)
                    wait = 0;
            }
            rc = poll(&p, 1, wait);
            if (rc == 0) {
                core_mark_broken(h);
                return -ETIMEDOUT;
            }
            if (rc < 0 && errno != EINTR) {
                core_mark_broken(h);
                return -errno;
            }
        }
    }
}

/* Where a GET_DEST dump goes: a socket, and what it receives at most. */
struct via {
    int fd;
    size_t len;
};

/* One GET_DEST dump of svc, appended to out. *chunks: datagrams that carried
 * servers (more than one means the kernel resumed the dump by index). */
static int dump_dests(struct pyipvs_handle *h, struct rx *r, struct via v,
                      const struct pyipvs_service *svc, struct dvec *out, int *chunks,
                      size_t *bytes)
{
    unsigned char req[CORE_REQ_MAX];
    int len, rc, done = 0, err = 0;
    const int family = core_family(h); /* asked once: the loop runs per server */
    uint32_t seq = core_next_seq(h);
    long deadline;

    *chunks = 0;
    *bytes = 0;
    len = pyipvs_encode_dests_dump(req, sizeof(req), family, seq, svc);
    if (len < 0)
        return len;
    rc = core_send_on(h, v.fd, req, (size_t)len);
    if (rc < 0)
        return rc;
    deadline = core_now_ms() + core_timeout_ms(h);
    while (!done) {
        int got = rx_some(h, r, v.fd, v.len, deadline);

        if (got < 0)
            return got;
        for (int i = 0; i < got; i++) {
            const struct nlmsghdr *nlh = r->iov[i].iov_base;
            int left = (int)r->msgs[i].msg_len, data = 0;

            if (r->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                core_mark_broken(h);
                return -EMSGSIZE;
            }
            if (r->from[i].nl_pid != 0)
                continue;
            if (done) {
                /* Nothing may follow our DONE: a second dump is never in flight. */
                core_mark_broken(h);
                return -EBADMSG;
            }
            for (; NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left)) {
                if (nlh->nlmsg_seq != seq)
                    continue; /* a stale reply to an earlier, abandoned request */
                if (nlh->nlmsg_type == NLMSG_DONE) {
                    if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
                        int e = *(const int *)NLMSG_DATA(nlh);
                        if (e < 0 && e >= -4095 && err == 0)
                            err = e;
                    }
                    done = 1;
                    break;
                }
                if (nlh->nlmsg_type == NLMSG_ERROR) {
                    const struct nlmsgerr *e = NLMSG_DATA(nlh);
                    if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(int)) || e->error > 0) {
                        core_mark_broken(h);
                        return -EBADMSG;
                    }
                    if (e->error < 0) {
                        err = e->error; /* a refused dump has no DONE */
                        done = 1;
                        break;
                    }
                    continue;
                }
                if (nlh->nlmsg_type == NLMSG_OVERRUN) {
                    core_mark_broken(h);
                    return -ENOBUFS;
                }
                if (nlh->nlmsg_type != family || err)
                    continue;
                {
                    struct pyipvs_dest *d = dvec_push(out);

                    if (d == NULL)
                        err = -ENOMEM;
                    else if ((rc = core_decode_dest(&r->shape, nlh, nlh->nlmsg_len, svc->af, d)) < 0)
                        err = rc;
                    data = 1;
                    *bytes += NLMSG_ALIGN(nlh->nlmsg_len);
                }
            }
            *chunks += data;
        }
    }
    return err;
}

static int same_service(const struct pyipvs_service *a, const struct pyipvs_service *b)
{
    return a->af == b->af && a->protocol == b->protocol && a->port == b->port &&
           a->fwmark == b->fwmark && memcmp(a->addr, b->addr, 16) == 0 &&
           strncmp(a->sched_name, b->sched_name, sizeof(a->sched_name)) == 0 &&
           strncmp(a->pe_name, b->pe_name, sizeof(a->pe_name)) == 0 && a->flags == b->flags &&
           a->timeout == b->timeout && a->netmask == b->netmask;
}

static int same_dest_ids(const struct pyipvs_dest *a, const struct pyipvs_dest *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].af != b[i].af || a[i].port != b[i].port || memcmp(a[i].addr, b[i].addr, 16))
            return 0;
    return 1;
}

void pyipvs_table_free(struct pyipvs_table *t)
{
    if (t == NULL)
        return;
    free(t->services);
    spare_give(t->dests, t->dests_cap);
    free(t->dest_start);
    free(t);
}

/* A dest dump's errno that means the service went away under us (retry). */
static int gone(int rc)
{
    return rc == -ESRCH || rc == -ENOENT ? 0 : rc;
}

/* The servers of svc, appended to dv: 1, 0 if the service went away or its
 * servers changed while they were read (retry), or a negative errno. A dump
 * that came in one chunk was made under one hold of IPVS's mutex and stands
 * as read; one the kernel resumed by index is read again, on the main socket,
 * and must match. *small says where the first dump goes, and follows the
 * table's shape for the next service: a service whose servers overflowed a
 * small chunk sends the next ones to the main socket, and one whose servers
 * would have fit sends the next back (tables are mostly uniform, so the cost
 * of a wrong guess is paid at the changes of shape). */
static int read_dests(struct pyipvs_handle *h, struct rx *r, struct via big, struct via little,
                      const struct pyipvs_service *svc, struct dvec *dv, struct dvec *again,
                      int *small, uint32_t *requests)
{
    size_t first = dv->n, n, bytes;
    int chunks, rc;

    if (*small && little.fd >= 0) {
        rc = dump_dests(h, r, little, svc, dv, &chunks, &bytes);
        (*requests)++;
        if (rc < 0 || chunks <= 1)
            return rc < 0 ? gone(rc) : 1;
        dv->n = first;
        *small = 0;
    }
    rc = dump_dests(h, r, big, svc, dv, &chunks, &bytes);
    (*requests)++;
    if (rc < 0)
        return gone(rc);
    if (chunks <= 1) {
        *small = bytes <= CORE_SMALL_CHUNK;
        return 1;
    }
    n = dv->n - first;
    again->n = 0;
    rc = dump_dests(h, r, big, svc, again, &chunks, &bytes);
    (*requests)++;
    if (rc < 0)
        return gone(rc);
    return again->n == n && same_dest_ids(again->items, dv->items + first, n);
}

/* One reader's share of a read: the servers of services [from, to) of
 * list, into dv, with start[i] the index in dv of service i's first. */
struct part {
    struct pyipvs_handle *h;
    const struct pyipvs_service *list;
    size_t from, to;
    struct via big, little;
    struct rx *r;
    struct dvec dv, again;
    uint32_t *start;
    uint32_t requests;
    int *stop;                /* set (atomic) by a reader that failed */
    int rc;                   /* read_dests's: 1 all read, 0 retry, < 0 errno */
};

static int read_part(struct part *p)
{
    int small = 1, rc = 1;

    for (size_t i = p->from; rc == 1 && i < p->to; i++) {
        if (__atomic_load_n(p->stop, __ATOMIC_RELAXED))
            return 0; /* the other reader's outcome decides */
        p->start[i] = (uint32_t)p->dv.n;
        rc = read_dests(p->h, p->r, p->big, p->little, &p->list[i], &p->dv, &p->again, &small,
                        &p->requests);
    }
    if (rc != 1)
        __atomic_store_n(p->stop, 1, __ATOMIC_RELAXED);
    return rc;
}

static void *helper_main(void *arg)
{
    struct part *p = arg;
    struct rx r;

    p->r = &r;
    p->rc = rx_init(&r);
    if (p->rc == 0)
        p->rc = read_part(p);
    else
        __atomic_store_n(p->stop, 1, __ATOMIC_RELAXED);
    free(r.buf);
    p->r = NULL;
    return NULL;
}

/* Smaller tables are read on one thread: they take milliseconds, and a
 * helper adds a thread's start, a second receive area and a copy. */
#define HELPER_MIN_SERVICES 32

/* The servers of every service of list (nb entries) into *dv, start[] as
 * read_part's; with the handle's helper sockets, the second half on a
 * helper thread. The kernel's work for a dump runs in the thread that sends
 * and receives it, and IPVS holds its mutex only while it fills a chunk, so
 * two readers overlap the rest: system calls, chunk allocation, copying. */
static int read_all_dests(struct pyipvs_handle *h, struct rx *r, const struct pyipvs_service *list,
                          size_t nb, struct dvec *dv, uint32_t *start, struct pyipvs_table *t)
{
    int stop = 0, rc, helped = 0;
    struct part mine = {h, list, 0, nb, {pyipvs_handle_fd(h), RX_SIZE},
                        {core_small_fd(h), CORE_SMALL_CHUNK}, r, *dv, {NULL, 0, 0}, start, 0,
                        &stop, 0};
    struct part other = mine;
    pthread_t tid;

    if (nb >= HELPER_MIN_SERVICES && core_helper_fd(h, 0) >= 0) {
        other.from = mine.to = nb / 2;
        other.big = (struct via){core_helper_fd(h, 1), RX_SIZE};
        other.little = (struct via){core_helper_fd(h, 0), CORE_SMALL_CHUNK};
        other.dv = (struct dvec){NULL, 0, 0};
        helped = pthread_create(&tid, NULL, helper_main, &other) == 0;
        if (!helped)
            mine.to = nb; /* no thread: read it all here */
    }
    rc = read_part(&mine);
    if (helped) {
        pthread_join(tid, NULL);
        /* The first failure's errno; else a change seen by either: retry. */
        if (rc == 1 || (rc == 0 && other.rc < 0))
            rc = other.rc;
        if (rc == 1 && other.dv.n > 0) {
            size_t need = mine.dv.n + other.dv.n;

            if (need > mine.dv.cap) {
                struct pyipvs_dest *p = realloc(mine.dv.items, need * sizeof(*p));

                if (p == NULL)
                    rc = -ENOMEM;
                else {
                    mine.dv.items = p;
                    mine.dv.cap = need;
                }
            }
            if (rc == 1) {
                memcpy(mine.dv.items + mine.dv.n, other.dv.items,
                       other.dv.n * sizeof(*other.dv.items));
                for (size_t i = other.from; i < other.to; i++)
                    start[i] += (uint32_t)mine.dv.n;
                mine.dv.n = need;
            }
        }
        free(other.dv.items);
        free(other.again.items);
        t->requests += other.requests;
    }
    free(mine.again.items);
    *dv = mine.dv;
    t->requests += mine.requests;
    t->readers = helped ? 2 : 1;
    start[nb] = (uint32_t)dv->n;
    return rc;
}

/* Serials for service lists, unique in the process (handles come and go). */
static uint64_t last_serial;

/* The handle's memo becomes list (n entries): copied into memory the memo
 * keeps, so that a poller writes the same pages every time. A list that
 * differs from the one held (or replaces none) gets a new serial: a caller
 * that derived something from a list's identities (the counters view's
 * service keys) can reuse it while the serial stays. */
static void remember(struct core_memo *m, const struct pyipvs_service *list, size_t n)
{
    int same = m->serial != 0 && n == m->n && (n == 0 || m->services != NULL);

    for (size_t i = 0; same && i < n; i++)
        same = same_service(&list[i], &m->services[i]);
    if (!same)
        m->serial = __atomic_add_fetch(&last_serial, 1, __ATOMIC_RELAXED);
    if (n > m->cap) {
        free(m->services);
        m->services = malloc(n * sizeof(*list));
        m->cap = m->services != NULL ? n : 0;
    }
    m->valid = m->services != NULL || n == 0;
    m->n = m->valid ? n : 0;
    if (!m->valid)
        m->serial = 0; /* nothing held: the next list is new */
    if (n > 0 && m->valid)
        memcpy(m->services, list, n * sizeof(*list));
}

/* One attempt. kept: take the handle's memo as the first service list
 * instead of dumping it. 1: consistent, 0: the table changed (retry),
 * < 0: errno. */
static int read_once(struct pyipvs_handle *h, struct rx *r, struct pyipvs_table *t, int kept)
{
    struct core_memo *m = core_memo(h);
    struct pyipvs_service *dumped = NULL, *after = NULL;
    const struct pyipvs_service *before;
    size_t nb = 0, na = 0;
    struct dvec dv = spare_take();
    uint32_t *start = NULL;
    int rc;

    if (kept) {
        before = m->services;
        nb = m->n;
    } else {
        rc = pyipvs_services_dump(h, &dumped, &nb);
        t->service_dumps++;
        if (rc < 0)
            goto out;
        before = dumped;
    }
    start = malloc((nb + 1) * sizeof(*start));
    if (start == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    rc = read_all_dests(h, r, before, nb, &dv, start, t);
    if (rc <= 0)
        goto out;
    rc = pyipvs_services_dump(h, &after, &na);
    t->service_dumps++;
    if (rc < 0)
        goto out;
    rc = 0;
    if (na != nb)
        goto out;
    for (size_t i = 0; i < nb; i++)
        if (!same_service(&before[i], &after[i]))
            goto out;
    /* Consistent: hand over the second service list (fresher counters). */
    /* A kept list that matched is the list the memo holds (its counters
     * are never read): nothing to compare or copy. */
    if (!kept)
        remember(m, after, na);
    t->list_serial = m->serial;
    t->services = after;
    t->nservices = na;
    t->dests = dv.items;
    t->ndests = dv.n;
    t->dests_cap = dv.cap;
    t->dest_start = start;
    after = NULL;
    dv = (struct dvec){NULL, 0, 0};
    start = NULL;
    rc = 1;
out:
    free(dumped);
    free(after);
    spare_give(dv.items, dv.cap);
    free(start);
    return rc;
}

int pyipvs_table_read(struct pyipvs_handle *h, uint32_t retries, struct pyipvs_table **out)
{
    struct core_memo *m = core_memo(h);
    struct pyipvs_table *t;
    struct rx r;
    int rc = 0, kept = m->valid && m->skip == 0;

    *out = NULL;
    if (m->valid && m->skip > 0)
        m->skip--;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    rc = rx_init(&r);
    if (rc < 0) {
        free(t);
        return rc;
    }
    if (kept) {
        rc = read_once(h, &r, t, 1);
        if (rc == 1) {
            m->misses = 0;
        } else if (rc == 0) {
            /* The table changed since the last read. That is no retry of
             * this one: read as a first read would. A table that changes
             * between most reads stops using the memo for 1, 3, 7 ... 31
             * reads after each miss, so it pays a wasted pass of server
             * dumps at most once in that many. */
            m->valid = 0;
            m->misses += m->misses < 5;
            m->skip = (1u << m->misses) - 1;
        }
    }
    for (uint32_t attempt = 0; rc == 0 && attempt <= retries; attempt++) {
        t->attempts++;
        rc = read_once(h, &r, t, 0);
    }
    free(r.buf);
    if (rc == 1) {
        if (t->attempts == 0)
            t->attempts = 1;
        *out = t;
        return 0;
    }
    pyipvs_table_free(t);
    return rc < 0 ? rc : -EAGAIN;
}

/* Counters only, as columns the caller allocated (any may be NULL): the
 * ten counters of each service and of each server in struct pyipvs_stats
 * order, the servers' three connection counts, and their identities. */
int pyipvs_table_columns(const struct pyipvs_table *t, uint64_t *svc_stats, uint64_t *dest_stats,
                         uint32_t *dest_conns, struct pyipvs_dest_id *ids)
{
    if (t == NULL)
        return -EINVAL;
    for (size_t i = 0; svc_stats != NULL && i < t->nservices; i++)
        memcpy(svc_stats + i * 10, &t->services[i].stats, sizeof(struct pyipvs_stats));
    for (size_t i = 0; i < t->ndests; i++) {
        const struct pyipvs_dest *d = &t->dests[i];

        if (dest_stats != NULL)
            memcpy(dest_stats + i * 10, &d->stats, sizeof(struct pyipvs_stats));
        if (dest_conns != NULL) {
            dest_conns[i * 3] = d->active_conns;
            dest_conns[i * 3 + 1] = d->inact_conns;
            dest_conns[i * 3 + 2] = d->persist_conns;
        }
        if (ids != NULL) {
            ids[i].af = d->af;
            ids[i].port = d->port;
            memcpy(ids[i].addr, d->addr, 16);
        }
    }
    return 0;
}
