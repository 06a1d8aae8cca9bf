"""Soak: policydns under dnsperf at 80 % of its measured capacity for minutes, with 1 %
malformed packets mixed in, watching for crashes, lost replies and memory growth.

Issue 12's bounds: 0 crashes, under 0.1 % of dnsperf's queries lost, RSS at the end
within 10 % of RSS after the first minute. Not in CI (it runs for minutes).

Steps:
- start the real server (`python -m resolver serve`, pinned to core 1) on the example
  zones (zones/, or --zones), with --config if given, from --checkout if given;
- capacity: one untimed warm-up pass through the query file, then CAPACITY_RUNS dnsperf
  runs of CAPACITY_SECONDS at full speed; the median of their qps (skipped with --rate);
- soak: dnsperf at 80 % of that (or --rate) for --duration seconds, while a second sender
  in this process sends malformed packets at 1 % of that rate (truncated headers, QR set,
  QDCOUNT 0 and 2, compression pointers out of range and in loops, labels over 63, names
  over 255, bad OPT records, bad ECS options, unknown opcodes and classes, random bytes,
  oversize datagrams) and drains whatever comes back; the server's RSS (VmRSS of it and
  its workers) is sampled every SAMPLE_SECONDS and its process checked alive;
- crashes: the server exited, or its log holds a traceback, "internal error" or a
  dropped-query / failed-connection line.
The query file (fixed seed): 80 % names and types that exist in the zones, 10 % names
that do not exist in them (NXDOMAIN, 1,000 distinct), 5 % existing A names with an ECS
option from 1,000 client /24s, 5 % names outside every zone (REFUSED).
This process and dnsperf run on core 0, the server on core 1.

Run:  python -m bench.soak [--duration 300] [--rate QPS] [--zones PATH]... [--config FILE]
                           [--checkout DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from dnslib import QTYPE

from bench.common import (
    REPO,
    PerfResult,
    Server,
    dnsperf,
    ensure_dnsperf,
    start_server,
    wire_query,
    write_queries,
)

SEED = 12
QUERIES = 10_000
CAPACITY_RUNS = 3
CAPACITY_SECONDS = 5.0
LOAD_SHARE = 0.8  # of the measured capacity
MALFORMED_SHARE = 0.01  # of the dnsperf rate (default of --malformed)
MALFORMED_POOL = 4_000  # distinct malformed packets, sent round-robin with fresh IDs
SAMPLE_SECONDS = 5.0
REFERENCE_SECONDS = 60.0  # "RSS after the first minute"
MAX_LOSS = 0.001
MAX_RSS_GROWTH = 0.10
CRASH_LINE = re.compile(
    r"Traceback|internal error|dropped a UDP query|connection from \S+ failed|worker \d+ failed"
)


# --- malformed packets --------------------------------------------------------------------


def header(flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    """A DNS header with ID 0 (the sender writes a fresh one), RD set by default."""
    return struct.pack("!6H", 0, flags, qd, an, ns, ar)


def qname(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


def question(name: str = "www.example.com", qtype: int = 1, qclass: int = 1) -> bytes:
    return qname(name) + struct.pack("!HH", qtype, qclass)


def opt(rdata: bytes = b"", version: int = 0, rdlength: int | None = None) -> bytes:
    """An OPT record (UDP size 1232); `rdlength` lies about the length of its data."""
    length = len(rdata) if rdlength is None else rdlength
    return b"\0" + struct.pack("!HHBBHH", 41, 1232, 0, version, 0, length) + rdata


def ecs(family: int, source: int, scope: int, address: bytes) -> bytes:
    data = struct.pack("!HBB", family, source, scope) + address
    return struct.pack("!HH", 8, len(data)) + data


def _random_label(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(length))


MALFORMED: dict[str, Callable[[random.Random], bytes]] = {
    "truncated header": lambda r: r.randbytes(r.randrange(0, 12)),
    "QR set": lambda r: header(flags=0x8100) + question(),
    "QDCOUNT 0": lambda r: header(qd=0) + r.choice([b"", question()]),
    "QDCOUNT 2": lambda r: header(qd=2) + question() + question("mail.example.com"),
    "pointer out of range": lambda r: (
        header() + bytes([0xC0 | r.randrange(0, 64), r.randrange(20, 256)]) + b"\0\1\0\1"
    ),
    "pointer loop": lambda r: (
        header() + r.choice([b"\xc0\x0c", b"\x03abc\xc0\x0c", b"\xc0\x0e\xc0\x0c"]) + b"\0\1\0\1"
    ),
    "label over 63": lambda r: (
        header() + bytes([r.randrange(64, 192)]) + r.randbytes(70) + b"\0\0\1\0\1"
    ),
    "name over 255": lambda r: (
        header() + question(".".join(_random_label(r, 63) for _ in range(5)) + ".example.com")
    ),
    "OPT length overrun": lambda r: header(ar=1) + question() + opt(b"\0\x08", rdlength=200),
    "option length overrun": lambda r: (
        header(ar=1) + question() + opt(struct.pack("!HH", 8, 60) + b"\0\1\x18\0\x0a")
    ),
    "two OPTs": lambda r: header(ar=2) + question() + opt() + opt(),
    "EDNS version 1": lambda r: header(ar=1) + question() + opt(version=1),
    "ECS bad family": lambda r: (
        header(ar=1) + question() + opt(ecs(r.choice([0, 3, 0xFFFF]), 24, 0, b"\x0a\x01\x02"))
    ),
    "ECS bad prefix": lambda r: (
        header(ar=1)
        + question()
        + opt(
            r.choice(
                [
                    ecs(1, 33, 0, b"\x0a\x01\x02\x03\x04"),  # over 32
                    ecs(2, 129, 0, bytes(17)),  # over 128
                    ecs(1, 24, 0, b"\x0a\x01\x02\x03"),  # more address than the prefix
                    ecs(1, 24, 0, b"\x0a"),  # less address than the prefix
                    ecs(1, 24, 8, b"\x0a\x01\x02"),  # scope set in a query
                    ecs(1, 20, 0, b"\x0a\x01\x0f"),  # address bits past the prefix
                ]
            )
        )
    ),
    "unknown opcode": lambda r: header(flags=(r.choice([3, 6, 7, 15]) << 11) | 0x0100) + question(),
    "unknown class": lambda r: header() + question(qclass=r.choice([0, 2, 254, 0x1234, 0xFFFF])),
    "record counts lie": lambda r: header(an=0xFFFF, ns=0xFFFF, ar=0xFFFF) + question(),
    "random bytes": lambda r: r.randbytes(r.randrange(12, 600)),
    "oversize datagram": lambda r: (
        header() + question() + r.randbytes(r.choice([600, 1500, 4096, 9000, 65_000]))
    ),
}


def malformed_pool(rng: random.Random, size: int = MALFORMED_POOL) -> list[tuple[str, bytes]]:
    """SIZE (kind, packet) pairs, every kind equally often, shuffled."""
    kinds = list(MALFORMED)
    pool = [(kinds[i % len(kinds)], MALFORMED[kinds[i % len(kinds)]](rng)) for i in range(size)]
    rng.shuffle(pool)
    return pool


class MalformedSender(threading.Thread):
    """Sends the pool round-robin at RATE packets per second (in 10 ms steps) from one UDP
    socket; drains the replies and counts them by kind: each packet's ID is its kind's
    number in the high byte and a random low byte, and a reply echoes the ID."""

    STEP = 0.01

    def __init__(self, port: int, rate: float, pool: list[tuple[str, bytes]]) -> None:
        super().__init__(daemon=True)
        self.port, self.rate, self.pool = port, rate, pool
        self.kinds = list(MALFORMED)
        self.sent: Counter[str] = Counter()
        self.replies: Counter[str] = Counter()
        self.send_errors = 0  # full socket buffer, or refused once the server is gone
        self.done = threading.Event()

    def run(self) -> None:
        number = {kind: i for i, kind in enumerate(self.kinds)}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            sock.setblocking(False)
            target, due, owed, at = ("127.0.0.1", self.port), time.monotonic(), 0.0, 0
            while not self.done.is_set():
                owed += self.rate * self.STEP
                while owed >= 1:
                    owed -= 1
                    kind, packet = self.pool[at % len(self.pool)]
                    at += 1
                    if len(packet) >= 2:
                        packet = bytes([number[kind], random.randrange(256)]) + packet[2:]
                    try:
                        sock.sendto(packet, target)
                        self.sent[kind] += 1
                    except OSError:
                        self.send_errors += 1
                self._drain(sock)
                due += self.STEP
                time.sleep(max(0.0, due - time.monotonic()))
            time.sleep(0.5)  # the last replies
            self._drain(sock)

    def _drain(self, sock: socket.socket) -> None:
        while True:
            try:
                reply = sock.recv(65535)
            except BlockingIOError:
                return
            except OSError:  # ICMP refused from an earlier send
                continue
            kind = reply[0] if reply else len(self.kinds)
            self.replies[self.kinds[kind] if kind < len(self.kinds) else "?"] += 1


# --- the well-formed load -----------------------------------------------------------------


def zone_files(paths: list[Path]) -> list[Path]:
    """The files `--zones PATH` loads: PATH itself, or a directory's *.yaml / *.yml."""
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        else:
            files.append(path)
    return files


