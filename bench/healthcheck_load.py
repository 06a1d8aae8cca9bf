"""1,000 HTTP health checks at a 1 s interval: what they cost the server (issue 4).

The server runs pinned to core 1; the 1,000 endpoints (one aiohttp process, a path per
check, so nothing is deduplicated) and dnsperf run on core 0. For each round the same
zone is served twice, with the checks and without them (the baseline in the same run),
while dnsperf sends a fixed query rate; reported are the server's CPU use and dnsperf's
per-query latency median and p99. Medians over rounds.

Run:  python -m bench.healthcheck_load [--checks 1000] [--seconds 20] [--rounds 3] [--rate 2000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import dnsperf, free_port, start_server

ENDPOINTS = """
import sys
from aiohttp import web
async def ok(request):
    return web.Response(text="OK")
app = web.Application()
app.router.add_get("/h/{n}", ok)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def write_zone(path: Path, checks: int, port: int, with_checks: bool) -> None:
    lines = ["zone: load.test", "ttl: 60"]
    if with_checks:
        lines.append("health_checks:")
        lines += [
            f"  c{i}: {{type: http, target: 127.0.0.1, port: {port}, path: /h/{i}, interval: 1}}"
            for i in range(checks)
        ]
    lines.append("records:")
    for i in range(checks):
        hc = f", health_check: c{i}" if with_checks else ""
        lines.append(f"  h{i}: [{{type: A, values: [192.0.2.{i % 250 + 1}]{hc}}}]")
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=int, default=2000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="policydns-hcbench-"))
    port = free_port()
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    endpoints = subprocess.Popen([*pin, sys.executable, "-c", ENDPOINTS, str(port)])
    queries = work / "queries.txt"
    queries.write_text("".join(f"h{i}.load.test A\n" for i in range(args.checks)))
    results: dict[str, list[tuple[float, float, float, float]]] = {"checks": [], "none": []}
    try:
        for _ in range(args.rounds):
            for kind in ("none", "checks"):
                zones = work / kind
                zones.mkdir(exist_ok=True)
                write_zone(zones / "load.yaml", args.checks, port, kind == "checks")
                server = start_server(["--zones", str(zones)], work / f"{kind}.log")
                try:
                    time.sleep(3)  # let every check's jittered first probe happen
                    cpu0, t0 = server.cpu_seconds(), time.monotonic()
                    perf = dnsperf(server.port, queries, args.seconds, rate=args.rate)
                    cpu = (server.cpu_seconds() - cpu0) / (time.monotonic() - t0)
                finally:
                    server.stop()
                results[kind].append((cpu * 100, perf.median_ms, perf.p99_ms, perf.lost))
    finally:
        endpoints.terminate()
        endpoints.wait()
    print(
        f"{args.checks} checks at 1 s, {args.rate} q/s for {args.seconds:.0f} s, "
        f"{args.rounds} rounds (medians); server pinned to core 1"
    )
    print(f"{'server':18} {'CPU %':>7} {'median ms':>10} {'p99 ms':>8} {'lost':>5}")
    for kind, label in (("none", "no checks"), ("checks", f"{args.checks} checks")):
        rows = results[kind]
        cpu, med, p99, lost = (statistics.median(col) for col in zip(*rows, strict=True))
        print(f"{label:18} {cpu:7.1f} {med:10.3f} {p99:8.3f} {lost:5.0f}")
    base = statistics.median(r[0] for r in results["none"])
    with_checks = statistics.median(r[0] for r in results["checks"])
    print(
        f"checker CPU: {with_checks - base:.1f} % of one core "
        f"({(with_checks - base) * 10 / args.checks:.3f} ms CPU per probe)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
