/*
 * records.c - tables as fixed settings records, for `pyipvs diff` and
 * `pyipvs apply` (C layer; see the block in pyipvs.h).
 *
 * Why it exists: planning a reconcile in Python over model objects costs
 * about a millisecond per real server under the test VM's emulation (reading
 * the file, building objects, comparing them), so a 20,000-server table took
 * tens of seconds where the kernel needs one. Here both tables become byte
 * records in C: the live one from a table the core read, the desired one
 * from restore text through the restore fast path's own line parser
 * (core_restore_line), so it takes exactly the lines `pyipvs restore` and
 * `pyipvsadm -R` take fast. pyipvs/reconcile/records.py compares them.
 *
 * A desired file is only taken here when running it against an empty table
 * cannot fail: nothing but -A and -a, each service once, each server once
 * and after its service. Anything else is left to the full parser
 * (pyipvs/reconcile/desired.py), which words the problem with its line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core.h"

static void svc_id_of(struct pyipvs_svc_id *id, const struct pyipvs_service *s)
{
    memset(id, 0, sizeof(*id));
    id->af = s->af;
    if (s->fwmark != 0) {
        id->protocol = 6;  /* IPPROTO_TCP, as the model keys fwmark services */
        id->fwmark = s->fwmark;
        return;
    }
    id->protocol = s->protocol;
    memcpy(id->addr, s->addr, s->af == AF_INET6 ? 16 : 4);
    id->port = s->port;
}

/* A name zero-filled after its NUL (cap >= src's size is not required). */
static void name_of(char *dst, size_t cap, const char *src, size_t src_cap)
{
    size_t n = strnlen(src, src_cap < cap ? src_cap : cap - 1);

    memset(dst, 0, cap);
    memcpy(dst, src, n);
}

static void svc_rec_of(struct pyipvs_svc_rec *r, const struct pyipvs_service *s, int has_pe)
{
    memset(r, 0, sizeof(*r));
    svc_id_of(&r->id, s);
    name_of(r->sched_name, sizeof(r->sched_name), s->sched_name, sizeof(s->sched_name));
    if (has_pe)
        name_of(r->pe_name, sizeof(r->pe_name), s->pe_name, sizeof(s->pe_name));
    r->flags = s->flags & PYIPVS_SETTABLE_SVC_FLAGS;
    r->timeout = s->timeout;
    r->netmask = s->netmask;
}

static void dest_rec_of(struct pyipvs_dest_rec *r, const struct pyipvs_svc_id *svc,
                        const struct pyipvs_dest *d)
{
    memset(r, 0, sizeof(*r));
    r->svc = *svc;
    r->af = d->af;
    r->port = d->port;
    memcpy(r->addr, d->addr, d->af == AF_INET6 ? 16 : 4);
    r->fwd_method = d->fwd_method;
    r->weight = d->weight;
    r->u_threshold = d->u_threshold;
    r->l_threshold = d->l_threshold;
    r->tun_type = d->tun_type;
    r->tun_port = d->tun_port;
    r->tun_flags = d->tun_flags;
}

void pyipvs_table_records(const struct pyipvs_table *t, struct pyipvs_svc_rec *svcs,
                          struct pyipvs_dest_rec *dests)
{
    size_t i, j;

    for (i = 0; i < t->nservices; i++) {
        const struct pyipvs_service *s = &t->services[i];

        svc_rec_of(&svcs[i], s, (s->present & PYIPVS_HAS_PE_NAME) != 0);
        for (j = t->dest_start[i]; j < t->dest_start[i + 1]; j++)
            dest_rec_of(&dests[j], &svcs[i].id, &t->dests[j]);
    }
}

/* --- a set of fixed-size keys (open addressing; the keys stay in the
 * caller's array, the set holds their indexes + 1) --- */

struct keyset {
    uint32_t *slot;
    size_t cap, n;
    size_t size;              /* key bytes */
};

