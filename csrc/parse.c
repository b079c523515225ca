/*
 * parse.c - decoders: one IPVS reply message into the API's structs (C
 * layer, attribute parsing against small per-nest rule tables).
 *
 * Tolerant of what older or newer kernels send: unknown attributes are
 * ignored, STATS64 is preferred but STATS (32-bit counters, kernels before
 * 4.1) is accepted, a destination without ADDR_FAMILY (before 3.18) takes the
 * service's family, absent tunnel attributes (before 5.2/5.3) read as 0. The
 * `present` bits say which optional attributes were there. Only a reply that
 * lacks what ipvsadm itself insists on is refused, with -EINVAL.
 *
 * The attribute walk is our own, not libnl's nla_parse: a full-table read
 * decodes one message per real server, and libnl's parse (a call per
 * attribute for its type, its validation, its length and its data) cost
 * about 0.6 us per server natively and 20-27 us under the emulated VM's
 * TCG, a quarter of the whole read there (benchmarks/RESULTS.md, session 6;
 * benchmarks/core_micro.c measures the native cost).
 * The rules are libnl's policy semantics, kept exactly: an attribute whose
 * type is beyond the table is skipped, a known one shorter than its minimum
 * or longer than its maximum fails the decode, a string must end in NUL, a
 * repeated attribute overrides the earlier one, and the walk stops quietly
 * at a malformed header or trailing bytes.
 */
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "attr.h"
#include "core.h"
#include "uapi_ip_vs.h"

/* One attribute type's shape: payload length bounds (max 0: unbounded) and
 * whether it is a NUL-terminated string. Types not listed accept anything. */
struct attr_rule {
    uint16_t min, max;
    uint8_t str;
};

#define R_U8 {1, 0, 0}
#define R_U16 {2, 0, 0}
#define R_U32 {4, 0, 0}
#define R_NEST {0, 0, 0}
#define R_STR(cap) {1, (cap), 1}

static const struct attr_rule cmd_rules[UAPI_CMD_ATTR_MAX + 1] = {
    [UAPI_CMD_ATTR_SERVICE] = R_NEST,
    [UAPI_CMD_ATTR_DEST] = R_NEST,
    [UAPI_CMD_ATTR_DAEMON] = R_NEST,
    [UAPI_CMD_ATTR_TIMEOUT_TCP] = R_U32,
    [UAPI_CMD_ATTR_TIMEOUT_TCP_FIN] = R_U32,
    [UAPI_CMD_ATTR_TIMEOUT_UDP] = R_U32,
};

static const struct attr_rule svc_rules[UAPI_SVC_MAX + 1] = {
    [UAPI_SVC_AF] = R_U16,
    [UAPI_SVC_PROTOCOL] = R_U16,
    [UAPI_SVC_ADDR] = {4, 16, 0},
    [UAPI_SVC_PORT] = R_U16,
    [UAPI_SVC_FWMARK] = R_U32,
    [UAPI_SVC_SCHED_NAME] = R_STR(PYIPVS_SCHEDNAME_LEN),
    [UAPI_SVC_FLAGS] = {8, 0, 0},
    [UAPI_SVC_TIMEOUT] = R_U32,
    [UAPI_SVC_NETMASK] = R_U32,
    [UAPI_SVC_STATS] = R_NEST,
    [UAPI_SVC_PE_NAME] = R_STR(PYIPVS_PENAME_LEN),
    [UAPI_SVC_STATS64] = R_NEST,
};

