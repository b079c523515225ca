/*
 * conn_parse.c - one line of /proc/net/ip_vs_conn or /proc/net/ip_vs_conn_sync
 * into a struct pyipvs_conn (C core layer; no I/O, no allocation).
 *
 * The kernel prints, per entry (reference §4.2/§4.3):
 *   proto caddr cport vaddr vport daddr dport state expires [pe_name pe_data]
 *   proto caddr cport vaddr vport daddr dport state origin expires     (sync)
 * Addresses are %08X for IPv4 and the full 8-group form for IPv6, the dest's
 * chosen by its own family. The two layouts are told apart per row: the
 * column after the state is all digits (expiry) or a word (origin), so the
 * same parser serves both files and headerless fixtures.
 *
 * Parsing is by hand: sscanf would cost more than the rest of the reader and
 * cannot bound field lengths the way the fixed-size struct needs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "pyipvs.h"

/* Index = PYIPVS_CONN_S_* code. */
static const char *const state_names[PYIPVS_CONN_S_COUNT] = {
    [PYIPVS_CONN_S_UNKNOWN] = NULL,
    [PYIPVS_CONN_S_NONE] = "NONE",
    [PYIPVS_CONN_S_ESTABLISHED] = "ESTABLISHED",
    [PYIPVS_CONN_S_SYN_SENT] = "SYN_SENT",
    [PYIPVS_CONN_S_SYN_RECV] = "SYN_RECV",
    [PYIPVS_CONN_S_FIN_WAIT] = "FIN_WAIT",
    [PYIPVS_CONN_S_TIME_WAIT] = "TIME_WAIT",
    [PYIPVS_CONN_S_CLOSE] = "CLOSE",
    [PYIPVS_CONN_S_CLOSE_WAIT] = "CLOSE_WAIT",
    [PYIPVS_CONN_S_LAST_ACK] = "LAST_ACK",
    [PYIPVS_CONN_S_LISTEN] = "LISTEN",
    [PYIPVS_CONN_S_SYNACK] = "SYNACK",
    [PYIPVS_CONN_S_UDP] = "UDP",
    [PYIPVS_CONN_S_INIT1] = "INIT1",
    [PYIPVS_CONN_S_INIT] = "INIT",
    [PYIPVS_CONN_S_COOKIE_SENT] = "COOKIE_SENT",
    [PYIPVS_CONN_S_COOKIE_REPLIED] = "COOKIE_REPLIED",
    [PYIPVS_CONN_S_COOKIE_WAIT] = "COOKIE_WAIT",
    [PYIPVS_CONN_S_COOKIE_ECHOED] = "COOKIE_ECHOED",
    [PYIPVS_CONN_S_SHUTDOWN_SENT] = "SHUTDOWN_SENT",
    [PYIPVS_CONN_S_SHUTDOWN_RECEIVED] = "SHUTDOWN_RECEIVED",
    [PYIPVS_CONN_S_SHUTDOWN_ACK_SENT] = "SHUTDOWN_ACK_SENT",
    [PYIPVS_CONN_S_REJECTED] = "REJECTED",
    [PYIPVS_CONN_S_CLOSED] = "CLOSED",
    [PYIPVS_CONN_S_ASSURED] = "ASSURED",
    [PYIPVS_CONN_S_BUG] = "BUG!",
    [PYIPVS_CONN_S_ERR] = "ERR!",
};

int pyipvs_conn_state_name(int state, const char **name)
{
    if (state <= PYIPVS_CONN_S_UNKNOWN || state >= PYIPVS_CONN_S_COUNT)
        return -EINVAL;
    *name = state_names[state];
    return 0;
}

struct tok {
    const char *s;
    size_t len;
};

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Next blank-separated word of [*p, end); 0 when none is left. */
static int next_word(const char **p, const char *end, struct tok *t)
{
    const char *q = *p;

    while (q < end && is_blank(*q))
        q++;
    if (q == end)
        return 0;
    t->s = q;
    while (q < end && !is_blank(*q))
        q++;
    t->len = (size_t)(q - t->s);
    *p = q;
    return 1;
}

/* Digit value + 1 per byte, 0 for a non-digit: addresses and ports are most
 * of a row's bytes, and a table beats three range tests per digit. */
static const uint8_t hex_plus1[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
    ['7'] = 8, ['8'] = 9, ['9'] = 10, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14,
    ['E'] = 15, ['F'] = 16, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
    ['f'] = 16,
};