/* Where key would be: the slot holding an equal key, or the empty one. */
static size_t probe(const struct keyset *s, const unsigned char *base, size_t stride,
                    const void *key)
{
    size_t i = (size_t)core_hash_bytes(key, s->size) & (s->cap - 1);

    while (s->slot[i] != 0 &&
           memcmp(base + (size_t)(s->slot[i] - 1) * stride, key, s->size) != 0)
        i = (i + 1) & (s->cap - 1);
    return i;
}

static int grow(struct keyset *s, const unsigned char *base, size_t stride)
{
    struct keyset bigger = *s;
    size_t i;

    bigger.cap = s->cap ? s->cap * 2 : 1024;
    bigger.slot = calloc(bigger.cap, sizeof(uint32_t));
    if (bigger.slot == NULL)
        return -ENOMEM;
    for (i = 0; i < s->cap; i++)
        if (s->slot[i] != 0) {
            const void *key = base + (size_t)(s->slot[i] - 1) * stride;

            bigger.slot[probe(&bigger, base, stride, key)] = s->slot[i];
        }
    free(s->slot);
    *s = bigger;
    return 0;
}

/* 1 if an equal key is present, 0 if not; with add, a new key (index idx
 * of base) is then added. -ENOMEM. */
static int keyset_find(struct keyset *s, const unsigned char *base, size_t stride, size_t idx,
                       const void *key, int add)
{
    size_t i;

    if (s->cap == 0 || (add && (s->n + 1) * 2 > s->cap)) {
        int rc = grow(s, base, stride);

        if (rc < 0)
            return rc;
    }
    i = probe(s, base, stride, key);
    if (s->slot[i] != 0)
        return 1;
    if (add) {
        s->slot[i] = (uint32_t)(idx + 1);
        s->n++;
    }
    return 0;
}

/* The slot value of key (its index + 1), or 0 when absent. */
static uint32_t keyset_index(const struct keyset *s, const unsigned char *base, size_t stride,
                             const void *key)
{
    return s->cap == 0 ? 0 : s->slot[probe(s, base, stride, key)];
}

/* A set of the identities (leading s->size bytes) of n records, sized
 * once for all of them. */
static int keyset_of(struct keyset *s, const unsigned char *base, size_t n, size_t rec_size)
{
    size_t i;

    for (s->cap = 1024; s->cap < 2 * (n + 1); s->cap *= 2)
        ;
    s->slot = calloc(s->cap, sizeof(uint32_t));
    if (s->slot == NULL)
        return -ENOMEM;
    for (i = 0; i < n; i++) {
        int rc = keyset_find(s, base, rec_size, i, base + i * rec_size, 1);

        if (rc < 0)
            return rc;
    }
    return 0;
}

/* --- desired table from restore text --- */

struct grow_buf {
    void *p;
    size_t n, cap, size;
};

static void *push(struct grow_buf *g)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 256;
        void *p = realloc(g->p, cap * g->size);

        if (p == NULL)
            return NULL;
        g->p = p;
        g->cap = cap;
    }
    return (unsigned char *)g->p + g->n++ * g->size;
}