static const struct attr_rule dest_rules[UAPI_DEST_MAX + 1] = {
    [UAPI_DEST_ADDR] = {4, 16, 0},
    [UAPI_DEST_PORT] = R_U16,
    [UAPI_DEST_FWD_METHOD] = R_U32,
    [UAPI_DEST_WEIGHT] = R_U32,
    [UAPI_DEST_U_THRESH] = R_U32,
    [UAPI_DEST_L_THRESH] = R_U32,
    [UAPI_DEST_ACTIVE_CONNS] = R_U32,
    [UAPI_DEST_INACT_CONNS] = R_U32,
    [UAPI_DEST_PERSIST_CONNS] = R_U32,
    [UAPI_DEST_STATS] = R_NEST,
    [UAPI_DEST_ADDR_FAMILY] = R_U16,
    [UAPI_DEST_STATS64] = R_NEST,
    [UAPI_DEST_TUN_TYPE] = R_U8,
    [UAPI_DEST_TUN_PORT] = R_U16,
    [UAPI_DEST_TUN_FLAGS] = R_U16,
};

static const struct attr_rule daemon_rules[UAPI_DAEMON_MAX + 1] = {
    [UAPI_DAEMON_STATE] = R_U32,
    [UAPI_DAEMON_MCAST_IFN] = R_STR(PYIPVS_IFNAME_LEN),
    [UAPI_DAEMON_SYNC_ID] = R_U32,
    [UAPI_DAEMON_SYNC_MAXLEN] = R_U16,
    [UAPI_DAEMON_MCAST_GROUP] = {4, 0, 0},
    [UAPI_DAEMON_MCAST_GROUP6] = {16, 0, 0},
    [UAPI_DAEMON_MCAST_PORT] = R_U16,
    [UAPI_DAEMON_MCAST_TTL] = R_U8,
};

static const struct attr_rule info_rules[UAPI_INFO_MAX + 1] = {
    [UAPI_INFO_VERSION] = R_U32,
    [UAPI_INFO_CONN_TAB_SIZE] = R_U32,
};

/* Counters (parse_stats) are u64 in STATS64 and mostly u32 in STATS; each
 * is read by its own length, at least 4 bytes, which handles both (and PAD,
 * type 11, is not looked at). */

/* Whether an attribute of a known type keeps its rule. */
static int keeps(const struct nlattr *a, const struct attr_rule *r)
{
    int n = a->nla_len - NLA_HDRLEN;

    return n >= r->min && (!r->max || n <= r->max) &&
           (!r->str || ((const unsigned char *)a)[a->nla_len - 1] == '\0');
}

/* Indexes the attributes in data[0..len) by type into tb[0..maxtype]
 * (NULL where absent); -EINVAL when a known one breaks its rule. */
static int index_attrs(const struct nlattr **tb, int maxtype, const void *data, int len,
                       const struct attr_rule *rules)
{
    const unsigned char *p = data;
    const struct nlattr *a;

    memset(tb, 0, sizeof(*tb) * (size_t)(maxtype + 1));
    while ((a = next_attr(&p, &len)) != NULL) {
        int type = a->nla_type & NLA_TYPE_MASK;

        if (type <= maxtype) {
            if (!keeps(a, &rules[type]))
                return -EINVAL;
            tb[type] = a;
        }
    }
    return 0;
}

static int index_nested(const struct nlattr **tb, int maxtype, const struct nlattr *nest,
                        const struct attr_rule *rules)
{
    return index_attrs(tb, maxtype, attr_data(nest), attr_len(nest), rules);
}

static uint8_t get_u8(const struct nlattr *a)
{
    return *(const uint8_t *)attr_data(a);
}

static uint16_t get_u16(const struct nlattr *a)
{
    uint16_t v;
    memcpy(&v, attr_data(a), sizeof(v));
    return v;
}

static uint32_t get_u32(const struct nlattr *a)
{
    uint32_t v;
    memcpy(&v, attr_data(a), sizeof(v));
    return v;
}

/* Copies an attribute already checked for its NUL by its rule. */
static void get_str(char *dst, size_t cap, const struct nlattr *a)
{
    size_t n = strnlen(attr_data(a), (size_t)attr_len(a));

    if (n >= cap)
        n = cap - 1;
    memcpy(dst, attr_data(a), n);
    dst[n] = '\0';
}

