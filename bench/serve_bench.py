"""Throughput and cost per query: policydns against the uvloop ceiling, a naive dnslib
server and Debian's Knot DNS or NSD when installed, all in one run.

Serves a generated zone, bench.test: 10,000 simple names n0..n9999, 100 weighted names
w0..w99 (70/30) and 100 geolocation names g0..g99 (US / EU / the rest). Measures with
dnsperf (installed from Debian if missing), the server pinned to core 1 and dnsperf to
core 0. The query files are dnsperf binary (-B) files built with dnslib, so that every
query can carry its own EDNS Client Subnet option; every random choice has a fixed seed:
- simple: the 10,000 n* names, shuffled, no EDNS;
- weighted: the 100 w* names, no EDNS;
- geo + ECS: 10,000 random (g* name, client subnet) pairs over 1,000 distinct /24
  subnets, each query with an ECS option for its subnet: 500 subnets in 10.1.0.0/16 and
  10.2.0.0/16, which the bench config maps to the US, and 500 spread over other 10.x
  networks that are not mapped (answered from the catch-all set);
- mix: 10,000 queries, 80% simple, 10% weighted, 10% geo + ECS, shuffled.
Servers, each answering every load:
- ceiling: bench/ceiling.py, uvloop answering from a dict of replies pre-encoded for
  every distinct query of the files, found by the bytes after the ID, ID patched;
- naive dnslib: bench/naive_dnslib.py, written for the benchmark: dnslib parse, look up
  in a table of one fixed A record per name, dnslib pack, per query, on uvloop (UDP);
- policydns: python -m resolver serve, one process; and with --workers 2 on "simple x16",
  placed two ways: "-w2" on both cores (dnsperf shares core 0) and "-w2 c1" both on core
  1; also "-w2 c1" on "simple" (one client flow: SO_REUSEPORT sends it to one process,
  so one answers alone and shows a worker's own cost per query).
- knotd or nsd, if on PATH: the same names as plain A records from an RFC 1035 zone file,
  one UDP worker, on the simple and mix loads (never installed by this script).
Besides the UDP loads: "simple" over TCP (-m tcp, one connection, up to 200 queries
pipelined) and "simple x16" (16 dnsperf clients, -c 16).
Warm-up: before every measured run the same dnsperf command makes one untimed pass
through the file (-n 1), so the figures are steady state (the policydns answer cache full).
Reported, medians over rounds: queries per second; server CPU microseconds per answered
query (user + system from /proc, all threads and worker processes); p99 latency (from
dnsperf -v); CPU/q as a ratio to the ceiling on the same load and transport; qps as a
ratio to naive dnslib on the same load; the share of queries answered NOERROR.
Also the load time and memory of a 100,000-record-set zone (--skip-big to skip).

With --baseline DIR, policydns from another checkout (e.g. `git worktree add DIR COMMIT`)
answers every UDP and TCP load as "baseline", started and measured in the same rounds,
and a last table gives policydns's CPU per query over the baseline's, load by load.

Run:  python -m bench.serve_bench [--rounds 3] [--seconds 10] [--skip-big]
                                  [--only simple,weighted,geo,mix,tcp,x16] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    REPO,
    Server,
    address_for,
    answers,
    ask,
    dnsperf,
    ensure_dnsperf,
    find_program,
    free_port,
    start_server,
    wire_query,
    write_queries,
)

NAMES = 10_000
ZONE = "bench.test"
SEED = 1
US_NETWORKS = ("10.1.0.0/16", "10.2.0.0/16")  # the bench config maps these to the US
SUBNETS = 1_000  # distinct client /24s in the geo + ECS load, half of them in US_NETWORKS
MIX = {"simple": 80, "weighted": 10, "geo + ECS": 10}  # percent of the mix load
LOADS = {  # load: (query file, extra dnsperf arguments, --only key)
    "simple": ("simple", [], "simple"),
    "weighted": ("weighted", [], "weighted"),
    "geo + ECS": ("geo", [], "geo"),
    "mix": ("mix", [], "mix"),
    # 16 source ports, so SO_REUSEPORT's hash spreads them evenly over workers
    "simple x16": ("simple", ["-c", "16"], "x16"),
}


def write_zone(directory: Path, names: int, extra: bool = True) -> list[str]:
    """The policydns YAML zone; returns every name in it."""
    lines = [f"zone: {ZONE}", "ttl: 300", "records:"]
    for i in range(names):
        lines.append(f"  n{i}: [{{type: A, values: [192.0.2.{i % 250 + 1}]}}]")
    if extra:
        for i in range(100):
            lines.append(f"  w{i}:")
            lines.append(f"    - {{type: A, set_id: a, weight: 70, values: [192.0.2.{i + 1}]}}")
            lines.append(f"    - {{type: A, set_id: b, weight: 30, values: [198.51.100.{i + 1}]}}")
            lines.append(f"  g{i}:")
            for set_id, where, net in (
                ("us", "{country: US}", "192.0.2"),
                ("eu", "{continent: EU}", "198.51.100"),
                ("rest", "{country: '*'}", "203.0.113"),
            ):
                lines.append(
                    f"    - {{type: A, set_id: {set_id}, geolocation: {where}, "
                    f"values: [{net}.{i + 1}]}}"
                )
    (directory / f"{ZONE}.yaml").write_text("\n".join(lines) + "\n")
    simple = [f"n{i}.{ZONE}" for i in range(names)]
    if not extra:
        return simple
    return simple + [f"{kind}{i}.{ZONE}" for kind in "wg" for i in range(100)]


def write_rfc1035_zone(path: Path, names: list[str]) -> None:
    """The same names, each one plain A record (the first policydns value), for knot / nsd."""
    lines = [
        f"$ORIGIN {ZONE}.",
        "$TTL 300",
        f"@ SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 300",
        "@ NS ns",
        "ns A 192.0.2.254",
    ]
    lines += [f"{name.split('.')[0]} A {address_for(name)}" for name in names]
    path.write_text("\n".join(lines) + "\n")


def client_subnets(rng: random.Random) -> tuple[list[str], list[str]]:
    """(mapped to the US, unmapped): SUBNETS distinct /24s, half in US_NETWORKS."""
    us = [f"10.{1 + k // 256}.{k % 256}.0/24" for k in range(SUBNETS // 2)]
    others = rng.sample(range(3 * 256, 256 * 256), SUBNETS - len(us))
    return us, [f"10.{k // 256}.{k % 256}.0/24" for k in others]


def write_query_files(work: Path, names: list[str]) -> dict[str, Path]:
    rng = random.Random(SEED)
    simple = [n for n in names if n.startswith("n")]
    weighted = [n for n in names if n.startswith("w")]
    geo = [n for n in names if n.startswith("g")]
    us, unmapped = client_subnets(rng)
    subnets = us + unmapped

    def geo_query() -> bytes:
        return wire_query(rng.choice(geo), rng.choice(subnets))

    mix = (
        [wire_query(rng.choice(simple)) for _ in range(100 * MIX["simple"])]
        + [wire_query(rng.choice(weighted)) for _ in range(100 * MIX["weighted"])]
        + [geo_query() for _ in range(100 * MIX["geo + ECS"])]
    )
    rng.shuffle(mix)
    loads = {
        "simple": [wire_query(n) for n in rng.sample(simple, len(simple))],
        "weighted": [wire_query(n) for n in weighted],
        "geo": [geo_query() for _ in range(10_000)],
        "mix": mix,
    }
    files = {}
    for kind, queries in loads.items():
        files[kind] = work / f"{kind}.bin"
        write_queries(files[kind], queries)
    return files


def knot_config(directory: Path, port: int, zone_file: Path) -> list[str]:
    """Knot DNS on 127.0.0.1:PORT, one UDP worker, everything under DIRECTORY."""
    (directory / "db").mkdir()
    conf = directory / "knot.conf"
    conf.write_text(
        f"server:\n"
        f'    rundir: "{directory}"\n'
        f"    listen: 127.0.0.1@{port}\n"
        f"    udp-workers: 1\n"
        f"    tcp-workers: 1\n"
        f"    background-workers: 1\n"
        f"database:\n"
        f'    storage: "{directory / "db"}"\n'
        f"log:\n"
        f"  - target: stderr\n"
        f"    any: notice\n"
        f"zone:\n"
        f"  - domain: {ZONE}\n"
        f'    storage: "{directory}"\n'
        f'    file: "{zone_file}"\n'
    )
    return [find_program("knotd") or "knotd", "-c", str(conf)]


def nsd_config(directory: Path, port: int, zone_file: Path) -> list[str]:
    """NSD on 127.0.0.1:PORT, one server process, everything under DIRECTORY."""
    conf = directory / "nsd.conf"
    conf.write_text(
        f"server:\n"
        f"    ip-address: 127.0.0.1@{port}\n"
        f"    port: {port}\n"
        f"    server-count: 1\n"
        f'    username: ""\n'
        f'    chroot: ""\n'
        f'    zonesdir: "{directory}"\n'
        f'    database: ""\n'
        f'    pidfile: "{directory / "nsd.pid"}"\n'
        f'    xfrdfile: "{directory / "xfrd.state"}"\n'
        f'    xfrdir: "{directory}"\n'
        f'    zonelistfile: "{directory / "zone.list"}"\n'
        f"    verbosity: 1\n"
        f"remote-control:\n"
        f"    control-enable: no\n"
        f"zone:\n"
        f"    name: {ZONE}\n"
        f'    zonefile: "{zone_file}"\n'
    )
    return [find_program("nsd") or "nsd", "-d", "-c", str(conf)]


OTHERS = {"knotd": knot_config, "nsd": nsd_config}


@dataclass(frozen=True)
class Row:
    server: str
    load: str
    proto: str = "udp"

    @property
    def key(self) -> str:
        return "tcp" if self.proto == "tcp" else LOADS[self.load][2]


def plan(others: list[str], only: set[str] | None, baseline: bool = False) -> list[Row]:
    rows = []
    base = [Row("baseline", "")] if baseline else []
    for load in ("simple", "weighted", "geo + ECS", "mix"):
        rows += [Row("ceiling", load), Row("naive dnslib", load), Row("policydns", load)]
        rows += [Row(b.server, load) for b in base]
        if load in ("simple", "mix"):
            rows += [Row(other, load) for other in others]
    rows += [Row("ceiling", "simple", "tcp"), Row("policydns", "simple", "tcp")]
    rows += [Row(b.server, "simple", "tcp") for b in base]
    rows += [Row(kind, "simple x16") for kind in ("ceiling", "naive dnslib", "policydns")]
    rows += [Row("policydns -w2", "simple x16"), Row("policydns -w2 c1", "simple x16")]
    # One client flow reaches one socket: one worker answers alone, the other idles.
    rows.append(Row("policydns -w2 c1", "simple"))
    return [row for row in rows if only is None or row.key in only]


def launch(
    kind: str, work: Path, files: dict[str, Path], config: Path, baseline: Path | None = None
) -> Server:
    """Start one server of the table on a free port, pinned as the docstring says."""
    port = free_port()
    if kind == "baseline" and baseline is not None:
        return start_server(
            ["--config", str(config), "--zones", str(work / "zones")],
            work / "baseline.log",
            checkout=baseline,
        )
    if kind.startswith("policydns"):
        workers = ["--workers", "2"] if "-w2" in kind else []
        # "-w2": two workers on both cores (the kernel places them; dnsperf shares core 0);
        # "-w2 c1": both on core 1, so neither shares a core with dnsperf.
        return start_server(
            ["--config", str(config), "--zones", str(work / "zones"), *workers],
            work / "policydns.log",
            core="0,1" if kind.endswith("-w2") else 1,
        )
    if kind in OTHERS:
        directory = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=work))
        cmd = OTHERS[kind](directory, port, work / f"{ZONE}.zone")
        return start_server([], directory / "log", cmd=cmd, probe=(port, f"n0.{ZONE}"))
    if kind == "ceiling":
        args = [str(port), *map(str, files.values())]
    else:
        args = [str(work / "names.txt"), str(port)]
    module = "bench.ceiling" if kind == "ceiling" else "bench.naive_dnslib"
    return start_server([], work / f"{module}.log", cmd=[sys.executable, "-m", module, *args])


def measure(
    server: Server, queries: Path, seconds: float, extra: list[str]
) -> tuple[float, float, float, float, float, float]:
    """(qps, server CPU us per answered query, p99 ms, NOERROR share of queries sent, the
    busiest process's share of the server's CPU, the server's context switches per 1,000
    queries) for one dnsperf run, after one untimed warm-up pass through the file."""
    dnsperf(server.port, queries, seconds, extra=extra, binary=True, passes=1, verbose=False)
    before, switches = server.cpu_by_process(), server.context_switches()
    result = dnsperf(server.port, queries, seconds, extra=extra, binary=True)
    after, switches = server.cpu_by_process(), server.context_switches() - switches
    spent = [seconds - before.get(pid, 0.0) for pid, seconds in after.items()]
    cpu = sum(spent)
    noerror = result.rcodes.get("NOERROR", 0) / max(result.sent, 1)
    busiest = max(spent) / cpu if cpu else 1.0
    per_query = cpu / max(result.completed, 1) * 1e6
    switches_per_k = switches * 1000 / max(result.completed, 1)
    return result.qps, per_query, result.p99_ms, noerror, busiest, switches_per_k


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument(
        "--only",
        help="comma-separated subset of: simple,weighted,geo,mix,tcp,x16 (default: all)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another policydns commit, measured in the same rounds",
    )
    args = parser.parse_args()
    if args.baseline is not None and not (args.baseline / "resolver").is_dir():
        parser.error(f"--baseline: {args.baseline} holds no resolver package")
    only = set(args.only.split(",")) if args.only else None
    if only and not only <= {"simple", "weighted", "geo", "mix", "tcp", "x16"}:
        parser.error(f"--only: unknown load in {args.only}")
    ensure_dnsperf()
    work = Path(tempfile.mkdtemp(prefix="policydns-bench-"))
    zones = work / "zones"
    zones.mkdir()
    names = write_zone(zones, NAMES)
    (work / "names.txt").write_text("\n".join(names) + "\n")
    files = write_query_files(work, names)
    config = work / "policydns.yaml"
    config.write_text(
        "locations:\n"
        + "".join(
            f"  {net}: {{continent: NA, country: US, latitude: 37.4, longitude: -122.1}}\n"
            for net in US_NETWORKS
        )
    )
    others = [name for name in OTHERS if find_program(name)]
    if others:
        write_rfc1035_zone(work / f"{ZONE}.zone", names)
    rows = plan(others, only, args.baseline is not None)
    samples: dict[Row, list[tuple[float, ...]]] = {row: [] for row in rows}
    checks = []
    failed: dict[str, str] = {}
    servers = list(dict.fromkeys(row.server for row in rows))
    for _ in range(args.rounds):
        for server_kind in servers:
            if server_kind in failed:
                continue
            try:
                server = launch(server_kind, work, files, config, args.baseline)
            except RuntimeError as error:
                if server_kind not in OTHERS:
                    raise
                # knot / nsd are extras: a local setup problem must not sink the run.
                failed[server_kind] = " | ".join(str(error).strip().splitlines()[-3:])
                continue
            try:
                if server_kind == "policydns" and not checks:
                    for subnet, what in (("10.1.7.0/24", "US"), ("10.77.3.0/24", "unmapped")):
                        reply = answers(ask(server.port, f"g0.{ZONE}", subnet))
                        checks.append(f"g0 from {subnet} ({what}): {reply}")
                for row in rows:
                    if row.server != server_kind:
                        continue
                    queries, extra, _ = LOADS[row.load]
                    extra = [*extra, "-m", "tcp"] if row.proto == "tcp" else extra
                    samples[row].append(measure(server, files[queries], args.seconds, extra))
            finally:
                server.stop()
    medians = {
        row: tuple(statistics.median(s[i] for s in runs) for i in range(6))
        for row, runs in samples.items()
        if runs
    }
    print(
        f"{args.rounds} round(s) x {args.seconds:g} s per row, medians; server on core 1 "
        f"(policydns -w2: both cores, -w2 c1: both workers on core 1), dnsperf on core 0; "
        f"one untimed warm-up pass through the file before each measured run"
    )
    print(
        f"loads: simple = {NAMES:,} names, no EDNS; weighted = 100 names; geo + ECS = 100 "
        f"names x {SUBNETS:,} client /24s (half mapped to the US); mix = "
        + ", ".join(f"{share}% {load}" for load, share in MIX.items())
    )
    print(
        "vs ceiling: CPU us/q over the ceiling's on the same load and transport; "
        "vs naive: qps over naive dnslib's on the same load (UDP only)"
    )
    if checks:
        print("policydns " + "; ".join(checks))
    print(
        f"{'load':10} {'proto':5} {'server':16} {'qps':>9} {'CPU us/q':>9} {'vs ceiling':>10} "
        f"{'p99 ms':>7} {'vs naive':>8} {'NOERROR':>8}"
    )
    previous = None
    for row in rows:
        if row not in medians:
            continue
        if previous is not None and (row.load, row.proto) != previous:
            print()
        previous = (row.load, row.proto)
        qps, us, p99, ok, _, _ = medians[row]
        ceiling = medians.get(Row("ceiling", row.load, row.proto))
        naive = medians.get(Row("naive dnslib", row.load, row.proto))
        vs_ceiling = f"{us / ceiling[1]:9.2f}x" if ceiling else f"{'-':>10}"
        vs_naive = f"{qps / naive[0]:7.1f}x" if naive else f"{'-':>8}"
        print(
            f"{row.load:10} {row.proto:5} {row.server:16} {qps:9.0f} {us:9.1f} {vs_ceiling} "
            f"{p99:7.2f} {vs_naive} {ok:8.1%}"
        )
    alone, single = Row("policydns -w2 c1", "simple"), Row("policydns", "simple")
    if alone in medians and single in medians:
        print(
            f"policydns --workers 2, one client flow (one process answers, "
            f"{medians[alone][4]:.0%} of the CPU): CPU us/q "
            f"{medians[alone][1] / medians[single][1]:.2f}x one process's"
        )
    one = Row("policydns", "simple x16")
    for kind, where in (("policydns -w2", "both cores"), ("policydns -w2 c1", "core 1")):
        two = Row(kind, "simple x16")
        if one in medians and two in medians:
            ratio = medians[two][1] / medians[one][1]
            print(
                f"policydns --workers 2 on {where}: total CPU us/q {ratio:.2f}x one process's "
                f"(simple x16); busiest process did {medians[two][4]:.0%} of the work; "
                f"context switches per 1,000 queries {medians[two][5]:.1f} "
                f"(one process: {medians[one][5]:.1f})"
            )
    compared = [
        (row, medians[row][1], medians[Row("baseline", row.load, row.proto)][1])
        for row in rows
        if row.server == "policydns"
        and Row("baseline", row.load, row.proto) in medians
        and row in medians
    ]
    if compared:
        print(f"\npolicydns ({REPO}) against the baseline ({args.baseline}), same rounds:")
        for row, ours, theirs in compared:
            print(
                f"  {row.load:10} {row.proto:5} CPU us/q {ours:6.1f} vs {theirs:6.1f}: "
                f"{ours / theirs:.3f}x the baseline's"
            )
    if not others:
        print("knotd / nsd: neither installed (Debian packages knot, nsd), not measured")
    for name, why in failed.items():
        print(f"{name}: did not start, not measured: {why}")
    if not args.skip_big:
        big = work / "big"
        big.mkdir()
        write_zone(big, 100_000, extra=False)
        start = time.monotonic()
        server = start_server(["--zones", str(big)], work / "big.log", timeout=300)
        loaded = time.monotonic() - start
        rss = server.rss_kib()
        server.stop()
        print(f"100,000 record sets: serving after {loaded:.1f} s, RSS {rss / 1024:.0f} MiB")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
