"""What `--log-queries` costs: server CPU per query with the flag off and on (issue 6).

Same zone, same dnsperf load (server on core 1, dnsperf on core 0), alternating rounds,
medians. Off is the normal server: the per-query log costs one flag test when off.
Run: python -m bench.log_queries [--rounds 3] [--seconds 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench.common import REPO, dnsperf, start_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="policydns-logbench-"))
    loads = {"simple": "www.example.com A\n", "weighted": "www.steer.example A\n"}
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for flag in ("off", "on"):
            extra = ["--log-queries"] if flag == "on" else []
            server = start_server(["--zones", str(REPO / "zones"), *extra], work / f"{flag}.log")
            try:
                for load, line in loads.items():
                    queries = work / f"{load}.txt"
                    queries.write_text(line)
                    cpu0 = server.cpu_seconds()
                    run = dnsperf(server.port, queries, args.seconds, rate=20000, verbose=False)
                    cpu = server.cpu_seconds() - cpu0
                    results.setdefault((load, flag), []).append(cpu / run.completed * 1e6)
            finally:
                server.stop()
    print(
        f"{args.rounds} rounds x {args.seconds:.0f} s at 20,000 q/s, medians, server CPU us/query"
    )
    for load in loads:
        off = statistics.median(results[(load, "off")])
        on = statistics.median(results[(load, "on")])
        print(f"{load:10} off {off:6.1f}  on {on:6.1f}  on/off {on / off:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