/* Copies an address; IPv6 needs all 16 bytes, IPv4 the first 4. */
static int get_addr(uint8_t dst[16], const struct nlattr *a, uint16_t af)
{
    size_t need = af == AF_INET6 ? 16 : 4;
    size_t n = (size_t)attr_len(a);

    if (n < need)
        return -EINVAL;
    memset(dst, 0, 16);
    memcpy(dst, attr_data(a), n > 16 ? 16 : n);
    return 0;
}

/* One pass straight into the counters (a table read parses one nest per
 * service and per server), by index_attrs's rules: a counter shorter than 4
 * bytes fails, others are skipped, the walk stops at a malformed header. The
 * counters are attribute types 1-10, in struct pyipvs_stats order. */
static int parse_stats(struct pyipvs_stats *out, const struct nlattr *nest)
{
    uint64_t *v = &out->conns;
    const unsigned char *p = attr_data(nest);
    const struct nlattr *a;
    int len = attr_len(nest);

    _Static_assert(sizeof(struct pyipvs_stats) == 10 * sizeof(uint64_t) &&
                       UAPI_STATS_OUTBPS - UAPI_STATS_CONNS == 9,
                   "counters in attribute order");
    while ((a = next_attr(&p, &len)) != NULL) {
        int type = a->nla_type & NLA_TYPE_MASK, n = attr_len(a);

        if (type < UAPI_STATS_CONNS || type > UAPI_STATS_OUTBPS)
            continue;
        if (n < 4)
            return -EINVAL;
        if (n >= 8) {
            memcpy(&v[type - UAPI_STATS_CONNS], attr_data(a), 8);
        } else {
            uint32_t u;
            memcpy(&u, attr_data(a), 4);
            v[type - UAPI_STATS_CONNS] = u;
        }
    }
    return 0;
}

/* Prefers the 64-bit nest; sets the matching present bit. */
static int pick_stats(struct pyipvs_stats *out, uint32_t *present, const struct nlattr *s64,
                      const struct nlattr *s32)
{
    memset(out, 0, sizeof(*out));
    if (s64 != NULL) {
        *present |= PYIPVS_HAS_STATS64;
        return parse_stats(out, s64);
    }
    if (s32 != NULL) {
        *present |= PYIPVS_HAS_STATS;
        return parse_stats(out, s32);
    }
    return 0;
}

/* Checks the netlink and genetlink headers (and the reply's command) and
 * indexes the top-level attributes. */
static int parse_msg(const struct nlattr **tb, int maxtype, const struct attr_rule *rules,
                     const void *msg, size_t len, int cmd)
{
    const struct nlmsghdr *nlh = msg;
    const struct genlmsghdr *g;

    if (len < NLMSG_HDRLEN + GENL_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN ||
        nlh->nlmsg_len > len)
        return -EINVAL;
    g = (const struct genlmsghdr *)((const unsigned char *)msg + NLMSG_HDRLEN);
    if (g->cmd != cmd)
        return -EINVAL;
    if (index_attrs(tb, maxtype, (const unsigned char *)msg + NLMSG_HDRLEN + GENL_HDRLEN,
                    (int)(nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN), rules) < 0)
        return -EINVAL;
    return 0;
}

static int parse_top(const struct nlattr **tb, const void *msg, size_t len, int cmd)
{
    return parse_msg(tb, UAPI_CMD_ATTR_MAX, cmd_rules, msg, len, cmd);
}

