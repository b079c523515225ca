/*
 * conn_fuzz.c - libFuzzer entry over the connection-table reader (C core,
 * csrc/conn*.c). Built by fuzz/build.sh with ASan and UBSan.
 *
 * Each input is read as a whole table twice: with a large buffer, and with
 * the smallest buffer and short reads (as a seq_file gives), so lines are
 * cut at arbitrary places. Both passes must yield the same rows, byte for
 * byte, and the same counters; every row must satisfy the struct's
 * invariants, and the aggregators' counts must add up. Any difference
 * aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pyipvs.h"

#define BATCH 7
#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static void check_row(const struct pyipvs_conn *c)
{
    CHECK(c->af == AF_INET || c->af == AF_INET6);
    CHECK(c->daf == AF_INET || c->daf == AF_INET6);
    CHECK(c->state < PYIPVS_CONN_S_COUNT);
    CHECK(c->proto_len > 0 && c->proto_len < sizeof(c->proto_name));
    CHECK(strlen(c->proto_name) == c->proto_len);
    CHECK(c->state_len > 0 && c->state_len < sizeof(c->state_name));
    CHECK(strlen(c->state_name) == c->state_len);
    CHECK(c->pe_name_len < sizeof(c->pe_name) && strlen(c->pe_name) == c->pe_name_len);
    CHECK(c->pe_data_len < sizeof(c->pe_data) && c->pe_data[c->pe_data_len] == '\0');
    CHECK(c->origin <= PYIPVS_CONN_ORIGIN_SYNC);
    CHECK(!(c->flags & PYIPVS_CONN_F_PE) || c->pe_name_len > 0);
    CHECK(c->protocol >= PYIPVS_CONN_PROTO_UNKNOWN && c->protocol <= 0xffff);
    if (c->state != PYIPVS_CONN_S_UNKNOWN) {
        const char *name;

        CHECK(pyipvs_conn_state_name(c->state, &name) == 0);
        CHECK(strcmp(name, c->state_name) == 0);
    }
    for (int i = c->af == AF_INET ? 4 : 16; i < 16; i++)
        CHECK(c->caddr[i] == 0 && c->vaddr[i] == 0);
    for (int i = c->daf == AF_INET ? 4 : 16; i < 16; i++)
        CHECK(c->daddr[i] == 0);
}

/* FNV-1a over every row's bytes (padding is zeroed by the parser). */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

struct pass {
    uint64_t hash;
    struct pyipvs_conn_counts counts;
};

static void run(const uint8_t *data, size_t size, const struct pyipvs_conn_opts *opts,
                const struct pyipvs_conn_filter *f, struct pyipvs_conn_agg *agg, struct pass *out)
{
    struct pyipvs_conn_reader *r;
    struct pyipvs_conn rows[BATCH];
    size_t n;

    out->hash = 0xcbf29ce484222325ULL;
    CHECK(pyipvs_conn_reader_new_mem(&r, data, size, opts) == 0);
    do {
        CHECK(pyipvs_conn_read(r, f, rows, BATCH, &n) == 0);
        CHECK(n <= BATCH);
        for (size_t i = 0; i < n; i++) {
            check_row(&rows[i]);
            CHECK(pyipvs_conn_match(f, &rows[i]));
        }
        out->hash = mix(out->hash, rows, n * sizeof(rows[0]));
        if (agg)
            CHECK(pyipvs_conn_agg_add(agg, rows, n) == 0);
    } while (n > 0);
    CHECK(pyipvs_conn_reader_counts(r, &out->counts) == 0);
    /* Stopping at a blank line leaves the rest unread (how much was read
     * ahead depends on the buffer). */
    if (!(opts->flags & PYIPVS_CONN_OPT_STOP_AT_BLANK) || out->counts.blank == 0)
        CHECK(out->counts.eof && out->counts.bytes == size);
    CHECK(out->counts.bytes <= size);
    out->counts.bytes = out->counts.eof = 0;
    pyipvs_conn_reader_free(r);
}