def zone_questions(paths: list[Path]) -> tuple[list[str], list[tuple[str, str]]]:
    """(zone names, (name, type) of every record set) in the zone files under PATHS; alias
    and policy record sets count once per type."""
    zones, pairs = [], set()
    for path in zone_files(paths):
        doc = yaml.safe_load(path.read_text())
        if not isinstance(doc, dict) or not isinstance(doc.get("zone"), str):
            continue
        zone = doc["zone"].rstrip(".")
        zones.append(zone)
        for name, sets in (doc.get("records") or {}).items():
            fqdn = zone if name == "@" else f"{name}.{zone}"
            for entry in sets if isinstance(sets, list) else []:
                kind = entry.get("type") if isinstance(entry, dict) else None
                if isinstance(kind, str) and QTYPE.get(kind, None) is not None:
                    pairs.add((fqdn, kind))
    return zones, sorted(pairs)


def write_load(path: Path, zones: list[str], pairs: list[tuple[str, str]]) -> int:
    """The dnsperf -B query file described in the module docstring."""
    if not pairs:
        raise SystemExit("no record sets found in the zones")
    rng = random.Random(SEED)
    a_names = [name for name, kind in pairs if kind == "A"] or [pairs[0][0]]
    subnets = [f"10.{k // 256}.{k % 256}.0/24" for k in rng.sample(range(65536), 1000)]
    queries = []
    for i in range(QUERIES):
        share = i % 100
        if share < 80:
            name, kind = rng.choice(pairs)
            queries.append(wire_query(name, qtype=kind))
        elif share < 90:
            queries.append(wire_query(f"nx{rng.randrange(1000)}.{rng.choice(zones)}"))
        elif share < 95:
            queries.append(wire_query(rng.choice(a_names), rng.choice(subnets)))
        else:
            queries.append(wire_query(f"q{rng.randrange(1000)}.outside.test"))
    rng.shuffle(queries)
    return write_queries(path, queries)


