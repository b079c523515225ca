/*
 * nl_fuzz.c - libFuzzer entries over the netlink reply decoders (C core,
 * csrc/parse.c) and the receive path's reply walker (csrc/nl.c, reached
 * through pyipvs_replay_dump in csrc/replay.c). Built by fuzz/build.sh with
 * ASan and UBSan, once per target (-DFUZZ_TARGET=...):
 *
 *   nl_service, nl_dest, nl_daemon, nl_info, nl_timeouts
 *       the input is one reply message (from its nlmsghdr on), handed to the
 *       decoder in a buffer of exactly its size;
 *   nl_dump
 *       the input is a recorded dump: records of a 4-byte length (host
 *       order) and one datagram each, replayed as services and as servers.
 *       The request is (family REPLAY_FAMILY, port REPLAY_PORT, seq
 *       REPLAY_SEQ); tests/unit/test_fuzz_corpus.py uses the same numbers.
 *   nl_dest_shape
 *       the input is two server replies, the first its own nlmsg_len long
 *       (then NLMSG-aligned), the second the rest: csrc/dest_shape.c's
 *       decoder, learning from one and applied to the other, must give
 *       exactly pyipvs_decode_dest's result and return value for both, in
 *       every order and with every pair of service families.
 *
 * Beyond "no crash, no sanitizer report", each target checks what a caller
 * relies on: strings NUL-terminated inside their arrays, only known
 * `present` bits, a failed decode returning -EINVAL, and a dump decoded
 * record by record agreeing with the same records walked as one stream.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core.h"
#include "pyipvs.h"

#define REPLAY_FAMILY 0x2A
#define REPLAY_PORT 4242
#define REPLAY_SEQ 1

#define T_SERVICE 1
#define T_DEST 2
#define T_DAEMON 3
#define T_INFO 4
#define T_TIMEOUTS 5
#define T_DUMP 6
#define T_DEST_SHAPE 7

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

#define SVC_PRESENT (PYIPVS_HAS_STATS64 | PYIPVS_HAS_STATS | PYIPVS_HAS_PE_NAME)
#define DEST_PRESENT (PYIPVS_HAS_STATS64 | PYIPVS_HAS_STATS | PYIPVS_HAS_ADDR_FAMILY | \
                      PYIPVS_HAS_TUN_TYPE | PYIPVS_HAS_TUN_PORT | PYIPVS_HAS_TUN_FLAGS)
#define DAEMON_PRESENT (PYIPVS_HAS_SYNC_MAXLEN | PYIPVS_HAS_MCAST_GROUP | \
                        PYIPVS_HAS_MCAST_PORT | PYIPVS_HAS_MCAST_TTL)

__attribute__((unused)) static void check_service(const struct pyipvs_service *s)
{
    CHECK(memchr(s->sched_name, 0, sizeof(s->sched_name)) != NULL);
    CHECK(memchr(s->pe_name, 0, sizeof(s->pe_name)) != NULL);
    CHECK((s->present & ~(uint32_t)SVC_PRESENT) == 0);
    CHECK(!((s->present & PYIPVS_HAS_STATS64) && (s->present & PYIPVS_HAS_STATS)));
    CHECK(s->pe_name[0] == 0 || (s->present & PYIPVS_HAS_PE_NAME));
    CHECK((s->flags & ~s->flags_mask) == 0);
}

__attribute__((unused)) static void check_dest(const struct pyipvs_dest *d)
{
    CHECK((d->present & ~(uint32_t)DEST_PRESENT) == 0);
    CHECK(!((d->present & PYIPVS_HAS_STATS64) && (d->present & PYIPVS_HAS_STATS)));
}

/* The input in an allocation of its own size: ASan sees any overread. */
static void *copy(const uint8_t *data, size_t size)
{
    void *p = malloc(size ? size : 1);

    CHECK(p != NULL);
    memcpy(p, data, size);
    return p;
}

#if FUZZ_TARGET == T_DEST_SHAPE
/* One decode through the shape, compared with the general decoder's. */
static void same_as_general(struct core_dest_shape *shape, const void *msg, size_t len,
                            uint16_t af)
{
    struct pyipvs_dest fast, general;
    int rc = core_decode_dest(shape, msg, len, af, &fast);
    int rc2 = pyipvs_decode_dest(msg, len, af, &general);

    CHECK(rc == rc2);
    CHECK(rc != 0 || memcmp(&fast, &general, sizeof(fast)) == 0);
}