int pyipvs_decode_service(const void *msg, size_t len, struct pyipvs_service *out)
{
    const struct nlattr *top[UAPI_CMD_ATTR_MAX + 1];
    const struct nlattr *tb[UAPI_SVC_MAX + 1];
    uint32_t flags[2];
    int rc;

    memset(out, 0, sizeof(*out));
    rc = parse_top(top, msg, len, PYIPVS_CMD_NEW_SERVICE);
    if (rc < 0)
        return rc;
    if (top[UAPI_CMD_ATTR_SERVICE] == NULL ||
        index_nested(tb, UAPI_SVC_MAX, top[UAPI_CMD_ATTR_SERVICE], svc_rules) < 0)
        return -EINVAL;
    if (tb[UAPI_SVC_AF] == NULL || tb[UAPI_SVC_SCHED_NAME] == NULL ||
        tb[UAPI_SVC_FLAGS] == NULL || tb[UAPI_SVC_TIMEOUT] == NULL ||
        tb[UAPI_SVC_NETMASK] == NULL)
        return -EINVAL;
    out->af = get_u16(tb[UAPI_SVC_AF]);
    if (tb[UAPI_SVC_FWMARK] != NULL && get_u32(tb[UAPI_SVC_FWMARK]) != 0) {
        out->fwmark = get_u32(tb[UAPI_SVC_FWMARK]);
    } else {
        if (tb[UAPI_SVC_PROTOCOL] == NULL || tb[UAPI_SVC_ADDR] == NULL ||
            tb[UAPI_SVC_PORT] == NULL)
            return -EINVAL;
        out->protocol = get_u16(tb[UAPI_SVC_PROTOCOL]);
        if (get_addr(out->addr, tb[UAPI_SVC_ADDR], out->af) < 0)
            return -EINVAL;
        out->port = ntohs(get_u16(tb[UAPI_SVC_PORT]));
    }
    get_str(out->sched_name, sizeof(out->sched_name), tb[UAPI_SVC_SCHED_NAME]);
    if (tb[UAPI_SVC_PE_NAME] != NULL) {
        get_str(out->pe_name, sizeof(out->pe_name), tb[UAPI_SVC_PE_NAME]);
        out->present |= PYIPVS_HAS_PE_NAME;
    }
    memcpy(flags, attr_data(tb[UAPI_SVC_FLAGS]), sizeof(flags));
    /* As ipvsadm reads them: the bits the mask covers (the kernel sends ~0),
     * HASHED included. */
    out->flags = flags[0] & flags[1];
    out->flags_mask = flags[1];
    out->timeout = get_u32(tb[UAPI_SVC_TIMEOUT]);
    out->netmask = get_u32(tb[UAPI_SVC_NETMASK]);
    if (out->af != AF_INET6)
        out->netmask = ntohl(out->netmask);
    return pick_stats(&out->stats, &out->present, tb[UAPI_SVC_STATS64], tb[UAPI_SVC_STATS]);
}

/* The server nest in one pass, straight into out (a table read decodes one
 * per real server): index_attrs's rules with dest_rules, a repeated
 * attribute overriding the earlier one. *seen gets bit t for each type t
 * present; the address and the counters' nests, which need the rest first,
 * are left in ptr[]. */
static int walk_dest(struct pyipvs_dest *out, const struct nlattr *nest, uint32_t *seen,
                     const struct nlattr *ptr[UAPI_DEST_MAX + 1])
{
    const unsigned char *p = attr_data(nest);
    const struct nlattr *a;
    int len = attr_len(nest);

    while ((a = next_attr(&p, &len)) != NULL) {
        int type = a->nla_type & NLA_TYPE_MASK;

        if (type > UAPI_DEST_MAX)
            continue;
        if (!keeps(a, &dest_rules[type]))
            return -EINVAL;
        *seen |= 1u << type;
        switch (type) {
        case UAPI_DEST_PORT: out->port = ntohs(get_u16(a)); break;
        case UAPI_DEST_FWD_METHOD: out->fwd_method = get_u32(a); break;
        case UAPI_DEST_WEIGHT: out->weight = (int32_t)get_u32(a); break;
        case UAPI_DEST_U_THRESH: out->u_threshold = get_u32(a); break;
        case UAPI_DEST_L_THRESH: out->l_threshold = get_u32(a); break;
        case UAPI_DEST_ACTIVE_CONNS: out->active_conns = get_u32(a); break;
        case UAPI_DEST_INACT_CONNS: out->inact_conns = get_u32(a); break;
        case UAPI_DEST_PERSIST_CONNS: out->persist_conns = get_u32(a); break;
        case UAPI_DEST_TUN_TYPE: out->tun_type = get_u8(a); break;
        case UAPI_DEST_TUN_PORT: out->tun_port = ntohs(get_u16(a)); break;
        case UAPI_DEST_TUN_FLAGS: out->tun_flags = get_u16(a); break;
        default: ptr[type] = a; break; /* ADDR, ADDR_FAMILY, the nests */
        }
    }
    return 0;
}

