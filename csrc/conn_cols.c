/*
 * conn_cols.c - connection rows as columns of small numbers (C core layer),
 * for the Python iterator of a table with millions of rows.
 *
 * Why: Python cannot afford any per-row work of its own. As uint32 words, a
 * chunk's columns become lists in one C-level step each, and the row objects
 * come out of zip() and tuple.__new__ without a Python frame per row. What
 * cannot be a number (addresses, protocol and state texts, PE data) is a
 * number of a value in a table kept here: a table repeats its services,
 * servers, states and often its clients on every row, so Python makes each
 * value's object once, from the stream of new values each call reports.
 *
 * The table is bounded: a call that could pass max_values empties it first
 * and says so, and the caller starts its own copy again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core.h"
#include "pyipvs.h"

/* Rows parsed per pyipvs_conn_read call (struct pyipvs_conn is ~400 bytes). */
#define BATCH 32

struct value {
    uint64_t hash;
    uint32_t at;              /* its bytes in the arena (at most 2^20 values of 256) */
    uint16_t len;
    uint8_t kind;             /* PYIPVS_CONN_V_* */
};

struct pyipvs_conn_values {
    uint32_t max;             /* numbers run 1 .. max */
    uint32_t count;           /* the next number; 0 means "none" */
    struct value *values;     /* by number */
    uint32_t *slot;           /* open addressing: a number, or 0 for empty */
    uint32_t last[5];         /* each column's value on the row before (column_value) */
    size_t mask;              /* slots - 1; at least twice max */
    unsigned char *arena;
    size_t arena_len, arena_cap;
};

int pyipvs_conn_values_new(struct pyipvs_conn_values **out, uint32_t max_values)
{
    struct pyipvs_conn_values *v;
    size_t slots = 16;

    if (!out || max_values <= PYIPVS_CONN_VALUES_PER_ROW || max_values > (1u << 20))
        return -EINVAL;
    while (slots < 2 * (size_t)max_values)
        slots *= 2;
    v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->max = max_values;
    v->count = 1;
    v->mask = slots - 1;
    v->values = calloc((size_t)max_values + 1, sizeof(*v->values));
    v->slot = calloc(slots, sizeof(*v->slot));
    v->arena_cap = 4096;
    v->arena = malloc(v->arena_cap);
    if (!v->values || !v->slot || !v->arena) {
        pyipvs_conn_values_free(v);
        return -ENOMEM;
    }
    *out = v;
    return 0;
}

void pyipvs_conn_values_free(struct pyipvs_conn_values *v)
{
    if (!v)
        return;
    free(v->values);
    free(v->slot);
    free(v->arena);
    free(v);
}

static void values_reset(struct pyipvs_conn_values *v)
{
    memset(v->slot, 0, (v->mask + 1) * sizeof(*v->slot));
    v->count = 1;
    v->arena_len = 0;
    memset(v->last, 0, sizeof(v->last));
}

/* Where a new value's stream entry goes; the caller checked the room. */
struct news {
    uint8_t *p;
};

/* Room in the arena for a batch of rows' values, before any is read: a
 * value is then always kept, and no parsed row is ever dropped. */
static int arena_room(struct pyipvs_conn_values *v, size_t rows)
{
    size_t need = v->arena_len + rows * PYIPVS_CONN_NEW_PER_ROW;
    unsigned char *a;

    if (need <= v->arena_cap)
        return 0;
    a = realloc(v->arena, need * 2);
    if (!a)
        return -ENOMEM;
    v->arena = a;
    v->arena_cap = need * 2;
    return 0;
}

/* The number of (kind, bytes): found, or added and written to the stream
 * (arena_room made room for it, and the caller for its stream entry). */
static uint32_t value_of(struct pyipvs_conn_values *v, uint8_t kind, const void *bytes,
                         uint16_t len, struct news *n)
{
    uint64_t h = core_hash_bytes(bytes, len) ^ kind;
    size_t i = (size_t)h & v->mask;
    uint32_t num;

    while ((num = v->slot[i]) != 0) {
        const struct value *e = &v->values[num];

        if (e->hash == h && e->kind == kind && e->len == len &&
            memcmp(v->arena + e->at, bytes, len) == 0)
            return num;
        i = (i + 1) & v->mask;
    }
    num = v->count++;
    v->values[num] = (struct value){.hash = h, .at = (uint32_t)v->arena_len, .len = len,
                                    .kind = kind};
    memcpy(v->arena + v->arena_len, bytes, len);
    v->arena_len += len;
    v->slot[i] = num;
    n->p[0] = kind;
    memcpy(n->p + 1, &len, 2);
    memcpy(n->p + 3, bytes, len);
    n->p += 3 + (size_t)len;
    return num;
}

/* value_of, first trying the value this column had on the row before:
 * a table repeats its services, servers and states row after row, and
 * one comparison is cheaper than hashing and probing. */
