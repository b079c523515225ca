/*
 * list_fmt.c - a whole-table snapshot as the lines of `ipvsadm -Ln` (every
 * numeric listing mode) or `ipvsadm -Sn` (C core layer).
 *
 * Why in C: a numeric listing is a pure function of the snapshot's arrays,
 * and building model objects, sorting and formatting 200,000 server lines in
 * Python costs far more than the kernel's read (about 0.4 ms a line under the
 * test VM's emulation). The name-resolving forms stay in Python, where the
 * resolver lives. pyipvs/format_list.py, format_save.py and sorting.py are
 * the reference this reproduces, byte for byte; tests/unit/test_list_fmt.py
 * compares the two on random tables, and the differential suite compares
 * pyipvsadm with the real ipvsadm.
 *
 * Order: ipvsadm sorts with glibc's qsort, a stable top-down merge sort, and
 * compares unsigned 32-bit fields by subtracting them into an int. That
 * wraps (10.0.0.1 sorts after 200.0.0.1) and is not transitive, so the
 * order depends on the algorithm: msort() below is that merge sort (split
 * n/2 | n - n/2, take the left element on <= 0), never the C library's qsort
 * (musl's is another algorithm).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core.h"

#define F_PERSISTENT 0x1
#define F_ONEPACKET 0x4
#define F_SCHED1 0x8
#define F_SCHED2 0x10
#define F_SCHED3 0x20
#define F_ANY_SCHED (F_SCHED1 | F_SCHED2 | F_SCHED3)

enum { FWD_MASQ, FWD_LOCAL, FWD_TUNNEL, FWD_ROUTE };
enum { TUN_IPIP, TUN_GUE, TUN_GRE };

#define LINE_ROOM 1024 /* more than the longest line (about 300 bytes) */

struct text {
    char *p;
    size_t n, cap;
};

/* Makes room for one more line (LINE_ROOM bytes), so that the add_*
 * pieces below, which write without checking, stay inside the buffer. */
static int room(struct text *t)
{
    if (t->cap - t->n < LINE_ROOM) {
        size_t cap = t->cap ? t->cap * 2 : 1 << 16;
        char *p = realloc(t->p, cap);

        if (p == NULL)
            return -ENOMEM;
        t->p = p;
        t->cap = cap;
    }
    return 0;
}

/* Append formatted text (the rarer pieces; the frequent ones are add_*). */
static int put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n, rc = room(t);

    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    n = vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->n)
        return -EOVERFLOW; /* cannot happen: no piece is near LINE_ROOM */
    t->n += (size_t)n;
    return 0;
}

/* Server lines are nine in ten of a listing, and vsnprintf's cost per field
 * dominated their formatting under the test VM's emulation, so their fields
 * are written directly: the same text as printf's %s, %-Ns, %Nu, %-Nu, %-Nd
 * (pad with spaces to N, never cut). Callers made room() for the line. */
static void add(struct text *t, const char *s, size_t n)
{
    memcpy(t->p + t->n, s, n);
    t->n += n;
}

static void add_c(struct text *t, char c)
{
    t->p[t->n++] = c;
}

static void add_spaces(struct text *t, size_t have, int width)
{
    for (; (int)have < width; have++)
        add_c(t, ' ');
}

/* %-Ns */
static void add_left(struct text *t, const char *s, int width)
{
    size_t n = strlen(s);

    add(t, s, n);
    add_spaces(t, n, width);
}

/* Decimal digits of v at the end of buf[24]; returns where they start. */
static char *digits(char buf[24], uint64_t v)
{
    char *p = buf + 24;

    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return p;
}

/* %Nu (width > 0: right-aligned) or %-Nu (width < 0: left-aligned) of v,
 * with a minus sign first when neg. */
static void add_num(struct text *t, uint64_t v, int neg, int width)
{
    char buf[24], *p = digits(buf, v);
    size_t n = (size_t)(buf + 24 - p) + (neg ? 1 : 0);

    if (width > 0)
        add_spaces(t, n, width);
    if (neg)
        add_c(t, '-');
    add(t, p, (size_t)(buf + 24 - p));
    if (width < 0)
        add_spaces(t, n, -width);
}

