/*
 * replay.c - test entry point over the receive path (C layer): recorded
 * datagrams go through nl.c's reply walker and parse.c's decoders exactly as
 * a live dump's receives would, without a socket. The fuzzers
 * (fuzz/nl_fuzz.c) and the corpus replay test (tests/unit/test_fuzz_corpus.py)
 * drive it; the library never calls it.
 *
 * Each datagram is copied into a buffer of its own exact size before it is
 * walked, so a read past a datagram's end is a read past an allocation (which
 * AddressSanitizer reports), not a quiet read of the next record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

struct acc {
    unsigned char *items;
    size_t n, cap, size;
    uint16_t svc_af;
    int what;
    struct core_dest_shape shape;
};

static int on_reply(const struct nlmsghdr *nlh, size_t len, void *arg)
{
    struct acc *a = arg;
    void *slot;

    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        unsigned char *p = realloc(a->items, cap * a->size);

        if (p == NULL)
            return -ENOMEM;
        a->items = p;
        a->cap = cap;
    }
    slot = a->items + a->size * a->n++;
    if (a->what == PYIPVS_REPLAY_SERVICES)
        return pyipvs_decode_service(nlh, len, slot);
    return core_decode_dest(&a->shape, nlh, len, a->svc_af, slot);
}

int pyipvs_replay_dump(int what, const void *buf, size_t len, uint16_t family, uint32_t port,
                       uint32_t seq, uint16_t svc_af, void **out, size_t *n)
{
    struct acc a = {.what = what, .svc_af = svc_af};
    struct core_walk w = {.seq = seq, .port = port, .family = family, .dump = 1,
                          .fn = on_reply, .arg = &a};
    const unsigned char *p = buf, *end = p + len;
    int rc = 0;

    if (out == NULL || n == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    *out = NULL;
    *n = 0;
    if (what == PYIPVS_REPLAY_SERVICES)
        a.size = sizeof(struct pyipvs_service);
    else if (what == PYIPVS_REPLAY_DESTS)
        a.size = sizeof(struct pyipvs_dest);
    else
        return -EINVAL;

    while (!w.done) {
        uint32_t dlen;
        void *dgram;

        if ((size_t)(end - p) < sizeof(dlen)) {
            rc = -ETIMEDOUT;
            break;
        }
        memcpy(&dlen, p, sizeof(dlen));
        p += sizeof(dlen);
        if (dlen > (size_t)(end - p)) {
            rc = -ETIMEDOUT;
            break;
        }
        if (dlen > CORE_RECV_MAX) {
            rc = -EMSGSIZE;
            break;
        }
        /* A zero-length datagram is what a receive with nothing for us
         * returns: the live loop just waits again. */
        dgram = malloc(dlen ? dlen : 1);
        if (dgram == NULL) {
            rc = -ENOMEM;
            break;
        }
        memcpy(dgram, p, dlen);
        p += dlen;
        rc = core_walk_datagram(&w, dgram, dlen);
        free(dgram);
        if (rc < 0)
            break;
    }
    if (rc == 0)
        rc = w.result < 0 ? w.result : w.consumer_err;
    if (rc < 0) {
        free(a.items);
        return rc;
    }
    *out = a.items;
    *n = a.n;
    return 0;
}
