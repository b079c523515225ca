/*
 * dest_shape.c - real servers' replies decoded by their shape (C layer; the
 * hot loop of a whole-table read, csrc/snapshot.c).
 *
 * Why: a poller decodes one GET_DEST reply per real server, 50,000 of them
 * for a 5,000 x 10 table, every 2 s. parse.c's decoder walks each reply
 * attribute by attribute, checking each against its rule; in the emulated
 * VM that was about half the user time of a read (perf, session 22).
 * The kernel fills every server's reply the same way (ip_vs_genl_fill_dest:
 * the same attributes, in the same order, at the same lengths), so the walk
 * gives the same positions every time. Here the first reply is decoded by
 * pyipvs_decode_dest, and the positions its walk visited are kept: every
 * attribute header and where each value sits. A later reply of the same
 * length whose headers are all the same words is walked identically by
 * pyipvs_decode_dest (every decision of that walk, and every rule check,
 * depends only on the lengths and types in those headers; the one value
 * that decides anything, the address family, is checked against the
 * address's length as pyipvs_decode_dest checks it), so its values are
 * read straight from the kept offsets. (Where the kernel pads 64-bit
 * counters by alignment, on architectures without cheap unaligned access,
 * shapes may alternate: each change is then decoded the general way and
 * learnt, correct and slower.)
 *
 * Measured: 103-113 -> 35-39 ns per reply on the host (benchmarks/core_micro.c);
 * in the emulated VM, 5,000 x 10 counters reads alternating with the
 * previous build used 31.5 +- 8.7 ms less user time each, 138 -> 106 ms
 * (benchmarks/RESULTS.md, session 22).
 *
 * The result is pyipvs_decode_dest's in every case, which is what makes the
 * short cut safe: anything else (another shape, a value the general decoder
 * would refuse) goes to pyipvs_decode_dest, which learns the new shape. A
 * shape is only kept if decoding its own reply through it gives exactly
 * the general decoder's struct; fuzz/nl_fuzz.c's nl_dest_shape target
 * checks the same equality for arbitrary pairs of messages.
 */
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <sys/socket.h>

#include "attr.h"
#include "core.h"
#include "uapi_ip_vs.h"

static uint16_t ld16(const unsigned char *m, uint16_t off)
{
    uint16_t v;
    memcpy(&v, m + off, sizeof(v));
    return v;
}

static uint32_t ld32(const unsigned char *m, uint16_t off)
{
    uint32_t v;
    memcpy(&v, m + off, sizeof(v));
    return v;
}

/* The values of a reply that has s's shape, or 0 if it has not (or if the
 * general decoder would refuse it, which then says why). */
static int by_shape(const struct core_dest_shape *s, const unsigned char *m, size_t len,
                    uint16_t svc_af, struct pyipvs_dest *out)
{
    const struct nlmsghdr *nlh = (const struct nlmsghdr *)m;
    uint64_t *v = &out->stats.conns;
    uint16_t af = svc_af;

    if (s->len == 0 || nlh->nlmsg_len != s->len || len < s->len || m[NLMSG_HDRLEN] != s->cmd)
        return 0;
    for (int i = 0; i < s->nhdr; i++)
        if (ld32(m, s->hdr[i].off) != s->hdr[i].word)
            return 0;
    if (s->af != 0 && ld16(m, s->af) != 0)
        af = ld16(m, s->af);
    if (s->addr_len < (af == AF_INET6 ? 16 : 4))
        return 0; /* too short an address for its family: refused */
    memset(out, 0, sizeof(*out));
    out->af = af;
    memcpy(out->addr, m + s->addr, s->addr_len > 16 ? 16 : s->addr_len);
    out->port = ntohs(ld16(m, s->port));
    out->fwd_method = ld32(m, s->fwd);
    out->weight = (int32_t)ld32(m, s->weight);
    out->u_threshold = ld32(m, s->u_thresh);
    out->l_threshold = ld32(m, s->l_thresh);
    out->active_conns = ld32(m, s->active);
    out->inact_conns = ld32(m, s->inact);
    out->persist_conns = ld32(m, s->persist);
    if (s->tun_type != 0)
        out->tun_type = m[s->tun_type];
    if (s->tun_port != 0)
        out->tun_port = ntohs(ld16(m, s->tun_port));
    if (s->tun_flags != 0)
        out->tun_flags = ld16(m, s->tun_flags);
    out->present = s->present;
    for (int i = 0; i < 10; i++) {
        if (s->stat[i] == 0)
            continue;
        if (s->wide >> i & 1)
            memcpy(&v[i], m + s->stat[i], 8);
        else
            v[i] = ld32(m, s->stat[i]);
    }
    return 1;
}

/* pyipvs_decode_dest's walk over data[0..len), keeping every header it
 * visits in s and the payload offset of the last attribute of each type
 * (up to maxtype) in off[]. -1 if the walk stopped at a malformed header
 * (such a reply is not learnt) or went past CORE_SHAPE_HDRS headers. */
