/*
 * parse.c - decoders: one IPVS reply message into the API's structs (C
 * layer, attribute parsing by libnl's nla_parse with policies).
 *
 * Tolerant of what older or newer kernels send: unknown attributes are
 * ignored, STATS64 is preferred but STATS (32-bit counters, kernels before
 * 4.1) is accepted, a destination without ADDR_FAMILY (before 3.18) takes the
 * service's family, absent tunnel attributes (before 5.2/5.3) read as 0. The
 * `present` bits say which optional attributes were there. Only a reply that
 * lacks what ipvsadm itself insists on is refused, with -EINVAL.
 */
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <netlink/attr.h>
#include <netlink/netlink.h>
#include <sys/socket.h>

#include "core.h"
#include "uapi_ip_vs.h"

/* libnl checks minimum (and maximum) payload sizes and, for NLA_STRING, the
 * terminating NUL, so the readers below never run past an attribute. */
static const struct nla_policy cmd_policy[UAPI_CMD_ATTR_MAX + 1] = {
    [UAPI_CMD_ATTR_SERVICE] = {.type = NLA_NESTED},
    [UAPI_CMD_ATTR_DEST] = {.type = NLA_NESTED},
    [UAPI_CMD_ATTR_DAEMON] = {.type = NLA_NESTED},
    [UAPI_CMD_ATTR_TIMEOUT_TCP] = {.type = NLA_U32},
    [UAPI_CMD_ATTR_TIMEOUT_TCP_FIN] = {.type = NLA_U32},
    [UAPI_CMD_ATTR_TIMEOUT_UDP] = {.type = NLA_U32},
};

static const struct nla_policy svc_policy[UAPI_SVC_MAX + 1] = {
    [UAPI_SVC_AF] = {.type = NLA_U16},
    [UAPI_SVC_PROTOCOL] = {.type = NLA_U16},
    [UAPI_SVC_ADDR] = {.type = NLA_UNSPEC, .minlen = 4, .maxlen = 16},
    [UAPI_SVC_PORT] = {.type = NLA_U16},
    [UAPI_SVC_FWMARK] = {.type = NLA_U32},
    [UAPI_SVC_SCHED_NAME] = {.type = NLA_STRING, .maxlen = PYIPVS_SCHEDNAME_LEN},
    [UAPI_SVC_FLAGS] = {.type = NLA_UNSPEC, .minlen = 8},
    [UAPI_SVC_TIMEOUT] = {.type = NLA_U32},
    [UAPI_SVC_NETMASK] = {.type = NLA_U32},
    [UAPI_SVC_STATS] = {.type = NLA_NESTED},
    [UAPI_SVC_PE_NAME] = {.type = NLA_STRING, .maxlen = PYIPVS_PENAME_LEN},
    [UAPI_SVC_STATS64] = {.type = NLA_NESTED},
};

static const struct nla_policy dest_policy[UAPI_DEST_MAX + 1] = {
    [UAPI_DEST_ADDR] = {.type = NLA_UNSPEC, .minlen = 4, .maxlen = 16},
    [UAPI_DEST_PORT] = {.type = NLA_U16},
    [UAPI_DEST_FWD_METHOD] = {.type = NLA_U32},
    [UAPI_DEST_WEIGHT] = {.type = NLA_U32},
    [UAPI_DEST_U_THRESH] = {.type = NLA_U32},
    [UAPI_DEST_L_THRESH] = {.type = NLA_U32},
    [UAPI_DEST_ACTIVE_CONNS] = {.type = NLA_U32},
    [UAPI_DEST_INACT_CONNS] = {.type = NLA_U32},
    [UAPI_DEST_PERSIST_CONNS] = {.type = NLA_U32},
    [UAPI_DEST_STATS] = {.type = NLA_NESTED},
    [UAPI_DEST_ADDR_FAMILY] = {.type = NLA_U16},
    [UAPI_DEST_STATS64] = {.type = NLA_NESTED},
    [UAPI_DEST_TUN_TYPE] = {.type = NLA_U8},
    [UAPI_DEST_TUN_PORT] = {.type = NLA_U16},
    [UAPI_DEST_TUN_FLAGS] = {.type = NLA_U16},
};

