/*
 * ops.c - the public operations of pyipvs.h: encode one request, exchange it
 * over the handle, decode the replies (C layer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* A growing array of decoded replies (services or destinations). */
struct vec {
    unsigned char *items;
    size_t n, cap, size;
    uint16_t af; /* destinations: the service's family, their fallback */
    struct core_dest_shape shape;
};

static void *vec_push(struct vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        unsigned char *p = realloc(v->items, cap * v->size);

        if (p == NULL)
            return NULL;
        v->items = p;
        v->cap = cap;
    }
    return v->items + v->size * v->n++;
}

static int on_service(const struct nlmsghdr *nlh, size_t len, void *arg)
{
    struct vec *v = arg;
    struct pyipvs_service *s = vec_push(v);

    if (s == NULL)
        return -ENOMEM;
    return pyipvs_decode_service(nlh, len, s);
}

static int on_dest(const struct nlmsghdr *nlh, size_t len, void *arg)
{
    struct vec *v = arg;
    struct pyipvs_dest *d = vec_push(v);

    if (d == NULL)
        return -ENOMEM;
    return core_decode_dest(&v->shape, nlh, len, v->af, d);
}

/* A doit's single reply; `got` tells an empty ACK from a real answer. */
struct one {
    void *out;
    int got;
    int (*decode)(const void *msg, size_t len, void *out);
};

static int on_one(const struct nlmsghdr *nlh, size_t len, void *arg)
{
    struct one *o = arg;

    if (o->got++)
        return -EBADMSG;
    return o->decode(nlh, len, o->out);
}

static int decode_service_any(const void *msg, size_t len, void *out)
{
    return pyipvs_decode_service(msg, len, out);
}

static int decode_info_any(const void *msg, size_t len, void *out)
{
    return pyipvs_decode_info(msg, len, out);
}

static int decode_timeouts_any(const void *msg, size_t len, void *out)
{
    return pyipvs_decode_timeouts(msg, len, out);
}

static int doit_read(struct pyipvs_handle *h, int cmd, const struct pyipvs_service *svc,
                     int (*decode)(const void *, size_t, void *), void *out)
{
    unsigned char req[CORE_REQ_MAX];
    struct one o = {out, 0, decode};
    int n, rc;

    n = pyipvs_encode_service(req, sizeof(req), core_family(h), PYIPVS_NLM_DOIT,
                              core_next_seq(h), cmd, svc);
    if (n < 0)
        return n;
    rc = core_transact(h, req, (size_t)n, 0, on_one, &o);
    if (rc == 0 && o.got != 1)
        return -EBADMSG;
    return rc;
}

static int dump(struct pyipvs_handle *h, const void *req, int n, core_reply_fn fn,
                struct vec *v, void **out, size_t *count)
{
    int rc;

    *out = NULL;
    *count = 0;
    if (n < 0)
        return n;
    rc = core_transact(h, req, (size_t)n, 1, fn, v);
    if (rc < 0) {
        free(v->items);
        return rc;
    }
    *out = v->items;
    *count = v->n;
    return 0;
}

int pyipvs_service_cmd(struct pyipvs_handle *h, int cmd, const struct pyipvs_service *svc)
{
    unsigned char req[CORE_REQ_MAX];
    int n;

    switch (cmd) {
    case PYIPVS_CMD_NEW_SERVICE:
    case PYIPVS_CMD_SET_SERVICE:
    case PYIPVS_CMD_DEL_SERVICE:
        if (svc == NULL)
            return -EINVAL;
        break;
    case PYIPVS_CMD_ZERO:
        break;
    case PYIPVS_CMD_FLUSH:
        svc = NULL;
        break;
    default:
        return -EINVAL;
    }
    n = pyipvs_encode_service(req, sizeof(req), core_family(h), PYIPVS_NLM_DOIT,
                              core_next_seq(h), cmd, svc);
    if (n < 0)
        return n;
    return core_transact(h, req, (size_t)n, 0, NULL, NULL);
}

int pyipvs_dest_cmd(struct pyipvs_handle *h, int cmd, const struct pyipvs_service *svc,
                    const struct pyipvs_dest *dest)
{
    unsigned char req[CORE_REQ_MAX];
    int n;

    if (cmd != PYIPVS_CMD_NEW_DEST && cmd != PYIPVS_CMD_SET_DEST && cmd != PYIPVS_CMD_DEL_DEST)
        return -EINVAL;
    if (svc == NULL || dest == NULL)
        return -EINVAL;
    n = pyipvs_encode_dest(req, sizeof(req), core_family(h), PYIPVS_NLM_DOIT, core_next_seq(h),
                           cmd, svc, dest);
    if (n < 0)
        return n;
    return core_transact(h, req, (size_t)n, 0, NULL, NULL);
}

