"""pyipvsadm's own `-h` and `-v` text (top layer: the `pyipvsadm` front end).

Written for pyipvs; it covers the same commands and options as ipvsadm 1.31
but is not ipvsadm's text (only the exit status of -h/-v is compatible).
"""

# No `from __future__ import annotations`: the thin start's `-v` imports this
# module (quick.py), where even __future__ is start-up cost.

SCHEDULERS = "rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos"


def _version() -> str:
    try:
        from pyipvs import __version__
    except ImportError:  # pragma: no cover - the package root is always there
        return "unknown"
    return str(__version__)


def version_text() -> str:
    return f"pyipvsadm {_version()} (pyipvs; command-line compatible with ipvsadm v1.31)\n"


def help_text(prog: str) -> str:
    p = prog
    return f"""{version_text()}
Usage:
  {p} -A|-E SERVICE [-s SCHED] [-p [SECONDS]] [-M MASK] [--pe ENGINE] [-b FLAGS] [-o]
  {p} -D SERVICE
  {p} -a|-e SERVICE -r SERVER[:PORT] [-g|-i|-m] [-w WEIGHT] [-x UPPER] [-y LOWER]
            [--tun-type ipip|gue|gre] [--tun-port PORT] [--tun-nocsum|--tun-csum|--tun-remcsum]
  {p} -d SERVICE -r SERVER[:PORT]
  {p} -L|-l [SERVICE] [-n] [--stats|--rate|--thresholds|--persistent-conn|--tun-info]
            [--exact] [--nosort]
  {p} -L|-l -c [-n] [--persistent-conn]
  {p} -L|-l --timeout | --daemon
  {p} -Z [SERVICE]
  {p} -C
  {p} -S [-n]
  {p} -R < RULES
  {p} --set TCP TCPFIN UDP
  {p} --start-daemon master|backup [DAEMON OPTIONS]
  {p} --stop-daemon master|backup [--syncid ID]
  {p} -h | -v

The first switch is the command:
  -A, --add-service        create a virtual service
  -E, --edit-service       replace a virtual service's settings
  -D, --delete-service     remove a virtual service and its real servers
  -a, --add-server         add a real server to a virtual service
  -e, --edit-server        replace a real server's settings
  -d, --delete-server      remove a real server
  -L, -l, --list           show the table (or one service, the connections,
                           the timeouts or the sync daemons)
  -Z, --zero               reset the counters of one service or of all
  -C, --clear              remove every virtual service
  -S, --save               print the table as commands that rebuild it
  -R, --restore            run such commands, one per line, from stdin
  --set TCP TCPFIN UDP     set the TCP, TCP FIN-WAIT and UDP timeouts in
                           seconds (0 keeps a value)
  --start-daemon STATE     start a connection-sync daemon (master or backup)
  --stop-daemon STATE      stop one
  -h, --help               show this text
  -v, --version            show the version

SERVICE is one of:
  -t, --tcp-service HOST[:PORT]
  -u, --udp-service HOST[:PORT]
  --sctp-service HOST[:PORT]
  -f, --fwmark-service MARK      a firewall mark, 1 to 4294967295
  (IPv6 addresses go in brackets: [2001:db8::1]:80; add -6 / --ipv6 after
  -f for an IPv6 firewall-mark service)

Service settings:
  -s, --scheduler NAME     scheduling algorithm: {SCHEDULERS}
                           (default wlc)
  -p, --persistent [SEC]   keep a client on the same real server (default 360 s)
  -M, --netmask MASK       client grouping for persistence: a dotted mask
                           (IPv4) or a prefix length (IPv6)
  --pe NAME                persistence engine (e.g. sip)
  -b, --sched-flags LIST   comma-separated: flag-1, flag-2, flag-3,
                           sh-fallback, sh-port (sh), mh-fallback, mh-port (mh)
  -o, --ops                one-packet scheduling (UDP services)

Real-server settings:
  -r, --real-server HOST[:PORT]  the real server (port defaults to the service's)
  -g, --gatewaying         direct routing (default)
  -i, --ipip               tunnelling
  -m, --masquerading       NAT
  -w, --weight N           0 to 2147483647 (default 1)
  -x, --u-threshold N      upper connection threshold (0 = none)
  -y, --l-threshold N      lower connection threshold
  --tun-type TYPE          ipip (default), gue or gre
  --tun-port PORT          destination port of GUE tunnels
  --tun-nocsum, --tun-csum, --tun-remcsum   tunnel checksum mode

Listing options:
  -n, --numeric            no host or port names
  -c, --connection         the connection table
  --timeout                the protocol timeouts
  --daemon                 the sync daemons
  --stats                  packet and byte counters
  --rate                   rates
  --thresholds             connection thresholds
  --persistent-conn        persistent connections
  --tun-info               tunnel details
  -X, --exact              numbers in full
  --nosort                 kernel order instead of sorted
  --sort                   sorted order (the default; accepted for compatibility)

Sync-daemon options:
  --mcast-interface NAME   interface (default eth0)
  --syncid ID              0 to 255 (default 0)
  --sync-maxlen BYTES      largest sync message
  --mcast-group ADDRESS    IPv4 or IPv6 multicast group (default 224.0.0.81)
  --mcast-port PORT        UDP port (default 8848)
  --mcast-ttl TTL          multicast TTL (default 1)
"""