int pyipvs_decode_dest(const void *msg, size_t len, uint16_t svc_af, struct pyipvs_dest *out)
{
    const struct nlattr *top[UAPI_CMD_ATTR_MAX + 1];
    const struct nlattr *ptr[UAPI_DEST_MAX + 1];
    /* What ipvsadm itself insists on. */
    const uint32_t required =
        1u << UAPI_DEST_ADDR | 1u << UAPI_DEST_PORT | 1u << UAPI_DEST_FWD_METHOD |
        1u << UAPI_DEST_WEIGHT | 1u << UAPI_DEST_U_THRESH | 1u << UAPI_DEST_L_THRESH |
        1u << UAPI_DEST_ACTIVE_CONNS | 1u << UAPI_DEST_INACT_CONNS |
        1u << UAPI_DEST_PERSIST_CONNS;
    uint32_t seen = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = parse_top(top, msg, len, PYIPVS_CMD_NEW_DEST);
    if (rc < 0)
        return rc;
    if (top[UAPI_CMD_ATTR_DEST] == NULL ||
        walk_dest(out, top[UAPI_CMD_ATTR_DEST], &seen, ptr) < 0 ||
        (seen & required) != required)
        return -EINVAL;
    out->af = svc_af;
    if (seen & 1u << UAPI_DEST_ADDR_FAMILY) {
        out->present |= PYIPVS_HAS_ADDR_FAMILY;
        if (get_u16(ptr[UAPI_DEST_ADDR_FAMILY]) != 0)
            out->af = get_u16(ptr[UAPI_DEST_ADDR_FAMILY]);
    }
    if (get_addr(out->addr, ptr[UAPI_DEST_ADDR], out->af) < 0)
        return -EINVAL;
    if (seen & 1u << UAPI_DEST_TUN_TYPE)
        out->present |= PYIPVS_HAS_TUN_TYPE;
    if (seen & 1u << UAPI_DEST_TUN_PORT)
        out->present |= PYIPVS_HAS_TUN_PORT;
    if (seen & 1u << UAPI_DEST_TUN_FLAGS)
        out->present |= PYIPVS_HAS_TUN_FLAGS;
    return pick_stats(&out->stats, &out->present,
                      seen & 1u << UAPI_DEST_STATS64 ? ptr[UAPI_DEST_STATS64] : NULL,
                      seen & 1u << UAPI_DEST_STATS ? ptr[UAPI_DEST_STATS] : NULL);
}

