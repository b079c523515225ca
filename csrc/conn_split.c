/*
 * conn_split.c - a second thread that reads the tail of a connection table
 * while the reader's own thread reads its head (C core layer).
 *
 * Why: /proc/net/ip_vs_conn hands out about a page per read(), and kernels
 * before about 6.14 (Debian 12's 6.1) walk the table from its first entry
 * to the read's offset on every read, so reading N entries costs O(N^2) in
 * the kernel, all of it in the reading thread. A read at offset p costs the
 * same from any open file of the table, so a second thread with its own
 * open file can take the tail: with the split at S/sqrt(2) of the size S,
 * both halves cost the same (p^2 grows as the square), and two CPUs read
 * the table in about half the time (the split moves back by what the reader
 * has read while the helper probed, see split_point). A single-CPU machine
 * gets no thread.
 *
 * How:
 * - The helper opens the table again (/proc/self/fd/N opens the same file,
 *   of the same network namespace) and first checks that reads there do
 *   walk (walk_grows: a page read at split_min against one at the start;
 *   on kernels that resume where the last read stopped it gives up, since
 *   it could only repeat the reader's work, and the reader starts a thread
 *   that reads ahead of it instead, conn_ahead.c). Then it finds the size
 *   by probing: an lseek() to X formats the records up to X (cheap next to
 *   the walks of the reads) and a 1-byte read tells whether X is inside the
 *   file. Doubling from split_min, then one halving; a table smaller than
 *   split_min is left to the reader (and its read-ahead).
 * - Once the reader has started (so that a summary can first hand it a sink:
 *   then it scans its lines into aggregators of its own instead of holding
 *   them, see conn.c), it claims the split point `at`, only if the reader
 *   has not read that far (the reader announces each read before it makes
 *   it), reads from at - 1, drops the rest of the line cut there, and keeps
 *   the complete lines that follow, up to split_cap bytes.
 * - The reader keeps its own lines that start before `at`, then takes the
 *   helper's lines, then (if the cap stopped the helper) reads on by itself
 *   from where the helper stopped. If the helper failed, the reader simply
 *   goes on by itself: the split can cost time, never rows.
 *
 * Both threads read whole records (seq_file never cuts a record for a read
 * of a page or more), so on a table that changes between reads the result
 * is what `cat` gives at any page boundary: an entry may be missed or seen
 * twice, a line is never made of two entries.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "conn_split.h"

#define READ_CHUNK 65536
#define PROBE_LIMIT ((uint64_t)1 << 40)
/* The reader must be at least an eighth of `at` before it for the helper
 * to claim it: closer, the split saves little more than it costs. */
#define CLAIM_MARGIN(at) ((at) / 8)
/* walk_grows: page reads timed in this many rounds of this many reads near
 * the start, then as many at split_min, and the ratio of the fastest of
 * each, in percent, at or above which reads walk (WALK_PCT) and at or below
 * which they do not (FLAT_PCT). Measured in the TCG VM on tables of 24,000
 * and 50,000 entries (benchmarks/RESULTS.md, sessions 9 and 10): 2.6-10.5x
 * on 6.1 and 6.12, 0.6-1.0x on 6.16, varying from boot to boot; a CI run
 * (session 9's) once saw less than 2.5x on 6.1. So in between the
 * kernel's release decides (release_walks). */
#define WALK_ROUNDS 2
#define WALK_READS 4
#define WALK_PCT 300
#define FLAT_PCT 150
/* The first release whose reads resume where the last one stopped: Debian's
 * 6.12 walks, its 6.16 does not (the change is upstream's, around 6.14). */
#define RESUMING_MAJOR 6
#define RESUMING_MINOR 14

struct conn_split {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int fd;                 /* the helper's own open file */
    size_t min_size, cap;
    int always;             /* split without asking walk_grows (tests) */
    uint32_t walk_pct;      /* walk_grows' ratio, in percent (0: not measured) */
    /* shared, under lock */
    int started;            /* the reader has announced its first read */
    uint64_t reader_next;   /* the reader will have read no further than this */
    int cancel;
    int claimed;            /* the reader keeps lines starting before `at` */
    conn_split_sink sink;   /* set before the claim: lines go there, not to data */
    void *sink_ctx;
    uint64_t at;
    int done;               /* the fields below are final */
    int err;                /* negative errno: the helper failed */
    char *data;             /* complete lines from the first line start >= at */
    size_t len;
    uint64_t end;           /* file offset just after data */
    int eof;                /* data runs to the end of the file */
    int sunk;
};

