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
 * netlink request no longer than PYIPVS_MSG_MAX. The same text then goes
 * through the desired-table scan of csrc/records.c (same line parser): it
 * either takes it, with records that are zero-padded, unique and no more
 * than the text has lines, or names a line of the text. Any difference
 * aborts, which libFuzzer reports as a crash.
 */
#include <linux/netlink.h>
#include <stddef.h>
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

/* The desired-table scan over the same text. */
static void records(const char *text, size_t len)
{
    struct pyipvs_svc_rec *sv;
    struct pyipvs_dest_rec *dv;
    size_t ns, nd, bad, lines = 1, i, j;
    int rc = pyipvs_restore_records(text, len, &sv, &ns, &dv, &nd, &bad);

    for (i = 0; i < len; i++)
        lines += text[i] == '\n';
    CHECK(rc == 0 || rc == 1);
    if (rc == 1) {
        CHECK(bad >= 1 && bad <= lines && sv == NULL && dv == NULL);
        return;
    }
    CHECK(ns + nd <= lines);
    for (i = 0; i < ns; i++) {
        CHECK(sv[i].id.pad == 0 && sv[i].sched_name[15] == 0 && sv[i].pe_name[16] == 0);
        CHECK((sv[i].flags & ~PYIPVS_SETTABLE_SVC_FLAGS) == 0);
        for (j = 0; j < i; j++)
            CHECK(memcmp(&sv[i].id, &sv[j].id, sizeof(sv[i].id)) != 0);
    }
    for (i = 0; i < nd; i++) {
        int found = 0;

        CHECK(dv[i].pad[0] == 0 && dv[i].pad[1] == 0 && dv[i].pad[2] == 0);
        for (j = 0; j < ns; j++)
            found |= memcmp(&dv[i].svc, &sv[j].id, sizeof(dv[i].svc)) == 0;
        CHECK(found);
        for (j = 0; j < i; j++)
            CHECK(memcmp(&dv[i], &dv[j], offsetof(struct pyipvs_dest_rec, fwd_method)) != 0);
    }
    pyipvs_free(sv);
    pyipvs_free(dv);
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
    records((const char *)data, size);
    return 0;
}
