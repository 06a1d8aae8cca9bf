"""Throughput and cost per query: policydns against the Python ceiling and naive dnslib.

Serves a generated zone of 10,000 simple names (plus 100 weighted and 100 geolocation
names) and measures with dnsperf, the server pinned to core 1 and dnsperf to core 0:
queries per second, server CPU microseconds per answered query (from /proc), and p99
latency, median over rounds, all servers measured in the same run. Baselines:
- ceiling: bench/ceiling.py, uvloop answering from a dict of encoded replies;
- naive: dnslib's threaded DNSServer (bench/naive_dnslib.py).
Also the load time and memory of a 100,000-record-set zone.

Run:  python -m bench.serve_bench [--rounds 5] [--seconds 10] [--skip-big]
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, Server, dnsperf, ensure_dnsperf, start_server

NAMES = 10_000
ECS_HEX = "00011800" + "0a0102"  # family 1, /24, scope 0, 10.1.2.0


def write_zone(directory: Path, names: int, extra: bool = True) -> list[str]:
    lines = ["zone: bench.test", "ttl: 300", "records:"]
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
    (directory / "bench.test.yaml").write_text("\n".join(lines) + "\n")
    return [f"n{i}.bench.test" for i in range(names)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return udp.getsockname()[1]


def measure(
    server: Server, queries: Path, seconds: float, extra: list[str]
) -> tuple[float, float, float]:
    """(qps, server CPU us per answered query, p99 ms) for one dnsperf run."""
    cpu0 = server.cpu_seconds()
    result = dnsperf(server.port, queries, seconds, extra=extra)
    cpu = server.cpu_seconds() - cpu0
    return result.qps, cpu / max(result.completed, 1) * 1e6, result.p99_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    ensure_dnsperf()
    work = Path(tempfile.mkdtemp(prefix="policydns-bench-"))
    zones = work / "zones"
    zones.mkdir()
    names = write_zone(zones, NAMES)
    (work / "names.txt").write_text("\n".join(names) + "\n")
    rng = random.Random(1)
    files = {}
    for kind, lines in {
        "simple": [f"{n} A" for n in rng.sample(names, len(names))],
        "weighted": [f"w{i}.bench.test A" for i in range(100)],
        "geo": [f"g{i}.bench.test A" for i in range(100)],
    }.items():
        files[kind] = work / f"{kind}.txt"
        files[kind].write_text("\n".join(lines) + "\n")
    config = work / "policydns.yaml"
    config.write_text(
        "locations:\n"
        "  10.1.0.0/16: {continent: NA, country: US, latitude: 37.4, longitude: -122.1}\n"
    )
    runs = {
        ("ceiling", "simple", "udp"): [],
        ("naive dnslib", "simple", "udp"): [],
        ("policydns", "simple", "udp"): [],
        ("policydns", "weighted", "udp"): [],
        ("policydns", "geo + ECS", "udp"): [],
        ("ceiling", "simple", "tcp"): [],
        ("policydns", "simple", "tcp"): [],
        ("policydns", "simple x4", "udp"): [],
        ("policydns -w2", "simple x4", "udp"): [],
    }
    for _ in range(args.rounds):
        for server_kind in ("ceiling", "naive dnslib", "policydns", "policydns -w2"):
            port = free_port()
            if server_kind.startswith("policydns"):
                workers = ["--workers", "2"] if server_kind.endswith("-w2") else []
                # Two workers get both cores (the kernel places them; dnsperf shares core 0).
                server = start_server(
                    ["--config", str(config), "--zones", str(zones), *workers],
                    work / "p.log",
                    core="0,1" if workers else 1,
                )
            else:
                script = "ceiling.py" if server_kind == "ceiling" else "naive_dnslib.py"
                cmd = [
                    sys.executable,
                    str(REPO / "bench" / script),
                    str(work / "names.txt"),
                    str(port),
                ]
                server = start_server([], work / f"{script}.log", cmd=cmd)
            try:
                for (kind, load, proto), samples in runs.items():
                    if kind != server_kind:
                        continue
                    extra = ["-m", "tcp"] if proto == "tcp" else []
                    if load.endswith("x4"):
                        extra += ["-c", "4"]  # four source ports: SO_REUSEPORT spreads them
                    queries = files["geo" if load.startswith("geo") else load.split()[0]]
                    if load.startswith("geo"):
                        extra += ["-E", f"8:{ECS_HEX}"]
                    samples.append(measure(server, queries, args.seconds, extra))
            finally:
                server.stop()
    ceiling = {
        proto: statistics.median(s[1] for s in runs[("ceiling", "simple", proto)])
        for proto in ("udp", "tcp")
    }
    naive_qps = statistics.median(s[0] for s in runs[("naive dnslib", "simple", "udp")])
    print(
        f"{args.rounds} rounds x {args.seconds:.0f} s, medians; server on core 1, dnsperf on core 0"
    )
    print(
        f"{'server':14} {'queries':10} {'proto':5} {'qps':>9} {'CPU us/q':>9} {'vs ceiling':>10} "
        f"{'p99 ms':>7} {'vs naive qps':>12}"
    )
    for (kind, load, proto), samples in runs.items():
        qps = statistics.median(s[0] for s in samples)
        us = statistics.median(s[1] for s in samples)
        p99 = statistics.median(s[2] for s in samples)
        print(
            f"{kind:14} {load:10} {proto:5} {qps:9.0f} {us:9.1f} {us / ceiling[proto]:9.2f}x "
            f"{p99:7.2f} {qps / naive_qps:11.1f}x"
        )
    if not args.skip_big:
        big = work / "big"
        big.mkdir()
        write_zone(big, 100_000, extra=False)
        start = time.monotonic()
        server = start_server(["--zones", str(big)], work / "big.log", timeout=300)
        loaded = time.monotonic() - start
        rss = int(Path(f"/proc/{server.proc.pid}/status").read_text().split("VmRSS:")[1].split()[0])
        server.stop()
        print(f"100,000 record sets: serving after {loaded:.1f} s, RSS {rss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
