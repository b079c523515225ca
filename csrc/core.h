/*
 * core.h - private glue between the C core's files (C layer; not part of the
 * cffi API, never seen by Python).
 *
 * nl.c owns the handle and the request/reply exchange, request.c the
 * encoders, parse.c the decoders, ops.c the public operations built from them.
 */
#ifndef PYIPVS_CORE_H
#define PYIPVS_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>
#include <sys/types.h>

#include <linux/netlink.h>

#include "pyipvs.h"

/* A 64-bit hash of n bytes, eight at a time (the emulated test VM pays for
 * every instruction): each word folded in with a multiply and a shift, as in
 * MurmurHash3's finaliser. For hash tables of records and connection values. */
static inline uint64_t core_hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;

    for (; n >= 8; b += 8, n -= 8) {
        __builtin_memcpy(&w, b, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    if (n > 0) {
        w = 0;
        __builtin_memcpy(&w, b, n);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

/* One reply message handed to a transaction's consumer. Returning a negative
 * errno records the first failure; the exchange still reads to the end so
 * the socket stays in step. */
typedef int (*core_reply_fn)(const struct nlmsghdr *nlh, size_t len, void *arg);

/* Send one encoded request (its nlmsg_seq already set) and read until its ACK,
 * its error, or, for a dump, its NLMSG_DONE. Data messages of the IPVS family
 * go to fn (may be NULL when none are expected). */
int core_transact(struct pyipvs_handle *h, const void *req, size_t len, int dump,
                  core_reply_fn fn, void *arg);

uint16_t core_family(const struct pyipvs_handle *h);
uint32_t core_next_seq(struct pyipvs_handle *h);
/* For batch.c, which runs its own send/receive loop on the handle's socket:
 * the handle's wait bound, and marking it unusable after a failed wait. */
int core_timeout_ms(const struct pyipvs_handle *h);
void core_mark_broken(struct pyipvs_handle *h);

/* Every send to and receive from the kernel goes through these. Generic
 * netlink runs a request inside the sender's sendmsg(), and a dump's next part
 * inside recvmsg(); there IPVS waits for its mutex uninterruptibly, so no
 * poll() timeout can bound it. They record when the current call started
 * (pyipvs_handle_busy_ms: the caller's watchdog in pyipvs/runner.py reads it
 * from another thread) and refuse to start one on an abandoned handle, so a
 * call the caller gave up on sends nothing more once the kernel lets go.
 * Same results as sendto() (whole datagram or -EMSGSIZE, EINTR retried),
 * recvmsg() and recvmmsg(), errors as negative errnos. */
int core_send(struct pyipvs_handle *h, const void *buf, size_t len);
ssize_t core_recvmsg(struct pyipvs_handle *h, struct msghdr *m, int flags);
struct mmsghdr; /* <sys/socket.h> defines it under _GNU_SOURCE */
int core_recvmmsg(struct pyipvs_handle *h, struct mmsghdr *v, unsigned int n, int flags);
/* The same on another of the handle's sockets (core_small_fd). */
int core_send_on(struct pyipvs_handle *h, int fd, const void *buf, size_t len);
int core_recvmmsg_on(struct pyipvs_handle *h, int fd, struct mmsghdr *v, unsigned int n, int flags);
long core_now_ms(void);

/* The handle's second socket, for dumps received in chunks of at most
 * CORE_SMALL_CHUNK bytes; -1 if it could not be made. Why a second one:
 * the kernel sizes every dump chunk from the largest receive a socket has
 * ever made (capped at 32 KiB), and allocates and clears that much per
 * chunk, even for a dump of a few hundred bytes. A GET_DEST dump of a
 * typical service fits in 4 KiB (csrc/snapshot.c measures the difference).
 * The main socket keeps its large receives: the service dump, which the
 * kernel resumes by walking the list from its start, wants few chunks. */
int core_small_fd(const struct pyipvs_handle *h);
#define CORE_SMALL_CHUNK 4096

/* A table read's helper thread (csrc/snapshot.c) has sockets of its own,
 * made with the handle in its namespace: the small one (large 0) and one
 * for large receives (large 1); -1 when the handle reads on one thread
 * (pyipvs_handle_set_read_threads) or they could not be made. */
int core_helper_fd(const struct pyipvs_handle *h, int large);
/* Entries in the handle's record of the send or receive in progress
 * (pyipvs_handle_busy_ms reports the longest): one for the caller's thread,
 * one for a table read's helper (which the helper's sockets mark). */
#define CORE_IO_SLOTS 2

/* The service list of the handle's last consistent whole-table read, which
 * the next read takes as its first list instead of dumping the services again
 * (csrc/snapshot.c says why that is sound). Sending anything but a GET request
 * on the handle forgets it (core_send_on): the caller changed the table. */
struct core_memo {
    struct pyipvs_service *services;
    size_t n, cap;
    int valid;
    unsigned misses;          /* kept lists in a row that no longer matched */
    unsigned skip;            /* reads still to make without it (backoff) */
    uint64_t serial;          /* names the list's content (pyipvs_table.list_serial) */
};
struct core_memo *core_memo(struct pyipvs_handle *h);

/* The reply stream of one request, walked one received datagram at a time
 * (nl.c; the replay entry point in replay.c feeds it recorded datagrams). */
struct core_walk {
    uint32_t seq, port;       /* the request's sequence number, our port id */
    uint16_t family;          /* IPVS family id: its messages go to fn */
    int dump;                 /* a dump ends with NLMSG_DONE, not with an ACK */
    core_reply_fn fn;
    void *arg;
    int result;               /* the kernel's errno (from ERROR or DONE) */
    int consumer_err;         /* fn's first failure */
    int done;
};
int core_walk_datagram(struct core_walk *w, const void *buf, size_t n);
/* The receive size of the live path: a longer datagram is truncated there. */
#define CORE_RECV_MAX (64 * 1024)

/* Big enough for any single request the encoders produce (a DEST command with
 * both nests is about 200 bytes). */
#define CORE_REQ_MAX 512

/* "a.b.c.d:port" or "[v6]:port", as ipvsadm -n prints an address and port
 * (csrc/conn_fmt.c; the connection and service listings). */
void core_addrport(char *out, size_t cap, uint16_t af, const uint8_t *a, uint16_t port);

/* batch.c, for csrc/batch_args.c: back to the batch's first n commands. */
void batch_rewind(struct pyipvs_batch *b, size_t n);

/* One restore line (no newline) in the restore fast path's subset, parsed
 * (csrc/restore_fast.c): 1 with *cmd (PYIPVS_CMD_*), *svc and, for the
 * server commands, *d filled in as the full parser would send them; 0 for a
 * line without tokens; CORE_RESTORE_SLOW for a line only the full parser may
 * decide. Used by the batch scan and by csrc/records.c. */
#define CORE_RESTORE_SLOW 2
int core_restore_line(const char *s, size_t n, int *cmd, struct pyipvs_service *svc,
                      struct pyipvs_dest *d);

/* conn_agg.c, for the split reader's summaries (conn.c): an empty
 * aggregator with a's grouping and cap; whether a counted any overflow; and
 * adding from's counts to a, new keys in from's order of first appearance
 * (what one pass over a's rows and then from's gives, if from has not
 * overflowed: then every key of from's rows has its own count). */
struct pyipvs_conn_agg;
int conn_agg_clone_empty(const struct pyipvs_conn_agg *a, struct pyipvs_conn_agg **out);
int conn_agg_overflowed(const struct pyipvs_conn_agg *a);
int conn_agg_merge(struct pyipvs_conn_agg *a, const struct pyipvs_conn_agg *from);

/* A run of GET_DEST replies of one shape, decoded fast (dest_shape.c).
 * The kernel writes every server's reply with the same attributes in the
 * same order and at the same lengths, so after one reply is decoded by
 * pyipvs_decode_dest the next ones are checked header by header against it
 * and their values read from the same offsets. Zero it before the first
 * reply; it holds no memory. */
#define CORE_SHAPE_HDRS 40
struct core_dest_shape {
    uint32_t len;                 /* the learnt reply's nlmsg_len; 0: none */
    uint8_t cmd;                  /* its genetlink command */
    uint8_t nhdr;
    uint8_t addr_len;             /* ADDR's payload length, at most 16 */
    uint16_t wide;                /* bit i: counter i is 8 bytes (else 4) */
    uint32_t present;             /* the learnt reply's present bits */
    struct {
        uint16_t off;             /* where the header is in the message */
        uint32_t word;            /* its nla_len and nla_type, as sent */
    } hdr[CORE_SHAPE_HDRS];
    /* Payload offsets in the message, 0 when absent. */
    uint16_t addr, af, port, fwd, weight, u_thresh, l_thresh;
    uint16_t active, inact, persist, tun_type, tun_port, tun_flags;
    uint16_t stat[10];            /* struct pyipvs_stats order */
};

/* pyipvs_decode_dest with a shape: the same result and return value for
 * every message; a reply of another shape is decoded by pyipvs_decode_dest
 * and its shape learnt in s for the next. */
int core_decode_dest(struct core_dest_shape *s, const void *msg, size_t len, uint16_t svc_af,
                     struct pyipvs_dest *out);

#endif
