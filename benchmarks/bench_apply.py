"""Apply benchmark (benchmarks layer): `pyipvs apply` against clear-and-restore
(`ipvsadm -C` + `ipvsadm -R`, and `pyipvsadm -R` after a clear) and against
the kernel floor, on a live table where 1 % of the servers change. Needs
root and IPVS, so it runs in the VM:

    bash benchmarks/install.sh && PATH=/work/venv/bin:$PATH ci/vm-run.sh \\
      '/work/venv/bin/python benchmarks/bench_apply.py --reps 3 2000x10 10000x10'

The programs (`pyipvs`, `pyipvsadm`) and the interpreter start-up they are
measured against run from the venv benchmarks/install.sh fills, as a user
installs them (benchmarks/installed.py says why not from the tree).

Per size: the live table is `benchmarks/gen_rules.py`'s, loaded with the
batch engine into a fresh network namespace before each measurement; the
desired table changes 1 % of its servers (0.6 % re-weighted, 0.2 % with
another forwarding method, 0.2 % replaced by a server at another address),
written as ipvsadm save text and as JSON. Every contestant's resulting
table is compared with the desired one through `ipvsadm -Sn`.

  pyipvs apply (save|json)  the installed `pyipvs` console script, on the
                            file; wall time
  ipvsadm -C + -R           both programs in the namespace; wall time
  pyipvsadm -R after -C     `ipvsadm -C`, then the installed `pyipvsadm -R`
  floor                     reading the table once (a GET_SERVICE dump and
                            one GET_DEST dump per service on a raw netlink
                            socket, nothing decoded) + sending the changes
                            prebuilt by the C encoders (benchmarks/floor.py)
  zero-change apply         `pyipvs apply` of the live table's own file,
                            against reading the table: `ipvsadm -Sn`, the
                            library's snapshot, and the read floor
  in-process breakdown      load the file, read the table, plan, apply: the
                            model path (Table objects) and the records path
                            a save file takes (pyipvs.reconcile.records)

Process start-up (`python -c pass`, also run as the programs are run, under
nsenter; `python -c 'import pyipvs.cli.pyipvs'`) is measured in the same
run, best of 3. With `--reps N` the quick contestants (the floors, reading
the table, the save-file applies, the records path) are the best of N
runs, each on a fresh namespace; the slow ones (JSON, the model path,
clear-and-restore) run once. The issue's targets are logged per size from
the best times. Only ratios within one run mean anything.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from benchmarks import floor, installed
from benchmarks.bench_list import inside
from benchmarks.gen_rules import Rule, restore_text, rules
from benchmarks.netns import add_netns, best_in_netns, best_of
from pyipvs import _native
from pyipvs.format_save import save_lines
from pyipvs.ipvs import IPVS
from pyipvs.jsonable import to_jsonable
from pyipvs.model import Forward, ServerStatus, ServiceKey, ServiceStatus
from pyipvs.names import NumericResolver
from pyipvs.reconcile import Table, apply_plan, loads, make_plan, plan_sides, read_live
from pyipvs.reconcile.records import RecordSide, live_side, prepare
from pyipvs.sorting import sort_servers, sort_services

PY = installed.PY  # the programs and the start-up baseline run as installed
ENV = installed.ENV
CMD_GET_SERVICE = 4
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
NETLINK_GENERIC = 16
_seq = iter(range(1_000_000))
LOG: list[str] = []


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
    LOG.append(msg)


def desired_of(table: list[Rule], seed: int = 7) -> list[Rule]:
    """1 % of the servers changed: re-weighted, re-forwarded or replaced."""
    rnd = random.Random(seed)
    flat = [(i, j) for i, r in enumerate(table) for j in range(len(r.servers))]
    picked = rnd.sample(flat, max(1, len(flat) // 100))
    out = [list(r.servers) for r in table]
    for n, (i, j) in enumerate(picked):
        s = out[i][j]
        if n % 5 < 3:
            out[i][j] = dataclasses.replace(s, weight=(s.weight + 1) % 101)
        elif n % 5 == 3:
            svc = table[i].service.key
            if s.forward == Forward.MASQ:
                port = svc.port if not svc.is_fwmark else 0
                out[i][j] = dataclasses.replace(s, forward=Forward.ROUTE, port=port)
            else:
                out[i][j] = dataclasses.replace(s, forward=Forward.MASQ, port=9000)
        else:
            a = s.address
            new = (
                ipaddress.IPv6Address(int(a) | 0xF000)
                if a.version == 6
                else ipaddress.IPv4Address(int(a) | 0x80)
            )
            out[i][j] = dataclasses.replace(s, address=new)
    return [Rule(r.service, tuple(v)) for r, v in zip(table, out)]


def json_text(table: list[Rule]) -> str:
    return json.dumps(
        {
            "services": [
                {"service": to_jsonable(r.service), "servers": [to_jsonable(s) for s in r.servers]}
                for r in table
            ]
        }
    )


# --- namespaces and programs ---


def new_netns(table: list[Rule]) -> str:
    name = f"apply-{os.getpid()}-{next(_seq)}"
    add_netns(name)
    with IPVS(name, timeout=600) as ipvs, ipvs.batch() as b:
        for r in table:
            b.add_service(r.service)
            for s in r.servers:
                b.add_server(r.service.key, s)
    return name


def drop(ns: str, commands: int) -> None:
    subprocess.run(["ip", "netns", "del", ns], check=False)
    time.sleep(1 + commands / 20000)  # the kernel tears the table down in the background


def run_in(ns: str, argv: list[str], stdin: str = "") -> tuple[float, str, str, int]:
    with tempfile.TemporaryFile("w+") as fin:
        fin.write(stdin)
        fin.seek(0)
        t = time.perf_counter()
        p = subprocess.run(
            ["nsenter", f"--net=/run/netns/{ns}", *argv],
            stdin=fin, capture_output=True, text=True, env=ENV,
        )  # fmt: skip
        return time.perf_counter() - t, p.stdout, p.stderr, p.returncode


def saved(ns: str) -> str:
    return run_in(ns, ["ipvsadm", "-Sn"])[1]


# --- the floor ---


def read_floor(ns: str, keys: list[ServiceKey]) -> float:
    """One GET_SERVICE dump and one GET_DEST dump per service, replies
    received and not decoded, requests built first: the cheapest way
    (benchmarks/list_floor.c, mode small): the service dump on a socket
    receiving 64 KiB, the GET_DEST dumps on a second one that never receives
    more than 4 KiB (the kernel sizes each dump chunk from a socket's largest
    receive so far)."""
    h = _native.Handle(f"/run/netns/{ns}", 600_000)
    fam = h.family_id
    svc_req = struct.pack("=IHHII", 20, fam, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + bytes(
        (CMD_GET_SERVICE, 1, 0, 0)
    )
    reqs = [_native.encode_dests_dump(k, family_id=fam, seq=i + 2) for i, k in enumerate(keys)]
    with inside(ns):
        small = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    with socket.socket(fileno=os.dup(h.fileno())) as big, small:
        small.bind((0, 0))
        t = time.perf_counter()
        for s, size, req in ((big, 1 << 16, svc_req), *((small, 4096, r) for r in reqs)):
            s.send(req)
            done = False
            while not done:
                data = s.recv(size)
                off = 0
                while off < len(data):
                    length, mtype = struct.unpack_from("=IH", data, off)
                    if mtype in (NLMSG_DONE, NLMSG_ERROR):
                        done = True
                    off += (length + 3) & ~3
        dt = time.perf_counter() - t
    h.close()
    return dt


def send_floor(ns: str, plan_table: Table, desired: Table) -> float:
    """The plan's commands, prebuilt by the C encoders, sent in chunks."""
    from pyipvs.reconcile import Action

    h = _native.Handle(f"/run/netns/{ns}", 600_000)
    fam = h.family_id
    changes = make_plan(plan_table, desired).changes
    part, chunks = [], []
    for i, c in enumerate(changes):
        last = i == len(changes) - 1 or (i + 1) % floor.CHUNK == 0
        kw = {"family_id": fam, "seq": i + 1,
              "flags": _native.NLM_DOIT if last else _native.NLM_REQUEST}  # fmt: skip
        cmd = {Action.ADD_SERVER: _native.CMD_NEW_DEST, Action.EDIT_SERVER: _native.CMD_SET_DEST,
               Action.DELETE_SERVER: _native.CMD_DEL_DEST}[c.action]  # fmt: skip
        server = c.server
        assert server is not None
        part.append(_native.encode_dest(cmd, c.key, server, **kw))
        if last:
            chunks.append((b"".join(part), i + 1))
            part = []
    with socket.socket(fileno=os.dup(h.fileno())) as s:
        t = time.perf_counter()
        failures = floor.send(s, chunks)
        dt = time.perf_counter() - t
    h.close()
    assert failures == 0, failures
    return dt


