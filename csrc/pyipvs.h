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
/* Daemons: out has room for *n entries (2 suffice: one master, one backup);
 * *n becomes the number filled in. */
int pyipvs_daemons_dump(struct pyipvs_handle *h, struct pyipvs_daemon *out, size_t *n);
void pyipvs_free(void *p);

/* Non-zero once the handle must not be reused: a wait timed out, the kernel
 * dropped replies (ENOBUFS), or the reply stream fell out of step. Every
 * later exchange fails with -ENOTCONN; close it and open a new one. */
int pyipvs_handle_broken(const struct pyipvs_handle *h);
/* The resolved generic netlink id of the IPVS family (for the encoders). */
int pyipvs_handle_family(const struct pyipvs_handle *h);
/* For a watchdog on another thread (pyipvs/runner.py). busy_ms: how long the
 * send or receive in progress on h has been running (0: none; poll() waits
 * are not counted, they are bounded by the timeout). A stalled IPVS holds a
 * caller inside sendmsg()/recvmsg() where no timeout reaches. abandon: the
 * caller gave up on h; whatever call is running ends at its next send or
 * receive with -ETIMEDOUT and nothing more is sent. Safe from any thread. */
long pyipvs_handle_busy_ms(const struct pyipvs_handle *h);
void pyipvs_handle_abandon(struct pyipvs_handle *h);

/* --- encoders: one complete request message, nothing sent --- */

/* nlmsg_flags: a request the kernel ACKs (what ipvsadm sends), a dump, and a
 * bare request (answered only if it fails: for batches). */
#define PYIPVS_NLM_DOIT 5
#define PYIPVS_NLM_DUMP 773
#define PYIPVS_NLM_REQUEST 1
/* Room enough for any single encoded request. */
#define PYIPVS_MSG_MAX 512

/* Each writes nlmsghdr (type = family, the given flags and seq, pid 0),
 * genlmsghdr and the attributes ipvsadm 1.31 sends, in its order, into buf,
 * and returns the message length, or -EMSGSIZE (buf too small) / -EINVAL.
 * service: svc NULL = no attributes (FLUSH, ZERO all, GET_INFO, dumps). */
int pyipvs_encode_service(void *buf, size_t size, uint16_t family, uint16_t nlflags,
                          uint32_t seq, int cmd, const struct pyipvs_service *svc);
int pyipvs_encode_dest(void *buf, size_t size, uint16_t family, uint16_t nlflags,
                       uint32_t seq, int cmd, const struct pyipvs_service *svc,
                       const struct pyipvs_dest *dest);
/* GET_DEST dump request: only the service's identity. */
int pyipvs_encode_dests_dump(void *buf, size_t size, uint16_t family, uint32_t seq,
                             const struct pyipvs_service *svc);
int pyipvs_encode_daemon(void *buf, size_t size, uint16_t family, uint16_t nlflags,
                         uint32_t seq, int cmd, const struct pyipvs_daemon *d);
int pyipvs_encode_timeouts(void *buf, size_t size, uint16_t family, uint16_t nlflags,
                           uint32_t seq, const struct pyipvs_timeouts *t);

/* --- decoders: one reply message (starting at its nlmsghdr) --- */

/* -EINVAL when the message is malformed or lacks a mandatory attribute.
 * dest: svc_af is the family used when the reply carries no ADDR_FAMILY. */
int pyipvs_decode_service(const void *msg, size_t len, struct pyipvs_service *out);
int pyipvs_decode_dest(const void *msg, size_t len, uint16_t svc_af, struct pyipvs_dest *out);
int pyipvs_decode_daemon(const void *msg, size_t len, struct pyipvs_daemon *out);
int pyipvs_decode_info(const void *msg, size_t len, struct pyipvs_info *out);
int pyipvs_decode_timeouts(const void *msg, size_t len, struct pyipvs_timeouts *out);

/* --- connection tables (/proc/net/ip_vs_conn, ip_vs_conn_sync) --- */

/* Field sizes of struct pyipvs_conn (each includes a terminating NUL). */
#define PYIPVS_CONN_PROTO_LEN 16
#define PYIPVS_CONN_STATE_LEN 24
#define PYIPVS_CONN_PENAME_LEN 17
#define PYIPVS_CONN_PEDATA_LEN 256
/* A longer line is malformed; the kernel's longest (IPv6, full PE data) is ~430. */
#define PYIPVS_CONN_LINE_MAX 1024
#define PYIPVS_CONN_BUFSIZE_DEFAULT 262144
#define PYIPVS_CONN_BUFSIZE_MIN 2048

/* Which table pyipvs_conn_fd_open opens when no path is given. */
#define PYIPVS_CONN_TABLE_CONN 0
#define PYIPVS_CONN_TABLE_SYNC 1

/* pyipvs_conn.protocol for a protocol name the parser does not know. */
#define PYIPVS_CONN_PROTO_UNKNOWN -1

/* pyipvs_conn.state: pyipvs's own numbering of the kernel's state names
 * (TCP, UDP, SCTP and template names share one space). UNKNOWN: the text is
 * kept in state_name only. */
