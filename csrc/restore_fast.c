/*
 * restore_fast.c - the restore fast path: lines in the plain forms that
 * `ipvsadm -S -n` and rule generators write, parsed and encoded straight into
 * a batch (C layer).
 *
 * Why it exists: pyipvsadm's parser (pyipvs/cli/ipvsadm/tokenizer.py,
 * parse.py) is the grammar, and it costs hundreds of microseconds a line in
 * Python; a restore of 110,000 lines spent far longer parsing than the kernel
 * spent applying. This file accepts only a strict subset of that grammar,
 * where the full parser's result is plain, and hands every other line back
 * untouched (PYIPVS_RESTORE_SLOW) for the full parser to decide. It never
 * reports an error of its own: a line it is unsure about (an odd spelling, a
 * duplicate option, anything the full parser would refuse or resolve through
 * a name lookup) is always the full parser's. tests/unit/test_restore_fast.py
 * feeds the same lines to both and compares the encoded messages byte for byte.
 *
 * The subset: first token -A -E -D -a -e -d; then the separate tokens -t -u
 * --sctp-service ADDR, -f MARK, -6, -s NAME, -p [SECONDS], -M MASK, -r ADDR,
 * -g -m -i, -w -x -y NUMBER, -o, --pe NAME, --tun-type/--tun-port/--tun-*csum;
 * ADDR is a.b.c.d[:port] in decimal without leading zeros (glibc's inet_aton
 * would read those as octal) or [IPv6]:port. No clustered or attached
 * arguments, no long spellings of the rest, no -b, no service names.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core.h"

#define TOK_MAX 64  /* longer tokens go to the full parser */
#define NTOK_MAX 48
#define MAX_TIMEOUT 2678400u  /* ipvsadm's 31 days */
#define PERSISTENT_DEFAULT 360u
#define INT_MAX_U 2147483647u

/* Matrix bits, numbered as pyipvs/cli/ipvsadm/options.py's Opt. */
#define BIT(n) (1ULL << (n))
#define B_SERVICE BIT(2)
#define B_SCHED BIT(3)
#define B_PERSIST BIT(4)
#define B_NETMASK BIT(5)
#define B_SERVER BIT(6)
#define B_FWD BIT(7)
#define B_WEIGHT BIT(8)
#define B_UTHR BIT(9)
#define B_LTHR BIT(10)
#define B_OPS BIT(21)
#define B_PE BIT(22)
#define B_TUNTYPE BIT(29)
#define B_TUNPORT BIT(30)
#define B_NOCSUM BIT(31)
#define B_CSUM BIT(32)
#define B_REMCSUM BIT(33)
#define B_TUNNEL (B_TUNTYPE | B_TUNPORT | B_NOCSUM | B_CSUM | B_REMCSUM)
#define SVC_OPTS (B_SERVICE | B_SCHED | B_PERSIST | B_NETMASK | B_OPS | B_PE)
#define DEST_OPTS (B_SERVICE | B_SERVER | B_FWD | B_WEIGHT | B_UTHR | B_LTHR | B_TUNNEL)

#define FWD_MASQ 0
#define FWD_TUNNEL 2
#define FWD_ROUTE 3
#define SVC_F_PERSISTENT 1
#define SVC_F_ONEPACKET 4
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_SCTP 132

/* core_restore_line: the full parser must decide this line (core.h) */
#define SLOW CORE_RESTORE_SLOW

struct tok {
    const char *s;
    size_t n;
};

/* One command line as the full parser's Entry would hold it. */
struct entry {
    int cmd;
    uint64_t given;
    uint16_t af, protocol, port;
    uint8_t addr[16];
    uint32_t fwmark, flags, timeout, netmask;
    char sched[PYIPVS_SCHEDNAME_LEN];
    char pe[PYIPVS_PENAME_LEN];
    struct pyipvs_dest d;
};

static int eq(const struct tok *t, const char *lit)
{
    size_t n = strlen(lit);

    return t->n == n && memcmp(t->s, lit, n) == 0;
}