int pyipvs_decode_daemon(const void *msg, size_t len, struct pyipvs_daemon *out)
{
    const struct nlattr *top[UAPI_CMD_ATTR_MAX + 1];
    const struct nlattr *tb[UAPI_DAEMON_MAX + 1];
    int rc;

    memset(out, 0, sizeof(*out));
    rc = parse_top(top, msg, len, PYIPVS_CMD_NEW_DAEMON);
    if (rc < 0)
        return rc;
    if (top[UAPI_CMD_ATTR_DAEMON] == NULL ||
        index_nested(tb, UAPI_DAEMON_MAX, top[UAPI_CMD_ATTR_DAEMON], daemon_rules) < 0)
        return -EINVAL;
    if (tb[UAPI_DAEMON_STATE] == NULL || tb[UAPI_DAEMON_MCAST_IFN] == NULL ||
        tb[UAPI_DAEMON_SYNC_ID] == NULL)
        return -EINVAL;
    out->state = get_u32(tb[UAPI_DAEMON_STATE]);
    get_str(out->mcast_ifn, sizeof(out->mcast_ifn), tb[UAPI_DAEMON_MCAST_IFN]);
    out->syncid = get_u32(tb[UAPI_DAEMON_SYNC_ID]);
    if (tb[UAPI_DAEMON_SYNC_MAXLEN] != NULL) {
        out->sync_maxlen = get_u16(tb[UAPI_DAEMON_SYNC_MAXLEN]);
        out->present |= PYIPVS_HAS_SYNC_MAXLEN;
    }
    if (tb[UAPI_DAEMON_MCAST_GROUP6] != NULL) {
        out->mcast_af = AF_INET6;
        memcpy(out->mcast_group, attr_data(tb[UAPI_DAEMON_MCAST_GROUP6]), 16);
        out->present |= PYIPVS_HAS_MCAST_GROUP;
    } else if (tb[UAPI_DAEMON_MCAST_GROUP] != NULL) {
        out->mcast_af = AF_INET;
        memcpy(out->mcast_group, attr_data(tb[UAPI_DAEMON_MCAST_GROUP]), 4);
        out->present |= PYIPVS_HAS_MCAST_GROUP;
    }
    if (tb[UAPI_DAEMON_MCAST_PORT] != NULL) {
        out->mcast_port = get_u16(tb[UAPI_DAEMON_MCAST_PORT]);
        out->present |= PYIPVS_HAS_MCAST_PORT;
    }
    if (tb[UAPI_DAEMON_MCAST_TTL] != NULL) {
        out->mcast_ttl = get_u8(tb[UAPI_DAEMON_MCAST_TTL]);
        out->present |= PYIPVS_HAS_MCAST_TTL;
    }
    return 0;
}

int pyipvs_decode_info(const void *msg, size_t len, struct pyipvs_info *out)
{
    const struct nlattr *tb[UAPI_INFO_MAX + 1];

    memset(out, 0, sizeof(*out));
    /* The info attributes sit at the top level but are numbered apart from
     * the command attributes, so they get their own rules. */
    if (parse_msg(tb, UAPI_INFO_MAX, info_rules, msg, len, UAPI_CMD_SET_INFO) < 0)
        return -EINVAL;
    if (tb[UAPI_INFO_VERSION] == NULL || tb[UAPI_INFO_CONN_TAB_SIZE] == NULL)
        return -EINVAL;
    out->version = get_u32(tb[UAPI_INFO_VERSION]);
    out->conn_tab_size = get_u32(tb[UAPI_INFO_CONN_TAB_SIZE]);
    return 0;
}

int pyipvs_decode_timeouts(const void *msg, size_t len, struct pyipvs_timeouts *out)
{
    const struct nlattr *top[UAPI_CMD_ATTR_MAX + 1];
    int rc;

    memset(out, 0, sizeof(*out));
    rc = parse_top(top, msg, len, PYIPVS_CMD_SET_CONFIG);
    if (rc < 0)
        return rc;
    /* Each is present only if its protocol is compiled into the kernel. */
    if (top[UAPI_CMD_ATTR_TIMEOUT_TCP] != NULL)
        out->tcp = get_u32(top[UAPI_CMD_ATTR_TIMEOUT_TCP]);
    if (top[UAPI_CMD_ATTR_TIMEOUT_TCP_FIN] != NULL)
        out->tcp_fin = get_u32(top[UAPI_CMD_ATTR_TIMEOUT_TCP_FIN]);
    if (top[UAPI_CMD_ATTR_TIMEOUT_UDP] != NULL)
        out->udp = get_u32(top[UAPI_CMD_ATTR_TIMEOUT_UDP]);
    return 0;
}