static int walk(struct core_dest_shape *s, const unsigned char *m, int from, int len,
                uint16_t *off, int maxtype)
{
    const unsigned char *p = m + from;
    const struct nlattr *a;

    while ((a = next_attr(&p, &len)) != NULL) {
        int type = a->nla_type & NLA_TYPE_MASK;
        uint16_t at = (uint16_t)((const unsigned char *)a - m);

        if (s->nhdr == CORE_SHAPE_HDRS)
            return -1;
        s->hdr[s->nhdr].off = at;
        memcpy(&s->hdr[s->nhdr].word, a, 4);
        s->nhdr++;
        if (type <= maxtype)
            off[type] = (uint16_t)(at + NLA_HDRLEN);
    }
    return len >= NLA_HDRLEN ? -1 : 0;
}

/* The payload length of the attribute whose payload is at off. */
static int len_at(const unsigned char *m, uint16_t off)
{
    return attr_len((const struct nlattr *)(m + off - NLA_HDRLEN));
}

/* Learns the shape of m, a reply pyipvs_decode_dest decoded into *ok; s
 * stays empty if m cannot be one (offsets past 64 KiB, too many headers). */
static void learn(struct core_dest_shape *s, const unsigned char *m, uint16_t svc_af,
                  const struct pyipvs_dest *ok)
{
    const struct nlmsghdr *nlh = (const struct nlmsghdr *)m;
    const int start = NLMSG_HDRLEN + GENL_HDRLEN;
    uint16_t top[UAPI_CMD_ATTR_MAX + 1] = {0}, d[UAPI_DEST_MAX + 1] = {0};
    uint16_t st[UAPI_STATS_MAX + 1] = {0}, nest;
    struct pyipvs_dest check;

    memset(s, 0, sizeof(*s));
    if (nlh->nlmsg_len > UINT16_MAX ||
        walk(s, m, start, (int)nlh->nlmsg_len - start, top, UAPI_CMD_ATTR_MAX) < 0 ||
        top[UAPI_CMD_ATTR_DEST] == 0 ||
        walk(s, m, top[UAPI_CMD_ATTR_DEST], len_at(m, top[UAPI_CMD_ATTR_DEST]), d,
             UAPI_DEST_MAX) < 0)
        goto none;
    /* The counters' nest that pyipvs_decode_dest reads. */
    nest = d[UAPI_DEST_STATS64] != 0 ? d[UAPI_DEST_STATS64] : d[UAPI_DEST_STATS];
    if (nest != 0 && walk(s, m, nest, len_at(m, nest), st, UAPI_STATS_MAX) < 0)
        goto none;
    for (int i = 0; i < 10; i++) {
        s->stat[i] = st[UAPI_STATS_CONNS + i];
        if (s->stat[i] != 0 && len_at(m, s->stat[i]) >= 8)
            s->wide |= (uint16_t)(1u << i);
    }
    s->addr = d[UAPI_DEST_ADDR];
    s->addr_len = (uint8_t)(len_at(m, s->addr) > 16 ? 16 : len_at(m, s->addr));
    s->af = d[UAPI_DEST_ADDR_FAMILY];
    s->port = d[UAPI_DEST_PORT];
    s->fwd = d[UAPI_DEST_FWD_METHOD];
    s->weight = d[UAPI_DEST_WEIGHT];
    s->u_thresh = d[UAPI_DEST_U_THRESH];
    s->l_thresh = d[UAPI_DEST_L_THRESH];
    s->active = d[UAPI_DEST_ACTIVE_CONNS];
    s->inact = d[UAPI_DEST_INACT_CONNS];
    s->persist = d[UAPI_DEST_PERSIST_CONNS];
    s->tun_type = d[UAPI_DEST_TUN_TYPE];
    s->tun_port = d[UAPI_DEST_TUN_PORT];
    s->tun_flags = d[UAPI_DEST_TUN_FLAGS];
    s->present = ok->present;
    s->cmd = m[NLMSG_HDRLEN];
    s->len = nlh->nlmsg_len;
    /* Kept only if it reproduces the decode it was learnt from. */
    if (by_shape(s, m, s->len, svc_af, &check) == 1 && memcmp(&check, ok, sizeof(check)) == 0)
        return;
none:
    memset(s, 0, sizeof(*s));
}

int core_decode_dest(struct core_dest_shape *s, const void *msg, size_t len, uint16_t svc_af,
                     struct pyipvs_dest *out)
{
    int rc;

    if (len >= NLMSG_HDRLEN + GENL_HDRLEN && by_shape(s, msg, len, svc_af, out))
        return 0;
    rc = pyipvs_decode_dest(msg, len, svc_af, out);
    if (rc == 0)
        learn(s, msg, svc_af, out);
    return rc;
}