int pyipvs_restore_records(const char *text, size_t len, struct pyipvs_svc_rec **svcs,
                           size_t *nsvc, struct pyipvs_dest_rec **dests, size_t *ndest,
                           size_t *bad_line)
{
    struct grow_buf sv = {NULL, 0, 0, sizeof(struct pyipvs_svc_rec)};
    struct grow_buf dv = {NULL, 0, 0, sizeof(struct pyipvs_dest_rec)};
    struct keyset sset = {NULL, 0, 0, sizeof(struct pyipvs_svc_id)};
    struct keyset dset = {NULL, 0, 0, offsetof(struct pyipvs_dest_rec, fwd_method)};
    size_t pos = 0, line = 0;
    int rc = 0;

    *svcs = NULL;
    *dests = NULL;
    *nsvc = *ndest = 0;
    *bad_line = 0;
    if (len > UINT32_MAX) {
        *bad_line = 1;  /* indexes are 32-bit; the full parser reads such text */
        return 1;
    }
    while (pos < len && rc == 0) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        struct pyipvs_service svc;
        struct pyipvs_dest d;
        int cmd;

        const char *cr = memchr(text + pos, '\r', end - pos);

        line++;
        if (cr != NULL && cr + 1 != text + end) {
            /* a line break to Python's splitlines(), which the full parser
             * reads the file with: its lines are not this scan's */
            rc = 1;
        } else if (text[pos] != '#') {
            int got = core_restore_line(text + pos, end - pos, &cmd, &svc, &d);

            if (got == CORE_RESTORE_SLOW || (got == 1 && cmd != PYIPVS_CMD_NEW_SERVICE &&
                                             cmd != PYIPVS_CMD_NEW_DEST)) {
                rc = 1;
            } else if (got == 1 && cmd == PYIPVS_CMD_NEW_SERVICE) {
                struct pyipvs_svc_rec *r = push(&sv);

                if (r == NULL) {
                    rc = -ENOMEM;
                    break;
                }
                svc_rec_of(r, &svc, 1);
                /* already there: EEXIST at this line, the full parser's to word */
                rc = keyset_find(&sset, sv.p, sv.size, sv.n - 1, &r->id, 1);
            } else if (got == 1) {
                struct pyipvs_svc_id id;
                struct pyipvs_dest_rec *r;

                svc_id_of(&id, &svc);
                rc = keyset_find(&sset, sv.p, sv.size, 0, &id, 0);
                if (rc == 0) {
                    rc = 1;  /* no such service (yet): ESRCH at this line */
                } else if (rc == 1) {
                    r = push(&dv);
                    if (r == NULL) {
                        rc = -ENOMEM;
                        break;
                    }
                    dest_rec_of(r, &id, &d);
                    rc = keyset_find(&dset, dv.p, dv.size, dv.n - 1, r, 1);
                }
            }
        }
        pos = end + 1;
    }
    free(sset.slot);
    free(dset.slot);
    if (rc != 0) {
        free(sv.p);
        free(dv.p);
        if (rc > 0)
            *bad_line = line;
        return rc > 0 ? 1 : rc;
    }
    *svcs = sv.p;
    *nsvc = sv.n;
    *dests = dv.p;
    *ndest = dv.n;
    return 0;
}

/* --- records back to commands: what the `pyipvs` console script's thin
 * start sends for a plan, without model objects (pyipvs/_native/thin_records.py).
 * The messages are the library batch's for the model objects the records
 * stand for (pyipvs/_native/convert.py _c_key, _c_service; batch.py's
 * server commands), byte for byte: tests/unit/test_records_encode.py. --- */

/* A service struct naming id, with what ipvsadm sends beside an identity:
 * every flag in the mask, the family's full netmask, no scheduler. */
static void key_struct_of(struct pyipvs_service *s, const struct pyipvs_svc_id *id)
{
    memset(s, 0, sizeof(*s));
    s->af = id->af;
    if (id->fwmark != 0) {
        s->protocol = 6;  /* IPPROTO_TCP, as the model keys fwmark services */
        s->fwmark = id->fwmark;
    } else {
        s->protocol = id->protocol;
        memcpy(s->addr, id->addr, sizeof(s->addr));
        s->port = id->port;
    }
    s->flags_mask = 0xffffffffu;
    s->netmask = id->af == AF_INET6 ? 128 : 0xffffffffu;
}

