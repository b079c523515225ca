/*
 * conn.c - the connection-table reader (C core layer): big reads of
 * /proc/net/ip_vs_conn{,_sync} (or of any file or memory block in that
 * format) into arrays of struct pyipvs_conn, with filtering and summaries
 * done here so huge tables never become per-row Python objects.
 *
 * The tables are seq_files: a read() returns what the kernel chose to format
 * (about a page on older kernels, whatever the buffer size), so the reader
 * loops, and a line cut by a read boundary is carried to the front of the
 * buffer for the next one. A line longer than PYIPVS_CONN_LINE_MAX is skipped
 * to its newline and counted as malformed, so memory stays bounded by the
 * buffer whatever the input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn_split.h"
#include "core.h"
#include "pyipvs.h"

/* Rows parsed per batch while scanning into aggregators. */
#define SCAN_BATCH 256

struct pyipvs_conn_reader {
    int fd;                     /* -1: reading from mem */
    const char *mem;
    size_t mem_len, mem_off;
    char *buf;
    size_t cap, start, end;     /* unparsed bytes are buf[start..end) */
    size_t scanned;             /* no newline in buf[start..scanned) */
    size_t max_read;
    uint32_t flags;
    int err;                    /* sticky negative errno of a failed read() */
    int skipping;               /* inside an oversized line: drop to its newline */
    int seen_first;             /* the first line (maybe a header) is behind us */
    int stopped;                /* PYIPVS_CONN_OPT_STOP_AT_BLANK fired */
    struct pyipvs_conn_counts counts;
    /* PYIPVS_CONN_OPT_SPLIT (conn_split.c): a helper reads the tail */
    struct conn_split *split;
    uint64_t file_off;          /* bytes read from fd: buf[i] is at file_off - end + i */
    uint64_t split_at;          /* claimed: lines from here on are the helper's */
    struct conn_split_tail tail;    /* the helper's lines, being consumed */
    size_t tail_off;
    int resync;                 /* drop through the next newline (reading on after the tail) */
    int sunk;                   /* the helper scanned the tail itself (pyipvs_conn_scan) */
    /* where the split helper stepped aside: a thread reads ahead (conn_ahead.c) */
    struct conn_ahead *ahead;
};

static int reader_new(struct pyipvs_conn_reader **out, const struct pyipvs_conn_opts *opts)
{
    struct pyipvs_conn_reader *r = calloc(1, sizeof(*r));
    size_t cap = opts && opts->bufsize ? opts->bufsize : PYIPVS_CONN_BUFSIZE_DEFAULT;

    if (!r)
        return -ENOMEM;
    if (cap < PYIPVS_CONN_BUFSIZE_MIN)
        cap = PYIPVS_CONN_BUFSIZE_MIN;
    r->buf = malloc(cap);
    if (!r->buf) {
        free(r);
        return -ENOMEM;
    }
    r->cap = cap;
    r->fd = -1;
    if (opts) {
        r->max_read = opts->max_read;
        r->flags = opts->flags;
    }
    *out = r;
    return 0;
}

static void reader_free(struct pyipvs_conn_reader *r)
{
    conn_split_free(r->split);
    conn_ahead_free(r->ahead);
    free(r->tail.data);
    free(r->buf);
    free(r);
}

int pyipvs_conn_reader_new_fd(struct pyipvs_conn_reader **out, int fd,
                              const struct pyipvs_conn_opts *opts)
{
    if (!out || fd < 0)
        return -EINVAL;
    int rc = reader_new(out, opts);

    if (rc < 0)
        return rc;
    if (opts && (opts->flags & PYIPVS_CONN_OPT_SPLIT))
        rc = conn_split_start(&(*out)->split, fd, opts->split_min, opts->split_cap,
                              (opts->flags & PYIPVS_CONN_OPT_SPLIT_ALWAYS) != 0);
    if (rc < 0) {
        reader_free(*out);
        *out = NULL;
        return rc;
    }
    (*out)->fd = fd;
    return 0;
}

int pyipvs_conn_reader_new_mem(struct pyipvs_conn_reader **out, const void *data,
                               size_t len, const struct pyipvs_conn_opts *opts)
{
    if (!out || (!data && len))
        return -EINVAL;
    int rc = reader_new(out, opts);

    if (rc == 0) {
        (*out)->mem = data;
        (*out)->mem_len = len;
    }
    return rc;
}

int pyipvs_conn_reader_open(struct pyipvs_conn_reader **out, const char *path, int table,
                            const char *netns, const struct pyipvs_conn_opts *opts)
{
    int fd, rc;

    if (!out)
        return -EINVAL;
    rc = pyipvs_conn_fd_open(path, table, netns, &fd);
    if (rc < 0)
        return rc;
    rc = pyipvs_conn_reader_new_fd(out, fd, opts);
    if (rc < 0)
        close(fd);
    return rc;
}

