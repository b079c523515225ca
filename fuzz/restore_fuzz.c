/*
 * restore_fuzz.c - libFuzzer entry over the restore fast path (C core,
 * csrc/restore_fast.c appending to csrc/batch.c). Built by fuzz/build.sh
 * with ASan and UBSan.
 *
 * Each input is restore text. It is scanned the way pyipvsadm drives the
 * scanner (a line the fast path declines is skipped, as the full parser
 * would take it), once whole and once in pieces cut at an input-chosen
 * place with a small command limit per call. Both passes must take the same
 * lines and append byte-identical messages; positions must only move
 * forward and stay on line starts; every message must be a well-formed
 * netlink request no longer than PYIPVS_MSG_MAX. Any difference aborts,
 * which libFuzzer reports as a crash.
 */
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyipvs.h"

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* Scan all complete lines of text with at most `limit` commands per call;
 * returns the number of lines the fast path declined. */
static size_t drive(struct pyipvs_batch *b, const char *text, size_t len, size_t limit,
                    uint64_t *starts)
{
    struct pyipvs_restore_scan st = {0};
    size_t pos = 0, slow = 0, before;

    for (;;) {
        before = pyipvs_batch_count(b);
        st.pos = pos;
        CHECK(pyipvs_restore_scan(b, text, len, limit, starts, &st) == 0);
        CHECK(st.pos >= pos && st.pos <= len);
        CHECK(st.cmds <= limit && st.cmds <= st.lines);
        CHECK(pyipvs_batch_count(b) == before + st.cmds);
        CHECK(st.pos == 0 || text[st.pos - 1] == '\n' || st.pos == pos);
        for (size_t i = 0; i < st.cmds; i++) {
            CHECK(starts[i] >= pos && starts[i] < st.pos);
            CHECK(starts[i] == 0 || text[starts[i] - 1] == '\n');
        }
        pos = st.pos;
        if (st.stop == PYIPVS_RESTORE_FULL)
            continue;
        if (st.stop == PYIPVS_RESTORE_SLOW) {
            const char *nl = memchr(text + pos, '\n', len - pos);

            CHECK(nl != NULL && st.cmds < limit + 1);
            pos = (size_t)(nl - text) + 1;
            slow++;
            continue;
        }
        CHECK(st.stop == PYIPVS_RESTORE_END);
        CHECK(memchr(text + pos, '\n', len - pos) == NULL);
        return slow;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pyipvs_batch *whole = NULL, *parts = NULL;
    unsigned char m1[PYIPVS_MSG_MAX], m2[PYIPVS_MSG_MAX];
    uint64_t *starts;
    size_t limit, n, i, slow1, slow2;

    if (size < 1)
        return 0;
    limit = 1 + data[0] % 5;
    data++;
    size--;
    starts = malloc(sizeof(*starts) * (size + 1));
    CHECK(starts != NULL);
    CHECK(pyipvs_batch_new(&whole) == 0 && pyipvs_batch_new(&parts) == 0);
    slow1 = drive(whole, (const char *)data, size, size + 1, starts);
    slow2 = drive(parts, (const char *)data, size, limit, starts);
    CHECK(slow1 == slow2);
    n = pyipvs_batch_count(whole);
    CHECK(n == pyipvs_batch_count(parts));
    for (i = 0; i < n; i++) {
        int l1 = pyipvs_batch_message(whole, i, m1, sizeof(m1));
        int l2 = pyipvs_batch_message(parts, i, m2, sizeof(m2));
        const struct nlmsghdr *h = (const struct nlmsghdr *)m1;

        CHECK(l1 > 0 && l1 == l2 && memcmp(m1, m2, (size_t)l1) == 0);
        CHECK((size_t)l1 >= NLMSG_HDRLEN && h->nlmsg_len <= (uint32_t)l1);
        CHECK(NLMSG_ALIGN(h->nlmsg_len) == (uint32_t)l1);
    }
    pyipvs_batch_free(whole);
    pyipvs_batch_free(parts);
    free(starts);
    return 0;
}