static void add_int(struct text *t, int32_t v, int width)
{
    add_num(t, v < 0 ? (uint64_t)(-(int64_t)v) : (uint64_t)v, v < 0, width);
}

/* --- order --------------------------------------------------------------- */

typedef int (*cmp_fn)(const void *ctx, uint32_t a, uint32_t b);

static void msort(uint32_t *v, uint32_t *tmp, size_t n, cmp_fn cmp, const void *ctx)
{
    size_t n1 = n / 2, n2 = n - n1, i = 0, j = 0, k = 0;
    uint32_t *right = v + n1;

    if (n <= 1)
        return;
    msort(v, tmp, n1, cmp, ctx);
    msort(right, tmp, n2, cmp, ctx);
    while (i < n1 && j < n2)
        tmp[k++] = cmp(ctx, v[i], right[j]) <= 0 ? v[i++] : right[j++];
    while (i < n1)
        tmp[k++] = v[i++];
    while (j < n2)
        tmp[k++] = right[j++];
    memcpy(v, tmp, n * sizeof(*v));
}

static int32_t diff32(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

static uint32_t word(const uint8_t *a, int i)
{
    return (uint32_t)a[4 * i] << 24 | (uint32_t)a[4 * i + 1] << 16 |
           (uint32_t)a[4 * i + 2] << 8 | a[4 * i + 3];
}

/* The fields libipvs compares, as the model holds them: a fwmark service
 * has protocol TCP, port 0 and no address; an IPv4 address is the first of
 * four words, the rest zero. */
static void service_fields(const struct pyipvs_service *s, uint32_t f[8])
{
    f[0] = s->fwmark;
    f[1] = s->af;
    f[2] = s->fwmark ? IPPROTO_TCP : s->protocol;
    for (int i = 0; i < 4; i++)
        f[3 + i] = s->fwmark ? 0 : (i == 0 || s->af == AF_INET6) ? word(s->addr, i) : 0;
    f[7] = s->fwmark ? 0 : s->port;
}

static int service_cmp(const void *ctx, uint32_t a, uint32_t b)
{
    const struct pyipvs_service *sv = ctx;
    uint32_t fa[8], fb[8];

    service_fields(&sv[a], fa);
    service_fields(&sv[b], fb);
    for (int i = 0; i < 8; i++) {
        int32_t r = diff32(fa[i], fb[i]);
        if (r)
            return r;
    }
    return 0;
}

/* Real servers: the address, four words only if the *first* operand is
 * IPv6 (libipvs's loop), then the port. The words are worked out once per
 * server (dest_keys) rather than in every comparison: sorting was a sixth of
 * the formatter's time on the host (perf, benchmarks/core_micro.c). */
struct dest_key {
    uint32_t w[4]; /* the address's words; beyond the first, 0 unless IPv6 */
    int32_t port;
    int v6;
};

static void dest_keys(const struct pyipvs_dest *d, size_t n, struct dest_key *k)
{
    for (size_t i = 0; i < n; i++) {
        k[i].v6 = d[i].af == AF_INET6;
        for (int j = 0; j < 4; j++)
            k[i].w[j] = j == 0 || k[i].v6 ? word(d[i].addr, j) : 0;
        k[i].port = d[i].port;
    }
}

static int dest_cmp(const void *ctx, uint32_t a, uint32_t b)
{
    const struct dest_key *ka = (const struct dest_key *)ctx + a;
    const struct dest_key *kb = (const struct dest_key *)ctx + b;
    int words = ka->v6 ? 4 : 1;
    int32_t r = 0;

    for (int i = 0; i < words && r == 0; i++)
        r = diff32(ka->w[i], kb->w[i]);
    return r ? r : ka->port - kb->port;
}

/* --- pieces of text -------------------------------------------------------- */

/* ipvsadm's print_largenum: a 9-column counter, K/M/G/T unless exact.
 * Callers made room() for the line. */
static void largenum(struct text *t, uint64_t v, int exact)
{
    static const struct {
        uint64_t below, unit;
        char suffix;
    } scale[] = {{1000000000ULL, 1000, 'K'},
                 {100000000000ULL, 1000000, 'M'},
                 {100000000000000ULL, 1000000000ULL, 'G'},
                 {UINT64_MAX, 1000000000000ULL, 'T'}};

    if (exact || v < 100000000ULL) {
        char buf[24], *p = digits(buf, v);
        size_t n = (size_t)(buf + 24 - p);

        if (n > 8)
            add_c(t, ' '); /* exact: " %s" once the number outgrows the column */
        else
            add_spaces(t, n, 9);
        add(t, p, n);
        return;
    }
    for (int i = 0; i < 4; i++)
        if (v < scale[i].below || i == 3) {
            add_num(t, v / scale[i].unit, 0, 8);
            add_c(t, scale[i].suffix);
            return;
        }
}

static int largenums(struct text *t, const uint64_t *v, int n, int exact)
{
    int rc = room(t);

    for (int i = 0; i < n && rc == 0; i++)
        largenum(t, v[i], exact);
    return rc;
}

static void sched_name(const struct pyipvs_service *s, char out[17])
{
    size_t n = strnlen(s->sched_name, sizeof(s->sched_name));

    if (n == 0)
        strcpy(out, "none");
    else {
        memcpy(out, s->sched_name, n);
        out[n] = '\0';
    }
}

/* The scheduler flags' names, comma-separated (empty for sh/mh with only flag-3). */
static void sched_flags(const char *sched, uint32_t flags, char *out, size_t cap)
{
    size_t n = 0;
    int sh_mh = strcmp(sched, "sh") == 0 || strcmp(sched, "mh") == 0;

    out[0] = '\0';
    if (sh_mh) {
        if (flags & F_SCHED1)
            n += (size_t)snprintf(out + n, cap - n, "%s-fallback", sched);
        if (flags & F_SCHED2)
            snprintf(out + n, cap - n, "%s%s-port", n ? "," : "", sched);
        return;
    }
    for (int i = 0; i < 3; i++)
        if (flags & (F_SCHED1 << i))
            n += (size_t)snprintf(out + n, cap - n, "%sflag-%d", n ? "," : "", i + 1);
}

/* label + the persistence mask, or nothing when it is the family's full mask. */
static int mask(struct text *t, const struct pyipvs_service *s, const char *label)
{
    uint32_t m = s->netmask;

    if (s->af == AF_INET6)
        return m == 128 ? 0 : put(t, "%s%d", label, (int32_t)m);
    if (m == 0xFFFFFFFFu)
        return 0;
    return put(t, "%s%u.%u.%u.%u", label, m >> 24, (m >> 16) & 255, (m >> 8) & 255, m & 255);
}

static size_t pe_name(const struct pyipvs_service *s)
{
    return s->present & PYIPVS_HAS_PE_NAME ? strnlen(s->pe_name, sizeof(s->pe_name)) : 0;
}

static const char *const FWD_NAME[] = {"Masq", "Local", "Tunnel", "Route"};
static const char *const FWD_SWITCH[] = {"-m", "-g", "-i", "-g"};
/* Indexed by tun_flags & 3; ipvsadm's table has three entries, and the
 * remote-checksum one is taken whenever bit 2 is set (as format_list.py). */
static const char *const TUN_FLAG_TEXT[] = {"-c", "+c", "r+c", "r+c"};
static const char *const TUN_FLAG_OPTION[] = {"--tun-nocsum", "--tun-csum", "--tun-remcsum",
                                              "--tun-remcsum"};

/* --- listing (-L) -------------------------------------------------------- */

static int list_service(struct text *t, const struct pyipvs_service *s, uint32_t mode)
{
    char name[96], sched[17], fl[64];
    const struct pyipvs_stats *c = &s->stats;
    const uint64_t st[10] = {c->conns, c->inpkts, c->outpkts, c->inbytes, c->outbytes,
                             c->cps,   c->inpps,  c->outpps,  c->inbps,   c->outbps};
    size_t pe;
    int rc;

    if (s->fwmark)
        snprintf(name, sizeof(name), "FWM  %d%s", (int32_t)s->fwmark,
                 s->af == AF_INET6 ? " IPv6" : "");
    else {
        const char *proto = s->protocol == IPPROTO_TCP    ? "TCP"
                            : s->protocol == IPPROTO_UDP  ? "UDP"
                            : s->protocol == IPPROTO_SCTP ? "SCTP"
                                                          : "?";
        /* "%-4s %s", by hand as the server lines are */
        size_t n = strlen(proto);

        memcpy(name, proto, n);
        for (; n < 4; n++)
            name[n] = ' ';
        name[n++] = ' ';
        core_addrport(name + n, sizeof(name) - n, s->af, s->addr, s->port);
        if (s->af != AF_INET6)
            name[33] = '\0'; /* ipvsadm cuts the IPv4 column at 33 */
    }
    if ((rc = room(t)) < 0)
        return rc;
    if (mode & (PYIPVS_LIST_STATS | PYIPVS_LIST_RATE)) {
        add_left(t, name, 33);
        return largenums(t, mode & PYIPVS_LIST_STATS ? st : st + 5, 5, mode & PYIPVS_LIST_EXACT);
    }
    sched_name(s, sched);
    add_left(t, name, 0);
    add_c(t, ' ');
    add_left(t, sched, 0);
    if (rc == 0 && (s->flags & F_ANY_SCHED)) {
        sched_flags(sched, s->flags, fl, sizeof(fl));
        rc = put(t, " (%s)", fl);
    }
    if (rc == 0 && (s->flags & F_PERSISTENT)) {
        rc = put(t, " persistent %u", s->timeout);
        if (rc == 0)
            rc = mask(t, s, " mask ");
        if (rc == 0 && (pe = pe_name(s)) > 0)
            rc = put(t, " pe %.*s", (int)pe, s->pe_name);
    }
    if (rc == 0 && (s->flags & F_ONEPACKET))
        rc = put(t, " ops");
    return rc;
}

static int list_dest(struct text *t, const struct pyipvs_dest *d, uint32_t mode)
{
    char name[64];
    const struct pyipvs_stats *st = &d->stats;
    int exact = mode & PYIPVS_LIST_EXACT, rc;

    core_addrport(name, sizeof(name), d->af, d->addr, d->port);
    if (mode & PYIPVS_LIST_STATS) {
        /* libipvs 1.31 reads all but the byte counts with a 32-bit getter. */
        uint64_t v[5] = {(uint32_t)st->conns, (uint32_t)st->inpkts, (uint32_t)st->outpkts,
                         st->inbytes, st->outbytes};
        rc = put(t, "  -> %-28s", name);
        return rc ? rc : largenums(t, v, 5, exact);
    }
    if (mode & PYIPVS_LIST_RATE) {
        uint64_t v[2] = {(uint32_t)st->inbps, (uint32_t)st->outbps};
        rc = put(t, "  -> %-28s %8u %8u %8u", name, (uint32_t)st->cps, (uint32_t)st->inpps,
                 (uint32_t)st->outpps);
        return rc ? rc : largenums(t, v, 2, exact);
    }
    if (mode & PYIPVS_LIST_THRESHOLDS)
        return put(t, "  -> %-28s %-10u %-10u %-10u %-10u", name, d->u_threshold, d->l_threshold,
                   d->active_conns, d->inact_conns);
    if (mode & PYIPVS_LIST_PERSISTENT)
        return put(t, "  -> %-28s %-9u %-11u %-10u %-10u", name, (uint32_t)d->weight,
                   d->persist_conns, d->active_conns, d->inact_conns);
    if (mode & PYIPVS_LIST_TUN_INFO) {
        char tun[32] = "n/a";

        if (d->fwd_method == FWD_TUNNEL) {
            if (d->tun_type == TUN_IPIP)
                strcpy(tun, "ipip");
            else if (d->tun_type == TUN_GUE)
                snprintf(tun, sizeof(tun), "gue:%u:%s", d->tun_port,
                         TUN_FLAG_TEXT[d->tun_flags & 3]);
            else
                snprintf(tun, sizeof(tun), "gre:%s", TUN_FLAG_TEXT[d->tun_flags & 3]);
        }
        return put(t, "  -> %-28s %-7s %-13s %-6d %-10u %-10u", name, FWD_NAME[d->fwd_method],
                   tun, d->weight, d->active_conns, d->inact_conns);
    }
    /* The default line, by hand (see add()). */
    if ((rc = room(t)) < 0)
        return rc;
    add(t, "  -> ", 5);
    add_left(t, name, 28);
    add_c(t, ' ');
    add_left(t, FWD_NAME[d->fwd_method], 7);
    add_c(t, ' ');
    add_int(t, d->weight, -6);
    add_c(t, ' ');
    add_num(t, d->active_conns, 0, -10);
    add_c(t, ' ');
    add_num(t, d->inact_conns, 0, -10);
    return 0;
}

/* --- save (-S) ------------------------------------------------------------- */

static void rule_name(const struct pyipvs_service *s, char *out, size_t cap)
{
    char ap[64];

    if (s->fwmark) {
        snprintf(out, cap, "-f %d%s", (int32_t)s->fwmark, s->af == AF_INET6 ? " -6" : "");
        return;
    }
    core_addrport(ap, sizeof(ap), s->af, s->addr, s->port);
    snprintf(out, cap, "%s %s",
             s->protocol == IPPROTO_TCP    ? "-t"
             : s->protocol == IPPROTO_UDP  ? "-u"
             : s->protocol == IPPROTO_SCTP ? "--sctp-service"
                                           : "--xxx-service",
             ap);
}

static int save_service(struct text *t, const struct pyipvs_service *s, const char *name)
{
    char sched[17], fl[64];
    size_t pe = pe_name(s);
    int rc;

    sched_name(s, sched);
    rc = put(t, "-A %s -s %s", name, sched);
    if (rc == 0 && (s->flags & F_PERSISTENT)) {
        rc = put(t, " -p %u", s->timeout);
        if (rc == 0)
            rc = mask(t, s, " -M ");
    }
    if (rc == 0 && pe > 0) /* saved whether or not the service persists */
        rc = put(t, " --pe %.*s", (int)pe, s->pe_name);
    if (rc == 0 && (s->flags & F_ONEPACKET))
        rc = put(t, " -o");
    if (rc == 0 && (s->flags & F_ANY_SCHED)) {
        sched_flags(sched, s->flags, fl, sizeof(fl));
        rc = put(t, " -b %s", fl);
    }
    return rc;
}

static int save_dest(struct text *t, const struct pyipvs_dest *d, const char *name)
{
    char ap[64];
    int rc;

    core_addrport(ap, sizeof(ap), d->af, d->addr, d->port);
    if ((rc = room(t)) < 0)
        return rc;
    add(t, "-a ", 3);
    add_left(t, name, 0);
    add(t, " -r ", 4);
    add_left(t, ap, 0);
    add_c(t, ' ');
    add_left(t, FWD_SWITCH[d->fwd_method], 0);
    add(t, " -w ", 4);
    add_int(t, d->weight, 0);
    if (d->fwd_method != FWD_TUNNEL)
        return 0;
    if (d->tun_type == TUN_IPIP)
        return put(t, " --tun-type ipip");
    if (d->tun_type == TUN_GUE)
        return put(t, " --tun-type gue --tun-port %u %s", d->tun_port,
                   TUN_FLAG_OPTION[d->tun_flags & 3]);
    return put(t, " --tun-type gre %s", TUN_FLAG_OPTION[d->tun_flags & 3]);
}

/* --- the table ------------------------------------------------------------- */

/* Values the Python model has no member for: its decoder raises, so the
 * listing must not print them either (the caller decodes to say why). */
static int known(const struct pyipvs_table *tb)
{
    for (size_t i = 0; i < tb->nservices; i++)
        if (tb->services[i].af != AF_INET && tb->services[i].af != AF_INET6)
            return 0;
    for (size_t i = 0; i < tb->ndests; i++) {
        const struct pyipvs_dest *d = &tb->dests[i];
        if ((d->af != AF_INET && d->af != AF_INET6) || d->fwd_method > FWD_ROUTE ||
            d->tun_type > TUN_GRE)
            return 0;
    }
    return 1;
}

static uint32_t *order(size_t n, uint32_t *tmp, int sorted, cmp_fn cmp, const void *ctx)
{
    uint32_t *v = malloc((n ? n : 1) * sizeof(*v));

    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        v[i] = (uint32_t)i;
    if (sorted)
        msort(v, tmp, n, cmp, ctx);
    return v;
}

int pyipvs_table_format(const struct pyipvs_table *tb, uint32_t mode, char **out, size_t *len)
{
    struct text t = {NULL, 0, 0};
    uint32_t *svc = NULL, *dst = NULL, *tmp = NULL;
    struct dest_key *keys = NULL;
    size_t most = 0;
    int save = (mode & PYIPVS_LIST_SAVE) != 0, sorted = save || !(mode & PYIPVS_LIST_NOSORT);
    int rc = 0;

    *out = NULL;
    *len = 0;
    if (!known(tb))
        return -EINVAL;
    for (size_t i = 0; i < tb->nservices; i++) {
        size_t k = tb->dest_start[i + 1] - tb->dest_start[i];
        most = k > most ? k : most;
    }
    most = most > tb->nservices ? most : tb->nservices;
    tmp = malloc((most ? most : 1) * sizeof(*tmp));
    svc = tmp ? order(tb->nservices, tmp, sorted, service_cmp, tb->services) : NULL;
    dst = malloc((most ? most : 1) * sizeof(*dst));
    keys = malloc((most ? most : 1) * sizeof(*keys));
    /* Room for the usual lines up front: growing 15 MB by doubling copied
     * it all once more. A rough guess; room() still grows it if need be. */
    t.cap = tb->nservices * 128 + tb->ndests * 96 + LINE_ROOM;
    t.p = malloc(t.cap);
    if (tmp == NULL || svc == NULL || dst == NULL || keys == NULL || t.p == NULL)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < tb->nservices; i++) {
        const struct pyipvs_service *s = &tb->services[svc[i]];
        const struct pyipvs_dest *ds = tb->dests + tb->dest_start[svc[i]];
        size_t nd = tb->dest_start[svc[i] + 1] - tb->dest_start[svc[i]];
        char name[96];

        for (size_t j = 0; j < nd; j++)
            dst[j] = (uint32_t)j;
        if (sorted) {
            dest_keys(ds, nd, keys);
            msort(dst, tmp, nd, dest_cmp, keys);
        }
        if (save) {
            rule_name(s, name, sizeof(name));
            rc = save_service(&t, s, name);
        } else
            rc = list_service(&t, s, mode);
        if (rc == 0)
            add_c(&t, '\n'); /* every line ends inside the room its start made */
        for (size_t j = 0; rc == 0 && j < nd; j++) {
            rc = save ? save_dest(&t, &ds[dst[j]], name) : list_dest(&t, &ds[dst[j]], mode);
            if (rc == 0)
                add_c(&t, '\n');
        }
    }
    free(svc);
    free(dst);
    free(tmp);
    free(keys);
    if (rc < 0) {
        free(t.p);
        return rc;
    }
    *out = t.p;
    *len = t.n;
    return 0;
}

void pyipvs_text_free(char *text)
{
    free(text);
}
