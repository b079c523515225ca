/*
 * pyipvs.h - the C core's whole API, and the source of the cffi declarations.
 *
 * csrc/ffi_build.py hands everything between the CDEF-BEGIN and CDEF-END
 * markers to cffi's cdef(), so this region must stay in the C subset cffi
 * parses: no #include, no #if, only integer-literal #defines, plain structs
 * and prototypes. No libnl type appears here: the handle is opaque.
 *
 * Conventions: every function returns 0 or a negative errno and fills
 * caller-provided structs; nothing prints, exits or keeps global state.
 * Ports are host order, addresses are 16 raw bytes (IPv4 in the first 4, in
 * network order, as the kernel's union nf_inet_addr).
 */
#ifndef PYIPVS_H
#define PYIPVS_H

#include <stddef.h>
#include <stdint.h>

/* CDEF-BEGIN */

/* Generic netlink commands (uapi ip_vs.h, IPVS_CMD_*). */
#define PYIPVS_CMD_NEW_SERVICE 1
#define PYIPVS_CMD_SET_SERVICE 2
#define PYIPVS_CMD_DEL_SERVICE 3
#define PYIPVS_CMD_GET_SERVICE 4
#define PYIPVS_CMD_NEW_DEST 5
#define PYIPVS_CMD_SET_DEST 6
#define PYIPVS_CMD_DEL_DEST 7
#define PYIPVS_CMD_GET_DEST 8
#define PYIPVS_CMD_NEW_DAEMON 9
#define PYIPVS_CMD_DEL_DAEMON 10
#define PYIPVS_CMD_GET_DAEMON 11
#define PYIPVS_CMD_SET_CONFIG 12
#define PYIPVS_CMD_GET_CONFIG 13
#define PYIPVS_CMD_GET_INFO 15
#define PYIPVS_CMD_ZERO 16
#define PYIPVS_CMD_FLUSH 17

/* Bits of pyipvs_service.present / pyipvs_dest.present / pyipvs_daemon.present:
 * which optional attributes a kernel reply carried (older kernels omit some). */
#define PYIPVS_HAS_STATS64 1
#define PYIPVS_HAS_STATS 2
#define PYIPVS_HAS_PE_NAME 4
#define PYIPVS_HAS_ADDR_FAMILY 8
#define PYIPVS_HAS_TUN_TYPE 16
#define PYIPVS_HAS_TUN_PORT 32
#define PYIPVS_HAS_TUN_FLAGS 64
#define PYIPVS_HAS_SYNC_MAXLEN 128
#define PYIPVS_HAS_MCAST_GROUP 256
#define PYIPVS_HAS_MCAST_PORT 512
#define PYIPVS_HAS_MCAST_TTL 1024

#define PYIPVS_SCHEDNAME_LEN 16
#define PYIPVS_PENAME_LEN 17
#define PYIPVS_IFNAME_LEN 16

struct pyipvs_stats {
    uint64_t conns, inpkts, outpkts, inbytes, outbytes;
    uint64_t cps, inpps, outpps, inbps, outbps;
};

struct pyipvs_service {
    uint16_t af;
    uint16_t protocol;
    uint8_t addr[16];
    uint16_t port;            /* host order */
    uint32_t fwmark;          /* non-zero: fwmark service, addr/port unused */
    char sched_name[16];      /* NUL-terminated; "" is sent as an empty string */
    char pe_name[17];         /* "" = none (attribute omitted when sending) */
    uint32_t flags;
    uint32_t flags_mask;      /* sent with flags; ipvsadm sends 0xffffffff */
    uint32_t timeout;         /* persistence timeout, seconds */
    uint32_t netmask;         /* IPv4: mask as a host-order number; IPv6: prefix */
    uint32_t present;         /* PYIPVS_HAS_* (replies only) */
    struct pyipvs_stats stats;   /* replies only */
};

struct pyipvs_dest {
    uint16_t af;              /* 0 when sending: use the service's family */
    uint8_t addr[16];
    uint16_t port;            /* host order */
    uint32_t fwd_method;
    int32_t weight;
    uint32_t u_threshold, l_threshold;
    uint8_t tun_type;
    uint16_t tun_port;        /* host order */
    uint16_t tun_flags;
    uint32_t active_conns, inact_conns, persist_conns;   /* replies only */
    uint32_t present;
    struct pyipvs_stats stats;
};

struct pyipvs_daemon {
    uint32_t state;           /* 1 master, 2 backup */
    char mcast_ifn[16];
    uint32_t syncid;
    uint16_t sync_maxlen;     /* sent only if PYIPVS_HAS_SYNC_MAXLEN in present */
    uint16_t mcast_af;        /* AF_INET or AF_INET6 with PYIPVS_HAS_MCAST_GROUP */
    uint8_t mcast_group[16];
    uint16_t mcast_port;      /* host order */
    uint8_t mcast_ttl;
    uint32_t present;
};

struct pyipvs_timeouts {
    uint32_t tcp, tcp_fin, udp;   /* seconds; 0 = leave unchanged when setting */
};

struct pyipvs_info {
    uint32_t version;         /* e.g. 0x010201 */
    uint32_t conn_tab_size;
};

struct pyipvs_handle;         /* opaque: one netlink socket, family resolved once */

/* Open a handle. netns: NULL for the caller's namespace, else a path
 * (/run/netns/NAME or /proc/PID/ns/net); the socket is created there without
 * moving the calling process. timeout_ms bounds every wait for the kernel. */
int pyipvs_handle_open(struct pyipvs_handle **out, const char *netns, int timeout_ms);
void pyipvs_handle_close(struct pyipvs_handle *h);
int pyipvs_handle_fd(const struct pyipvs_handle *h);

/* Set-type commands. cmd is one of NEW/SET/DEL_SERVICE, ZERO (svc may be NULL:
 * zero everything), FLUSH (svc NULL). */
int pyipvs_service_cmd(struct pyipvs_handle *h, int cmd, const struct pyipvs_service *svc);
/* cmd is NEW/SET/DEL_DEST. */
int pyipvs_dest_cmd(struct pyipvs_handle *h, int cmd, const struct pyipvs_service *svc,
                    const struct pyipvs_dest *dest);
/* cmd is NEW/DEL_DAEMON. */
int pyipvs_daemon_cmd(struct pyipvs_handle *h, int cmd, const struct pyipvs_daemon *d);
int pyipvs_timeouts_set(struct pyipvs_handle *h, const struct pyipvs_timeouts *t);

/* Reads. Arrays are malloc'ed; release them with pyipvs_free. */
int pyipvs_info_get(struct pyipvs_handle *h, struct pyipvs_info *out);
int pyipvs_timeouts_get(struct pyipvs_handle *h, struct pyipvs_timeouts *out);
int pyipvs_service_get(struct pyipvs_handle *h, const struct pyipvs_service *key,
                       struct pyipvs_service *out);
int pyipvs_services_dump(struct pyipvs_handle *h, struct pyipvs_service **out, size_t *n);
int pyipvs_dests_dump(struct pyipvs_handle *h, const struct pyipvs_service *svc,
                      struct pyipvs_dest **out, size_t *n);
int pyipvs_daemons_dump(struct pyipvs_handle *h, struct pyipvs_daemon *out, size_t *n);
void pyipvs_free(void *p);

/* CDEF-END */

#endif