void pyipvs_conn_reader_free(struct pyipvs_conn_reader *r)
{
    if (!r)
        return;
    conn_split_free(r->split); /* joins the helpers before their file goes */
    r->split = NULL;
    conn_ahead_free(r->ahead);
    r->ahead = NULL;
    if (r->fd >= 0)
        close(r->fd);
    reader_free(r);
}

int pyipvs_conn_reader_counts(const struct pyipvs_conn_reader *r,
                              struct pyipvs_conn_counts *out)
{
    if (!r || !out)
        return -EINVAL;
    *out = r->counts;
    return 0;
}

/* Hand the rest of the table over to the split helper's lines: wait for
 * them, drop what is buffered from the first line at split_at on. 1 if
 * switched; 0 if the helper failed, and the reader reads on by itself. */
static int take_tail(struct pyipvs_conn_reader *r)
{
    int rc = conn_split_take(r->split, &r->tail);

    if (rc == 0)
        r->counts.split_at = r->split_at;
    r->counts.walk_pct = conn_split_walk_pct(r->split);
    conn_split_free(r->split);
    r->split = NULL;
    r->split_at = 0;
    if (rc < 0)
        return 0;
    r->tail_off = 0;
    r->start = r->end = r->scanned = 0;
    if (r->tail.sunk) {
        r->sunk = 1;
        r->counts.eof = 1; /* the rest is counted in the scan's own aggregators */
    }
    return 1;
}

/* Is the line at buf[i] the split helper's (does it start at or after the
 * claimed split)? */
static int helpers_line(const struct pyipvs_conn_reader *r, size_t i)
{
    return r->split_at && r->file_off - r->end + i >= r->split_at;
}

/* The next bytes of the helper's lines; at their end, the file again from
 * where the helper stopped (or the end of the input). */
static ssize_t read_tail(struct pyipvs_conn_reader *r, size_t want)
{
    size_t left = r->tail.len - r->tail_off;

    if (left) {
        size_t got = left < want ? left : want;

        memcpy(r->buf + r->end, r->tail.data + r->tail_off, got);
        r->tail_off += got;
        return (ssize_t)got;
    }
    free(r->tail.data);
    r->tail.data = NULL;
    if (r->tail.eof)
        return 0;
    /* The byte before `end` ends a line: seek there and drop through it. */
    if (lseek(r->fd, (off_t)(r->tail.end - 1), SEEK_SET) < 0)
        return -errno;
    r->file_off = r->tail.end - 1;
    r->resync = 1;
    return -EAGAIN;
}

/* One read into the free tail of the buffer, after moving the carried
 * partial line to the front. Sets counts.eof at the end of the input. */
static int fill(struct pyipvs_conn_reader *r)
{
    size_t want;
    ssize_t got;

    /* A carried partial line that is the helper's is dropped by take_tail. */
    if (r->split_at && helpers_line(r, r->start) && take_tail(r) && r->sunk)
        return 0;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->scanned = r->scanned > r->start ? r->scanned - r->start : 0;
        r->start = 0;
    }
    want = r->cap - r->end;
    if (r->max_read && want > r->max_read)
        want = r->max_read;
    if (want == 0)
        return -ENOBUFS; /* cannot happen: cap > LINE_MAX, longer lines are dropped */
    if (r->fd < 0) {
        size_t left = r->mem_len - r->mem_off;

        got = (ssize_t)(left < want ? left : want);
        memcpy(r->buf + r->end, r->mem + r->mem_off, (size_t)got);
        r->mem_off += (size_t)got;
    } else if (r->tail.data && (got = read_tail(r, want)) != -EAGAIN) {
        if (got < 0)
            return r->err = (int)got;
    } else {
        if (r->split) {
            if (r->flags & PYIPVS_CONN_OPT_SPLIT_WAIT) {
                r->flags &= ~(uint32_t)PYIPVS_CONN_OPT_SPLIT_WAIT;
                conn_split_announce(r->split, r->file_off); /* nothing more read yet */
                conn_split_wait(r->split);
            }
            r->split_at = conn_split_announce(r->split, r->file_off + want);
            /* Past the split, read only what completes the line cut there. */
            if (r->split_at) {
                uint64_t stop = r->split_at + PYIPVS_CONN_LINE_MAX + 1;

                if (r->file_off < stop && stop - r->file_off < want)
                    want = (size_t)(stop - r->file_off);
            }
        }
        if (r->split && !r->split_at && conn_split_gave_up(r->split)) {
            r->counts.walk_pct = conn_split_walk_pct(r->split);
            /* Reads here do not walk (or the table is small): the helper
             * stepped aside; a thread reading ahead still takes the
             * kernel's formatting off this one. */
            conn_split_free(r->split);
            r->split = NULL;
            if (conn_ahead_start(&r->ahead, r->fd) < 0)
                r->ahead = NULL;
            r->counts.read_ahead = r->ahead != NULL;
        }
        if (r->ahead) {
            got = conn_ahead_read(r->ahead, r->buf + r->end, want);
            if (got < 0)
                return r->err = (int)got;
        } else {
            do
                got = read(r->fd, r->buf + r->end, want);
            while (got < 0 && errno == EINTR);
            if (got < 0) {
                r->err = -errno;
                return r->err;
            }
        }
        r->file_off += (uint64_t)got;
        if (r->resync && got > 0) {
            char *nl = memchr(r->buf + r->end, '\n', (size_t)got);
            size_t drop = nl ? (size_t)(nl - (r->buf + r->end)) + 1 : (size_t)got;

            r->resync = !nl;
            memmove(r->buf + r->end, r->buf + r->end + drop, (size_t)got - drop);
            got -= (ssize_t)drop;
            r->counts.bytes += drop;
            if (got == 0)
                return 0; /* nothing kept yet: not the end */
        }
    }
    if (got == 0)
        r->counts.eof = 1;
    r->end += (size_t)got;
    r->counts.bytes += (uint64_t)got;
    return 0;
}

