/*
 * conn_agg.c - filters and group-by counters over connection rows (C core
 * layer), so that "how many connections per service / real server / state /
 * client prefix" over millions of rows costs no Python object per row.
 *
 * An aggregator is an open-addressing hash table of struct pyipvs_conn_group
 * keyed by the group's bytes before `count` (zeroed first, padding included,
 * so bytewise hashing and comparison are exact). Its memory grows with the
 * number of distinct keys only, and max_groups caps even that.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core.h"
#include "pyipvs.h"

#define KEY_LEN offsetof(struct pyipvs_conn_group, count)
#define ALL_BY                                                                          \
    (PYIPVS_CONN_BY_PROTO | PYIPVS_CONN_BY_CLIENT | PYIPVS_CONN_BY_VADDR |              \
     PYIPVS_CONN_BY_VPORT | PYIPVS_CONN_BY_DADDR | PYIPVS_CONN_BY_DPORT |               \
     PYIPVS_CONN_BY_STATE | PYIPVS_CONN_BY_ORIGIN)

_Static_assert(KEY_LEN % 8 == 0, "the group key is hashed as 64-bit words");

struct pyipvs_conn_agg {
    uint32_t by;
    uint8_t v4_prefix, v6_prefix;
    size_t max_groups;          /* 0: no limit */
    struct pyipvs_conn_group *groups;
    uint64_t *hashes;           /* parallel to groups */
    size_t ngroups, cap;
    uint32_t *slots;            /* group index + 1; 0 = empty */
    size_t nslots;              /* power of two, > 2 * ngroups */
    uint64_t total, overflow;
};

static size_t addr_len(uint16_t af)
{
    return af == AF_INET6 ? 16 : 4;
}

/* Equal in the first `bits` bits. */
static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;

    if (memcmp(a, b, bytes) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));

    return ((a[bytes] ^ b[bytes]) & mask) == 0;
}

int pyipvs_conn_match(const struct pyipvs_conn_filter *f, const struct pyipvs_conn *c)
{
    uint32_t m;

    if (!f || !(m = f->match))
        return 1;
    if ((m & PYIPVS_CONN_MATCH_PROTO) && c->protocol != f->protocol)
        return 0;
    if (m & PYIPVS_CONN_MATCH_CLIENT) {
        unsigned bits = f->cprefix;

        if (c->af != f->caf)
            return 0;
        if (bits > addr_len(c->af) * 8)
            bits = (unsigned)addr_len(c->af) * 8;
        if (!prefix_eq(c->caddr, f->caddr, bits))
            return 0;
    }
    if ((m & PYIPVS_CONN_MATCH_CPORT) && c->cport != f->cport)
        return 0;
    if ((m & PYIPVS_CONN_MATCH_VADDR) &&
        (c->af != f->vaf || memcmp(c->vaddr, f->vaddr, addr_len(c->af)) != 0))
        return 0;
    if ((m & PYIPVS_CONN_MATCH_VPORT) && c->vport != f->vport)
        return 0;
    if ((m & PYIPVS_CONN_MATCH_DADDR) &&
        (c->daf != f->daf || memcmp(c->daddr, f->daddr, addr_len(c->daf)) != 0))
        return 0;
    if ((m & PYIPVS_CONN_MATCH_DPORT) && c->dport != f->dport)
        return 0;
    if ((m & PYIPVS_CONN_MATCH_STATE) &&
        (c->state >= 64 || !(f->states & ((uint64_t)1 << c->state))))
        return 0;
    if ((m & PYIPVS_CONN_MATCH_ORIGIN) && c->origin != f->origin)
        return 0;
    return 1;
}

