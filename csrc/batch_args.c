/*
 * batch_args.c - the appends Python's batch calls once per command or per
 * service (C layer, over csrc/batch.c): the command's fields come as call
 * arguments or as packed records, which cffi converts in one pass, several
 * times faster than it stores struct fields one by one. Per-command cost on
 * the Python side is what separates a batch from the kernel floor.
 *
 * These return the number of commands the batch then holds (a streamed
 * batch sends a part when it is full), or a negative errno.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core.h"

static int held(const struct pyipvs_batch *b)
{
    size_t n = pyipvs_batch_count(b);

    return n > INT32_MAX ? INT32_MAX : (int)n;
}

/* One server of the Python fast paths (pyipvs_batch_dest_args, _dests). */
static int append_in(struct pyipvs_batch *b, int cmd, const struct pyipvs_service *svc,
                     const struct pyipvs_dest_in *in)
{
    struct pyipvs_dest d;

    if (in->version != 4 && in->version != 6)
        return -EINVAL;
    memset(&d, 0, sizeof(d));
    d.af = in->version == 4 ? AF_INET : AF_INET6;
    memcpy(d.addr, in->addr, in->version == 4 ? 4 : 16);
    d.port = in->port;
    d.fwd_method = in->fwd_method;
    d.weight = in->weight;
    d.u_threshold = in->u_threshold;
    d.l_threshold = in->l_threshold;
    d.tun_type = in->tun_type;
    d.tun_port = in->tun_port;
    d.tun_flags = in->tun_flags;
    return pyipvs_batch_dest(b, cmd, svc, &d);
}

/* The family follows from the address length, 4 or 16. */
int pyipvs_batch_dest_args(struct pyipvs_batch *b, int cmd, const struct pyipvs_service *svc,
                           const char *addr, size_t addr_len, uint16_t port, uint32_t fwd,
                           int32_t weight, uint32_t u_thr, uint32_t l_thr, uint8_t tun_type,
                           uint16_t tun_port, uint16_t tun_flags)
{
    struct pyipvs_dest_in in;
    int rc;

    if (addr_len != 4 && addr_len != 16)
        return -EINVAL;
    memset(&in, 0, sizeof(in));
    memcpy(in.addr, addr, addr_len);
    in.version = addr_len == 4 ? 4 : 6;
    in.port = port;
    in.fwd_method = fwd;
    in.weight = weight;
    in.u_threshold = u_thr;
    in.l_threshold = l_thr;
    in.tun_type = tun_type;
    in.tun_port = tun_port;
    in.tun_flags = tun_flags;
    rc = append_in(b, cmd, svc, &in);
    return rc < 0 ? rc : held(b);
}

/* A service's servers in one call, from records Python packs without a
 * call per server. All or nothing, so a refusal leaves the batch as it was
 * and the caller can name the culprit. */
int pyipvs_batch_dests(struct pyipvs_batch *b, int cmd, const struct pyipvs_service *svc,
                       const char *rows, size_t n)
{
    size_t count = pyipvs_batch_count(b), i;
    struct pyipvs_dest_in in;
    int rc = 0;

    if (rows == NULL && n > 0)
        return -EINVAL;
    for (i = 0; i < n && rc == 0; i++) {
        memcpy(&in, rows + i * sizeof(in), sizeof(in));
        rc = append_in(b, cmd, svc, &in);
    }
    if (rc < 0) {
        batch_rewind(b, count);
        return rc;
    }
    return held(b);
}

/* add_service's fast path: the service from its fields (as
 * pyipvs_service_args fills it) appended as cmd, and *id set to its identity
 * for the server commands that usually follow. */
int pyipvs_batch_service_args(struct pyipvs_batch *b, int cmd, struct pyipvs_service *id,
                              uint16_t af, uint32_t protocol, const char *addr, size_t addr_len,
                              uint16_t port, uint32_t fwmark, const char *sched, size_t sched_len,
                              const char *pe, size_t pe_len, uint32_t flags, uint32_t timeout,
                              uint32_t netmask)
{
    struct pyipvs_service s;
    int rc;

    if (id == NULL)
        return -EINVAL;
    rc = pyipvs_service_args(&s, af, protocol, addr, addr_len, port, fwmark, sched, sched_len,
                             pe, pe_len, flags, timeout, netmask);
    if (rc == 0)
        rc = pyipvs_batch_service(b, cmd, &s);
    if (rc < 0)
        return rc;
    pyipvs_service_identity(id, &s);
    return held(b);
}