# --- the soak -----------------------------------------------------------------------------


@dataclass
class Report:
    capacity_qps: float | None
    capacity_runs: list[float]
    offered_qps: int
    duration_s: float
    sent: int
    completed: int
    lost: int
    loss: float
    rcodes: dict[str, int]
    udp_receive_drops: int  # host-wide, during the soak
    malformed_sent: int
    malformed_by_kind: dict[str, int]
    malformed_replies: dict[str, int]
    malformed_send_errors: int
    rss_reference_at_s: float
    rss_reference_kib: int
    rss_end_kib: int
    rss_max_kib: int
    rss_ratio: float
    rss_samples: list[tuple[float, int]] = field(default_factory=list)
    exited: int | None = None  # the server's exit code if it died during the soak
    crash_count: int = 0
    crash_lines: list[str] = field(default_factory=list)  # the first 20
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(self.checks.values())


def judge(report: Report) -> dict[str, bool]:
    """Issue 12's bounds, pure: 0 crashes, < 0.1 % lost, RSS end <= 1.1 x RSS at 1 min
    (shrinking is fine)."""
    return {
        "0 crashes": report.exited is None and report.crash_count == 0,
        "< 0.1 % lost": report.sent > 0 and report.loss < MAX_LOSS,
        "RSS end within 10 % of 1 min": report.rss_ratio <= 1 + MAX_RSS_GROWTH,
    }


