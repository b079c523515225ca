/*
 * request.c - encoders: one complete IPVS request message into a caller's
 * buffer, nothing sent (C layer).
 *
 * Kept apart from sending so a batch engine can pack thousands of messages
 * into one buffer. Attribute order and content follow what ipvsadm 1.31 puts
 * on the wire, so a kernel sees exactly the requests it sees from ipvsadm:
 * the service nest always carries SCHED_NAME (even "" for deletes) and
 * FLAGS/TIMEOUT/NETMASK, the destination nest always all ten attributes.
 */
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "core.h"
#include "uapi_ip_vs.h"

/* The writer's two hot helpers are forced inline: every attribute of every
 * batched message goes through them, and inlined, the constant sizes turn
 * their memcpy/memset calls into moves (220 -> 158 ns per server message). */
#define HOT static inline __attribute__((always_inline))

/* A bounded writer: the first overflow sticks, so callers check once. */
struct writer {
    unsigned char *buf;
    size_t size;
    size_t len;
    int err;
};

HOT void *reserve(struct writer *w, size_t n)
{
    void *p;

    if (w->err || n > w->size - w->len) {
        w->err = -EMSGSIZE;
        return NULL;
    }
    p = w->buf + w->len;
    w->len += n;
    return p;
}

HOT void put(struct writer *w, uint16_t type, const void *data, size_t n)
{
    size_t total = NLA_ALIGN(NLA_HDRLEN + n);
    unsigned char *p = reserve(w, total);
    struct nlattr nla;

    if (p == NULL)
        return;
    nla.nla_len = (uint16_t)(NLA_HDRLEN + n);
    nla.nla_type = type;
    memcpy(p, &nla, sizeof(nla));
    memcpy(p + NLA_HDRLEN, data, n);
    memset(p + NLA_HDRLEN + n, 0, total - NLA_HDRLEN - n);
}

static void put_u8(struct writer *w, uint16_t type, uint8_t v)
{
    put(w, type, &v, sizeof(v));
}

static void put_u16(struct writer *w, uint16_t type, uint16_t v)
{
    put(w, type, &v, sizeof(v));
}

static void put_u32(struct writer *w, uint16_t type, uint32_t v)
{
    put(w, type, &v, sizeof(v));
}

/* Strings go out with their NUL; `cap` is the C buffer's size, so a string
 * that fills it without a terminator is refused rather than read past. */
static void put_str(struct writer *w, uint16_t type, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);

    if (n == cap) {
        if (!w->err)
            w->err = -EINVAL;
        return;
    }
    put(w, type, s, n + 1);
}

static size_t nest_start(struct writer *w, uint16_t type)
{
    size_t at = w->len;

    /* libnl (and so ipvsadm) marks nests with NLA_F_NESTED. */
    if (reserve(w, NLA_HDRLEN) != NULL) {
        struct nlattr nla = {.nla_len = 0, .nla_type = type | NLA_F_NESTED};
        memcpy(w->buf + at, &nla, sizeof(nla));
    }
    return at;
}

static void nest_end(struct writer *w, size_t at)
{
    uint16_t n;

    if (w->err)
        return;
    if (w->len - at > 0xffff) {
        w->err = -EMSGSIZE;
        return;
    }
    n = (uint16_t)(w->len - at);
    memcpy(w->buf + at, &n, sizeof(n));
}

static void begin(struct writer *w, void *buf, size_t size, uint16_t family, uint16_t flags,
                  uint32_t seq, int cmd)
{
    struct nlmsghdr *nlh;
    struct genlmsghdr *g;

    w->buf = buf;
    w->size = size;
    w->len = 0;
    w->err = 0;
    if (cmd < 1 || cmd > 255) {
        w->err = -EINVAL;
        return;
    }
    nlh = reserve(w, NLMSG_HDRLEN);
    g = reserve(w, GENL_HDRLEN);
    if (nlh == NULL || g == NULL)
        return;
    memset(nlh, 0, NLMSG_HDRLEN + GENL_HDRLEN);
    nlh->nlmsg_type = family;
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = seq;
    g->cmd = (uint8_t)cmd;
    g->version = UAPI_GENL_VERSION;
}

static int finish(struct writer *w)
{
    struct nlmsghdr *nlh = (struct nlmsghdr *)w->buf;

    if (w->err)
        return w->err;
    nlh->nlmsg_len = (uint32_t)w->len;
    return (int)w->len;
}

static size_t addr_len_of(uint16_t af)
{
    return af == AF_INET6 ? 16 : 4;
}

/* The kernel keys a service by af and either fwmark or protocol/addr/port;
 * this is that part of the nest, shared by every service-bearing request. */