#define PYIPVS_CONN_S_UNKNOWN 0
#define PYIPVS_CONN_S_NONE 1
#define PYIPVS_CONN_S_ESTABLISHED 2
#define PYIPVS_CONN_S_SYN_SENT 3
#define PYIPVS_CONN_S_SYN_RECV 4
#define PYIPVS_CONN_S_FIN_WAIT 5
#define PYIPVS_CONN_S_TIME_WAIT 6
#define PYIPVS_CONN_S_CLOSE 7
#define PYIPVS_CONN_S_CLOSE_WAIT 8
#define PYIPVS_CONN_S_LAST_ACK 9
#define PYIPVS_CONN_S_LISTEN 10
#define PYIPVS_CONN_S_SYNACK 11
#define PYIPVS_CONN_S_UDP 12
#define PYIPVS_CONN_S_INIT1 13
#define PYIPVS_CONN_S_INIT 14
#define PYIPVS_CONN_S_COOKIE_SENT 15
#define PYIPVS_CONN_S_COOKIE_REPLIED 16
#define PYIPVS_CONN_S_COOKIE_WAIT 17
#define PYIPVS_CONN_S_COOKIE_ECHOED 18
#define PYIPVS_CONN_S_SHUTDOWN_SENT 19
#define PYIPVS_CONN_S_SHUTDOWN_RECEIVED 20
#define PYIPVS_CONN_S_SHUTDOWN_ACK_SENT 21
#define PYIPVS_CONN_S_REJECTED 22
#define PYIPVS_CONN_S_CLOSED 23
#define PYIPVS_CONN_S_ASSURED 24
#define PYIPVS_CONN_S_BUG 25
#define PYIPVS_CONN_S_ERR 26
#define PYIPVS_CONN_S_COUNT 27

/* pyipvs_conn.origin (ip_vs_conn_sync rows only). */
#define PYIPVS_CONN_ORIGIN_NONE 0
#define PYIPVS_CONN_ORIGIN_LOCAL 1
#define PYIPVS_CONN_ORIGIN_SYNC 2

/* pyipvs_conn.flags */
#define PYIPVS_CONN_F_PE 1        /* the row carried " <pe_name> <pe_data>" */
#define PYIPVS_CONN_F_ORIGIN 2    /* the row carried an Origin column */

/* One row, as printed by the kernel. Addresses: 16 raw bytes, network order,
 * IPv4 in the first 4 and the rest zero. Text fields are NUL-terminated and
 * also carry their length (pe_data may hold any byte but a newline). */
struct pyipvs_conn {
    int32_t protocol;         /* IP protocol number or PYIPVS_CONN_PROTO_UNKNOWN */
    uint16_t af;              /* family of caddr and vaddr: AF_INET / AF_INET6 */
    uint16_t daf;             /* family of daddr (differs for tunnelled dests) */
    uint8_t caddr[16];
    uint8_t vaddr[16];        /* fwmark templates: the mark, as an IPv4 number */
    uint8_t daddr[16];
    uint16_t cport, vport, dport;   /* host order */
    uint16_t state;           /* PYIPVS_CONN_S_* */
    uint32_t expires;         /* seconds, as printed (%7u) */
    uint8_t origin;           /* PYIPVS_CONN_ORIGIN_* */
    uint8_t flags;            /* PYIPVS_CONN_F_* */
    uint8_t proto_len, state_len, pe_name_len;
    uint16_t pe_data_len;
    char proto_name[16];      /* as printed: TCP UDP SCTP ICMP ICMPv6 IP IP_<n> ... */
    char state_name[24];      /* as printed, without the padding */
    char pe_name[17];
    char pe_data[256];
};

/* Which tests of a filter apply (pyipvs_conn_filter.match). */
#define PYIPVS_CONN_MATCH_PROTO 1
#define PYIPVS_CONN_MATCH_CLIENT 2    /* caf + caddr/cprefix */
#define PYIPVS_CONN_MATCH_CPORT 4
#define PYIPVS_CONN_MATCH_VADDR 8     /* vaf + vaddr */
#define PYIPVS_CONN_MATCH_VPORT 16
#define PYIPVS_CONN_MATCH_DADDR 32    /* daf + daddr */
#define PYIPVS_CONN_MATCH_DPORT 64
#define PYIPVS_CONN_MATCH_STATE 128   /* states: bit (1 << PYIPVS_CONN_S_x) */
#define PYIPVS_CONN_MATCH_ORIGIN 256

struct pyipvs_conn_filter {
    uint32_t match;           /* PYIPVS_CONN_MATCH_*; 0 matches every row */
    int32_t protocol;
    uint16_t caf, vaf, daf;
    uint8_t caddr[16];
    uint8_t vaddr[16];
    uint8_t daddr[16];
    uint8_t cprefix;          /* bits of caddr compared (0..32 / 0..128) */
    uint8_t origin;
    uint16_t cport, vport, dport;
    uint64_t states;
};

/* Summary dimensions (pyipvs_conn_agg_new's by). A service is
 * PROTO|VADDR|VPORT, a real server DADDR|DPORT. */