static const struct nla_policy daemon_policy[UAPI_DAEMON_MAX + 1] = {
    [UAPI_DAEMON_STATE] = {.type = NLA_U32},
    [UAPI_DAEMON_MCAST_IFN] = {.type = NLA_STRING, .maxlen = PYIPVS_IFNAME_LEN},
    [UAPI_DAEMON_SYNC_ID] = {.type = NLA_U32},
    [UAPI_DAEMON_SYNC_MAXLEN] = {.type = NLA_U16},
    [UAPI_DAEMON_MCAST_GROUP] = {.type = NLA_UNSPEC, .minlen = 4},
    [UAPI_DAEMON_MCAST_GROUP6] = {.type = NLA_UNSPEC, .minlen = 16},
    [UAPI_DAEMON_MCAST_PORT] = {.type = NLA_U16},
    [UAPI_DAEMON_MCAST_TTL] = {.type = NLA_U8},
};

static const struct nla_policy info_policy[UAPI_INFO_MAX + 1] = {
    [UAPI_INFO_VERSION] = {.type = NLA_U32},
    [UAPI_INFO_CONN_TAB_SIZE] = {.type = NLA_U32},
};

/* Counters are u64 in STATS64 and mostly u32 in STATS; reading each by its
 * own length handles both (and PAD, type 11, is simply not looked at). */
static const struct nla_policy stats_policy[UAPI_STATS_MAX + 1] = {
    [UAPI_STATS_CONNS] = {.type = NLA_UNSPEC, .minlen = 4},
    [UAPI_STATS_INPKTS] = {.type = NLA_UNSPEC, .minlen = 4},
    [UAPI_STATS_OUTPKTS] = {.type = NLA_UNSPEC, .minlen = 4},
    [UAPI_STATS_INBYTES] = {.type = NLA_UNSPEC, .minlen = 4},
    [UAPI_STATS_OUTBYTES] = {.type = NLA_UNSPEC, .minlen = 4},
    [UAPI_STATS_CPS] = {.type = NLA_UNSPEC, .minlen = 4},
    [UAPI_STATS_INPPS] = {.type = NLA_UNSPEC, .minlen = 4},
    [UAPI_STATS_OUTPPS] = {.type = NLA_UNSPEC, .minlen = 4},
    [UAPI_STATS_INBPS] = {.type = NLA_UNSPEC, .minlen = 4},
    [UAPI_STATS_OUTBPS] = {.type = NLA_UNSPEC, .minlen = 4},
};

static uint8_t get_u8(const struct nlattr *a)
{
    return *(const uint8_t *)nla_data(a);
}

static uint16_t get_u16(const struct nlattr *a)
{
    uint16_t v;
    memcpy(&v, nla_data(a), sizeof(v));
    return v;
}

static uint32_t get_u32(const struct nlattr *a)
{
    uint32_t v;
    memcpy(&v, nla_data(a), sizeof(v));
    return v;
}

static uint64_t get_counter(const struct nlattr *a)
{
    if (a == NULL)
        return 0;
    if (nla_len(a) >= 8) {
        uint64_t v;
        memcpy(&v, nla_data(a), sizeof(v));
        return v;
    }
    return get_u32(a);
}

/* Copies an attribute already checked for its NUL by the policy. */
static void get_str(char *dst, size_t cap, const struct nlattr *a)
{
    size_t n = strnlen(nla_data(a), (size_t)nla_len(a));

    if (n >= cap)
        n = cap - 1;
    memcpy(dst, nla_data(a), n);
    dst[n] = '\0';
}

/* Copies an address; IPv6 needs all 16 bytes, IPv4 the first 4. */
static int get_addr(uint8_t dst[16], const struct nlattr *a, uint16_t af)
{
    size_t need = af == AF_INET6 ? 16 : 4;
    size_t n = (size_t)nla_len(a);

    if (n < need)
        return -EINVAL;
    memset(dst, 0, 16);
    memcpy(dst, nla_data(a), n > 16 ? 16 : n);
    return 0;
}

