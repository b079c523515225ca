/*
 * conn_split.h - the connection-table reader's second thread (internal to
 * the C core: conn.c, conn_split.c and conn_ahead.c; see those for why):
 * on kernels whose reads walk the table, a helper that reads its tail; on
 * others, a thread that reads ahead of the reader.
 */
#ifndef PYIPVS_CONN_SPLIT_H
#define PYIPVS_CONN_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Tables smaller than this get no split (the reader, with a thread reading
 * ahead): ~16,000 IPv4 entries, whose quadratic walk costs little next to
 * the helper's probes, and short of which walk_grows cannot tell a walk
 * from noise well (at 1 MiB it sees 2.6-10x on 6.1 and 6.12, ~1x on 6.16). */
#define CONN_SPLIT_MIN_DEFAULT ((size_t)1024 * 1024)
/* The most text the helper holds for the reader (~500,000 IPv4 entries);
 * past it the reader reads on by itself. */
#define CONN_SPLIT_CAP_DEFAULT ((size_t)32 * 1024 * 1024)

struct conn_split;

/* The helper's lines, handed to the reader (which then owns data). */
struct conn_split_tail {
    char *data;
    size_t len;
    uint64_t end;   /* file offset just after data */
    int eof;        /* nothing follows data */
    int sunk;       /* no data: the sink took the lines (conn_split_set_sink) */
};

/* What the helper does with the lines from `at` on instead of holding them
 * (for summaries: conn.c scans them into aggregators of its own). fd is the
 * helper's; the sink reads from at - 1 and drops the cut line itself. */
typedef int (*conn_split_sink)(void *ctx, int fd, uint64_t at);

/* Start a helper over a second open file of fd's table. *out stays NULL
 * (and 0 is returned) where no helper can run: one CPU, no second open, no
 * thread. Negative errno only for a failed allocation. always: split even
 * where reads do not walk the table (tests on regular files). */
int conn_split_start(struct conn_split **out, int fd, size_t min_size, size_t cap, int always);
/* The reader is about to read up to file offset next. Returns the claimed
 * split point (the reader keeps only lines starting before it), or 0. */
uint64_t conn_split_announce(struct conn_split *sp, uint64_t next);
/* Give the helper a sink: 1 if set, 0 if the helper has already claimed its
 * lines for holding. ctx must live until conn_split_take or _free. */
int conn_split_set_sink(struct conn_split *sp, conn_split_sink fn, void *ctx);
/* Wait until the helper has claimed its split point or given up (tests:
 * PYIPVS_CONN_OPT_SPLIT_WAIT, so that even a small table splits). */
void conn_split_wait(struct conn_split *sp);
/* Wait for the helper to finish and take its lines; a negative errno if it
 * failed (the reader then reads on by itself). */
int conn_split_take(struct conn_split *sp, struct conn_split_tail *tail);
/* Stop the helper (if still running), wait for it, free everything. */
void conn_split_free(struct conn_split *sp);
/* walk_grows' measure: a page read's cost at min_size against one at the
 * start, in percent, once the helper has decided (0: not measured). */
uint32_t conn_split_walk_pct(struct conn_split *sp);
/* 1 if the helper has finished without claiming a split point (the table
 * was small, its reads do not walk, or the reader was too far on). */
int conn_split_gave_up(struct conn_split *sp);

/* A thread that makes the reader's read() calls ahead of it, from fd's
 * current offset (conn_ahead.c): for tables whose reads do not walk. */
struct conn_ahead;

/* *out stays NULL (and 0 is returned) where no thread could be started;
 * negative errno only for a failed allocation. */
int conn_ahead_start(struct conn_ahead **out, int fd);
/* The next bytes of the file, in order, as read() would return them: up to
 * want bytes, 0 at its end, or the negative errno of a failed read. */
ssize_t conn_ahead_read(struct conn_ahead *a, char *dst, size_t want);
/* Stop the thread (after its current block), wait for it, free everything. */
void conn_ahead_free(struct conn_ahead *a);

#endif