static void put_service_id(struct writer *w, const struct pyipvs_service *s)
{
    unsigned char addr[16] = {0};

    put_u16(w, UAPI_SVC_AF, s->af);
    if (s->fwmark != 0) {
        put_u32(w, UAPI_SVC_FWMARK, s->fwmark);
        return;
    }
    put_u16(w, UAPI_SVC_PROTOCOL, s->protocol);
    /* union nf_inet_addr: an IPv4 address is 4 bytes followed by zeros. */
    memcpy(addr, s->addr, addr_len_of(s->af));
    put(w, UAPI_SVC_ADDR, addr, sizeof(addr));
    put_u16(w, UAPI_SVC_PORT, htons(s->port));
}

static void put_service(struct writer *w, const struct pyipvs_service *s)
{
    size_t nest = nest_start(w, UAPI_CMD_ATTR_SERVICE);
    struct {
        uint32_t flags, mask;
    } flags = {s->flags, s->flags_mask};
    /* IPv4 masks travel as address bytes, IPv6 prefixes as plain numbers. */
    uint32_t netmask = s->af == AF_INET6 ? s->netmask : htonl(s->netmask);

    put_service_id(w, s);
    put_str(w, UAPI_SVC_SCHED_NAME, s->sched_name, sizeof(s->sched_name));
    if (s->pe_name[0] != '\0')
        put_str(w, UAPI_SVC_PE_NAME, s->pe_name, sizeof(s->pe_name));
    put(w, UAPI_SVC_FLAGS, &flags, sizeof(flags));
    put_u32(w, UAPI_SVC_TIMEOUT, s->timeout);
    put_u32(w, UAPI_SVC_NETMASK, netmask);
    nest_end(w, nest);
}

static void put_dest(struct writer *w, const struct pyipvs_dest *d, uint16_t svc_af)
{
    size_t nest = nest_start(w, UAPI_CMD_ATTR_DEST);
    uint16_t af = d->af != 0 ? d->af : svc_af;
    unsigned char addr[16] = {0};

    memcpy(addr, d->addr, addr_len_of(af));
    put_u16(w, UAPI_DEST_ADDR_FAMILY, af);
    put(w, UAPI_DEST_ADDR, addr, sizeof(addr));
    put_u16(w, UAPI_DEST_PORT, htons(d->port));
    put_u32(w, UAPI_DEST_FWD_METHOD, d->fwd_method);
    put_u32(w, UAPI_DEST_WEIGHT, (uint32_t)d->weight);
    put_u8(w, UAPI_DEST_TUN_TYPE, d->tun_type);
    put_u16(w, UAPI_DEST_TUN_PORT, htons(d->tun_port));
    put_u16(w, UAPI_DEST_TUN_FLAGS, d->tun_flags);
    put_u32(w, UAPI_DEST_U_THRESH, d->u_threshold);
    put_u32(w, UAPI_DEST_L_THRESH, d->l_threshold);
    nest_end(w, nest);
}

int pyipvs_encode_service(void *buf, size_t size, uint16_t family, uint16_t nlflags,
                          uint32_t seq, int cmd, const struct pyipvs_service *svc)
{
    struct writer w;

    begin(&w, buf, size, family, nlflags, seq, cmd);
    if (svc != NULL)
        put_service(&w, svc);
    return finish(&w);
}

int pyipvs_encode_dest(void *buf, size_t size, uint16_t family, uint16_t nlflags,
                       uint32_t seq, int cmd, const struct pyipvs_service *svc,
                       const struct pyipvs_dest *dest)
{
    struct writer w;

    begin(&w, buf, size, family, nlflags, seq, cmd);
    put_service(&w, svc);
    put_dest(&w, dest, svc->af);
    return finish(&w);
}

int pyipvs_encode_dests_dump(void *buf, size_t size, uint16_t family, uint32_t seq,
                             const struct pyipvs_service *svc)
{
    struct writer w;
    size_t nest;

    begin(&w, buf, size, family, PYIPVS_NLM_DUMP, seq, PYIPVS_CMD_GET_DEST);
    nest = nest_start(&w, UAPI_CMD_ATTR_SERVICE);
    put_service_id(&w, svc);
    nest_end(&w, nest);
    return finish(&w);
}

