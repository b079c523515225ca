/*
 * core_micro.c - native per-item costs of the C core's hot pure functions
 * (benchmarks layer, not part of pyipvs): decoding one real server's and
 * one service's reply (recorded kernel replies from fuzz/corpus), and
 * formatting a generated 10,000 x 10 table as `-Ln`, `-Sn` and `--stats`.
 * No kernel needed; run on the host, against any tree's csrc/:
 *
 *   gcc -O2 -std=gnu11 -Icsrc -I/usr/include/libnl3 -o /tmp/core_micro \
 *       benchmarks/core_micro.c csrc/[a-z]*.c -lnl-genl-3 -lnl-3
 *   /tmp/core_micro [ROOT]     (ROOT: the checkout holding fuzz/corpus)
 *
 * Prints the best of three for each, and a hash of each listing's text so
 * two trees' outputs can be compared.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core.h"
#include "pyipvs.h"

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static size_t load(const char *root, const char *rel, unsigned char *buf, size_t cap)
{
    char path[4096];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    if ((f = fopen(path, "rb")) == NULL) {
        perror(path);
        exit(2);
    }
    n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void decode_costs(const char *root)
{
    static unsigned char d[4096], s[4096];
    size_t nd = load(root, "fuzz/corpus/nl_dest/rec_dest_0", d, sizeof(d));
    size_t ns = load(root, "fuzz/corpus/nl_service/rec_svc_0", s, sizeof(s));
    struct pyipvs_dest dest;
    struct pyipvs_service svc;
    struct core_dest_shape shape = {0};
    const long n = 1000000;
    double bd = 1e9, bs = 1e9, bh = 1e9;

    for (int r = 0; r < 3; r++) {
        double t0 = now(), t1, t2, t3;

        for (long i = 0; i < n; i++)
            if (pyipvs_decode_dest(d, nd, AF_INET, &dest) < 0)
                exit(3);
        t1 = now();
        for (long i = 0; i < n; i++)
            if (pyipvs_decode_service(s, ns, &svc) < 0)
                exit(3);
        t2 = now();
        for (long i = 0; i < n; i++)
            if (core_decode_dest(&shape, d, nd, AF_INET, &dest) < 0)
                exit(3);
        t3 = now();
        bd = t1 - t0 < bd ? t1 - t0 : bd;
        bs = t2 - t1 < bs ? t2 - t1 : bs;
        bh = t3 - t2 < bh ? t3 - t2 : bh;
    }
    printf("decode one server reply   %7.1f ns\n", bd / n * 1e9);
    printf("  the same, by its shape  %7.1f ns (dest_shape.c)\n", bh / n * 1e9);
    printf("decode one service reply  %7.1f ns\n", bs / n * 1e9);
}

/* 10,000 services (one in seven IPv6, one in fifty a fwmark, one in five
 * persistent) with 10 servers each, counters on every server. */
static void make_table(struct pyipvs_table *t, size_t ns, size_t per)
{
    unsigned seed = 1;

    t->services = calloc(ns, sizeof(*t->services));
    t->dests = calloc(ns * per, sizeof(*t->dests));
    t->dest_start = calloc(ns + 1, sizeof(*t->dest_start));
    if (!t->services || !t->dests || !t->dest_start)
        exit(2);
    for (size_t i = 0; i < ns; i++) {
        struct pyipvs_service *s = &t->services[i];

        seed = seed * 1103515245 + 12345;
        s->af = i % 7 == 3 ? AF_INET6 : AF_INET;
        s->protocol = i % 3 == 0 ? IPPROTO_UDP : IPPROTO_TCP;
        s->fwmark = i % 50 == 7 ? (uint32_t)i + 1 : 0;
        s->addr[0] = 10;
        s->addr[1] = (seed >> 8) & 255;
        s->addr[2] = (seed >> 16) & 255;
        s->addr[3] = i & 255;
        if (s->af == AF_INET6) {
            s->addr[0] = 0x20;
            s->addr[1] = 1;
            s->addr[15] = i & 255;
        }
        s->port = (uint16_t)(80 + i % 1000);
        strcpy(s->sched_name, i % 2 ? "wlc" : "rr");
        s->netmask = s->af == AF_INET6 ? 128 : 0xffffffff;
        if (i % 5 == 0) {
            s->flags = 1;
            s->timeout = 300;
        }
        t->dest_start[i] = (uint32_t)(i * per);
        for (size_t j = 0; j < per; j++) {
            struct pyipvs_dest *d = &t->dests[i * per + j];

            d->af = s->af;
            memcpy(d->addr, s->addr, 16);
            d->addr[2] = (uint8_t)(j * 17);
            d->port = (uint16_t)(8080 + j);
            d->fwd_method = j % 3 == 0 ? 0 : 3;
            d->weight = (int32_t)j;
            d->active_conns = (uint32_t)j * 3;
            d->inact_conns = (uint32_t)j * 1000;
            d->stats.conns = j * 12345;
            d->stats.inbytes = (uint64_t)j << 33;
        }
    }
    t->dest_start[ns] = (uint32_t)(ns * per);
    t->nservices = ns;
    t->ndests = ns * per;
}

static void format_costs(void)
{
    static const struct {
        const char *name;
        uint32_t mode;
    } modes[] = {{"-Ln", 0},
                 {"-Sn", PYIPVS_LIST_SAVE},
                 {"-Ln --stats", PYIPVS_LIST_STATS},
                 {"-Ln --stats --exact", PYIPVS_LIST_STATS | PYIPVS_LIST_EXACT}};
    struct pyipvs_table t = {0};

    make_table(&t, 10000, 10);
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        double best = 1e9;
        unsigned long h = 5381;
        size_t n = 0;

        for (int r = 0; r < 3; r++) {
            char *out;
            double t0 = now(), dt;

            if (pyipvs_table_format(&t, modes[m].mode, &out, &n) < 0)
                exit(3);
            dt = now() - t0;
            best = dt < best ? dt : best;
            h = 5381;
            for (size_t k = 0; k < n; k++)
                h = h * 33 + (unsigned char)out[k];
            pyipvs_text_free(out);
        }
        printf("format 10k x 10 %-20s %7.1f ms  (%zu bytes, hash %016lx)\n", modes[m].name,
               best * 1e3, n, h);
    }
}

int main(int argc, char **argv)
{
    decode_costs(argc > 1 ? argv[1] : ".");
    format_costs();
    return 0;
}