def sorted_save(table: Table) -> str:
    """The table as `ipvsadm -Sn` prints it (its order, its spelling)."""
    resolver = NumericResolver()
    lines: list[str] = []
    for st in sort_services([ServiceStatus(svc) for svc in table.services]):
        servers = sort_servers([ServerStatus(s) for s in table.servers_of(st.key)])
        lines += save_lines(st, servers, True, resolver)
    return "".join(line + "\n" for line in lines)


def to_table(table: list[Rule]) -> Table:
    return Table.of((r.service, r.servers) for r in table)


# --- one size ---


def bench(s: int, n: int, skip: set[str], timeout: float, reps: int) -> dict[str, float]:
    live_rules = rules(s, n)
    want_rules = desired_of(live_rules)
    live, want = to_table(live_rules), to_table(want_rules)
    commands = s * (n + 1)
    files = {}
    for name, text in (
        ("save", restore_text(want_rules)),
        ("json", json_text(want_rules)),
        ("save0", restore_text(live_rules)),
        ("json0", json_text(live_rules)),
    ):
        with tempfile.NamedTemporaryFile("w", suffix=".json" if "json" in name else ".rules",
                                         delete=False) as f:  # fmt: skip
            f.write(text)
        files[name] = f.name
    plan = make_plan(live, want)
    log(f"{s}x{n}: {commands} commands, the plan has {len(plan)} changes {plan.counts()}")
    reference = sorted_save(want)  # what `ipvsadm -Sn` must print afterwards
    out: dict[str, float] = {}

    def measure(
        name: str, fn: Callable[[str], float], check: str | None = "want", again: bool = False
    ) -> None:
        """fn's time on a fresh namespace holding the live table; with
        `again`, the best of `reps` such runs (the slow contestants, tens
        of times off, run once)."""
        if name in skip:
            return
        times = []
        for _ in range(reps if again else 1):
            ns = new_netns(live_rules)
            try:
                times.append(fn(ns))
                table = saved(ns) if check else ""
            finally:
                drop(ns, commands)
            ok = ""
            if check == "want":
                ok = " identical" if table == reference else " TABLE DIFFERS"
            log(f"  {s}x{n} {name}: {times[-1]:.3f} s{ok}")
        out[name] = min(times)

    def program(argv: list[str], stdin: str = "", note: bool = False) -> Callable[[str], float]:
        def fn(ns: str) -> float:
            dt, so, se, rc = run_in(ns, argv, stdin)
            if rc != 0:
                log(f"    exit {rc}: {se.strip()[-300:]}")
            if note:
                log(f"    {so.strip()[-400:]}")
            return dt

        return fn

    def clear_restore(restore: list[str]) -> Callable[[str], float]:
        def fn(ns: str) -> float:
            t1 = run_in(ns, ["ipvsadm", "-C"])[0]
            t2, _, se, rc = run_in(
                ns, ["timeout", str(timeout), *restore], restore_text(want_rules)
            )
            if rc != 0:
                log(f"    exit {rc} (124: over {timeout:.0f} s): {se.strip()[-200:]}")
            return t1 + t2

        return fn

    def in_process(ns: str) -> float:
        t0 = time.perf_counter()
        with open(files["save"]) as f:
            desired = loads(f.read(), "save")
        t1 = time.perf_counter()
        with open(files["json"]) as f:
            loads(f.read(), "json")
        t2 = time.perf_counter()
        with IPVS(ns, timeout=600) as ipvs:
            have = read_live(ipvs)
            t3 = time.perf_counter()
            p = make_plan(have, desired)
            t4 = time.perf_counter()
            r = apply_plan(ipvs, p)
            t5 = time.perf_counter()
        assert r.ok
        for k, v in (("load save", t1 - t0), ("load json", t2 - t1), ("read live", t3 - t2),
                     ("plan", t4 - t3), ("apply", t5 - t4)):  # fmt: skip
            out[f"model path {k}"] = v  # not "in-process apply": that key is the total
            log(f"    model path {k}: {v:.3f} s")
        return t5 - t2 + (t1 - t0)

    def in_process_records(ns: str) -> float:
        # The path `pyipvs apply FILE` takes for a save file: records.
        t0 = time.perf_counter()
        with open(files["save"]) as f:
            desired = prepare(f.read(), "save")
        assert isinstance(desired, RecordSide), "the save file left the records path"
        t1 = time.perf_counter()
        with IPVS(ns, timeout=600) as ipvs:
            have = live_side(ipvs)
            t2 = time.perf_counter()
            p = plan_sides(have, desired)
            t3 = time.perf_counter()
            r = apply_plan(ipvs, p)
            t4 = time.perf_counter()
        assert r.ok
        for k, v in (("scan save", t1 - t0), ("read live", t2 - t1), ("plan", t3 - t2),
                     ("apply", t4 - t3)):  # fmt: skip
            out[f"records {k}"] = v
            log(f"    records {k}: {v:.3f} s")
        return t4 - t0

    def floor_fn(ns: str) -> float:
        r = read_floor(ns, [x.service.key for x in live_rules])
        w = send_floor(ns, live, want)
        out["floor read"], out["floor send"] = r, w
        log(f"    floor: read {r:.3f} s + send {w:.3f} s")
        return r + w

    def snapshot(ns: str) -> float:
        with IPVS(ns, timeout=600) as ipvs:
            t = time.perf_counter()
            ipvs.snapshot()
            return time.perf_counter() - t

    apply_argv = [installed.script("pyipvs"), "apply"]
    keys = [x.service.key for x in live_rules]
    # Cheapest first: under emulation a 10k x 10 run takes long, and what
    # was measured is logged as it comes.
    measure("floor", floor_fn, again=True)
    measure("read floor", lambda ns: read_floor(ns, keys), None, again=True)
    measure("ipvsadm -Sn (reading the table)", program(["ipvsadm", "-Sn"]), None, again=True)
    measure("library snapshot (in process)", snapshot, None, again=True)
    measure("pyipvs apply (JSON file)", program([*apply_argv, files["json"]], note=True))
    measure("zero-change pyipvs apply (JSON file)",
            program([*apply_argv, files["json0"]], note=True), None)  # fmt: skip
    measure("pyipvs apply (save file)", program([*apply_argv, files["save"]], note=True),
            again=True)  # fmt: skip
    measure("zero-change pyipvs apply (save file)",
            program([*apply_argv, files["save0"]], note=True), None, again=True)  # fmt: skip
    measure("in-process apply", in_process)
    measure("in-process apply (records)", in_process_records, again=True)
    measure("ipvsadm -C + ipvsadm -R", clear_restore(["ipvsadm", "-R"]))
    measure("pyipvsadm -R after ipvsadm -C",
            clear_restore([installed.script("pyipvsadm"), "-R"]))  # fmt: skip
    for f in files.values():
        os.unlink(f)
    return out