int pyipvs_encode_daemon(void *buf, size_t size, uint16_t family, uint16_t nlflags,
                         uint32_t seq, int cmd, const struct pyipvs_daemon *d)
{
    struct writer w;
    size_t nest;

    begin(&w, buf, size, family, nlflags, seq, cmd);
    nest = nest_start(&w, UAPI_CMD_ATTR_DAEMON);
    put_u32(&w, UAPI_DAEMON_STATE, d->state);
    put_str(&w, UAPI_DAEMON_MCAST_IFN, d->mcast_ifn, sizeof(d->mcast_ifn));
    put_u32(&w, UAPI_DAEMON_SYNC_ID, d->syncid);
    if (d->present & PYIPVS_HAS_SYNC_MAXLEN)
        put_u16(&w, UAPI_DAEMON_SYNC_MAXLEN, d->sync_maxlen);
    if (d->present & PYIPVS_HAS_MCAST_PORT)
        put_u16(&w, UAPI_DAEMON_MCAST_PORT, d->mcast_port); /* host order, by design */
    if (d->present & PYIPVS_HAS_MCAST_TTL)
        put_u8(&w, UAPI_DAEMON_MCAST_TTL, d->mcast_ttl);
    if (d->present & PYIPVS_HAS_MCAST_GROUP) {
        if (d->mcast_af == AF_INET6)
            put(&w, UAPI_DAEMON_MCAST_GROUP6, d->mcast_group, 16);
        else if (d->mcast_af == AF_INET)
            put(&w, UAPI_DAEMON_MCAST_GROUP, d->mcast_group, 4);
        else if (!w.err)
            w.err = -EAFNOSUPPORT;
    }
    nest_end(&w, nest);
    return finish(&w);
}

int pyipvs_encode_timeouts(void *buf, size_t size, uint16_t family, uint16_t nlflags,
                           uint32_t seq, const struct pyipvs_timeouts *t)
{
    struct writer w;

    begin(&w, buf, size, family, nlflags, seq, PYIPVS_CMD_SET_CONFIG);
    put_u32(&w, UAPI_CMD_ATTR_TIMEOUT_TCP, t->tcp);
    put_u32(&w, UAPI_CMD_ATTR_TIMEOUT_TCP_FIN, t->tcp_fin);
    put_u32(&w, UAPI_CMD_ATTR_TIMEOUT_UDP, t->udp);
    return finish(&w);
}

/* A service struct from its fields passed as arguments: Python makes one
 * call instead of a store per field (cffi range-checks each argument as it
 * converts it). Refuses what pyipvs.ipvs.check_service refuses, so callers
 * may run that check only to word a refusal: a family other than IPv4/IPv6,
 * an 8-bit protocol exceeded, an address of the wrong length for the family,
 * names too long or holding a NUL, an IPv6 prefix beyond 128. addr_len is 0
 * for a fwmark service (fwmark non-zero), whose protocol is sent as TCP. */
int pyipvs_service_args(struct pyipvs_service *out, uint16_t af, uint32_t protocol,
                        const char *addr, size_t addr_len, uint16_t port, uint32_t fwmark,
                        const char *sched, size_t sched_len, const char *pe, size_t pe_len,
                        uint32_t flags, uint32_t timeout, uint32_t netmask)
{
    if (af != AF_INET && af != AF_INET6)
        return -EAFNOSUPPORT;
    if ((sched == NULL && sched_len > 0) || (pe == NULL && pe_len > 0) ||
        (fwmark == 0 && addr == NULL))
        return -EINVAL;
    if (sched_len >= sizeof(out->sched_name) ||
        (sched_len > 0 && memchr(sched, 0, sched_len) != NULL) ||
        pe_len >= sizeof(out->pe_name) || (pe_len > 0 && memchr(pe, 0, pe_len) != NULL))
        return -EINVAL;
    if (af == AF_INET6 && netmask > 128)
        return -ERANGE;
    if (fwmark == 0 && (protocol > 0xff || addr_len != addr_len_of(af)))
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->af = af;
    if (fwmark != 0) {
        out->fwmark = fwmark;
        out->protocol = IPPROTO_TCP;
    } else {
        out->protocol = (uint16_t)protocol;
        memcpy(out->addr, addr, addr_len);
        out->port = port;
    }
    if (sched_len > 0)
        memcpy(out->sched_name, sched, sched_len);
    if (pe_len > 0)
        memcpy(out->pe_name, pe, pe_len);
    out->flags = flags;
    out->flags_mask = UINT32_MAX; /* what ipvsadm sends */
    out->timeout = timeout;
    out->netmask = netmask;
    return 0;
}

/* The identity part of a filled service, as pyipvs_service_args fills it
 * for a key alone: what a batch's server commands carry for their service. */
void pyipvs_service_identity(struct pyipvs_service *out, const struct pyipvs_service *in)
{
    memset(out, 0, sizeof(*out));
    out->af = in->af;
    out->protocol = in->protocol;
    memcpy(out->addr, in->addr, sizeof(out->addr));
    out->port = in->port;
    out->fwmark = in->fwmark;
    out->flags_mask = UINT32_MAX;
    out->netmask = in->af == AF_INET6 ? 128 : UINT32_MAX;
}