#define PYIPVS_CONN_BY_PROTO 1
#define PYIPVS_CONN_BY_CLIENT 2       /* client prefix (v4_prefix / v6_prefix bits) */
#define PYIPVS_CONN_BY_VADDR 4
#define PYIPVS_CONN_BY_VPORT 8
#define PYIPVS_CONN_BY_DADDR 16
#define PYIPVS_CONN_BY_DPORT 32
#define PYIPVS_CONN_BY_STATE 64
#define PYIPVS_CONN_BY_ORIGIN 128

/* One summary group: its key (fields outside `by` are zero) and its count. */
struct pyipvs_conn_group {
    uint32_t by;
    int32_t protocol;
    char proto_name[16];
    uint16_t af, daf;
    uint8_t caddr[16];        /* masked to cprefix bits */
    uint8_t vaddr[16];
    uint8_t daddr[16];
    uint16_t vport, dport;
    uint16_t state;
    uint8_t cprefix;
    uint8_t origin;
    char state_name[24];
    uint64_t count;
};

/* Reader options (NULL: defaults). */
#define PYIPVS_CONN_OPT_STOP_AT_BLANK 1   /* end at a blank line, as ipvsadm -Lc does */
/* A second thread reads the table's tail from a second open file (a file
 * descriptor reader only; see csrc/conn_split.c): for /proc tables, whose
 * reads cost O(offset) each on kernels before ~6.14. Rows and their order
 * are the same as without it. */
#define PYIPVS_CONN_OPT_SPLIT 2
/* Tests: with SPLIT, the first read waits for the helper's decision (so a
 * table too small to split against a racing reader splits every time). */
#define PYIPVS_CONN_OPT_SPLIT_WAIT 4
/* Tests: with SPLIT, split even where reads do not walk the table (regular
 * files; kernels from about 6.14), which the helper otherwise checks first. */
#define PYIPVS_CONN_OPT_SPLIT_ALWAYS 8
struct pyipvs_conn_opts {
    size_t bufsize;           /* 0: default; raised to PYIPVS_CONN_BUFSIZE_MIN */
    size_t max_read;          /* 0: fill the buffer; else cap each read (tests) */
    uint32_t flags;           /* PYIPVS_CONN_OPT_* */
    size_t split_min;         /* SPLIT: 0 default; a smaller table is read by one thread */
    size_t split_cap;         /* SPLIT: 0 default; most bytes the helper holds */
};

/* What a reader has seen so far. header: 0 none, 1 ip_vs_conn, 2 ip_vs_conn_sync. */
struct pyipvs_conn_counts {
    uint64_t bytes, lines, rows, matched, malformed, blank;
    uint32_t header;
    uint32_t eof;
    uint64_t split_at;        /* the file offset from which the split helper's lines came, or 0 */
    uint32_t read_ahead;      /* 1: a second thread read ahead of the reader (SPLIT, where
                                 reads do not walk the table: csrc/conn_ahead.c) */
    uint32_t walk_pct;        /* SPLIT: a page read's cost at split_min against one at the
                                 start, in percent, as the helper measured it; 0: not measured */
};

struct pyipvs_conn_reader;    /* opaque: a buffer over a file or over memory */
struct pyipvs_conn_agg;       /* opaque: a group-by counter */

/* Open path (NULL: the table's /proc file) with O_RDONLY|O_CLOEXEC into *fd.
 * /proc/net/... paths are opened as /proc/thread-self/net/..., because
 * /proc/net follows the thread-group leader's namespace, not the caller's.
 * netns (NULL: none) is a namespace file (/run/netns/NAME, /proc/PID/ns/net):
 * the calling thread enters it just for the open and then returns. */
int pyipvs_conn_fd_open(const char *path, int table, const char *netns, int *fd);
/* On success the reader owns fd; on failure the caller still does. */
int pyipvs_conn_reader_new_fd(struct pyipvs_conn_reader **out, int fd,
                              const struct pyipvs_conn_opts *opts);
/* data is not copied and must outlive the reader. */
int pyipvs_conn_reader_new_mem(struct pyipvs_conn_reader **out, const void *data,
                               size_t len, const struct pyipvs_conn_opts *opts);
int pyipvs_conn_reader_open(struct pyipvs_conn_reader **out, const char *path, int table,
                            const char *netns, const struct pyipvs_conn_opts *opts);
void pyipvs_conn_reader_free(struct pyipvs_conn_reader *r);
int pyipvs_conn_reader_counts(const struct pyipvs_conn_reader *r,
                              struct pyipvs_conn_counts *out);
/* Fill rows[0..max) with the next rows passing f (NULL: all); *n = 0 only at
 * the end of the table. Malformed lines are counted and skipped. */
int pyipvs_conn_read(struct pyipvs_conn_reader *r, const struct pyipvs_conn_filter *f,
                     struct pyipvs_conn *rows, size_t max, size_t *n);
/* Read to the end, adding every row passing f to each aggregator. */
int pyipvs_conn_scan(struct pyipvs_conn_reader *r, const struct pyipvs_conn_filter *f,
                     struct pyipvs_conn_agg *const *aggs, size_t naggs);

