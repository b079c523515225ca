/*
 * conn_fmt.c - connection rows as the lines of `ipvsadm -Lnc` (C core layer).
 *
 * A numeric connection listing is a pure function of each row, and for
 * tables of hundreds of thousands of rows formatting them one Python string
 * at a time costs more than the kernel takes to produce the file. So the
 * numeric form is written here, straight from the reader into a caller's
 * buffer; the name-resolving form (-Lc without -n) stays in Python, where
 * the resolver lives. The layout reproduces ipvsadm 1.31's output: fixed
 * columns, minutes:seconds of the expiry as an unsigned number, and with
 * --persistent-conn the PE name and the first word of the PE data when the
 * kernel printed any.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core.h"

/* Room kept free for one more line: three bracketed IPv6 endpoints, the
 * state and protocol text, and the PE part (name 16 + data 255). */
#define LINE_ROOM 768

static char *put_dec(char *p, unsigned v)
{
    char tmp[12];
    int n = 0;

    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

/* Shared with list_fmt.c (declared in core.h): the numeric address text of
 * every ipvsadm listing. IPv4 is written by hand: it is most of the
 * addresses, and snprintf's five conversions were most of this function's
 * cost under emulation. Truncated to cap like snprintf (callers pass 64). */
void core_addrport(char *out, size_t cap, uint16_t af, const uint8_t *a, uint16_t port)
{
    char host[INET6_ADDRSTRLEN], v4[sizeof("255.255.255.255:65535")], *p = v4;
    size_t n;

    if (af == AF_INET6 && inet_ntop(AF_INET6, a, host, sizeof(host))) {
        snprintf(out, cap, "[%s]:%u", host, port);
        return;
    }
    for (int i = 0; i < 4; i++) {
        p = put_dec(p, a[i]);
        *p++ = i < 3 ? '.' : ':';
    }
    p = put_dec(p, port);
    n = (size_t)(p - v4);
    if (cap == 0)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, v4, n);
    out[n] = '\0';
}

/* ipvsadm reads the PE data with sscanf's %s: its first word, if any. */
static size_t pe_word(const struct pyipvs_conn *c, const char **word)
{
    size_t i = 0, n = c->pe_data_len;
    const char *s = c->pe_data;

    while (i < n && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
        i++;
    size_t j = i;
    while (j < n && s[j] != ' ' && !(s[j] >= '\t' && s[j] <= '\r'))
        j++;
    *word = s + i;
    return j - i;
}

/* s (n bytes), then spaces up to width: printf's %-Ns without the cost of
 * printf, which was most of a row's formatting under emulation. */
static char *pad(char *p, const char *s, size_t n, size_t width)
{
    memcpy(p, s, n);
    p += n;
    for (; n < width; n++)
        *p++ = ' ';
    return p;
}

static char *addr_col(char *p, uint16_t af, const uint8_t *a, uint16_t port, size_t width)
{
    char text[64];

    core_addrport(text, sizeof(text), af, a, port);
    return pad(p, text, strlen(text), width);
}

/* "%02u" */
static char *two_digits(char *p, unsigned v)
{
    if (v < 10)
        *p++ = '0';
    return put_dec(p, v);
}

/* One line; cap is at least LINE_ROOM, which no line reaches. */
static size_t format_row(const struct pyipvs_conn *c, uint32_t flags, char *out, size_t cap)
{
    char *p = out;
    const char *word;
    size_t wlen = 0;

    if (cap < LINE_ROOM)
        return 0;
    p = pad(p, c->proto_name, strnlen(c->proto_name, sizeof(c->proto_name)), 3);
    *p++ = ' ';
    {
        char expire[24], *e = two_digits(expire, c->expires / 60);

        *e++ = ':';
        e = two_digits(e, c->expires % 60);
        p = pad(p, expire, (size_t)(e - expire), 6);
    }
    *p++ = ' ';
    p = pad(p, c->state_name, strnlen(c->state_name, sizeof(c->state_name)), 11);
    *p++ = ' ';
    p = addr_col(p, c->af, c->caddr, c->cport, 18);
    *p++ = ' ';
    p = addr_col(p, c->af, c->vaddr, c->vport, 18);
    *p++ = ' ';
    if ((flags & PYIPVS_CONN_FMT_PERSISTENT) && (c->flags & PYIPVS_CONN_F_PE) &&
        (wlen = pe_word(c, &word)) > 0) {
        p = addr_col(p, c->daf, c->daddr, c->dport, 16);
        *p++ = ' ';
        p = pad(p, c->pe_name, strnlen(c->pe_name, sizeof(c->pe_name)), 18);
        *p++ = ' ';
        p = pad(p, word, wlen, 0);
    } else {
        p = addr_col(p, c->daf, c->daddr, c->dport, 0);
    }
    *p++ = '\n';
    return (size_t)(p - out);
}

int pyipvs_conn_format(struct pyipvs_conn_reader *r, uint32_t flags, char *out, size_t cap,
                       size_t *len, size_t *rows)
{
    struct pyipvs_conn c;
    size_t used = 0, done = 0, n;
    int rc = 0;

    if (!r || !out || !len || !rows || cap < LINE_ROOM)
        return -EINVAL;
    while (cap - used >= LINE_ROOM) {
        rc = pyipvs_conn_read(r, NULL, &c, 1, &n);
        if (rc < 0 || n == 0)
            break;
        used += format_row(&c, flags, out + used, cap - used);
        done++;
    }
    *len = used;
    *rows = done;
    /* Lines already formatted are delivered; an error shows on the next call. */
    return rc < 0 && done == 0 ? rc : 0;
}
