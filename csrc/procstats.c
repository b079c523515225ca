/*
 * procstats.c - system-wide IPVS state from /proc (C core layer): the
 * namespace totals (/proc/net/ip_vs_stats), the per-CPU counters
 * (/proc/net/ip_vs_stats_percpu), the registered application helpers
 * (/proc/net/ip_vs_app) and the tunables under /proc/sys/net/ipv4/vs.
 *
 * Every file is opened inside the target namespace by the connection
 * reader's helper (pyipvs_conn_fd_open), which also routes /proc/net through
 * /proc/thread-self. /proc/sys/net needs no such routing: it shows the
 * namespace of the thread that opens it, and an open file keeps that
 * namespace after the thread has gone back home.
 *
 * The stats files are all upper-case hex, fixed layout (kernel 2.6.x to
 * 6.12 print the same text). Parsers take memory, so fixtures and live
 * reads share one path.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pyipvs.h"

#define SYSCTL_DIR "/proc/sys/net/ipv4/vs"
/* No IPVS /proc file comes near this; more means something else is there. */
#define READ_LIMIT (64u << 20)

static const char *const stat_paths[] = {
    [PYIPVS_PROC_STATS] = "/proc/net/ip_vs_stats",
    [PYIPVS_PROC_STATS_PERCPU] = "/proc/net/ip_vs_stats_percpu",
    [PYIPVS_PROC_APP] = "/proc/net/ip_vs_app",
};

/* --- reading and writing inside a namespace --- */

static int open_ro(const char *path, const char *netns, int *fd)
{
    /* The table argument is ignored when a path is given. */
    return pyipvs_conn_fd_open(path, PYIPVS_CONN_TABLE_CONN, netns, fd);
}

/* Read fd to its end into a malloc'ed, NUL-terminated buffer. seq_files and
 * sysctl handlers hand out at most about a page per read(), so loop. */
static int read_all(int fd, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap), *bigger;
    ssize_t got;

    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (cap - n < 1024) {
            if (cap >= READ_LIMIT) {
                free(buf);
                return -EFBIG;
            }
            bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return -ENOMEM;
            }
            buf = bigger;
            cap *= 2;
        }
        got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int rc = -errno;

            free(buf);
            return rc;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int read_path(const char *path, const char *netns, char **out, size_t *len)
{
    int fd, rc;

    rc = open_ro(path, netns, &fd);
    if (rc < 0)
        return rc;
    rc = read_all(fd, out, len);
    close(fd);
    return rc;
}