static int hex_val(char c)
{
    return (int)hex_plus1[(unsigned char)c] - 1;
}

/* Exactly `digits` hex digits (<= 8): the kernel's fixed widths, so that a
 * line of some other table cannot pass for a row. */
static int parse_hex(const struct tok *t, size_t digits, uint32_t *out)
{
    uint32_t v = 0;

    if (t->len != digits)
        return -EINVAL;
    for (size_t i = 0; i < t->len; i++) {
        int d = hex_val(t->s[i]);

        if (d < 0)
            return -EINVAL;
        v = (v << 4) | (uint32_t)d;
    }
    *out = v;
    return 0;
}

static int parse_port(const struct tok *t, uint16_t *out)
{
    uint32_t v;
    int rc = parse_hex(t, 4, &v);

    if (rc == 0)
        *out = (uint16_t)v;
    return rc;
}

/* The kernel's %pI6: 8 groups of 4 lowercase digits; 1..4 digits of either
 * case are accepted too. Anything else goes to inet_pton below. */
static int parse_ip6_groups(const struct tok *t, uint8_t out[16])
{
    const char *p = t->s, *end = t->s + t->len;

    for (int g = 0; g < 8; g++) {
        uint32_t v = 0;
        int digits = 0;

        while (p < end && *p != ':') {
            int d = hex_val(*p);

            if (d < 0 || ++digits > 4)
                return -EINVAL;
            v = (v << 4) | (uint32_t)d;
            p++;
        }
        if (digits == 0)
            return -EINVAL;
        out[2 * g] = (uint8_t)(v >> 8);
        out[2 * g + 1] = (uint8_t)v;
        if (g < 7) {
            if (p == end)
                return -EINVAL;
            p++;
        }
    }
    return p == end ? 0 : -EINVAL;
}

/* The kernel's hex or IPv6 text; dotted IPv4 too, which ipvsadm also takes.
 * Eight hex digits cannot be either of the others, so they are tried first. */
static int parse_addr(const struct tok *t, uint16_t *af, uint8_t out[16])
{
    char text[INET6_ADDRSTRLEN];
    uint32_t v;

    if (parse_hex(t, 8, &v) == 0) {
        *af = AF_INET;
        out[0] = (uint8_t)(v >> 24);
        out[1] = (uint8_t)(v >> 16);
        out[2] = (uint8_t)(v >> 8);
        out[3] = (uint8_t)v;
        return 0;
    }
    if (memchr(t->s, ':', t->len)) {
        *af = AF_INET6;
        if (parse_ip6_groups(t, out) == 0)
            return 0;
        if (t->len >= sizeof(text))
            return -EINVAL;
        memcpy(text, t->s, t->len);
        text[t->len] = '\0';
        return inet_pton(AF_INET6, text, out) == 1 ? 0 : -EINVAL;
    }
    *af = AF_INET;
    if (t->len >= INET_ADDRSTRLEN || !memchr(t->s, '.', t->len))
        return -EINVAL;
    memcpy(text, t->s, t->len);
    text[t->len] = '\0';
    return inet_pton(AF_INET, text, out) == 1 ? 0 : -EINVAL;
}

