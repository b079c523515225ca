/*
 * uapi_ip_vs.h - the IPVS generic netlink interface numbers the C core uses.
 *
 * Definitions as of Linux 6.1 include/uapi/linux/ip_vs.h, restated in this
 * project's own layout and names (UAPI_*) so the build never depends on the
 * build host's kernel headers (wheel build images carry old ones) and cannot
 * clash with <linux/ip_vs.h> should anything else include it. Only the numbers
 * are the kernel's; they are ABI and never change once released.
 *
 * Commands are in pyipvs.h (PYIPVS_CMD_*), because Python needs them too.
 */
#ifndef PYIPVS_UAPI_IP_VS_H
#define PYIPVS_UAPI_IP_VS_H

#define UAPI_GENL_NAME "IPVS"
#define UAPI_GENL_VERSION 1

/* Replies use these command numbers (not the request's). */
#define UAPI_CMD_SET_INFO 14

/* Top-level attributes of every IPVS message. */
enum {
    UAPI_CMD_ATTR_SERVICE = 1,
    UAPI_CMD_ATTR_DEST = 2,
    UAPI_CMD_ATTR_DAEMON = 3,
    UAPI_CMD_ATTR_TIMEOUT_TCP = 4,
    UAPI_CMD_ATTR_TIMEOUT_TCP_FIN = 5,
    UAPI_CMD_ATTR_TIMEOUT_UDP = 6,
    UAPI_CMD_ATTR_MAX = 6
};

/* Inside UAPI_CMD_ATTR_SERVICE. */
enum {
    UAPI_SVC_AF = 1,          /* u16 */
    UAPI_SVC_PROTOCOL = 2,    /* u16 */
    UAPI_SVC_ADDR = 3,        /* 16 bytes, union nf_inet_addr */
    UAPI_SVC_PORT = 4,        /* be16 */
    UAPI_SVC_FWMARK = 5,      /* u32 */
    UAPI_SVC_SCHED_NAME = 6,  /* NUL-terminated string */
    UAPI_SVC_FLAGS = 7,       /* struct { u32 flags; u32 mask; } */
    UAPI_SVC_TIMEOUT = 8,     /* u32 seconds */
    UAPI_SVC_NETMASK = 9,     /* IPv4: be32 mask; IPv6: host-order prefix */
    UAPI_SVC_STATS = 10,      /* nest, 32-bit counters */
    UAPI_SVC_PE_NAME = 11,    /* NUL-terminated string */
    UAPI_SVC_STATS64 = 12,    /* nest, 64-bit counters */
    UAPI_SVC_MAX = 12
};

/* Inside UAPI_CMD_ATTR_DEST. */
enum {
    UAPI_DEST_ADDR = 1,           /* 16 bytes */
    UAPI_DEST_PORT = 2,           /* be16 */
    UAPI_DEST_FWD_METHOD = 3,     /* u32 */
    UAPI_DEST_WEIGHT = 4,         /* u32 read as int */
    UAPI_DEST_U_THRESH = 5,       /* u32 */
    UAPI_DEST_L_THRESH = 6,       /* u32 */
    UAPI_DEST_ACTIVE_CONNS = 7,   /* u32, replies */
    UAPI_DEST_INACT_CONNS = 8,    /* u32, replies */
    UAPI_DEST_PERSIST_CONNS = 9,  /* u32, replies */
    UAPI_DEST_STATS = 10,         /* nest */
    UAPI_DEST_ADDR_FAMILY = 11,   /* u16 */
    UAPI_DEST_STATS64 = 12,       /* nest */
    UAPI_DEST_TUN_TYPE = 13,      /* u8 */
    UAPI_DEST_TUN_PORT = 14,      /* be16 */
    UAPI_DEST_TUN_FLAGS = 15,     /* u16 */
    UAPI_DEST_MAX = 15
};

/* Inside UAPI_CMD_ATTR_DAEMON. */
enum {
    UAPI_DAEMON_STATE = 1,         /* u32 */
    UAPI_DAEMON_MCAST_IFN = 2,     /* string */
    UAPI_DAEMON_SYNC_ID = 3,       /* u32 */
    UAPI_DAEMON_SYNC_MAXLEN = 4,   /* u16 */
    UAPI_DAEMON_MCAST_GROUP = 5,   /* be32 IPv4 group */
    UAPI_DAEMON_MCAST_GROUP6 = 6,  /* 16 bytes */
    UAPI_DAEMON_MCAST_PORT = 7,    /* u16, host order (unlike every other port) */
    UAPI_DAEMON_MCAST_TTL = 8,     /* u8 */
    UAPI_DAEMON_MAX = 8
};

/* Inside a STATS or STATS64 nest. */
enum {
    UAPI_STATS_CONNS = 1,
    UAPI_STATS_INPKTS = 2,
    UAPI_STATS_OUTPKTS = 3,
    UAPI_STATS_INBYTES = 4,
    UAPI_STATS_OUTBYTES = 5,
    UAPI_STATS_CPS = 6,
    UAPI_STATS_INPPS = 7,
    UAPI_STATS_OUTPPS = 8,
    UAPI_STATS_INBPS = 9,
    UAPI_STATS_OUTBPS = 10,
    UAPI_STATS_PAD = 11,          /* alignment filler, no value */
    UAPI_STATS_MAX = 11
};

/* Top level of the GET_INFO reply. */
enum {
    UAPI_INFO_VERSION = 1,        /* u32 */
    UAPI_INFO_CONN_TAB_SIZE = 2,  /* u32 */
    UAPI_INFO_MAX = 2
};

#endif