/* One line, without its newline. -EINVAL if it is not a row. */
int pyipvs_conn_parse_line(const char *line, size_t len, struct pyipvs_conn *out);
/* 1 if c passes f (NULL passes everything), else 0. */
int pyipvs_conn_match(const struct pyipvs_conn_filter *f, const struct pyipvs_conn *c);
/* The kernel's text for a PYIPVS_CONN_S_* code (-EINVAL: none). */
int pyipvs_conn_state_name(int state, const char **name);

/* max_groups: rows whose key would add a group beyond it are counted as
 * overflow instead (0: no limit). */
int pyipvs_conn_agg_new(struct pyipvs_conn_agg **out, uint32_t by, unsigned v4_prefix,
                        unsigned v6_prefix, size_t max_groups);
void pyipvs_conn_agg_free(struct pyipvs_conn_agg *a);
int pyipvs_conn_agg_add(struct pyipvs_conn_agg *a, const struct pyipvs_conn *rows, size_t n);
int pyipvs_conn_agg_info(const struct pyipvs_conn_agg *a, size_t *ngroups, uint64_t *total,
                         uint64_t *overflow);
/* Copy up to max groups, in order of first appearance. */
int pyipvs_conn_agg_groups(const struct pyipvs_conn_agg *a, struct pyipvs_conn_group *out,
                           size_t max, size_t *n);

/* --- connection rows as columns (csrc/conn_cols.c; owner: connection tables) --- */
/* pyipvs_conn_read_cols writes PYIPVS_CONN_WORDS uint32 words per row, at
 * these positions. Addresses and texts are numbers of values in the reader's
 * value table (the caller keeps its own copy of the table, growing it from
 * the new values each call reports); value 0 stands for "none". */
#define PYIPVS_CONN_W_PROTO 0       /* value: the protocol text */
#define PYIPVS_CONN_W_PROTOCOL 1    /* protocol number, PYIPVS_CONN_PROTO_UNKNOWN's bits
                                       for a name not known */
#define PYIPVS_CONN_W_CADDR 2       /* value: address */
#define PYIPVS_CONN_W_CPORT 3
#define PYIPVS_CONN_W_VADDR 4       /* value: address */
#define PYIPVS_CONN_W_VPORT 5
#define PYIPVS_CONN_W_DADDR 6       /* value: address */
#define PYIPVS_CONN_W_DPORT 7
#define PYIPVS_CONN_W_STATE 8       /* value: the state text */
#define PYIPVS_CONN_W_EXPIRES 9
#define PYIPVS_CONN_W_ORIGIN 10     /* PYIPVS_CONN_ORIGIN_* */
#define PYIPVS_CONN_W_PE_NAME 11    /* value: text, 0 without PE columns */
#define PYIPVS_CONN_W_PE_DATA 12    /* value: raw bytes, 0 without PE columns */
#define PYIPVS_CONN_WORDS 13

/* Kinds of values, as written to the stream of new ones: one kind byte, a
 * 16-bit length in host order, the bytes (an address's 4 or 16). */
#define PYIPVS_CONN_V_INET 1
#define PYIPVS_CONN_V_INET6 2
#define PYIPVS_CONN_V_NAME 3        /* protocol, state or PE name (ASCII) */
#define PYIPVS_CONN_V_DATA 4        /* PE data (any byte but a newline) */
/* Values one row can add (protocol, three addresses, state, PE name and
 * data), and the room they need in the stream of new values, at most. */
#define PYIPVS_CONN_VALUES_PER_ROW 7
#define PYIPVS_CONN_NEW_PER_ROW 400

/* What one pyipvs_conn_read_cols call produced. */
struct pyipvs_conn_chunk {
    size_t rows;
    size_t new_len;           /* bytes of new values written */
    uint32_t first_new;       /* the first new value's number */
    uint32_t reset;           /* 1: the table was emptied first (first_new is 1) */
    uint32_t flags;           /* PYIPVS_CONN_F_* of any row */
    uint32_t unknown_protocol;    /* 1: a row's protocol name is not known */
    uint32_t same;            /* bit k: word k is the same in every row (most are, in a
                                 table of few services and states) */
};

struct pyipvs_conn_values;    /* opaque: the value table */
int pyipvs_conn_values_new(struct pyipvs_conn_values **out, uint32_t max_values);
void pyipvs_conn_values_free(struct pyipvs_conn_values *v);
/* The reader's next rows passing f (up to max, and no more than the stream
 * of new values has room for: PYIPVS_CONN_NEW_PER_ROW each) as words[max *
 * PYIPVS_CONN_WORDS]; values they use for the first time go to news. A
 * table about to pass its max_values is emptied before the first row. */
int pyipvs_conn_read_cols(struct pyipvs_conn_reader *r, const struct pyipvs_conn_filter *f,
                          struct pyipvs_conn_values *v, uint32_t *words, size_t max,
                          uint8_t *news, size_t news_cap, struct pyipvs_conn_chunk *out);

/* --- connection listing text (csrc/conn_fmt.c; owner: connection tables) --- */
#define PYIPVS_CONN_FMT_PERSISTENT 1  /* --persistent-conn: PE name and data columns */
/* Format the reader's next rows as `ipvsadm -Lnc` lines into out (cap >= 768):
 * *len bytes, *rows rows; *rows = 0 only at the end of the table. */