/* Decimal, at most UINT32_MAX (%7u). */
static int parse_u32(const struct tok *t, uint32_t *out)
{
    uint64_t v = 0;

    if (t->len == 0 || t->len > 10)
        return -EINVAL;
    for (size_t i = 0; i < t->len; i++) {
        if (t->s[i] < '0' || t->s[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(t->s[i] - '0');
    }
    if (v > UINT32_MAX)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

static int tok_is(const struct tok *t, const char *s)
{
    if (t->len == 0 || t->s[0] != s[0])
        return 0;
    size_t n = strlen(s);

    return t->len == n && memcmp(t->s, s, n) == 0;
}

/* Names are printable words; a control byte means garbage, not a name. */
static int copy_name(const struct tok *t, char *dst, size_t cap, uint8_t *len)
{
    if (t->len == 0 || t->len >= cap)
        return -EINVAL;
    for (size_t i = 0; i < t->len; i++)
        if ((unsigned char)t->s[i] <= 0x20 || (unsigned char)t->s[i] >= 0x7f)
            return -EINVAL;
    memcpy(dst, t->s, t->len);
    dst[t->len] = '\0';
    *len = (uint8_t)t->len;
    return 0;
}

/* Kernel names (ip_vs_proto_name): IP is protocol 0, unknown ones IP_<n>. */
static int32_t proto_number(const struct tok *t)
{
    static const struct {
        const char *name;
        int32_t number;
    } known[] = {
        {"TCP", 6}, {"UDP", 17}, {"SCTP", 132}, {"ICMP", 1}, {"ICMPv6", 58}, {"IP", 0},
    };

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (tok_is(t, known[i].name))
            return known[i].number;
    if (t->len > 3 && t->len <= 8 && memcmp(t->s, "IP_", 3) == 0) {
        struct tok num = {t->s + 3, t->len - 3};
        uint32_t v;

        if (parse_u32(&num, &v) == 0 && v <= 0xffff)
            return (int32_t)v;
    }
    return PYIPVS_CONN_PROTO_UNKNOWN;
}

static uint16_t state_code(const struct tok *t)
{
    for (int i = PYIPVS_CONN_S_UNKNOWN + 1; i < PYIPVS_CONN_S_COUNT; i++)
        if (tok_is(t, state_names[i]))
            return (uint16_t)i;
    return PYIPVS_CONN_S_UNKNOWN;
}

/* " <pe_name> <pe_data>": pe_data is the raw rest of the line (the kernel
 * copies the engine's bytes verbatim; it may be empty). */
static int parse_pe_tail(const char *p, const char *end, struct pyipvs_conn *c)
{
    struct tok name;

    if (!next_word(&p, end, &name))
        return 0;
    if (copy_name(&name, c->pe_name, sizeof(c->pe_name), &c->pe_name_len) < 0)
        return -EINVAL;
    c->flags |= PYIPVS_CONN_F_PE;
    if (p == end)
        return 0;
    p++; /* the one separator after the name */
    size_t n = (size_t)(end - p);

    if (n >= sizeof(c->pe_data))
        return -EINVAL;
    memcpy(c->pe_data, p, n);
    c->pe_data[n] = '\0';
    c->pe_data_len = (uint16_t)n;
    return 0;
}

int pyipvs_conn_parse_line(const char *line, size_t len, struct pyipvs_conn *c)
{
    const char *p = line, *end = line + len;
    struct tok t[9];
    uint16_t vaf;

    if (len > PYIPVS_CONN_LINE_MAX)
        return -EINVAL;
    /* Zeroed up to the PE fields only (two thirds of the struct, and rarely
     * used): the addresses' unused bytes and the names' tails must be zero
     * (summaries compare them whole); the PE fields are read by length. */
    memset(c, 0, offsetof(struct pyipvs_conn, pe_name));
    c->pe_name[0] = c->pe_data[0] = '\0';
    for (int i = 0; i < 9; i++)
        if (!next_word(&p, end, &t[i]))
            return -EINVAL;

    if (copy_name(&t[0], c->proto_name, sizeof(c->proto_name), &c->proto_len) < 0)
        return -EINVAL;
    c->protocol = proto_number(&t[0]);
    if (parse_addr(&t[1], &c->af, c->caddr) < 0 || parse_port(&t[2], &c->cport) < 0 ||
        parse_addr(&t[3], &vaf, c->vaddr) < 0 || parse_port(&t[4], &c->vport) < 0 ||
        parse_addr(&t[5], &c->daf, c->daddr) < 0 || parse_port(&t[6], &c->dport) < 0)
        return -EINVAL;
    /* The kernel prints client and virtual address in the connection's one family. */
    if (vaf != c->af)
        return -EINVAL;
    if (copy_name(&t[7], c->state_name, sizeof(c->state_name), &c->state_len) < 0)
        return -EINVAL;
    c->state = state_code(&t[7]);

    if (parse_u32(&t[8], &c->expires) == 0)
        return parse_pe_tail(p, end, c);

    /* Sync layout: origin, expiry, nothing after. */
    if (tok_is(&t[8], "SYNC"))
        c->origin = PYIPVS_CONN_ORIGIN_SYNC;
    else if (tok_is(&t[8], "LOCAL"))
        c->origin = PYIPVS_CONN_ORIGIN_LOCAL;
    else
        return -EINVAL;
    c->flags |= PYIPVS_CONN_F_ORIGIN;
    struct tok exp, extra;

    if (!next_word(&p, end, &exp) || parse_u32(&exp, &c->expires) < 0 ||
        next_word(&p, end, &extra))
        return -EINVAL;
    return 0;
}