# The interpreter's start-up as the programs are run (run_in: nsenter, then
# the program), which the apply target adds to the floor.
HARNESSED_START = "python -c pass (as programs run: nsenter)"


def targets(size: str, r: dict[str, float], start: float) -> None:
    """Log the issue's targets for one size, from the best times."""
    floor, apply_ = r.get("floor"), r.get("pyipvs apply (save file)")
    if floor and apply_:
        log(f"  {size} apply: {apply_:.3f} s against 1.3 x floor + start-up = "
            f"{1.3 * floor + start:.3f} s; (apply - start-up) / floor = "
            f"{(apply_ - start) / floor:.2f}x")  # fmt: skip
    zero, sn = (
        r.get("zero-change pyipvs apply (save file)"),
        r.get("ipvsadm -Sn (reading the table)"),
    )
    if zero and sn:
        log(f"  {size} zero-change apply {zero:.3f} s against ipvsadm -Sn {sn:.3f} s: "
            f"{zero / sn:.2f}x")  # fmt: skip
    clear = r.get("ipvsadm -C + ipvsadm -R")
    if clear and apply_:
        log(f"  {size} ipvsadm -C + -R / apply = {clear / apply_:.1f}x")


def startup() -> dict[str, float]:
    def best(argv: list[str]) -> float:
        return best_of(argv, ENV)

    harnessed = best_in_netns(run_in, [PY, "-c", "pass"])
    return {
        "python -c pass": best([PY, "-c", "pass"]),
        HARNESSED_START: harnessed,
        "python -c 'import pyipvs.cli.pyipvs'": best([PY, "-c", "import pyipvs.cli.pyipvs"]),
        "python -c 'import pyipvs.cli.quick_pyipvs'": best(
            [PY, "-c", "import pyipvs.cli.quick_pyipvs"]
        ),
        "ipvsadm -v": best(["ipvsadm", "-v"]),
    }


def main(argv: list[str]) -> int:
    skip: set[str] = set()
    timeout = 1800.0
    reps = 1
    sizes = []
    args = iter(argv[1:])
    for a in args:
        if a == "--skip":
            skip |= {x.strip() for x in next(args).split(",")}
        elif a == "--reps":
            reps = int(next(args))
        elif a == "--timeout":
            timeout = float(next(args))
        else:
            sizes.append(tuple(int(x) for x in a.split("x")))
    with open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    log(f"machine: {os.cpu_count()} CPUs ({cpu}), kernel {os.uname().release}, "
        f"Python {sys.version.split()[0]}")  # fmt: skip
    installed.check()
    starts = startup()
    for k, v in starts.items():
        log(f"start-up {k}: {v:.3f} s")
    results = {}
    for s, n in sizes:
        results[f"{s}x{n}"] = bench(s, n, skip, timeout, reps)
        targets(f"{s}x{n}", results[f"{s}x{n}"], starts[HARNESSED_START])
    print(json.dumps({"startup": starts, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