int pyipvs_conn_format(struct pyipvs_conn_reader *r, uint32_t flags, char *out, size_t cap,
                       size_t *len, size_t *rows);

/* --- global counters and helpers (/proc/net/ip_vs_stats, ip_vs_app) --- */

/* Which file pyipvs_procstat_read reads. */
#define PYIPVS_PROC_STATS 0           /* /proc/net/ip_vs_stats */
#define PYIPVS_PROC_STATS_PERCPU 1    /* /proc/net/ip_vs_stats_percpu */
#define PYIPVS_PROC_APP 2             /* /proc/net/ip_vs_app */

#define PYIPVS_APP_PROTO_LEN 16
#define PYIPVS_APP_NAME_LEN 32

/* One per-CPU row: raw counters of that CPU (not adjusted by a zero). */
struct pyipvs_cpu_stats {
    uint32_t cpu;
    uint64_t conns, inpkts, outpkts, inbytes, outbytes;
};

/* One port an application helper (ip_vs_ftp, ...) is bound to. */
struct pyipvs_app {
    char proto_name[16];      /* as printed: TCP, UDP, ... */
    uint16_t port;
    int32_t usecnt;           /* connections currently using the helper */
    char name[32];
};

/* The whole file, read inside netns (NULL: the caller's), into a malloc'ed
 * NUL-terminated buffer; release it with pyipvs_free. */
int pyipvs_procstat_read(int which, const char *netns, char **out, size_t *len);
/* Parsers of the texts (all fields hex). percpu: *rows malloc'ed (may be
 * NULL when n is 0); *total gets the "~" row (since the last zero) and the
 * rates. -EINVAL when the text is not in the kernel's layout. */
int pyipvs_gstats_parse(const char *text, size_t len, struct pyipvs_stats *out);
int pyipvs_gstats_percpu_parse(const char *text, size_t len, struct pyipvs_cpu_stats **rows,
                               size_t *n, struct pyipvs_stats *total);
int pyipvs_apps_parse(const char *text, size_t len, struct pyipvs_app **out, size_t *n);

/* Tunables: /proc/sys/net/ipv4/vs/<name> of netns (NULL: the caller's).
 * list: NUL-separated names, malloc'ed (NULL when none); read: the value
 * text, malloc'ed; write: one write() of the text (the kernel's refusal
 * comes back as its errno, usually -EINVAL). -ENOENT: no such tunable. */
int pyipvs_sysctl_list(const char *netns, char **names, size_t *len);
int pyipvs_sysctl_read(const char *name, const char *netns, char **out, size_t *len);
int pyipvs_sysctl_write(const char *name, const char *netns, const char *value, size_t len);

/* --- batch engine --- */

/* Many set-type commands encoded back to back and sent ~2,000 per sendmsg,
 * answered only when they fail; the last command of each chunk is ACKed as
 * the barrier. Commands are appended with the same rules as the single
 * calls above (nothing is sent), then applied in order; each keeps its own
 * state and errno. See csrc/batch.c. */

/* pyipvs_batch_opts.flags */
#define PYIPVS_BATCH_STOP_ON_ERROR 1  /* send no chunk after one with a failure */
#define PYIPVS_BATCH_STOP_ON_LOST 2   /* send no chunk after one whose replies were lost */
#define PYIPVS_BATCH_NO_ADAPT 4       /* test knob: do not cap chunks to what the
                                         receive buffer can answer for */

/* Command states (pyipvs_batch_results). */
#define PYIPVS_BATCH_PENDING 0        /* not sent (yet) */
#define PYIPVS_BATCH_OK 1
#define PYIPVS_BATCH_FAILED 2         /* err: the kernel's errno, positive */
#define PYIPVS_BATCH_UNKNOWN 3        /* executed, but its reply was lost (ENOBUFS)
                                         or never came (timeout): not re-sent */

#define PYIPVS_BATCH_CHUNK_MSGS 2000

struct pyipvs_batch_opts {
    uint32_t flags;           /* PYIPVS_BATCH_* */
    uint32_t chunk_msgs;      /* commands per sendmsg; 0: PYIPVS_BATCH_CHUNK_MSGS */
    uint32_t chunk_bytes;     /* 0: as much as the send buffer takes */
    int32_t rcvbuf;           /* > 0: SO_RCVBUF for this call only (test knob) */
};

struct pyipvs_batch_report {
    uint64_t next;            /* first command not sent */
    uint64_t sent, failed, unknown;
    uint32_t chunks;          /* sendmsg calls */
    uint32_t overruns;        /* ENOBUFS seen */
    uint32_t chunk_msgs;      /* the chunk limit in force at the end */
    int32_t rcvbuf, sndbuf;   /* as the kernel accounts them (bytes) */
};

/* Fill *out from a service's fields (csrc/request.c): 0, or a negative
 * errno for what pyipvs.ipvs.check_service would refuse. */
int pyipvs_service_args(struct pyipvs_service *out, uint16_t af, uint32_t protocol,
                        const char *addr, size_t addr_len, uint16_t port, uint32_t fwmark,
                        const char *sched, size_t sched_len, const char *pe, size_t pe_len,
                        uint32_t flags, uint32_t timeout, uint32_t netmask);