/* The next complete line (without its newline) in line and len: 1, or 0 at
 * the end, or a negative errno. The pointer is valid until the next call. */
static int next_line(struct pyipvs_conn_reader *r, const char **line, size_t *len)
{
    for (;;) {
        char *s = r->buf + r->start;
        size_t avail = r->end - r->start;
        /* Short reads would otherwise rescan a carried line once per read. */
        size_t from = r->scanned > r->start ? r->scanned : r->start;
        char *nl = r->end > from ? memchr(r->buf + from, '\n', r->end - from) : NULL;

        if (!nl)
            r->scanned = r->end;

        if (r->skipping) {
            if (nl) {
                r->start += (size_t)(nl - s) + 1;
                r->skipping = 0;
                continue;
            }
            r->start = r->end;
        } else if (nl) {
            if (r->split_at && helpers_line(r, r->start) && take_tail(r))
                continue;
            *line = s;
            *len = (size_t)(nl - s);
            r->start += *len + 1;
            if (*len <= PYIPVS_CONN_LINE_MAX)
                return 1;
            r->counts.lines++;
            r->counts.malformed++;
            continue;
        } else if (avail > PYIPVS_CONN_LINE_MAX) {
            r->counts.lines++;
            r->counts.malformed++;
            r->skipping = 1;
            r->start = r->end;
        } else if (r->counts.eof && avail) {
            /* A last line without its newline (a truncated read or a fixture). */
            *line = s;
            *len = avail;
            r->start = r->end;
            return 1;
        }
        if (r->counts.eof)
            return 0;
        int rc = fill(r);

        if (rc < 0)
            return rc;
    }
}

static int is_blank_line(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* Header lines start "Pro FromIP"; only the sync table's names an Origin. */
static void note_header(struct pyipvs_conn_reader *r, const char *s, size_t len)
{
    static const char origin[] = "Origin";
    size_t n = sizeof(origin) - 1;

    r->counts.header = 1;
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(s + i, origin, n) == 0) {
            r->counts.header = 2;
            return;
        }
}

/* Parse the next row passing f into *c: 1, 0 at the end, or a negative errno. */
static int next_row(struct pyipvs_conn_reader *r, const struct pyipvs_conn_filter *f,
                    struct pyipvs_conn *c)
{
    const char *line;
    size_t len;
    int rc = 0;

    if (r->err)
        return r->err;
    while (!r->stopped && (rc = next_line(r, &line, &len)) > 0) {
        r->counts.lines++;
        if (!r->seen_first) {
            r->seen_first = 1;
            if (len >= 4 && memcmp(line, "Pro ", 4) == 0) {
                note_header(r, line, len);
                continue;
            }
        }
        if (is_blank_line(line, len)) {
            r->counts.blank++;
            /* ipvsadm -Lc exits at the first blank line (sscanf gives EOF). */
            if (r->flags & PYIPVS_CONN_OPT_STOP_AT_BLANK)
                r->stopped = 1;
            continue;
        }
        if (pyipvs_conn_parse_line(line, len, c) < 0) {
            r->counts.malformed++;
            continue;
        }
        r->counts.rows++;
        if (pyipvs_conn_match(f, c)) {
            r->counts.matched++;
            return 1;
        }
    }
    return r->stopped ? 0 : rc;
}

int pyipvs_conn_read(struct pyipvs_conn_reader *r, const struct pyipvs_conn_filter *f,
                     struct pyipvs_conn *rows, size_t max, size_t *n)
{
    size_t got = 0;
    int rc = 0;