static int parse_stats(struct pyipvs_stats *out, struct nlattr *nest)
{
    struct nlattr *tb[UAPI_STATS_MAX + 1];

    if (nla_parse_nested(tb, UAPI_STATS_MAX, nest, stats_policy) < 0)
        return -EINVAL;
    out->conns = get_counter(tb[UAPI_STATS_CONNS]);
    out->inpkts = get_counter(tb[UAPI_STATS_INPKTS]);
    out->outpkts = get_counter(tb[UAPI_STATS_OUTPKTS]);
    out->inbytes = get_counter(tb[UAPI_STATS_INBYTES]);
    out->outbytes = get_counter(tb[UAPI_STATS_OUTBYTES]);
    out->cps = get_counter(tb[UAPI_STATS_CPS]);
    out->inpps = get_counter(tb[UAPI_STATS_INPPS]);
    out->outpps = get_counter(tb[UAPI_STATS_OUTPPS]);
    out->inbps = get_counter(tb[UAPI_STATS_INBPS]);
    out->outbps = get_counter(tb[UAPI_STATS_OUTBPS]);
    return 0;
}

/* Prefers the 64-bit nest; sets the matching present bit. */
static int pick_stats(struct pyipvs_stats *out, uint32_t *present, struct nlattr *s64,
                      struct nlattr *s32)
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
static int parse_msg(struct nlattr **tb, int maxtype, const struct nla_policy *policy,
                     const void *msg, size_t len, int cmd)
{
    const struct nlmsghdr *nlh = msg;
    const struct genlmsghdr *g;
    unsigned char *attrs;

    if (len < NLMSG_HDRLEN + GENL_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN ||
        nlh->nlmsg_len > len)
        return -EINVAL;
    g = (const struct genlmsghdr *)((const unsigned char *)msg + NLMSG_HDRLEN);
    if (g->cmd != cmd)
        return -EINVAL;
    /* nla_parse wants a mutable pointer but only reads. */
    attrs = (unsigned char *)(uintptr_t)msg + NLMSG_HDRLEN + GENL_HDRLEN;
    if (nla_parse(tb, maxtype, (struct nlattr *)attrs,
                  (int)(nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN), policy) < 0)
        return -EINVAL;
    return 0;
}

static int parse_top(struct nlattr **tb, const void *msg, size_t len, int cmd)
{
    return parse_msg(tb, UAPI_CMD_ATTR_MAX, cmd_policy, msg, len, cmd);
}