/* 1..19 decimal digits and nothing else, at most max. Leading zeros are
 * fine: ipvsadm reads numbers with strtol in base 10. */
static int number(const struct tok *t, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (t->n == 0 || t->n > 19)
        return -1;
    for (i = 0; i < t->n; i++) {
        if (t->s[i] < '0' || t->s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(t->s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A dotted quad in decimal without leading zeros; returns the characters
 * used, or 0. */
static size_t quad(const char *s, size_t n, uint8_t out[4])
{
    size_t i = 0;
    int part;

    for (part = 0; part < 4; part++) {
        size_t start = i;
        unsigned v = 0;

        if (part > 0) {
            if (i >= n || s[i] != '.')
                return 0;
            start = ++i;
        }
        while (i < n && i - start < 4 && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || i - start > 3 || v > 255 || (s[start] == '0' && i - start > 1))
            return 0;
        out[part] = (uint8_t)v;
    }
    return i;
}

static int port_of(const char *s, size_t n, int *port)
{
    struct tok t = {s, n};
    uint64_t v;

    if (n > 5 || number(&t, 0, 65535, &v) < 0)
        return -1;
    *port = (int)v;
    return 0;
}

/* host[:port] for the two spellings whose reading is plain; *port is -1
 * when none was given. */
static int host_port(const struct tok *t, uint16_t *af, uint8_t addr[16], int *port)
{
    const char *s = t->s;
    size_t n = t->n, used;

    *port = -1;
    memset(addr, 0, 16);
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        char buf[48];
        size_t len, i;

        if (close == NULL)
            return -1;
        len = (size_t)(close - s) - 1;
        if (len < 2 || len >= sizeof(buf))
            return -1;
        for (i = 0; i < len; i++) {
            char c = s[1 + i];

            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == ':' || c == '.'))
                return -1;
            buf[i] = c;
        }
        buf[len] = '\0';
        if (inet_pton(AF_INET6, buf, addr) != 1)
            return -1;
        used = len + 2;
        if (used >= n || s[used] != ':')
            return -1;  /* the full parser wants the port of a bracketed address */
        *af = AF_INET6;
        return port_of(s + used + 1, n - used - 1, port);
    }
    used = quad(s, n, addr);
    if (used == 0)
        return -1;
    *af = AF_INET;
    if (used == n)
        return 0;
    if (s[used] != ':')
        return -1;
    return port_of(s + used + 1, n - used - 1, port);
}

static int name(const struct tok *t, char *out, size_t cap)
{
    size_t i;

    if (t->n == 0 || t->n >= cap)
        return -1;
    for (i = 0; i < t->n; i++) {
        char c = t->s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return -1;
    }
    memcpy(out, t->s, t->n);
    out[t->n] = '\0';
    return 0;
}

static int command_of(const struct tok *t)
{
    if (t->n != 2 || t->s[0] != '-')
        return 0;
    switch (t->s[1]) {
    case 'A': return PYIPVS_CMD_NEW_SERVICE;
    case 'E': return PYIPVS_CMD_SET_SERVICE;
    case 'D': return PYIPVS_CMD_DEL_SERVICE;
    case 'a': return PYIPVS_CMD_NEW_DEST;
    case 'e': return PYIPVS_CMD_SET_DEST;
    case 'd': return PYIPVS_CMD_DEL_DEST;
    default: return 0;
    }
}

/* Options taking an argument: parse the argument into e. 0, or -1 (slow). */
static int with_arg(struct entry *e, const struct tok *o, const struct tok *a)
{
    uint64_t v;
    int port;

    if (eq(o, "-t") || eq(o, "-u") || eq(o, "--sctp-service")) {
        e->protocol = o->s[1] == 't' ? PROTO_TCP : o->s[1] == 'u' ? PROTO_UDP : PROTO_SCTP;
        if (host_port(a, &e->af, e->addr, &port) < 0)
            return -1;
        if (e->af == AF_INET6)
            e->netmask = 128;
        if (port >= 0)
            e->port = (uint16_t)port;
        return 0;
    }
    if (eq(o, "-f")) {
        if (number(a, 1, 0xffffffffu, &v) < 0)
            return -1;
        e->af = AF_INET;
        e->protocol = PROTO_TCP;
        e->fwmark = (uint32_t)v;
        return 0;
    }
    if (eq(o, "-s"))
        return name(a, e->sched, PYIPVS_SCHEDNAME_LEN);
    if (eq(o, "--pe"))
        return name(a, e->pe, PYIPVS_PENAME_LEN);
    if (eq(o, "-M")) {
        uint8_t q[4];

        if (e->af == AF_INET6) {
            if (a->n > 3 || number(a, 1, 128, &v) < 0)
                return -1;
            e->netmask = (uint32_t)v;
            return 0;
        }
        if (quad(a->s, a->n, q) != a->n)
            return -1;
        e->netmask = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
        return 0;
    }
    if (eq(o, "-r")) {
        if (host_port(a, &e->d.af, e->d.addr, &port) < 0)
            return -1;
        /* no port given: the service's port as parsed so far */
        e->d.port = port >= 0 ? (uint16_t)port : e->port;
        return 0;
    }
    if (eq(o, "-w") || eq(o, "-x") || eq(o, "-y")) {
        if (number(a, 0, INT_MAX_U, &v) < 0)
            return -1;
        if (o->s[1] == 'w')
            e->d.weight = (int32_t)v;
        else if (o->s[1] == 'x')
            e->d.u_threshold = (uint32_t)v;
        else
            e->d.l_threshold = (uint32_t)v;
        return 0;
    }
    if (eq(o, "--tun-type")) {
        struct tok t = *a;

        if (eq(&t, "ipip"))
            e->d.tun_type = 0;
        else if (eq(&t, "gue"))
            e->d.tun_type = 1;
        else if (eq(&t, "gre"))
            e->d.tun_type = 2;
        else
            return -1;
        return 0;
    }
    if (eq(o, "--tun-port")) {
        if (number(a, 1, 65535, &v) < 0)
            return -1;
        e->d.tun_port = (uint16_t)v;
        return 0;
    }
    return -1;
}

static uint64_t bit_of(const struct tok *o)
{
    static const struct {
        const char *name;
        uint64_t bit;
    } table[] = {
        {"-t", B_SERVICE}, {"-u", B_SERVICE}, {"--sctp-service", B_SERVICE}, {"-f", B_SERVICE},
        {"-s", B_SCHED}, {"-p", B_PERSIST}, {"-M", B_NETMASK}, {"-r", B_SERVER},
        {"-g", B_FWD}, {"-m", B_FWD}, {"-i", B_FWD}, {"-w", B_WEIGHT}, {"-x", B_UTHR},
        {"-y", B_LTHR}, {"-o", B_OPS}, {"--pe", B_PE}, {"--tun-type", B_TUNTYPE},
        {"--tun-port", B_TUNPORT}, {"--tun-nocsum", B_NOCSUM}, {"--tun-csum", B_CSUM},
        {"--tun-remcsum", B_REMCSUM},
    };
    size_t i;

    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (eq(o, table[i].name))
            return table[i].bit;
    return 0;
}

/* The switches after the command, in order, as popt hands them over. */
static int options(struct entry *e, const struct tok *t, size_t n)
{
    size_t i;

    for (i = 1; i < n; i++) {
        const struct tok *o = &t[i];
        uint64_t bit;

        if (eq(o, "-6")) {  /* no matrix bit; only after -f */
            if (e->fwmark == 0)
                return -1;
            e->af = AF_INET6;
            e->netmask = 128;
            continue;
        }
        bit = bit_of(o);
        if (bit == 0 || (e->given & bit))
            return -1;  /* unknown here, or repeated: the full parser's */
        e->given |= bit;
        if (bit == B_FWD) {
            e->d.fwd_method = o->s[1] == 'g' ? FWD_ROUTE : o->s[1] == 'm' ? FWD_MASQ : FWD_TUNNEL;
        } else if (bit == B_OPS) {
            e->flags |= SVC_F_ONEPACKET;
        } else if (bit == B_NOCSUM || bit == B_CSUM || bit == B_REMCSUM) {
            e->d.tun_flags |= bit == B_NOCSUM ? 0 : bit == B_CSUM ? 1 : 2;
        } else if (bit == B_PERSIST) {
            uint64_t v = PERSISTENT_DEFAULT;

            e->flags |= SVC_F_PERSISTENT;
            /* popt's optional argument: the next word unless it starts with '-' */
            if (i + 1 < n && t[i + 1].s[0] != '-') {
                if (number(&t[++i], 1, MAX_TIMEOUT, &v) < 0)
                    return -1;
            }
            e->timeout = (uint32_t)v;
        } else {
            if (i + 1 >= n || with_arg(e, o, &t[i + 1]) < 0)
                return -1;
            i++;
        }
    }
    return 0;
}

/* The command/option matrix, the semantic checks and the tunnel table of
 * parse.py's _check, for the commands taken here: 0 if the line passes. */
static int checks(struct entry *e)
{
    int svc_cmd = e->cmd <= PYIPVS_CMD_DEL_SERVICE;
    uint64_t allowed, g = e->given;
    int fwd = (int)e->d.fwd_method;

    if (e->cmd == PYIPVS_CMD_NEW_SERVICE || e->cmd == PYIPVS_CMD_SET_SERVICE)
        allowed = SVC_OPTS;
    else if (e->cmd == PYIPVS_CMD_NEW_DEST || e->cmd == PYIPVS_CMD_SET_DEST)
        allowed = DEST_OPTS;
    else
        allowed = svc_cmd ? B_SERVICE : B_SERVICE | B_SERVER;
    if ((g & ~allowed) || !(g & B_SERVICE) || (!svc_cmd && !(g & B_SERVER)))
        return -1;
    if (e->cmd == PYIPVS_CMD_NEW_SERVICE || e->cmd == PYIPVS_CMD_SET_SERVICE) {
        if (!e->fwmark && !e->port && !(e->flags & SVC_F_PERSISTENT))
            return -1;
        if ((e->flags & SVC_F_ONEPACKET) && !e->fwmark && e->protocol != PROTO_UDP)
            return -1;
        if (e->sched[0] == '\0')
            strcpy(e->sched, "wlc");
    }
    if (e->cmd == PYIPVS_CMD_NEW_DEST || e->cmd == PYIPVS_CMD_SET_DEST) {
        if (!e->fwmark && (fwd == FWD_TUNNEL || fwd == FWD_ROUTE))
            e->d.port = e->port;
        if (e->d.af != e->af && fwd != FWD_TUNNEL)
            return -1;
        if ((g & B_TUNNEL) && fwd != FWD_TUNNEL)
            return -1;
        /* the tunnel-type table: ipip takes no option, gue needs a port
         * and at most one checksum option, gre no port, no remcsum and
         * at most one of the other two */
        if (e->d.tun_type == 0 && (g & (B_TUNPORT | B_NOCSUM | B_CSUM | B_REMCSUM)))
            return -1;
        if (e->d.tun_type == 1 && (!(g & B_TUNPORT) ||
                                   __builtin_popcountll(g & (B_NOCSUM | B_CSUM | B_REMCSUM)) > 1))
            return -1;
        if (e->d.tun_type == 2 &&
            ((g & (B_TUNPORT | B_REMCSUM)) || (g & (B_NOCSUM | B_CSUM)) == (B_NOCSUM | B_CSUM)))
            return -1;
    }
    return 0;
}

/* The service struct the full path sends: the settings for -A/-E, the
 * identity alone (as pyipvs's _c_key builds it) for everything else. */
static void service_of(const struct entry *e, struct pyipvs_service *s)
{
    int full = e->cmd == PYIPVS_CMD_NEW_SERVICE || e->cmd == PYIPVS_CMD_SET_SERVICE;

    memset(s, 0, sizeof(*s));
    s->af = e->af ? e->af : AF_INET;
    if (e->fwmark) {
        s->fwmark = e->fwmark;
        s->protocol = PROTO_TCP;
    } else {
        s->protocol = e->protocol;
        memcpy(s->addr, e->addr, s->af == AF_INET6 ? 16 : 4);
        s->port = e->port;
    }
    s->flags_mask = 0xffffffffu;
    s->netmask = s->af == AF_INET6 ? 128 : 0xffffffffu;
    if (full) {
        memcpy(s->sched_name, e->sched, sizeof(e->sched));
        memcpy(s->pe_name, e->pe, sizeof(e->pe));
        s->flags = e->flags;
        s->timeout = e->timeout;
        s->netmask = e->netmask;
    }
}

/* One line without its newline, parsed: 1 with *cmd, *svc and *d filled in
 * (d only for the server commands; its af resolved), 0 for a line without
 * tokens, or SLOW. Shared by the batch scan below and by the desired-table
 * scan of csrc/records.c, so both take exactly the same lines. */
int core_restore_line(const char *s, size_t n, int *cmd, struct pyipvs_service *svc,
                      struct pyipvs_dest *d)
{
    struct tok t[NTOK_MAX];
    struct entry e;
    size_t i = 0, nt = 0;

    while (i < n) {
        size_t start;

        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
            i++;
            continue;
        }
        start = i;
        while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
            /* NUL, other controls and non-ASCII: the full reader's business */
            if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
                return SLOW;
            i++;
        }
        if (i - start > TOK_MAX)
            return SLOW;
        if (i - start == 7 && memcmp(s + start, "ipvsadm", 7) == 0)
            continue;  /* ipvsadm's reader drops these */
        if (nt == NTOK_MAX)
            return SLOW;
        t[nt].s = s + start;
        t[nt].n = i - start;
        nt++;
    }
    if (nt == 0)
        return 0;
    memset(&e, 0, sizeof(e));
    e.cmd = command_of(&t[0]);
    if (e.cmd == 0)
        return SLOW;
    e.netmask = 0xffffffffu;
    e.d.weight = 1;
    e.d.fwd_method = FWD_ROUTE;
    if (options(&e, t, nt) < 0 || checks(&e) < 0)
        return SLOW;
    service_of(&e, svc);
    *cmd = e.cmd;
    *d = e.d;
    d->af = e.d.af == AF_INET6 ? AF_INET6 : AF_INET;
    return 1;
}