static uint32_t column_value(struct pyipvs_conn_values *v, uint32_t *last, uint8_t kind,
                             const void *bytes, uint16_t len, struct news *n)
{
    const struct value *e = &v->values[*last];

    if (*last && e->kind == kind && e->len == len && memcmp(v->arena + e->at, bytes, len) == 0)
        return *last;
    return *last = value_of(v, kind, bytes, len, n);
}

static uint32_t addr_of(struct pyipvs_conn_values *v, uint32_t *last, uint16_t af,
                        const uint8_t *a, struct news *n)
{
    return af == AF_INET6 ? column_value(v, last, PYIPVS_CONN_V_INET6, a, 16, n)
                          : column_value(v, last, PYIPVS_CONN_V_INET, a, 4, n);
}

static void row_words(struct pyipvs_conn_values *v, const struct pyipvs_conn *c, uint32_t *w,
                      struct news *n)
{
    uint32_t *last = v->last;

    w[PYIPVS_CONN_W_PROTO] = column_value(v, &last[0], PYIPVS_CONN_V_NAME, c->proto_name,
                                          c->proto_len, n);
    w[PYIPVS_CONN_W_PROTOCOL] = (uint32_t)c->protocol;
    w[PYIPVS_CONN_W_CADDR] = addr_of(v, &last[1], c->af, c->caddr, n);
    w[PYIPVS_CONN_W_CPORT] = c->cport;
    w[PYIPVS_CONN_W_VADDR] = addr_of(v, &last[2], c->af, c->vaddr, n);
    w[PYIPVS_CONN_W_VPORT] = c->vport;
    w[PYIPVS_CONN_W_DADDR] = addr_of(v, &last[3], c->daf, c->daddr, n);
    w[PYIPVS_CONN_W_DPORT] = c->dport;
    w[PYIPVS_CONN_W_STATE] = column_value(v, &last[4], PYIPVS_CONN_V_NAME, c->state_name,
                                          c->state_len, n);
    w[PYIPVS_CONN_W_EXPIRES] = c->expires;
    w[PYIPVS_CONN_W_ORIGIN] = c->origin;
    w[PYIPVS_CONN_W_PE_NAME] = w[PYIPVS_CONN_W_PE_DATA] = 0;
    if (c->flags & PYIPVS_CONN_F_PE) {
        w[PYIPVS_CONN_W_PE_NAME] = value_of(v, PYIPVS_CONN_V_NAME, c->pe_name,
                                            c->pe_name_len, n);
        w[PYIPVS_CONN_W_PE_DATA] = value_of(v, PYIPVS_CONN_V_DATA, c->pe_data,
                                            c->pe_data_len, n);
    }
}

int pyipvs_conn_read_cols(struct pyipvs_conn_reader *r, const struct pyipvs_conn_filter *f,
                          struct pyipvs_conn_values *v, uint32_t *words, size_t max,
                          uint8_t *news, size_t news_cap, struct pyipvs_conn_chunk *out)
{
    struct pyipvs_conn batch[BATCH];
    struct news n = {.p = news};
    size_t limit = news_cap / PYIPVS_CONN_NEW_PER_ROW;
    int full;

    if (!r || !v || !words || !news || !out)
        return -EINVAL;
    if (limit > max)
        limit = max;
    if (limit > (v->max - 1) / PYIPVS_CONN_VALUES_PER_ROW)
        limit = (v->max - 1) / PYIPVS_CONN_VALUES_PER_ROW;
    if (limit == 0)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->same = (1u << PYIPVS_CONN_WORDS) - 1;
    /* Emptied only once a row is in hand: a call that fails or finds the
     * end leaves the table as the caller's copy has it. */
    full = (size_t)v->count - 1 + PYIPVS_CONN_VALUES_PER_ROW * limit > v->max;
    while (out->rows < limit) {
        size_t want = limit - out->rows, got;
        int rc;

        if (want > BATCH)
            want = BATCH;
        rc = arena_room(v, want);
        if (rc == 0)
            rc = pyipvs_conn_read(r, f, batch, want, &got);
        if (rc < 0 && out->rows == 0)
            return rc;
        if (rc < 0 || got == 0)
            break;      /* an error shows on the next call, as pyipvs_conn_read's */
        if (out->rows == 0) {
            if (full) {
                values_reset(v);
                out->reset = 1;
            }
            out->first_new = v->count;
        }
        for (size_t i = 0; i < got; i++) {
            uint32_t *w = words + (out->rows + i) * PYIPVS_CONN_WORDS;

            row_words(v, &batch[i], w, &n);
            out->flags |= batch[i].flags;
            out->unknown_protocol |= batch[i].protocol == PYIPVS_CONN_PROTO_UNKNOWN;
            for (int k = 0; k < PYIPVS_CONN_WORDS; k++)
                if (w[k] != words[k])
                    out->same &= ~(1u << k);
        }
        out->rows += got;
    }
    if (out->rows == 0) {
        out->first_new = v->count;
        out->same = 0;
    }
    out->new_len = (size_t)(n.p - news);
    return 0;
}