int pyipvs_decode_service(const void *msg, size_t len, struct pyipvs_service *out)
{
    struct nlattr *top[UAPI_CMD_ATTR_MAX + 1];
    struct nlattr *tb[UAPI_SVC_MAX + 1];
    uint32_t flags[2];
    int rc;

    memset(out, 0, sizeof(*out));
    rc = parse_top(top, msg, len, PYIPVS_CMD_NEW_SERVICE);
    if (rc < 0)
        return rc;
    if (top[UAPI_CMD_ATTR_SERVICE] == NULL ||
        nla_parse_nested(tb, UAPI_SVC_MAX, top[UAPI_CMD_ATTR_SERVICE], svc_policy) < 0)
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
    memcpy(flags, nla_data(tb[UAPI_SVC_FLAGS]), sizeof(flags));
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

int pyipvs_decode_dest(const void *msg, size_t len, uint16_t svc_af, struct pyipvs_dest *out)
{
    struct nlattr *top[UAPI_CMD_ATTR_MAX + 1];
    struct nlattr *tb[UAPI_DEST_MAX + 1];
    static const int required[] = {
        UAPI_DEST_ADDR,     UAPI_DEST_PORT,         UAPI_DEST_FWD_METHOD,
        UAPI_DEST_WEIGHT,   UAPI_DEST_U_THRESH,     UAPI_DEST_L_THRESH,
        UAPI_DEST_ACTIVE_CONNS, UAPI_DEST_INACT_CONNS, UAPI_DEST_PERSIST_CONNS,
    };
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = parse_top(top, msg, len, PYIPVS_CMD_NEW_DEST);
    if (rc < 0)
        return rc;
    if (top[UAPI_CMD_ATTR_DEST] == NULL ||
        nla_parse_nested(tb, UAPI_DEST_MAX, top[UAPI_CMD_ATTR_DEST], dest_policy) < 0)
        return -EINVAL;
    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (tb[required[i]] == NULL)
            return -EINVAL;
    out->af = svc_af;
    if (tb[UAPI_DEST_ADDR_FAMILY] != NULL) {
        out->present |= PYIPVS_HAS_ADDR_FAMILY;
        if (get_u16(tb[UAPI_DEST_ADDR_FAMILY]) != 0)
            out->af = get_u16(tb[UAPI_DEST_ADDR_FAMILY]);
    }
    if (get_addr(out->addr, tb[UAPI_DEST_ADDR], out->af) < 0)
        return -EINVAL;
    out->port = ntohs(get_u16(tb[UAPI_DEST_PORT]));
    out->fwd_method = get_u32(tb[UAPI_DEST_FWD_METHOD]);
    out->weight = (int32_t)get_u32(tb[UAPI_DEST_WEIGHT]);
    out->u_threshold = get_u32(tb[UAPI_DEST_U_THRESH]);
    out->l_threshold = get_u32(tb[UAPI_DEST_L_THRESH]);
    out->active_conns = get_u32(tb[UAPI_DEST_ACTIVE_CONNS]);
    out->inact_conns = get_u32(tb[UAPI_DEST_INACT_CONNS]);
    out->persist_conns = get_u32(tb[UAPI_DEST_PERSIST_CONNS]);
    if (tb[UAPI_DEST_TUN_TYPE] != NULL) {
        out->tun_type = get_u8(tb[UAPI_DEST_TUN_TYPE]);
        out->present |= PYIPVS_HAS_TUN_TYPE;
    }
    if (tb[UAPI_DEST_TUN_PORT] != NULL) {
        out->tun_port = ntohs(get_u16(tb[UAPI_DEST_TUN_PORT]));
        out->present |= PYIPVS_HAS_TUN_PORT;
    }
    if (tb[UAPI_DEST_TUN_FLAGS] != NULL) {
        out->tun_flags = get_u16(tb[UAPI_DEST_TUN_FLAGS]);
        out->present |= PYIPVS_HAS_TUN_FLAGS;
    }
    return pick_stats(&out->stats, &out->present, tb[UAPI_DEST_STATS64], tb[UAPI_DEST_STATS]);
}

int pyipvs_decode_daemon(const void *msg, size_t len, struct pyipvs_daemon *out)
{
    struct nlattr *top[UAPI_CMD_ATTR_MAX + 1];
    struct nlattr *tb[UAPI_DAEMON_MAX + 1];
    int rc;

    memset(out, 0, sizeof(*out));
    rc = parse_top(top, msg, len, PYIPVS_CMD_NEW_DAEMON);
    if (rc < 0)
        return rc;
    if (top[UAPI_CMD_ATTR_DAEMON] == NULL ||
        nla_parse_nested(tb, UAPI_DAEMON_MAX, top[UAPI_CMD_ATTR_DAEMON], daemon_policy) < 0)
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
        memcpy(out->mcast_group, nla_data(tb[UAPI_DAEMON_MCAST_GROUP6]), 16);
        out->present |= PYIPVS_HAS_MCAST_GROUP;
    } else if (tb[UAPI_DAEMON_MCAST_GROUP] != NULL) {
        out->mcast_af = AF_INET;
        memcpy(out->mcast_group, nla_data(tb[UAPI_DAEMON_MCAST_GROUP]), 4);
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
    struct nlattr *tb[UAPI_INFO_MAX + 1];

    memset(out, 0, sizeof(*out));
    /* The info attributes sit at the top level but are numbered apart from
     * the command attributes, so they get their own policy. */
    if (parse_msg(tb, UAPI_INFO_MAX, info_policy, msg, len, UAPI_CMD_SET_INFO) < 0)
        return -EINVAL;
    if (tb[UAPI_INFO_VERSION] == NULL || tb[UAPI_INFO_CONN_TAB_SIZE] == NULL)
        return -EINVAL;
    out->version = get_u32(tb[UAPI_INFO_VERSION]);
    out->conn_tab_size = get_u32(tb[UAPI_INFO_CONN_TAB_SIZE]);
    return 0;
}

int pyipvs_decode_timeouts(const void *msg, size_t len, struct pyipvs_timeouts *out)
{
    struct nlattr *top[UAPI_CMD_ATTR_MAX + 1];
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