/* *out: the service *in names, as pyipvs_service_args fills it for a key
 * alone (no scheduler or flags, the family's netmask, all-ones flag mask). */
void pyipvs_service_identity(struct pyipvs_service *out, const struct pyipvs_service *in);

struct pyipvs_batch;          /* opaque: encoded commands and their results */

int pyipvs_batch_new(struct pyipvs_batch **out);
void pyipvs_batch_free(struct pyipvs_batch *b);
size_t pyipvs_batch_count(const struct pyipvs_batch *b);
/* Append one command; on error nothing is appended. */
int pyipvs_batch_service(struct pyipvs_batch *b, int cmd, const struct pyipvs_service *svc);
int pyipvs_batch_dest(struct pyipvs_batch *b, int cmd, const struct pyipvs_service *svc,
                      const struct pyipvs_dest *d);
/* The same as pyipvs_batch_dest with the destination as arguments (addr:
 * 4 or 16 bytes, which also gives the family): add_server's fast path,
 * returning as the fast paths below do. */
int pyipvs_batch_dest_args(struct pyipvs_batch *b, int cmd, const struct pyipvs_service *svc,
                           const char *addr, size_t addr_len, uint16_t port, uint32_t fwd,
                           int32_t weight, uint32_t u_thr, uint32_t l_thr, uint8_t tun_type,
                           uint16_t tun_port, uint16_t tun_flags);
/* The fast paths from Python (csrc/batch_args.c) return the number of
 * commands the batch then holds, or a negative errno (nothing appended). */
/* add_service's: the service from its fields (see pyipvs_service_args)
 * appended as cmd; *id is set to its identity (pyipvs_service_identity)
 * for the server commands that usually follow. */
int pyipvs_batch_service_args(struct pyipvs_batch *b, int cmd, struct pyipvs_service *id,
                              uint16_t af, uint32_t protocol, const char *addr, size_t addr_len,
                              uint16_t port, uint32_t fwmark, const char *sched, size_t sched_len,
                              const char *pe, size_t pe_len, uint32_t flags, uint32_t timeout,
                              uint32_t netmask);
/* One real server for pyipvs_batch_dests. Python packs these with the
 * struct module straight from a Server's fields (pyipvs/_native/batch.py,
 * which checks the layout against this one), so the fields are ordered to
 * leave no padding. */
struct pyipvs_dest_in {
    char addr[16];            /* 4 bytes for IPv4 (then zeros), 16 for IPv6 */
    uint32_t fwd_method;
    int32_t weight;
    uint32_t u_threshold, l_threshold;
    uint16_t port, tun_port, tun_flags;
    uint8_t version;          /* 4 or 6 */
    uint8_t tun_type;
};
/* Append a command per record of rows (n records of struct pyipvs_dest_in,
 * packed back to back, any alignment), all or none. */
int pyipvs_batch_dests(struct pyipvs_batch *b, int cmd, const struct pyipvs_service *svc,
                       const char *rows, size_t n);
int pyipvs_batch_daemon(struct pyipvs_batch *b, int cmd, const struct pyipvs_daemon *d);
int pyipvs_batch_timeouts(struct pyipvs_batch *b, const struct pyipvs_timeouts *t);
/* Send commands [start, end) in order. Kernel errors of single commands go
 * to their results, not to the return value; a negative return is a
 * transport failure (the report's `next` says where it stopped). */
int pyipvs_batch_apply(struct pyipvs_handle *h, struct pyipvs_batch *b, size_t start, size_t end,
                       const struct pyipvs_batch_opts *o, struct pyipvs_batch_report *r);
/* Copy state, errno and command of [start, start + n); any array may be NULL. */
int pyipvs_batch_results(const struct pyipvs_batch *b, size_t start, size_t n, uint8_t *states,
                         int32_t *errs, uint8_t *cmds);
/* Make [start, end) pending again (to replay them after a rollback). */
int pyipvs_batch_reset(struct pyipvs_batch *b, size_t start, size_t end);
/* Copy command i's encoded message (as appended: seq and family are only
 * filled in when applied) into out; returns its length, or -EINVAL/-EMSGSIZE. */
int pyipvs_batch_message(const struct pyipvs_batch *b, size_t i, void *out, size_t size);

/* --- restore fast path (csrc/restore_fast.c; owner: issue 4, bulk restore) ---
 * Restore text in the plain forms ipvsadm -S -n writes, parsed and appended
 * to a batch in C. Every line it does not take, it leaves for pyipvsadm's
 * full parser (stop = SLOW, pos at that line); it never reports an error. */
#define PYIPVS_RESTORE_END 0      /* every complete line taken; pos: the partial rest */
#define PYIPVS_RESTORE_SLOW 1     /* the line at pos needs the full parser */
#define PYIPVS_RESTORE_FULL 2     /* max_cmds commands appended */

struct pyipvs_restore_scan {
    size_t pos;               /* in: where to start; out: first byte not taken */
    size_t lines;             /* out: newline-terminated lines taken (blank ones too) */
    size_t cmds;              /* out: commands appended */
    int32_t stop;             /* out: PYIPVS_RESTORE_* */
};