int pyipvs_daemon_cmd(struct pyipvs_handle *h, int cmd, const struct pyipvs_daemon *d)
{
    unsigned char req[CORE_REQ_MAX];
    int n;

    if ((cmd != PYIPVS_CMD_NEW_DAEMON && cmd != PYIPVS_CMD_DEL_DAEMON) || d == NULL)
        return -EINVAL;
    n = pyipvs_encode_daemon(req, sizeof(req), core_family(h), PYIPVS_NLM_DOIT,
                             core_next_seq(h), cmd, d);
    if (n < 0)
        return n;
    return core_transact(h, req, (size_t)n, 0, NULL, NULL);
}

int pyipvs_timeouts_set(struct pyipvs_handle *h, const struct pyipvs_timeouts *t)
{
    unsigned char req[CORE_REQ_MAX];
    int n;

    n = pyipvs_encode_timeouts(req, sizeof(req), core_family(h), PYIPVS_NLM_DOIT,
                               core_next_seq(h), t);
    if (n < 0)
        return n;
    return core_transact(h, req, (size_t)n, 0, NULL, NULL);
}

int pyipvs_info_get(struct pyipvs_handle *h, struct pyipvs_info *out)
{
    return doit_read(h, PYIPVS_CMD_GET_INFO, NULL, decode_info_any, out);
}

int pyipvs_timeouts_get(struct pyipvs_handle *h, struct pyipvs_timeouts *out)
{
    return doit_read(h, PYIPVS_CMD_GET_CONFIG, NULL, decode_timeouts_any, out);
}

int pyipvs_service_get(struct pyipvs_handle *h, const struct pyipvs_service *key,
                       struct pyipvs_service *out)
{
    if (key == NULL)
        return -EINVAL;
    return doit_read(h, PYIPVS_CMD_GET_SERVICE, key, decode_service_any, out);
}

int pyipvs_services_dump(struct pyipvs_handle *h, struct pyipvs_service **out, size_t *n)
{
    unsigned char req[CORE_REQ_MAX];
    struct vec v = {.size = sizeof(struct pyipvs_service)};
    int len;

    len = pyipvs_encode_service(req, sizeof(req), core_family(h), PYIPVS_NLM_DUMP,
                                core_next_seq(h), PYIPVS_CMD_GET_SERVICE, NULL);
    return dump(h, req, len, on_service, &v, (void **)out, n);
}

int pyipvs_dests_dump(struct pyipvs_handle *h, const struct pyipvs_service *svc,
                      struct pyipvs_dest **out, size_t *n)
{
    unsigned char req[CORE_REQ_MAX];
    struct vec v = {.size = sizeof(struct pyipvs_dest)};
    int len;

    if (svc == NULL) {
        *out = NULL;
        *n = 0;
        return -EINVAL;
    }
    v.af = svc->af;
    len = pyipvs_encode_dests_dump(req, sizeof(req), core_family(h), core_next_seq(h), svc);
    return dump(h, req, len, on_dest, &v, (void **)out, n);
}

/* At most one master and one backup exist, so the caller's array suffices;
 * more replies than room is a protocol surprise, not something to drop. */
struct daemons {
    struct pyipvs_daemon *out;
    size_t n, cap;
};

static int on_daemon(const struct nlmsghdr *nlh, size_t len, void *arg)
{
    struct daemons *d = arg;

    if (d->n == d->cap)
        return -EMSGSIZE;
    return pyipvs_decode_daemon(nlh, len, &d->out[d->n++]);
}

int pyipvs_daemons_dump(struct pyipvs_handle *h, struct pyipvs_daemon *out, size_t *n)
{
    unsigned char req[CORE_REQ_MAX];
    struct daemons d = {out, 0, *n};
    int len, rc;

    *n = 0;
    len = pyipvs_encode_service(req, sizeof(req), core_family(h), PYIPVS_NLM_DUMP,
                                core_next_seq(h), PYIPVS_CMD_GET_DAEMON, NULL);
    if (len < 0)
        return len;
    rc = core_transact(h, req, (size_t)len, 1, on_daemon, &d);
    if (rc < 0)
        return rc;
    *n = d.n;
    return 0;
}

void pyipvs_free(void *p)
{
    free(p);
}
