/*
 * proc_fuzz.c - libFuzzer entries over the /proc text parsers of the C core
 * (csrc/procstats.c). Built by fuzz/build.sh with ASan and UBSan, once per
 * target (-DFUZZ_TARGET=...):
 *
 *   proc_stats   /proc/net/ip_vs_stats          pyipvs_gstats_parse
 *   proc_percpu  /proc/net/ip_vs_stats_percpu   pyipvs_gstats_percpu_parse
 *   proc_app     /proc/net/ip_vs_app            pyipvs_apps_parse
 *
 * The input is the whole file, in an allocation of exactly its size and not
 * NUL-terminated (the parsers take a length; a read past it is a bug). Each
 * target also checks what callers rely on: only 0 or -EINVAL, nothing handed
 * out on failure, text fields NUL-terminated, and the parse deterministic.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyipvs.h"

#define T_STATS 1
#define T_PERCPU 2
#define T_APP 3

#ifndef FUZZ_TARGET
#error "build with -DFUZZ_TARGET=T_..."
#endif

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* Reads go here so the compiler cannot drop them. */
volatile uint64_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    int rc;

    CHECK(text != NULL);
    memcpy(text, data, size);
#if FUZZ_TARGET == T_STATS
    struct pyipvs_stats a, b;

    memset(&a, 0xA5, sizeof(a));
    rc = pyipvs_gstats_parse(text, size, &a);
    CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0) {
        CHECK(pyipvs_gstats_parse(text, size, &b) == 0);
        CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    }
#elif FUZZ_TARGET == T_PERCPU
    struct pyipvs_cpu_stats *rows = (void *)1;
    struct pyipvs_stats total;
    size_t n = 99;

    rc = pyipvs_gstats_percpu_parse(text, size, &rows, &n, &total);
    CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc == 0) {
        CHECK((n == 0) == (rows == NULL));
        for (size_t i = 0; i < n; i++)
            fuzz_sink += rows[i].cpu + rows[i].outbytes; /* every row handed out is readable */
        free(rows);
    } else {
        CHECK(rows == (void *)1 && n == 99);
    }
#elif FUZZ_TARGET == T_APP
    struct pyipvs_app *apps = (void *)1;
    size_t n = 99;

    rc = pyipvs_apps_parse(text, size, &apps, &n);
    CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc == 0) {
        CHECK((n == 0) == (apps == NULL));
        for (size_t i = 0; i < n; i++) {
            CHECK(memchr(apps[i].proto_name, 0, sizeof(apps[i].proto_name)) != NULL);
            CHECK(memchr(apps[i].name, 0, sizeof(apps[i].name)) != NULL);
            CHECK(apps[i].proto_name[0] != 0 && apps[i].name[0] != 0);
        }
        free(apps);
    } else {
        CHECK(apps == (void *)1 && n == 99);
    }
#else
#error "unknown FUZZ_TARGET"
#endif
    free(text);
    return 0;
}