int pyipvs_batch_record(struct pyipvs_batch *b, int cmd, const void *rec, size_t len)
{
    struct pyipvs_service s;
    struct pyipvs_dest d;

    if (rec == NULL)
        return -EINVAL;
    switch (cmd) {
    case PYIPVS_CMD_NEW_SERVICE:
    case PYIPVS_CMD_SET_SERVICE:
    case PYIPVS_CMD_DEL_SERVICE: {
        const struct pyipvs_svc_rec *r = rec;

        if (len != sizeof(*r))
            return -EINVAL;
        key_struct_of(&s, &r->id);
        if (cmd != PYIPVS_CMD_DEL_SERVICE) {
            name_of(s.sched_name, sizeof(s.sched_name), r->sched_name, sizeof(r->sched_name));
            name_of(s.pe_name, sizeof(s.pe_name), r->pe_name, sizeof(r->pe_name));
            s.flags = r->flags;
            s.timeout = r->timeout;
            s.netmask = r->netmask;
        }
        return pyipvs_batch_service(b, cmd, &s);
    }
    case PYIPVS_CMD_NEW_DEST:
    case PYIPVS_CMD_SET_DEST:
    case PYIPVS_CMD_DEL_DEST: {
        const struct pyipvs_dest_rec *r = rec;

        if (len != sizeof(*r) || (r->af != AF_INET && r->af != AF_INET6))
            return -EINVAL;
        key_struct_of(&s, &r->svc);
        memset(&d, 0, sizeof(d));
        d.af = r->af;
        memcpy(d.addr, r->addr, sizeof(d.addr));
        d.port = r->port;
        d.fwd_method = r->fwd_method;
        d.weight = r->weight;
        d.u_threshold = r->u_threshold;
        d.l_threshold = r->l_threshold;
        d.tun_type = r->tun_type;
        d.tun_port = r->tun_port;
        d.tun_flags = r->tun_flags;
        return pyipvs_batch_dest(b, cmd, &s, &d);
    }
    default:
        return -EINVAL;
    }
}

/* --- two tables compared: which records differ (the planner's set
 * operations, pyipvs/reconcile/delta.py `diff`, done in C for the thin
 * start, which then looks at only those) --- */

void pyipvs_records_diff_free(struct pyipvs_records_diff *d)
{
    free(d->added);
    free(d->edited);
    free(d->gone);
    memset(d, 0, sizeof(*d));
}

int pyipvs_records_diff(const void *want, size_t nwant, const void *live, size_t nlive,
                        size_t rec_size, size_t id_size, struct pyipvs_records_diff *out)
{
    const unsigned char *w = want, *l = live;
    struct keyset lset = {NULL, 0, 0, id_size};
    unsigned char *seen = NULL;  /* per live record: its identity is wanted */
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if (id_size == 0 || id_size > rec_size || nwant >= UINT32_MAX || nlive >= UINT32_MAX)
        return -EINVAL;
    out->added = malloc((nwant ? nwant : 1) * sizeof(uint32_t));
    out->edited = malloc((nwant ? nwant : 1) * sizeof(uint32_t));
    out->gone = malloc((nlive ? nlive : 1) * sizeof(uint32_t));
    seen = calloc(nlive ? nlive : 1, 1);
    rc = out->added && out->edited && out->gone && seen ? 0 : -ENOMEM;
    if (rc == 0)
        rc = keyset_of(&lset, l, nlive, rec_size);
    if (rc == 0) {
        for (i = 0; i < nwant; i++) {
            const unsigned char *r = w + i * rec_size;
            uint32_t at = keyset_index(&lset, l, rec_size, r);

            if (at == 0) {
                out->added[out->nadded++] = (uint32_t)i;
                continue;
            }
            seen[at - 1] = 1;
            if (memcmp(r + id_size, l + (size_t)(at - 1) * rec_size + id_size,
                       rec_size - id_size) != 0)
                out->edited[out->nedited++] = (uint32_t)i;
        }
        for (i = 0; i < nlive; i++)
            if (!seen[i])
                out->gone[out->ngone++] = (uint32_t)i;
    }
    free(seen);
    free(lset.slot);
    if (rc < 0)
        pyipvs_records_diff_free(out);
    return rc;
}