def udp_receive_drops() -> int:
    """The kernel's count of UDP datagrams dropped for a full receive buffer, host-wide
    (/proc/net/snmp RcvbufErrors): what the server was too slow to take in."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    names, values = [fields for fields in lines if fields[0] == "Udp:"][:2]
    return int(values[names.index("RcvbufErrors")])


def reference_sample(samples: list[tuple[float, int]], at: float) -> tuple[float, int]:
    """The first (seconds, KiB) sample taken at or after AT seconds, else the last one."""
    return next((s for s in samples if s[0] >= at), samples[-1])


def measure_capacity(server: Server, queries: Path) -> list[float]:
    """qps of CAPACITY_RUNS full-speed dnsperf runs, after one untimed pass (warm caches)."""
    dnsperf(server.port, queries, CAPACITY_SECONDS, binary=True, passes=1, verbose=False)
    return [
        dnsperf(server.port, queries, CAPACITY_SECONDS, binary=True, verbose=False).qps
        for _ in range(CAPACITY_RUNS)
    ]


def soak(
    server: Server, queries: Path, rate: int, duration: float, malformed: float
) -> tuple[PerfResult, MalformedSender, list[tuple[float, int]], int | None, int]:
    """dnsperf at RATE for DURATION with the malformed sender beside it (MALFORMED x RATE
    packets per second); returns dnsperf's result, the sender, the RSS samples (seconds
    since the start, KiB), the server's exit code if it died and the host's UDP
    receive-buffer drops meanwhile."""
    outcome: dict[str, PerfResult | BaseException] = {}

    def load() -> None:
        try:
            outcome["perf"] = dnsperf(
                server.port, queries, duration, rate=rate, binary=True, verbose=False
            )
        except BaseException as error:  # handed to the main thread, which raises it
            outcome["perf"] = error

    sender = MalformedSender(server.port, rate * malformed, malformed_pool(random.Random(SEED)))
    perf = threading.Thread(target=load, daemon=True)
    samples: list[tuple[float, int]] = []
    exited = None
    drops = udp_receive_drops()
    start = time.monotonic()
    perf.start()
    sender.start()
    while perf.is_alive():
        perf.join(SAMPLE_SECONDS)
        samples.append((round(time.monotonic() - start, 1), server.rss_kib()))
        if exited is None and server.proc.poll() is not None:
            exited = server.proc.returncode
            print(f"server exited with {exited} after {samples[-1][0]:.0f} s", file=sys.stderr)
    sender.done.set()
    sender.join()
    if server.proc.poll() is not None and exited is None:
        exited = server.proc.returncode
    drops = udp_receive_drops() - drops
    result = outcome["perf"]
    if isinstance(result, BaseException):
        raise result
    return result, sender, samples, exited, drops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds (default 300)")
    parser.add_argument("--rate", type=int, help="dnsperf qps; skips the capacity measurement")
    parser.add_argument("--zones", type=Path, action="append", help="default: zones/")
    parser.add_argument("--config", type=Path, help="a policydns.yaml for the server")
    parser.add_argument("--checkout", type=Path, help="run policydns from this source tree")
    parser.add_argument(
        "--malformed",
        type=float,
        default=MALFORMED_SHARE,
        help="malformed packets as a share of the dnsperf rate (default 0.01)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures there as JSON")
    args = parser.parse_args()
    if args.checkout is not None and not (args.checkout / "resolver").is_dir():
        parser.error(f"--checkout: {args.checkout} holds no resolver package")
    zones = [p.resolve() for p in args.zones or [REPO / "zones"]]
    ensure_dnsperf()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})  # the malformed sender beside dnsperf, off the server's core
    work = Path(tempfile.mkdtemp(prefix="policydns-soak-"))
    queries = work / "queries.bin"
    write_load(queries, *zone_questions(zones))
    server_args = [arg for z in zones for arg in ("--zones", str(z))]
    if args.config is not None:
        server_args += ["--config", str(args.config.resolve())]
    log = work / "server.log"
    server = start_server(server_args, log, checkout=args.checkout)
    try:
        runs = [] if args.rate else measure_capacity(server, queries)
        capacity = statistics.median(runs) if runs else None
        rate = args.rate or int(LOAD_SHARE * (capacity or 0))
        print(
            f"capacity {capacity or 0:.0f} qps (runs {', '.join(f'{r:.0f}' for r in runs)}); "
            f"soaking at {rate} qps for {args.duration:g} s"
            if runs
            else f"soaking at {rate} qps (--rate) for {args.duration:g} s",
            flush=True,
        )
        outcome = soak(server, queries, rate, args.duration, args.malformed)
        result, sender, samples, exited, drops = outcome
    finally:
        server.stop()
    crash_lines = [
        line for line in log.read_text(errors="replace").splitlines() if CRASH_LINE.search(line)
    ]
    at, reference = reference_sample(samples, min(REFERENCE_SECONDS, args.duration / 2))
    end = samples[-1][1]
    report = Report(
        capacity_qps=capacity,
        capacity_runs=runs,
        offered_qps=rate,
        duration_s=args.duration,
        sent=result.sent,
        completed=result.completed,
        lost=result.lost,
        loss=result.lost / max(result.sent, 1),
        rcodes=result.rcodes,
        udp_receive_drops=drops,
        malformed_sent=sum(sender.sent.values()),
        malformed_by_kind=dict(sender.sent),
        malformed_replies=dict(sender.replies),
        malformed_send_errors=sender.send_errors,
        rss_reference_at_s=at,
        rss_reference_kib=reference,
        rss_end_kib=end,
        rss_max_kib=max(kib for _, kib in samples),
        rss_ratio=end / reference if reference else float("inf"),
        rss_samples=samples,
        exited=exited,
        crash_count=len(crash_lines),
        crash_lines=crash_lines[:20],
    )
    report.checks = judge(report)
    print_report(report)
    if args.json is not None:
        args.json.write_text(json.dumps({**asdict(report), "passed": report.passed}, indent=1))
    if report.passed:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"server log kept: {log}")
    return 0 if report.passed else 1


def print_report(r: Report) -> None:
    if r.capacity_qps is not None:
        runs = ", ".join(f"{q:.0f}" for q in r.capacity_runs)
        print(
            f"capacity:      {r.capacity_qps:.0f} qps (median of {runs}; full speed, "
            f"{CAPACITY_SECONDS:g} s each)"
        )
    print(f"offered:       {r.offered_qps} qps for {r.duration_s:g} s")
    print(
        f"dnsperf:       sent {r.sent}, completed {r.completed}, lost {r.lost} "
        f"({r.loss:.4%}); " + ", ".join(f"{k} {v}" for k, v in r.rcodes.items())
    )
    print(f"kernel:        {r.udp_receive_drops} UDP datagrams dropped for a full receive buffer")
    print(
        f"malformed:     sent {r.malformed_sent} ({r.malformed_sent / max(r.sent, 1):.2%} of "
        f"dnsperf's), {len(r.malformed_by_kind)} kinds, "
        f"{sum(r.malformed_replies.values())} replies, {r.malformed_send_errors} send errors"
    )
    unanswered = [kind for kind in r.malformed_by_kind if kind not in r.malformed_replies]
    print(f"  no reply to: {', '.join(unanswered) or '-'}")
    print(
        f"RSS:           {r.rss_reference_kib / 1024:.1f} MiB at {r.rss_reference_at_s:.0f} s, "
        f"{r.rss_end_kib / 1024:.1f} MiB at the end (ratio {r.rss_ratio:.3f}), max "
        f"{r.rss_max_kib / 1024:.1f} MiB"
    )
    alive = "process alive" if r.exited is None else f"server exited with {r.exited}"
    print(f"crashes:       {alive}; {r.crash_count} traceback / internal error lines")
    for line in r.crash_lines[:5]:
        print(f"  {line}")
    for check, ok in r.checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {check}")
    print("soak: " + ("PASS" if r.passed else "FAIL"))


if __name__ == "__main__":
    sys.exit(main())