/* line_starts: NULL, or room for max_cmds offsets (each command's line start). */
int pyipvs_restore_scan(struct pyipvs_batch *b, const char *text, size_t len, size_t max_cmds,
                        uint64_t *line_starts, struct pyipvs_restore_scan *st);
/* --- end of the restore fast path block --- */

/* --- reliability: test knobs and replay entry points (issue 9; csrc/replay.c,
 * csrc/nl.c). For tests and fuzzing; nothing in the library calls them. --- */

/* Test knob: set the handle socket's receive buffer (SO_RCVBUFFORCE, else
 * SO_RCVBUF) to bytes; returns the size the kernel accounts (about twice
 * bytes) or a negative errno. Tests use it to prove that a starved receive
 * buffer yields a complete answer or an error, never a partial one. */
int pyipvs_handle_set_rcvbuf(struct pyipvs_handle *h, int bytes);

/* pyipvs_replay_dump's what. */
#define PYIPVS_REPLAY_SERVICES 0
#define PYIPVS_REPLAY_DESTS 1

/* Feed recorded datagrams through the same reply walker and decoders a live
 * dump uses. buf holds records, each a 4-byte length (host order) and then
 * that many bytes of one datagram, as successive receives return them. The
 * request is taken to be (family, port, seq); svc_af is the family a
 * destination without ADDR_FAMILY gets. On success *out (pyipvs_free) holds
 * *n structs pyipvs_service or pyipvs_dest. The errors are the live path's:
 * the kernel's errno, -EINVAL for a reply that does not decode, -EBADMSG for
 * a broken stream, -ENOBUFS for an overrun, -EMSGSIZE for a datagram longer
 * than the live receive size, -ETIMEDOUT when the records end before the
 * dump's DONE (the live path would wait and time out). */
int pyipvs_replay_dump(int what, const void *buf, size_t len, uint16_t family, uint32_t port,
                       uint32_t seq, uint16_t svc_af, void **out, size_t *n);

/* --- whole-table snapshot (csrc/snapshot.c; owner: issue 5, listing) --- */

/* Every service and every real server of the namespace with counters, in
 * the kernel's order: dests[dest_start[i] .. dest_start[i + 1]) are the
 * servers of services[i]. Read consistently: the service list is dumped
 * before and after the server dumps and must match, and a server dump the
 * kernel split into several chunks is read twice and must match; otherwise
 * the read is repeated, at most `retries` more times, then -EAGAIN. The
 * list "before" is the one the handle's last read ended with, where the
 * handle has one and has sent no change since (a poller dumps the services
 * once per read). Release with pyipvs_table_free, which keeps the largest
 * server array freed so far for the next read (one for the process). */
struct pyipvs_table {
    struct pyipvs_service *services;
    size_t nservices;
    struct pyipvs_dest *dests;
    size_t ndests;
    uint32_t *dest_start;     /* nservices + 1 entries */
    uint32_t attempts;        /* reads it took (1 = the first was consistent; a
                                 memo that no longer matched is not counted) */
    uint32_t requests;        /* GET_DEST dumps sent, over all attempts */
    uint32_t service_dumps;   /* service dumps, over all attempts (1: a memo) */
    size_t dests_cap;         /* room in dests (for its reuse once freed) */
    /* Equal (and not 0) for two tables of this process only if their
     * services have the same identities and settings, in the same order.
     * 0: not known (the handle could not keep the list). */
    uint64_t list_serial;
    uint32_t readers;         /* threads that read the servers (1, or 2 with a helper) */
};

int pyipvs_table_read(struct pyipvs_handle *h, uint32_t retries, struct pyipvs_table **out);
void pyipvs_table_free(struct pyipvs_table *t);
/* n > 1: h's table reads split the server dumps of tables of at least
 * 32 services between the calling thread and a helper thread with sockets
 * of its own (the table and its checks are the same). In the emulated VM
 * with two CPUs a read took 0.6-1.0x the time (median 0.7-0.9), for 1.2-1.8x
 * the CPU time (benchmarks/RESULTS.md, session 19): for a one-off listing,
 * not for a poller. Returns the number now used (1 when
 * the helper's sockets could not be made), or -EINVAL for n < 1. */
int pyipvs_handle_set_read_threads(struct pyipvs_handle *h, int n);
/* The table was changed through another handle of the same owner (a streamed
 * batch's own socket): h's next read dumps the services first, as a first
 * read does, instead of trying its last list. */
void pyipvs_handle_forget_table(struct pyipvs_handle *h);

/* A real server's identity in the counters-only view. */
struct pyipvs_dest_id {
    uint16_t af;
    uint16_t port;            /* host order */
    uint8_t addr[16];
};

/* Copy the table's counters into caller-allocated columns (each may be NULL):
 * svc_stats[nservices * 10] and dest_stats[ndests * 10] in pyipvs_stats
 * order, dest_conns[ndests * 3] (active, inactive, persistent), ids[ndests]. */
int pyipvs_table_columns(const struct pyipvs_table *t, uint64_t *svc_stats, uint64_t *dest_stats,
                         uint32_t *dest_conns, struct pyipvs_dest_id *ids);

/* --- service listing text (csrc/list_fmt.c; owner: issue 5, listing) --- */