/* A tunable's name is one path component of the vs directory. */
static int sysctl_path(const char *name, char *path, size_t size)
{
    int n;

    if (!name || !*name || name[0] == '.' || strchr(name, '/'))
        return -EINVAL;
    n = snprintf(path, size, SYSCTL_DIR "/%s", name);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int pyipvs_procstat_read(int which, const char *netns, char **out, size_t *len)
{
    if (!out || !len || which < 0 || which > PYIPVS_PROC_APP)
        return -EINVAL;
    return read_path(stat_paths[which], netns, out, len);
}

int pyipvs_sysctl_read(const char *name, const char *netns, char **out, size_t *len)
{
    char path[256];
    int rc;

    if (!out || !len)
        return -EINVAL;
    rc = sysctl_path(name, path, sizeof(path));
    return rc < 0 ? rc : read_path(path, netns, out, len);
}

int pyipvs_sysctl_write(const char *name, const char *netns, const char *value, size_t len)
{
    char path[256], self[64];
    int ro, wr, rc;
    ssize_t put;

    if (!value)
        return -EINVAL;
    rc = sysctl_path(name, path, sizeof(path));
    if (rc < 0)
        return rc;
    /* The shared helper opens read-only. Reopening that file through its
     * /proc/self/fd link reaches the same inode without a new lookup, so
     * the write lands in the namespace the file was opened in. */
    rc = open_ro(path, netns, &ro);
    if (rc < 0)
        return rc;
    snprintf(self, sizeof(self), "/proc/self/fd/%d", ro);
    do
        wr = open(self, O_WRONLY | O_CLOEXEC);
    while (wr < 0 && errno == EINTR);
    rc = wr < 0 ? -errno : 0;
    close(ro);
    if (rc < 0)
        return rc;
    /* One write at offset 0: a sysctl handler parses only what one call
     * brings (kernel.sysctl_writes_strict), and reports a refusal as -1. */
    do
        put = write(wr, value, len);
    while (put < 0 && errno == EINTR);
    rc = put < 0 ? -errno : (size_t)put != len ? -EIO : 0;
    if (close(wr) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

int pyipvs_sysctl_list(const char *netns, char **names, size_t *len)
{
    DIR *dir;
    struct dirent *de;
    char *buf = NULL, *bigger;
    size_t cap = 0, n = 0, l;
    int fd, rc = 0;

    if (!names || !len)
        return -EINVAL;
    rc = open_ro(SYSCTL_DIR, netns, &fd);
    if (rc < 0)
        return rc;
    dir = fdopendir(fd);
    if (!dir) {
        rc = -errno;
        close(fd);
        return rc;
    }
    for (;;) {
        errno = 0;
        de = readdir(dir);
        if (!de) {
            rc = -errno;
            break;
        }
        if (de->d_name[0] == '.')
            continue;
        l = strlen(de->d_name) + 1;
        if (n + l > cap) {
            cap = cap ? cap * 2 : 1024;
            bigger = realloc(buf, cap);
            if (!bigger) {
                rc = -ENOMEM;
                break;
            }
            buf = bigger;
        }
        memcpy(buf + n, de->d_name, l);
        n += l;
    }
    closedir(dir);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *names = buf;   /* NULL when the directory is empty */
    *len = n;
    return 0;
}

/* --- parsing --- */

struct cursor {
    const char *p, *end;
};

/* The next line (without its newline) into [*s, *e); 0 at the end of text. */
static int next_line(struct cursor *c, const char **s, const char **e)
{
    const char *nl;

    if (c->p >= c->end)
        return 0;
    nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    *s = c->p;
    *e = nl ? nl : c->end;
    c->p = nl ? nl + 1 : c->end;
    return 1;
}

static const char *skip_blanks(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static int is_blank(const char *s, const char *e)
{
    return skip_blanks(s, e) == e;
}

/* Does the line, blanks aside, start with word? */
static int starts_with(const char *s, const char *e, const char *word)
{
    size_t l = strlen(word);

    s = skip_blanks(s, e);
    return (size_t)(e - s) >= l && memcmp(s, word, l) == 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* n blank-separated hex fields of at most 16 digits, nothing else. */
static int hex_fields(const char *s, const char *e, uint64_t *v, int n)
{
    int i, digits, d;

    for (i = 0; i < n; i++) {
        s = skip_blanks(s, e);
        v[i] = 0;
        for (digits = 0; s < e && (d = hexval(*s)) >= 0; s++, digits++) {
            if (digits == 16)
                return -EINVAL;
            v[i] = (v[i] << 4) | (uint64_t)d;
        }
        if (digits == 0 || (s < e && *s != ' ' && *s != '\t'))
            return -EINVAL;
    }
    return is_blank(s, e) ? 0 : -EINVAL;
}

static void put_counters(struct pyipvs_stats *st, const uint64_t *v)
{
    st->conns = v[0];
    st->inpkts = v[1];
    st->outpkts = v[2];
    st->inbytes = v[3];
    st->outbytes = v[4];
}

static void put_rates(struct pyipvs_stats *st, const uint64_t *v)
{
    st->cps = v[0];
    st->inpps = v[1];
    st->outpps = v[2];
    st->inbps = v[3];
    st->outbps = v[4];
}

/* Two header lines, the counter row, a blank line, the rates header and the
 * rates row; "CPU" on the second header line marks the per-CPU file. */
int pyipvs_gstats_parse(const char *text, size_t len, struct pyipvs_stats *out)
{
    struct cursor c = {text, text + len};
    const char *s, *e;
    uint64_t v[5];
    struct pyipvs_stats st;

    if (!text || !out)
        return -EINVAL;
    memset(&st, 0, sizeof(st));
    if (!next_line(&c, &s, &e) || !starts_with(s, e, "Total"))
        return -EINVAL;
    if (!next_line(&c, &s, &e) || !starts_with(s, e, "Conns"))
        return -EINVAL;
    if (!next_line(&c, &s, &e) || hex_fields(s, e, v, 5) < 0)
        return -EINVAL;
    put_counters(&st, v);
    if (!next_line(&c, &s, &e) || !is_blank(s, e))
        return -EINVAL;
    if (!next_line(&c, &s, &e) || !starts_with(s, e, "Conns/s"))
        return -EINVAL;
    if (!next_line(&c, &s, &e) || hex_fields(s, e, v, 5) < 0)
        return -EINVAL;
    put_rates(&st, v);
    while (next_line(&c, &s, &e))
        if (!is_blank(s, e))
            return -EINVAL;
    *out = st;
    return 0;
}

/* Header pair; one "%3X" row per possible CPU; the "~" row of totals since
 * the last zero; a blank line; the rates header and row. */
int pyipvs_gstats_percpu_parse(const char *text, size_t len, struct pyipvs_cpu_stats **rows,
                               size_t *n, struct pyipvs_stats *total)
{
    struct cursor c = {text, text + len};
    const char *s, *e, *t;
    uint64_t v[6];
    struct pyipvs_stats st;
    struct pyipvs_cpu_stats *out = NULL, *bigger;
    size_t count = 0, cap = 0;
    int have_total = 0, rc = -EINVAL;

    if (!text || !rows || !n || !total)
        return -EINVAL;
    memset(&st, 0, sizeof(st));
    if (!next_line(&c, &s, &e) || !starts_with(s, e, "Total"))
        return -EINVAL;
    if (!next_line(&c, &s, &e) || !starts_with(s, e, "CPU"))
        return -EINVAL;
    while (next_line(&c, &s, &e)) {
        t = skip_blanks(s, e);
        if (t < e && *t == '~') {
            if (hex_fields(t + 1, e, v, 5) < 0)
                goto out;
            put_counters(&st, v);
            have_total = 1;
            break;
        }
        if (hex_fields(s, e, v, 6) < 0 || v[0] > UINT32_MAX)
            goto out;
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            bigger = realloc(out, cap * sizeof(*out));
            if (!bigger) {
                rc = -ENOMEM;
                goto out;
            }
            out = bigger;
        }
        out[count].cpu = (uint32_t)v[0];
        out[count].conns = v[1];
        out[count].inpkts = v[2];
        out[count].outpkts = v[3];
        out[count].inbytes = v[4];
        out[count].outbytes = v[5];
        count++;
    }
    if (!have_total)
        goto out;
    if (!next_line(&c, &s, &e) || !is_blank(s, e))
        goto out;
    if (!next_line(&c, &s, &e) || !starts_with(s, e, "Conns/s"))
        goto out;
    if (!next_line(&c, &s, &e) || hex_fields(s, e, v, 5) < 0)
        goto out;
    put_rates(&st, v);
    while (next_line(&c, &s, &e))
        if (!is_blank(s, e))
            goto out;
    *rows = out;
    *n = count;
    *total = st;
    return 0;
out:
    free(out);
    return rc;
}

/* A blank-delimited token into [*ts, *te); 0 if none is left. */
static int token(const char **p, const char *e, const char **ts, const char **te)
{
    const char *s = skip_blanks(*p, e), *t = s;

    while (t < e && *t != ' ' && *t != '\t')
        t++;
    *ts = s;
    *te = t;
    *p = t;
    return t > s;
}

static int copy_token(char *dst, size_t size, const char *s, const char *e)
{
    /* A NUL inside would silently cut the name short (found by fuzzing:
     * "\0\0?" became an empty helper name); the kernel never prints one. */
    if ((size_t)(e - s) >= size || memchr(s, '\0', (size_t)(e - s)) != NULL)
        return -EINVAL;
    memcpy(dst, s, (size_t)(e - s));
    dst[e - s] = '\0';
    return 0;
}

/* Decimal, optionally signed, within [lo, hi]. */
static int decimal(const char *s, const char *e, long long lo, long long hi, long long *out)
{
    long long v = 0;
    int neg = 0;

    if (s < e && *s == '-') {
        neg = 1;
        s++;
    }
    if (s == e)
        return -EINVAL;
    for (; s < e; s++) {
        /* Past any 32-bit value long before long long could overflow. */
        if (*s < '0' || *s > '9' || v > 100000000000LL)
            return -EINVAL;
        v = v * 10 + (*s - '0');
    }
    if (neg)
        v = -v;
    if (v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

/* "prot port    usecnt name", then "%-3s  %-7u %-6d %-17s" per port an
 * application helper (ftp, ...) is bound to in this namespace. */
static int parse_app(const char *s, const char *e, struct pyipvs_app *a)
{
    const char *ts, *te, *p = s;
    long long v;

    memset(a, 0, sizeof(*a));
    if (!token(&p, e, &ts, &te) || copy_token(a->proto_name, sizeof(a->proto_name), ts, te) < 0)
        return -EINVAL;
    if (!token(&p, e, &ts, &te) || decimal(ts, te, 0, 65535, &v) < 0)
        return -EINVAL;
    a->port = (uint16_t)v;
    if (!token(&p, e, &ts, &te) || decimal(ts, te, INT32_MIN, INT32_MAX, &v) < 0)
        return -EINVAL;
    a->usecnt = (int32_t)v;
    if (!token(&p, e, &ts, &te) || copy_token(a->name, sizeof(a->name), ts, te) < 0)
        return -EINVAL;
    return token(&p, e, &ts, &te) ? -EINVAL : 0;
}

int pyipvs_apps_parse(const char *text, size_t len, struct pyipvs_app **out, size_t *n)
{
    struct cursor c = {text, text + len};
    const char *s, *e;
    struct pyipvs_app *apps = NULL, *bigger;
    size_t count = 0, cap = 0;
    int rc;

    if (!text || !out || !n)
        return -EINVAL;
    if (!next_line(&c, &s, &e) || !starts_with(s, e, "prot"))
        return -EINVAL;
    while (next_line(&c, &s, &e)) {
        if (is_blank(s, e))
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 4;
            bigger = realloc(apps, cap * sizeof(*apps));
            if (!bigger) {
                free(apps);
                return -ENOMEM;
            }
            apps = bigger;
        }
        rc = parse_app(s, e, &apps[count]);
        if (rc < 0) {
            free(apps);
            return rc;
        }
        count++;
    }
    *out = apps;
    *n = count;
    return 0;
}