static void check_agg(struct pyipvs_conn_agg *a, uint64_t rows, size_t max_groups)
{
    struct pyipvs_conn_group g[16];
    size_t ng, n;
    uint64_t total, overflow, sum = 0;

    CHECK(pyipvs_conn_agg_info(a, &ng, &total, &overflow) == 0);
    CHECK(total == rows && ng <= max_groups);
    CHECK(pyipvs_conn_agg_groups(a, g, 16, &n) == 0 && n == ng);
    for (size_t i = 0; i < n; i++) {
        CHECK(g[i].count > 0);
        sum += g[i].count;
    }
    CHECK(sum + overflow == total);
}

/* The -Lnc text of every row (csrc/conn_fmt.c), in a buffer just large
 * enough for one line: one newline per row, nothing past the buffer. */
static void check_format(const uint8_t *data, size_t size, uint32_t flags,
                         const struct pyipvs_conn_opts *o, uint64_t rows)
{
    struct pyipvs_conn_reader *r;
    static char out[768];
    size_t len, n;
    uint64_t total = 0;

    CHECK(pyipvs_conn_reader_new_mem(&r, data, size, o) == 0);
    do {
        CHECK(pyipvs_conn_format(r, flags, out, sizeof(out), &len, &n) == 0);
        CHECK(len < sizeof(out) && (n == 0) == (len == 0));
        size_t lines = 0;
        for (size_t i = 0; i < len; i++)
            lines += out[i] == '\n';
        CHECK(lines == n && (len == 0 || out[len - 1] == '\n'));
        total += n;
    } while (n > 0);
    CHECK(total == rows);
    pyipvs_conn_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t sum = 0;
    struct pass big, small;
    struct pyipvs_conn one;
    struct pyipvs_conn_agg *a1, *a2;
    struct pyipvs_conn_filter f;

    for (size_t i = 0; i < size; i++)
        sum = sum * 31 + data[i];

    /* The whole input as one line, straight into the line parser. */
    if (pyipvs_conn_parse_line((const char *)data, size, &one) == 0)
        check_row(&one);

    /* Larger than any input fuzz/build.sh feeds: one read, no carried line. */
    struct pyipvs_conn_opts large = {16384, 0, 0};
    struct pyipvs_conn_opts tiny = {1, 1 + sum % 97, sum & 1 ? PYIPVS_CONN_OPT_STOP_AT_BLANK : 0};

    large.flags = tiny.flags;
    CHECK(pyipvs_conn_agg_new(&a1, sum & 0xff, sum % 33, sum % 129, 16) == 0);
    CHECK(pyipvs_conn_agg_new(&a2, PYIPVS_CONN_BY_CLIENT | PYIPVS_CONN_BY_STATE, 24, 64, 3) == 0);
    run(data, size, &large, NULL, a1, &big);
    run(data, size, &tiny, NULL, a2, &small);
    CHECK(big.hash == small.hash);
    CHECK(memcmp(&big.counts, &small.counts, sizeof(big.counts)) == 0);
    CHECK(big.counts.matched == big.counts.rows);
    check_agg(a1, big.counts.rows, 16);
    check_agg(a2, big.counts.rows, 3);
    pyipvs_conn_agg_free(a1);
    pyipvs_conn_agg_free(a2);

    /* A filter built from the input's own bytes, on a third pass. */
    memset(&f, 0, sizeof(f));
    if (size >= sizeof(f))
        memcpy(&f, data + size - sizeof(f), sizeof(f));
    run(data, size, &large, &f, NULL, &small);
    CHECK(small.counts.matched <= small.counts.rows && small.counts.rows == big.counts.rows);
    check_format(data, size, sum & 2 ? PYIPVS_CONN_FMT_PERSISTENT : 0, &tiny, big.counts.rows);
    return 0;
}