/* What pyipvs_table_format writes. One listing mode at most; where several
 * are given, ipvsadm's precedence applies (stats, rate, thresholds,
 * persistent-conn, tun-info). */
#define PYIPVS_LIST_STATS 0x1         /* --stats */
#define PYIPVS_LIST_RATE 0x2          /* --rate */
#define PYIPVS_LIST_THRESHOLDS 0x4    /* --thresholds */
#define PYIPVS_LIST_PERSISTENT 0x8    /* --persistent-conn */
#define PYIPVS_LIST_TUN_INFO 0x10     /* --tun-info */
#define PYIPVS_LIST_EXACT 0x20        /* --exact (with stats or rate) */
#define PYIPVS_LIST_NOSORT 0x40       /* --nosort: the kernel's order */
#define PYIPVS_LIST_SAVE 0x80         /* -S rules instead of listing lines (always sorted) */

/* The table as the lines of `ipvsadm -Ln` (after its title lines) or of
 * `ipvsadm -Sn`, numeric, in ipvsadm 1.31's order: *out is a malloc'd text of
 * *len bytes, to be released with pyipvs_text_free. -EINVAL: a value the
 * Python model refuses (an address family, forwarding method or tunnel type
 * it does not know), so that the caller can report it as its decoder does. */
int pyipvs_table_format(const struct pyipvs_table *t, uint32_t flags, char **out, size_t *len);
void pyipvs_text_free(char *text);

/* --- reconcile records (csrc/records.c; owner: issue 7, apply and diff) ---
 * A service's or real server's configuration as fixed bytes: what `pyipvs
 * diff/apply` compare, so that two tables of tens of thousands of servers
 * are compared as bytes with Python's set operations, and only what differs
 * becomes model objects. Identity first, then settings; every padding byte
 * is zero and names are zero-filled after their NUL, so equal configuration
 * is equal bytes. The values are normalised as pyipvs/_native/convert.py
 * decodes them: a fwmark service's protocol is TCP and its address and port
 * zero; only the settable service flags; no counters. */
#define PYIPVS_SETTABLE_SVC_FLAGS 0x3du   /* model.SETTABLE_SERVICE_FLAGS */

struct pyipvs_svc_id {
    uint16_t af, protocol;
    uint8_t addr[16];
    uint16_t port;
    uint16_t pad;
    uint32_t fwmark;
};

struct pyipvs_svc_rec {
    struct pyipvs_svc_id id;
    char sched_name[16];
    char pe_name[20];         /* 17 used */
    uint32_t flags, timeout, netmask;
};

struct pyipvs_dest_rec {
    struct pyipvs_svc_id svc;  /* the service it belongs to */
    uint16_t af, port;
    uint8_t addr[16];
    uint32_t fwd_method;
    int32_t weight;
    uint32_t u_threshold, l_threshold;
    uint16_t tun_port, tun_flags;
    uint8_t tun_type, pad[3];
};

/* The records of a table the core read, in its order, into caller-allocated
 * arrays of t->nservices and t->ndests entries. */
void pyipvs_table_records(const struct pyipvs_table *t, struct pyipvs_svc_rec *svcs,
                          struct pyipvs_dest_rec *dests);

/* The table that restore text describes, as records, when every line is a
 * comment (starting with '#'), blank, or an -A or -a in the restore fast
 * path's subset, and running them against an empty table would succeed
 * (each service added once, each server once and after its service). Then
 * 0, with *svcs (*nsvc) and *dests (*ndest) malloc'd (release with
 * pyipvs_free) in the text's order. 1 otherwise (*bad_line: the 1-based line
 * that decided it): the full parser must read the text and word what is
 * wrong. A negative errno: out of memory. */
int pyipvs_restore_records(const char *text, size_t len, struct pyipvs_svc_rec **svcs,
                           size_t *nsvc, struct pyipvs_dest_rec **dests, size_t *ndest,
                           size_t *bad_line);
/* Append to b the command cmd (PYIPVS_CMD_NEW/SET/DEL_SERVICE with a
 * pyipvs_svc_rec, PYIPVS_CMD_NEW/SET/DEL_DEST with a pyipvs_dest_rec, len
 * its size) encoded as the library's batch encodes the service or server the
 * record describes; a deletion sends the identity. -EINVAL for anything else. */
int pyipvs_batch_record(struct pyipvs_batch *b, int cmd, const void *rec, size_t len);
/* Two tables' records of one kind (rec_size bytes each, identity the first
 * id_size; each identity once per table) compared: the indexes into want of
 * records whose identity live lacks (added) or whose settings differ
 * (edited), and into live of records whose identity want lacks (gone),
 * each in its table's order. Release with pyipvs_records_diff_free (also
 * after an error, when everything is NULL). */
struct pyipvs_records_diff {
    uint32_t *added, *edited, *gone;
    size_t nadded, nedited, ngone;
};
int pyipvs_records_diff(const void *want, size_t nwant, const void *live, size_t nlive,
                        size_t rec_size, size_t id_size, struct pyipvs_records_diff *out);
void pyipvs_records_diff_free(struct pyipvs_records_diff *d);
/* --- end of the reconcile records block --- */

/* CDEF-END */

#endif