int pyipvs_conn_agg_new(struct pyipvs_conn_agg **out, uint32_t by, unsigned v4_prefix,
                        unsigned v6_prefix, size_t max_groups)
{
    struct pyipvs_conn_agg *a;

    if (!out || (by & ~(uint32_t)ALL_BY) || v4_prefix > 32 || v6_prefix > 128 ||
        max_groups > UINT32_MAX - 1)
        return -EINVAL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->by = by;
    a->v4_prefix = (uint8_t)v4_prefix;
    a->v6_prefix = (uint8_t)v6_prefix;
    a->max_groups = max_groups;
    *out = a;
    return 0;
}

void pyipvs_conn_agg_free(struct pyipvs_conn_agg *a)
{
    if (!a)
        return;
    free(a->groups);
    free(a->hashes);
    free(a->slots);
    free(a);
}

static void make_key(const struct pyipvs_conn_agg *a, const struct pyipvs_conn *c,
                     struct pyipvs_conn_group *k)
{
    uint32_t by = a->by;

    memset(k, 0, sizeof(*k));
    k->by = by;
    if (by & PYIPVS_CONN_BY_PROTO) {
        k->protocol = c->protocol;
        memcpy(k->proto_name, c->proto_name, sizeof(k->proto_name));
    }
    if (by & (PYIPVS_CONN_BY_CLIENT | PYIPVS_CONN_BY_VADDR))
        k->af = c->af;
    if (by & PYIPVS_CONN_BY_CLIENT) {
        unsigned bits = c->af == AF_INET6 ? a->v6_prefix : a->v4_prefix;
        unsigned bytes = bits / 8, rest = bits % 8;

        memcpy(k->caddr, c->caddr, bytes);
        if (rest)
            k->caddr[bytes] = (uint8_t)(c->caddr[bytes] & (0xff << (8 - rest)));
        k->cprefix = (uint8_t)bits;
    }
    if (by & PYIPVS_CONN_BY_VADDR)
        memcpy(k->vaddr, c->vaddr, sizeof(k->vaddr));
    if (by & PYIPVS_CONN_BY_VPORT)
        k->vport = c->vport;
    if (by & PYIPVS_CONN_BY_DADDR) {
        k->daf = c->daf;
        memcpy(k->daddr, c->daddr, sizeof(k->daddr));
    }
    if (by & PYIPVS_CONN_BY_DPORT)
        k->dport = c->dport;
    if (by & PYIPVS_CONN_BY_STATE) {
        k->state = c->state;
        memcpy(k->state_name, c->state_name, sizeof(k->state_name));
    }
    if (by & PYIPVS_CONN_BY_ORIGIN)
        k->origin = c->origin;
}

static uint64_t hash_key(const struct pyipvs_conn_group *k)
{
    const unsigned char *p = (const unsigned char *)k;
    uint64_t h = 0x243f6a8885a308d3ULL;

    for (size_t i = 0; i < KEY_LEN; i += 8) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 32;
    }
    return h;
}

