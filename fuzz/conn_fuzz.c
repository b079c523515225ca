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
#include <stddef.h>
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

/* FNV-1a over bytes. */
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
        /* every byte up to the PE fields (the parser zeroes them, padding
         * included), then the PE fields as far as their lengths go */
        for (size_t i = 0; i < n; i++) {
            out->hash = mix(out->hash, &rows[i], offsetof(struct pyipvs_conn, pe_name));
            out->hash = mix(out->hash, rows[i].pe_name, rows[i].pe_name_len);
            out->hash = mix(out->hash, rows[i].pe_data, rows[i].pe_data_len);
        }
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

/* The same rows as columns (csrc/conn_cols.c), with a value table small
 * enough to be emptied every few rows: each row, rebuilt from its words and
 * a copy of the table kept from the stream of new values, must equal the
 * row pyipvs_conn_read gives. */
#define COL_ROWS 5
#define COL_VALUES 22           /* three rows per call at most: resets are common */
struct mirror_value {
    uint8_t kind;
    uint16_t len;
    uint8_t bytes[256];
};

static void check_value(const struct mirror_value *m, uint32_t count, uint32_t num,
                        uint8_t kind, const void *bytes, size_t len)
{
    CHECK(num > 0 && num < count);
    CHECK(m[num].kind == kind && m[num].len == len && memcmp(m[num].bytes, bytes, len) == 0);
}

static void check_addr(const struct mirror_value *m, uint32_t count, uint32_t num, uint16_t af,
                       const uint8_t *a)
{
    if (af == AF_INET6)
        check_value(m, count, num, PYIPVS_CONN_V_INET6, a, 16);
    else
        check_value(m, count, num, PYIPVS_CONN_V_INET, a, 4);
}

static void check_cols(const uint8_t *data, size_t size, const struct pyipvs_conn_opts *o,
                       uint64_t rows)
{
    static struct mirror_value m[COL_VALUES + 1];
    static uint8_t news[COL_ROWS * PYIPVS_CONN_NEW_PER_ROW];
    uint32_t words[COL_ROWS * PYIPVS_CONN_WORDS], count = 1;
    struct pyipvs_conn_reader *r, *plain;
    struct pyipvs_conn_values *v;
    struct pyipvs_conn_chunk c;
    struct pyipvs_conn row;
    uint64_t total = 0;
    size_t n;

    CHECK(pyipvs_conn_values_new(&v, COL_VALUES) == 0);
    CHECK(pyipvs_conn_reader_new_mem(&r, data, size, o) == 0);
    CHECK(pyipvs_conn_reader_new_mem(&plain, data, size, o) == 0);
    do {
        CHECK(pyipvs_conn_read_cols(r, NULL, v, words, COL_ROWS, news, sizeof(news), &c) == 0);
        CHECK(c.rows <= COL_ROWS && c.new_len <= sizeof(news));
        if (c.reset)
            count = 1;
        CHECK(c.first_new == count);
        for (size_t at = 0; at < c.new_len; count++) {
            uint16_t len;

            CHECK(count <= COL_VALUES && at + 3 <= c.new_len);
            memcpy(&len, news + at + 1, 2);
            CHECK(len <= 255 && at + 3 + len <= c.new_len);
            m[count].kind = news[at];
            m[count].len = len;
            memcpy(m[count].bytes, news + at + 3, len);
            at += 3 + (size_t)len;
        }
        for (size_t i = 0; i < c.rows; i++) {
            const uint32_t *w = words + i * PYIPVS_CONN_WORDS;

            CHECK(pyipvs_conn_read(plain, NULL, &row, 1, &n) == 0 && n == 1);
            check_value(m, count, w[PYIPVS_CONN_W_PROTO], PYIPVS_CONN_V_NAME, row.proto_name,
                        row.proto_len);
            CHECK(w[PYIPVS_CONN_W_PROTOCOL] == (uint32_t)row.protocol);
            CHECK(c.unknown_protocol || row.protocol != PYIPVS_CONN_PROTO_UNKNOWN);
            check_addr(m, count, w[PYIPVS_CONN_W_CADDR], row.af, row.caddr);
            check_addr(m, count, w[PYIPVS_CONN_W_VADDR], row.af, row.vaddr);
            check_addr(m, count, w[PYIPVS_CONN_W_DADDR], row.daf, row.daddr);
            CHECK(w[PYIPVS_CONN_W_CPORT] == row.cport && w[PYIPVS_CONN_W_VPORT] == row.vport);
            CHECK(w[PYIPVS_CONN_W_DPORT] == row.dport);
            CHECK(w[PYIPVS_CONN_W_EXPIRES] == row.expires);
            check_value(m, count, w[PYIPVS_CONN_W_STATE], PYIPVS_CONN_V_NAME, row.state_name,
                        row.state_len);
            CHECK(w[PYIPVS_CONN_W_ORIGIN] == row.origin);
            for (int k = 0; k < PYIPVS_CONN_WORDS; k++)
                CHECK(!(c.same & (1u << k)) || w[k] == words[k]);
            CHECK(!(row.flags & ~c.flags));
            if (row.flags & PYIPVS_CONN_F_PE) {
                check_value(m, count, w[PYIPVS_CONN_W_PE_NAME], PYIPVS_CONN_V_NAME,
                            row.pe_name, row.pe_name_len);
                check_value(m, count, w[PYIPVS_CONN_W_PE_DATA], PYIPVS_CONN_V_DATA,
                            row.pe_data, row.pe_data_len);
            } else {
                CHECK(w[PYIPVS_CONN_W_PE_NAME] == 0 && w[PYIPVS_CONN_W_PE_DATA] == 0);
            }
        }
        for (int k = 0; k < PYIPVS_CONN_WORDS && c.rows > 0; k++) {
            uint32_t same = 1;

            for (size_t i = 1; i < c.rows; i++)
                same &= words[i * PYIPVS_CONN_WORDS + k] == words[k];
            CHECK(same == ((c.same >> k) & 1));
        }
        CHECK(c.rows > 0 || c.same == 0);
        total += c.rows;
    } while (c.rows > 0);
    CHECK(total == rows);
    CHECK(pyipvs_conn_read(plain, NULL, &row, 1, &n) == 0 && n == 0);
    pyipvs_conn_reader_free(plain);
    pyipvs_conn_reader_free(r);
    pyipvs_conn_values_free(v);
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
    check_cols(data, size, &tiny, big.counts.rows);
    return 0;
}