    if (!r || !n || !rows || max == 0)
        return -EINVAL;
    *n = 0;
    while (got < max && (rc = next_row(r, f, &rows[got])) > 0)
        got++;
    *n = got;
    /* Rows already parsed are delivered; a read error shows on the next call. */
    return rc < 0 && got == 0 ? rc : 0;
}

/* A summary's share of the split helper: it scans the lines from `at` on
 * into aggregators of its own (see pyipvs_conn_scan), so no text is held. */
struct scan_sink {
    const struct pyipvs_conn_filter *f;
    struct pyipvs_conn_agg **aggs;
    size_t naggs;
    size_t bufsize;
    uint32_t flags;
    struct pyipvs_conn_counts counts;
};

static int scan_tail(void *vctx, int fd, uint64_t at)
{
    struct scan_sink *s = vctx;
    struct pyipvs_conn_opts o = {.bufsize = s->bufsize,
                                 .flags = s->flags & PYIPVS_CONN_OPT_STOP_AT_BLANK};
    struct pyipvs_conn_reader *t;
    int rc = reader_new(&t, &o);

    if (rc < 0)
        return rc;
    if (lseek(fd, (off_t)(at - 1), SEEK_SET) < 0) {
        rc = -errno;
    } else {
        t->fd = fd; /* borrowed from the helper */
        t->file_off = at - 1;
        t->resync = 1;    /* the line cut at at - 1 is the reader's */
        t->seen_first = 1;
        rc = pyipvs_conn_scan(t, s->f, s->aggs, s->naggs);
        s->counts = t->counts;
        /* A key counted as overflow here may have a group in the reader's
         * aggregator: not mergeable, so the reader reads the tail itself. */
        for (size_t i = 0; rc == 0 && i < s->naggs; i++)
            if (conn_agg_overflowed(s->aggs[i]))
                rc = -EOVERFLOW;
    }
    t->fd = -1;
    reader_free(t);
    return rc;
}

static void free_aggs(struct pyipvs_conn_agg **aggs, size_t n)
{
    for (size_t i = 0; aggs && i < n; i++)
        pyipvs_conn_agg_free(aggs[i]);
    free(aggs);
}

/* Offer the helper a sink for a summary: 1 if it took it. */
static int offer_sink(struct pyipvs_conn_reader *r, struct scan_sink *s,
                      const struct pyipvs_conn_filter *f, struct pyipvs_conn_agg *const *aggs,
                      size_t naggs)
{
    s->aggs = calloc(naggs ? naggs : 1, sizeof(*s->aggs));
    if (!s->aggs)
        return 0;
    s->f = f;
    s->naggs = naggs;
    s->bufsize = r->cap;
    s->flags = r->flags;
    for (size_t i = 0; i < naggs; i++)
        if (conn_agg_clone_empty(aggs[i], &s->aggs[i]) < 0)
            goto fail;
    if (conn_split_set_sink(r->split, scan_tail, s))
        return 1;
fail:
    free_aggs(s->aggs, naggs);
    s->aggs = NULL;
    return 0;
}

static int merge_sink(struct pyipvs_conn_reader *r, const struct scan_sink *s,
                      struct pyipvs_conn_agg *const *aggs, size_t naggs)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < naggs; i++)
        rc = conn_agg_merge(aggs[i], s->aggs[i]);
    r->counts.bytes += s->counts.bytes;
    r->counts.lines += s->counts.lines;
    r->counts.rows += s->counts.rows;
    r->counts.matched += s->counts.matched;
    r->counts.malformed += s->counts.malformed;
    r->counts.blank += s->counts.blank;
    return rc;
}

int pyipvs_conn_scan(struct pyipvs_conn_reader *r, const struct pyipvs_conn_filter *f,
                     struct pyipvs_conn_agg *const *aggs, size_t naggs)
{
    struct pyipvs_conn *rows;
    struct scan_sink sink = {0};
    int sinking = 0;
    size_t n;
    int rc;

    if (!r || (!aggs && naggs))
        return -EINVAL;
    rows = malloc(SCAN_BATCH * sizeof(*rows));
    if (!rows)
        return -ENOMEM;
    if (r->split && !r->split_at && !r->sunk)
        sinking = offer_sink(r, &sink, f, aggs, naggs);
    do {
        rc = pyipvs_conn_read(r, f, rows, SCAN_BATCH, &n);
        for (size_t i = 0; rc == 0 && i < naggs; i++)
            rc = pyipvs_conn_agg_add(aggs[i], rows, n);
    } while (rc == 0 && n > 0);
    free(rows);
    if (sinking) {
        /* The sink lives in this frame: the helper must be done with it. */
        conn_split_free(r->split);
        r->split = NULL;
        r->split_at = 0;
        if (rc == 0 && r->sunk)
            rc = merge_sink(r, &sink, aggs, naggs);
        free_aggs(sink.aggs, naggs);
    }
    return rc;
}