static int cancelled(struct conn_split *sp)
{
    int c;

    pthread_mutex_lock(&sp->lock);
    c = sp->cancel;
    pthread_mutex_unlock(&sp->lock);
    return c;
}

static ssize_t read_full(int fd, char *buf, size_t want)
{
    ssize_t got;

    do
        got = read(fd, buf, want);
    while (got < 0 && errno == EINTR);
    return got < 0 ? -errno : got;
}

/* 1 if the file has a byte at offset x, 0 if not, or a negative errno. */
static int probe(int fd, uint64_t x)
{
    char c;
    ssize_t got;

    if (lseek(fd, (off_t)x, SEEK_SET) < 0)
        return -errno;
    got = read_full(fd, &c, 1);
    return got < 0 ? (int)got : got > 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One page read from fd's current offset: its duration in ns, 0 if the
 * file ended, or a negative errno. */
static int64_t timed_read(int fd)
{
    char buf[4096];
    uint64_t t = now_ns();
    ssize_t got = read_full(fd, buf, sizeof(buf));
    int64_t d = (int64_t)(now_ns() - t);

    if (got <= 0)
        return got < 0 ? (int64_t)got : 0;
    return d > 0 ? d : 1;
}

/* 1 if the kernel's release is older than the first whose reads resume. */
static int release_walks(void)
{
    struct utsname u;
    int major = 0, minor = 0;

    if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
        return 1; /* unknown: a needless split costs less than a missed one */
    return major < RESUMING_MAJOR || (major == RESUMING_MAJOR && minor < RESUMING_MINOR);
}

/* 1 if a page read at min_size costs clearly more than one at the start,
 * i.e. every read walks the table from its first entry (kernels before
 * about 6.14), 0 if not or if the table ends before min_size, or a
 * negative errno. Where reads resume where the last one stopped (newer
 * kernels, regular files), a second thread cannot win: its lseek() to the
 * split point formats every record before it, the reader's own work again,
 * and the reader would then wait for it.
 *
 * The near reads come from a second open file, so that both sides advance
 * without seeking and can be timed in alternating rounds: a stall of a
 * loaded machine then hits both alike rather than all of one side. */
static int walk_grows(struct conn_split *sp)
{
    char path[64], first[4096];
    int64_t near = INT64_MAX, far = INT64_MAX;
    struct stat st;
    int rc = 0, nfd;
    ssize_t got;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", sp->fd);
    do
        nfd = open(path, O_RDONLY | O_CLOEXEC);
    while (nfd < 0 && errno == EINTR);
    if (nfd < 0)
        return -errno;
    /* Untimed: the first read sets the file up; the seek formats up to
     * min_size, and the read after it finishes the record cut there. */
    got = read_full(nfd, first, sizeof(first));
    if (got > 0 && lseek(sp->fd, (off_t)sp->min_size, SEEK_SET) < 0)
        got = -errno;
    if (got > 0)
        got = read_full(sp->fd, first, sizeof(first));
    if (got <= 0) {
        close(nfd);
        return got < 0 ? (int)got : 0;
    }
    for (int i = 0; i < 2 * WALK_ROUNDS && rc == 0; i++) {
        int fd = i % 2 ? sp->fd : nfd;
        int64_t *best = i % 2 ? &far : &near;

        for (int j = 0; j < WALK_READS && rc == 0; j++) {
            int64_t t = timed_read(fd);

            if (t <= 0)
                rc = t < 0 ? (int)t : 1; /* 1: the file's end */
            else if (t < *best)
                *best = t;
        }
        if (rc == 0 && cancelled(sp))
            rc = -ECANCELED;
    }
    close(nfd);
    if (rc < 0)
        return rc;
    if (rc > 0) /* the table ends within a few pages of min_size */
        return 0;
    sp->walk_pct = (uint32_t)(far * 100 / near > UINT32_MAX ? UINT32_MAX : far * 100 / near);
    if (sp->walk_pct >= WALK_PCT)
        return 1;
    if (sp->walk_pct <= FLAT_PCT || fstat(sp->fd, &st) < 0 || st.st_size > 0)
        return 0; /* (a file with a size is no kernel table: it never walks) */
    return release_walks();
}

/* The table's size, roughly (within a quarter), or 0 if it is smaller than
 * min_size, or a negative errno. */
static int64_t estimate_size(struct conn_split *sp)
{
    uint64_t lo = 0, hi = sp->min_size;
    int rc;

    for (;;) {
        if (cancelled(sp))
            return -ECANCELED;
        rc = probe(sp->fd, hi);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        lo = hi;
        if (hi >= PROBE_LIMIT)
            return -EFBIG;
        hi *= 2;
    }
    if (lo == 0)
        return 0;
    for (int i = 0; i < 1; i++) { /* within a quarter: each probe costs a seek */
        uint64_t mid = lo + (hi - lo) / 2;

        if (cancelled(sp))
            return -ECANCELED;
        rc = probe(sp->fd, mid);
        if (rc < 0)
            return rc;
        if (rc)
            lo = mid;
        else
            hi = mid;
    }
    return (int64_t)(lo + (hi - lo) / 2);
}

/* Where both threads finish together. Reading up to p costs about c p^2
 * (the walks), and the reader is at p0 when the helper starts on the tail:
 * c at^2 = c p0^2 + c (size^2 - at^2), so at^2 = (p0^2 + size^2) / 2. */
static uint64_t split_point(uint64_t p0, uint64_t size)
{
    double p = (double)p0, s = (double)size, v = (p * p + s * s) / 2, x = s;

    for (int i = 0; i < 8; i++) /* Newton from above: size/sqrt(2) <= root <= size */
        x = (x + v / x) / 2;
    return (uint64_t)x;
}

static int claim(struct conn_split *sp, uint64_t size, conn_split_sink *sink, void **ctx)
{
    uint64_t at = 0;
    int ok;

    pthread_mutex_lock(&sp->lock);
    /* Not before the reader starts: a summary gives its sink first. */
    while (!sp->started && !sp->cancel)
        pthread_cond_wait(&sp->cond, &sp->lock);
    if (sp->reader_next < size)
        at = split_point(sp->reader_next, size);
    ok = !sp->cancel && at && sp->reader_next + CLAIM_MARGIN(at) <= at;
    if (ok) {
        sp->claimed = 1;
        sp->at = at;
        *sink = sp->sink;
        *ctx = sp->sink_ctx;
        pthread_cond_broadcast(&sp->cond); /* conn_split_wait */
    }
    pthread_mutex_unlock(&sp->lock);
    return ok;
}

/* Read from at - 1 to the end (or the cap) into sp->data: the lines that
 * start at or after at. */
static int read_tail(struct conn_split *sp)
{
    size_t cap = sp->cap + READ_CHUNK, len = 0, skip = 0;
    int synced = 0, eof = 0;
    char *buf = malloc(cap);

    if (!buf)
        return -ENOMEM;
    if (lseek(sp->fd, (off_t)(sp->at - 1), SEEK_SET) < 0) {
        free(buf);
        return -errno;
    }
    while (len < sp->cap) {
        ssize_t got;

        if (cancelled(sp)) {
            free(buf);
            return -ECANCELED;
        }
        got = read_full(sp->fd, buf + len, READ_CHUNK);
        if (got < 0) {
            free(buf);
            return (int)got;
        }
        if (got == 0) {
            eof = 1;
            break;
        }
        if (!synced) {
            /* Drop through the first newline: the end of the line cut at at-1. */
            char *nl = memchr(buf + len, '\n', (size_t)got);

            skip += nl ? (size_t)(nl - buf - len) + 1 : (size_t)got;
            if (nl) {
                size_t keep = (size_t)got - ((size_t)(nl - buf - len) + 1);

                memmove(buf, nl + 1, keep);
                len = keep;
                synced = 1;
            }
            continue;
        }
        len += (size_t)got;
    }
    if (!eof) {
        /* Keep whole lines only; the reader reads on from the next one. */
        char *last = len ? memrchr(buf, '\n', len) : NULL;

        len = last ? (size_t)(last - buf) + 1 : 0;
    }
    sp->data = buf;
    sp->len = len;
    sp->end = sp->at - 1 + skip + len;
    sp->eof = eof;
    return 0;
}

static void *helper(void *arg)
{
    struct conn_split *sp = arg;
    int grows = sp->always ? 1 : walk_grows(sp);
    int64_t size = grows > 0 ? estimate_size(sp) : grows;
    int rc = size < 0 ? (int)size : 0;
    conn_split_sink sink = NULL;
    void *ctx = NULL;

    if (size > 0 && claim(sp, (uint64_t)size, &sink, &ctx)) {
        if (sink) {
            rc = sink(ctx, sp->fd, sp->at);
            sp->sunk = 1;
        } else {
            rc = read_tail(sp);
        }
    }
    if (rc < 0) {
        free(sp->data);
        sp->data = NULL;
    }
    close(sp->fd);
    sp->fd = -1;
    pthread_mutex_lock(&sp->lock);
    sp->err = rc;
    sp->done = 1;
    pthread_cond_broadcast(&sp->cond);
    pthread_mutex_unlock(&sp->lock);
    return NULL;
}

int conn_split_start(struct conn_split **out, int fd, size_t min_size, size_t cap, int always)
{
    struct conn_split *sp;
    char path[64];
    int rc;

    *out = NULL;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return 0;
    sp = calloc(1, sizeof(*sp));
    if (!sp)
        return -ENOMEM;
    sp->min_size = min_size ? min_size : CONN_SPLIT_MIN_DEFAULT;
    sp->cap = cap ? cap : CONN_SPLIT_CAP_DEFAULT;
    sp->always = always;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    do
        sp->fd = open(path, O_RDONLY | O_CLOEXEC);
    while (sp->fd < 0 && errno == EINTR);
    if (sp->fd < 0) {
        free(sp);
        return 0; /* no second file: read alone */
    }
    pthread_mutex_init(&sp->lock, NULL);
    pthread_cond_init(&sp->cond, NULL);
    rc = pthread_create(&sp->thread, NULL, helper, sp);
    if (rc != 0) {
        close(sp->fd);
        pthread_mutex_destroy(&sp->lock);
        pthread_cond_destroy(&sp->cond);
        free(sp);
        return 0;
    }
    *out = sp;
    return 0;
}

int conn_split_set_sink(struct conn_split *sp, conn_split_sink fn, void *ctx)
{
    int ok;

    pthread_mutex_lock(&sp->lock);
    ok = !sp->claimed && !sp->done;
    if (ok) {
        sp->sink = fn;
        sp->sink_ctx = ctx;
    }
    pthread_mutex_unlock(&sp->lock);
    return ok;
}

uint64_t conn_split_announce(struct conn_split *sp, uint64_t next)
{
    uint64_t at = 0;

    pthread_mutex_lock(&sp->lock);
    sp->reader_next = next;
    if (!sp->started) {
        sp->started = 1;
        pthread_cond_broadcast(&sp->cond); /* claim() */
    }
    if (sp->claimed)
        at = sp->at;
    pthread_mutex_unlock(&sp->lock);
    return at;
}

void conn_split_wait(struct conn_split *sp)
{
    pthread_mutex_lock(&sp->lock);
    while (!sp->claimed && !sp->done)
        pthread_cond_wait(&sp->cond, &sp->lock);
    pthread_mutex_unlock(&sp->lock);
}

int conn_split_take(struct conn_split *sp, struct conn_split_tail *tail)
{
    int err;

    pthread_mutex_lock(&sp->lock);
    while (!sp->done)
        pthread_cond_wait(&sp->cond, &sp->lock);
    err = sp->err;
    pthread_mutex_unlock(&sp->lock);
    if (err < 0)
        return err;
    tail->data = sp->data;
    tail->len = sp->len;
    tail->end = sp->end;
    tail->eof = sp->eof;
    tail->sunk = sp->sunk;
    sp->data = NULL;
    return 0;
}

uint32_t conn_split_walk_pct(struct conn_split *sp)
{
    uint32_t pct;

    pthread_mutex_lock(&sp->lock);
    pct = sp->done || sp->claimed ? sp->walk_pct : 0;
    pthread_mutex_unlock(&sp->lock);
    return pct;
}

int conn_split_gave_up(struct conn_split *sp)
{
    int gave_up;

    pthread_mutex_lock(&sp->lock);
    gave_up = sp->done && !sp->claimed;
    pthread_mutex_unlock(&sp->lock);
    return gave_up;
}

void conn_split_free(struct conn_split *sp)
{
    if (!sp)
        return;
    pthread_mutex_lock(&sp->lock);
    sp->cancel = 1;
    pthread_cond_broadcast(&sp->cond); /* a helper waiting in claim() */
    pthread_mutex_unlock(&sp->lock);
    pthread_join(sp->thread, NULL);
    pthread_mutex_destroy(&sp->lock);
    pthread_cond_destroy(&sp->cond);
    free(sp->data);
    free(sp);
}
