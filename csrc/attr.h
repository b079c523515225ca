/*
 * attr.h - the netlink attribute walk the decoders share (C layer, private;
 * parse.c and dest_shape.c). Our own rather than libnl's nla_* calls: see
 * parse.c's header for why.
 */
#ifndef PYIPVS_ATTR_H
#define PYIPVS_ATTR_H

#include <linux/netlink.h>

static inline const void *attr_data(const struct nlattr *a)
{
    return (const unsigned char *)a + NLA_HDRLEN;
}

static inline int attr_len(const struct nlattr *a)
{
    return (int)a->nla_len - NLA_HDRLEN;
}

/* The attribute at *p, with *p and *len moved past it; NULL at the end, or
 * at a malformed header, where the walk stops quietly (*len is then still
 * NLA_HDRLEN or more; at the end it is less). */
static inline const struct nlattr *next_attr(const unsigned char **p, int *len)
{
    const struct nlattr *a = (const struct nlattr *)*p;

    if (*len < NLA_HDRLEN || a->nla_len < NLA_HDRLEN || a->nla_len > *len)
        return NULL;
    *p += NLA_ALIGN(a->nla_len);
    *len -= NLA_ALIGN(a->nla_len);
    return a;
}

#endif