/* Rebuild the slot table at twice the size (or its first 64 slots). */
static int grow_slots(struct pyipvs_conn_agg *a)
{
    size_t n = a->nslots ? a->nslots * 2 : 64;
    uint32_t *slots = calloc(n, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    for (size_t g = 0; g < a->ngroups; g++) {
        size_t i = (size_t)a->hashes[g] & (n - 1);

        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = (uint32_t)(g + 1);
    }
    free(a->slots);
    a->slots = slots;
    a->nslots = n;
    return 0;
}

static int add_group(struct pyipvs_conn_agg *a, const struct pyipvs_conn_group *k, uint64_t h,
                     size_t slot)
{
    if (a->ngroups == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct pyipvs_conn_group *g = realloc(a->groups, cap * sizeof(*g));

        if (!g)
            return -ENOMEM;
        a->groups = g;
        uint64_t *hs = realloc(a->hashes, cap * sizeof(*hs));

        if (!hs)
            return -ENOMEM;
        a->hashes = hs;
        a->cap = cap;
    }
    a->groups[a->ngroups] = *k;
    a->groups[a->ngroups].count = 1;
    a->hashes[a->ngroups] = h;
    a->slots[slot] = (uint32_t)(a->ngroups + 1);
    a->ngroups++;
    if (a->ngroups * 2 >= a->nslots)
        return grow_slots(a);
    return 0;
}

int pyipvs_conn_agg_add(struct pyipvs_conn_agg *a, const struct pyipvs_conn *rows, size_t n)
{
    struct pyipvs_conn_group k;
    int rc;

    if (!a || (!rows && n))
        return -EINVAL;
    if (!a->slots && (rc = grow_slots(a)) < 0)
        return rc;
    for (size_t r = 0; r < n; r++) {
        uint64_t h;
        size_t i;

        make_key(a, &rows[r], &k);
        h = hash_key(&k);
        for (i = (size_t)h & (a->nslots - 1); a->slots[i]; i = (i + 1) & (a->nslots - 1)) {
            size_t g = a->slots[i] - 1;

            if (a->hashes[g] == h && memcmp(&a->groups[g], &k, KEY_LEN) == 0)
                break;
        }
        if (a->slots[i]) {
            a->groups[a->slots[i] - 1].count++;
        } else if ((a->max_groups && a->ngroups >= a->max_groups) ||
                   a->ngroups >= UINT32_MAX - 1) { /* slots hold index + 1 */
            a->overflow++;
        } else if ((rc = add_group(a, &k, h, i)) < 0) {
            return rc;
        }
        a->total++;
    }
    return 0;
}

int pyipvs_conn_agg_info(const struct pyipvs_conn_agg *a, size_t *ngroups, uint64_t *total,
                         uint64_t *overflow)
{
    if (!a)
        return -EINVAL;
    if (ngroups)
        *ngroups = a->ngroups;
    if (total)
        *total = a->total;
    if (overflow)
        *overflow = a->overflow;
    return 0;
}

int pyipvs_conn_agg_groups(const struct pyipvs_conn_agg *a, struct pyipvs_conn_group *out,
                           size_t max, size_t *n)
{
    if (!a || !n || (!out && max))
        return -EINVAL;
    *n = a->ngroups < max ? a->ngroups : max;
    if (*n)
        memcpy(out, a->groups, *n * sizeof(*out));
    return 0;
}

int conn_agg_clone_empty(const struct pyipvs_conn_agg *a, struct pyipvs_conn_agg **out)
{
    return pyipvs_conn_agg_new(out, a->by, a->v4_prefix, a->v6_prefix, a->max_groups);
}

int conn_agg_overflowed(const struct pyipvs_conn_agg *a)
{
    return a->overflow != 0;
}

int conn_agg_merge(struct pyipvs_conn_agg *a, const struct pyipvs_conn_agg *from)
{
    int rc;

    if (!a->slots && (rc = grow_slots(a)) < 0)
        return rc;
    /* In from's order of first appearance, which is the order in which a
     * single pass would have met the keys that are new to a. */
    for (size_t f = 0; f < from->ngroups; f++) {
        const struct pyipvs_conn_group *k = &from->groups[f];
        uint64_t h = from->hashes[f];
        size_t i;

        for (i = (size_t)h & (a->nslots - 1); a->slots[i]; i = (i + 1) & (a->nslots - 1)) {
            size_t g = a->slots[i] - 1;

            if (a->hashes[g] == h && memcmp(&a->groups[g], k, KEY_LEN) == 0)
                break;
        }
        if (a->slots[i]) {
            a->groups[a->slots[i] - 1].count += k->count;
        } else if ((a->max_groups && a->ngroups >= a->max_groups) ||
                   a->ngroups >= UINT32_MAX - 1) {
            a->overflow += k->count;
        } else {
            if ((rc = add_group(a, k, h, i)) < 0)
                return rc;
            a->groups[a->ngroups - 1].count = k->count;
        }
    }
    a->total += from->total;
    a->overflow += from->overflow;
    return 0;
}