/* One line without its newline: 1 when a command was appended, 0 for a
 * line without tokens, SLOW, or a negative errno from the batch. */
static int one_line(struct pyipvs_batch *b, const char *s, size_t n)
{
    struct pyipvs_service svc;
    struct pyipvs_dest d;
    int cmd, rc = core_restore_line(s, n, &cmd, &svc, &d);

    if (rc != 1)
        return rc;
    if (cmd <= PYIPVS_CMD_DEL_SERVICE)
        rc = pyipvs_batch_service(b, cmd, &svc);
    else
        rc = pyipvs_batch_dest(b, cmd, &svc, &d);
    return rc < 0 ? rc : 1;
}

int pyipvs_restore_scan(struct pyipvs_batch *b, const char *text, size_t len, size_t max_cmds,
                        uint64_t *line_starts, struct pyipvs_restore_scan *st)
{
    size_t pos = st->pos;

    st->lines = 0;
    st->cmds = 0;
    st->stop = PYIPVS_RESTORE_END;
    if (pos > len)
        return -EINVAL;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end;
        int rc;

        if (nl == NULL)
            break;  /* a partial line: the caller brings the rest, or ends it */
        if (st->cmds >= max_cmds) {
            st->stop = PYIPVS_RESTORE_FULL;
            break;
        }
        end = (size_t)(nl - text);
        rc = one_line(b, text + pos, end - pos);
        if (rc < 0) {
            st->pos = pos;
            return rc;
        }
        if (rc == SLOW) {
            st->stop = PYIPVS_RESTORE_SLOW;
            break;
        }
        if (rc == 1) {
            if (line_starts != NULL)
                line_starts[st->cmds] = pos;
            st->cmds++;
        }
        st->lines++;
        pos = end + 1;
    }
    st->pos = pos;
    return 0;
}