static void shapes(const uint8_t *data, size_t size)
{
    static const uint16_t afs[] = {AF_INET, AF_INET6, 0};
    size_t n1 = size, at;
    void *m1, *m2;

    if (size >= 4) {
        uint32_t l;
        memcpy(&l, data, 4);
        if (l >= 20 && l <= size)
            n1 = l;
    }
    at = NLMSG_ALIGN(n1) < size ? NLMSG_ALIGN(n1) : size;
    m1 = copy(data, n1);
    m2 = copy(data + at, size - at);
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            struct core_dest_shape shape;

            memset(&shape, 0, sizeof(shape));
            same_as_general(&shape, m1, n1, afs[i]);
            same_as_general(&shape, m2, size - at, afs[j]);
            same_as_general(&shape, m1, n1, afs[j]);
            same_as_general(&shape, m2, size - at, afs[i]);
        }
    free(m1);
    free(m2);
}
#endif

#if FUZZ_TARGET == T_DUMP
/* The same records one by one (each its own dump of one datagram, which
 * must then end with DONE in that datagram) cannot be compared in general;
 * what must hold is that a stream decodes to the same items however many
 * times it is replayed, and that a failure frees and returns nothing. */
static void replay(const uint8_t *data, size_t size, int what, uint16_t af)
{
    void *out = (void *)1, *again = (void *)1;
    size_t n = 7, n2 = 7;
    size_t isz = what == PYIPVS_REPLAY_SERVICES ? sizeof(struct pyipvs_service)
                                                 : sizeof(struct pyipvs_dest);
    int rc = pyipvs_replay_dump(what, data, size, REPLAY_FAMILY, REPLAY_PORT, REPLAY_SEQ, af,
                                &out, &n);
    int rc2 = pyipvs_replay_dump(what, data, size, REPLAY_FAMILY, REPLAY_PORT, REPLAY_SEQ, af,
                                 &again, &n2);

    CHECK(rc == rc2);
    CHECK(rc <= 0 && rc >= -4095);
    if (rc < 0) {
        CHECK(out == NULL && n == 0);
        return;
    }
    CHECK(n == n2 && (n == 0 || memcmp(out, again, n * isz) == 0));
    for (size_t i = 0; i < n; i++) {
        if (what == PYIPVS_REPLAY_SERVICES)
            check_service((const struct pyipvs_service *)out + i);
        else
            check_dest((const struct pyipvs_dest *)out + i);
    }
    pyipvs_free(out);
    pyipvs_free(again);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void *msg = copy(data, size);
    int rc;

#if FUZZ_TARGET == T_SERVICE
    struct pyipvs_service s;

    rc = pyipvs_decode_service(msg, size, &s);
    CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0)
        check_service(&s);
#elif FUZZ_TARGET == T_DEST
    struct pyipvs_dest d;
    static const uint16_t afs[] = {AF_INET, AF_INET6, 0};

    for (size_t i = 0; i < sizeof(afs) / sizeof(afs[0]); i++) {
        rc = pyipvs_decode_dest(msg, size, afs[i], &d);
        CHECK(rc == 0 || rc == -EINVAL);
        if (rc == 0)
            check_dest(&d);
    }
#elif FUZZ_TARGET == T_DAEMON
    struct pyipvs_daemon d;

    rc = pyipvs_decode_daemon(msg, size, &d);
    CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0) {
        CHECK(memchr(d.mcast_ifn, 0, sizeof(d.mcast_ifn)) != NULL);
        CHECK((d.present & ~(uint32_t)DAEMON_PRESENT) == 0);
        CHECK(d.mcast_af == 0 || d.mcast_af == AF_INET || d.mcast_af == AF_INET6);
    }
#elif FUZZ_TARGET == T_INFO
    struct pyipvs_info inf;

    rc = pyipvs_decode_info(msg, size, &inf);
    CHECK(rc == 0 || rc == -EINVAL);
#elif FUZZ_TARGET == T_TIMEOUTS
    struct pyipvs_timeouts t;

    rc = pyipvs_decode_timeouts(msg, size, &t);
    CHECK(rc == 0 || rc == -EINVAL);
#elif FUZZ_TARGET == T_DEST_SHAPE
    (void)rc;
    shapes(data, size);
#elif FUZZ_TARGET == T_DUMP
    (void)rc;
    replay(msg, size, PYIPVS_REPLAY_SERVICES, AF_INET);
    replay(msg, size, PYIPVS_REPLAY_DESTS, AF_INET6);
#else
#error "unknown FUZZ_TARGET"
#endif
    free(msg);
    return 0;
}
