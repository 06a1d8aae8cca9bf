"""The cost of issue 12's limits when on: policydns with response rate limiting configured
so high that nothing is ever limited (pure accounting cost) against the same checkout with
no rate_limit, measured the way bench/serve_bench.py measures and with its helpers.

The same checkout is started once per configuration in every round, the configurations in
a rotating order (so drift over the run does not favour one); each server answers every
load; medians over rounds:
- off: no rate_limit key;
- rrl: rate_limit with responses_per_second (and so NXDOMAIN and error rates) at RRL_RATE,
  far above anything dnsperf sends from its one /24, default window and slip;
- baseline (with --baseline DIR): another checkout, e.g. one from before the limits
  landed, with the "off" configuration. TCP limits have no off switch (their defaults
  always apply), so their cost shows only against such a baseline.
Loads, on serve_bench's bench.test zone and query files: simple and mix over UDP, simple
from 16 client ports (-c 16; one client prefix, 10,000 answer classes), simple over TCP on
one pipelined connection, and over 16 connections (-c 16: the per-client connection count
at work). TCP is never rate limited, so "rrl" on TCP must cost nothing.
Server on core 1, dnsperf on core 0, one untimed warm-up pass before each measured run
(serve_bench.measure). Reported: qps, server CPU us per answered query, p99 ms, the share
answered NOERROR (a limiter that limits shows here), and CPU/q and qps over "off"'s.

Run:  python -m bench.limits_bench [--rounds 3] [--seconds 10] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench.common import ensure_dnsperf
from bench.serve_bench import (
    NAMES,
    US_NETWORKS,
    launch,
    measure,
    write_query_files,
    write_zone,
)

RRL_RATE = 1_000_000  # responses per second per prefix and answer: never reached
LOCATIONS = "locations:\n" + "".join(
    f"  {net}: {{continent: NA, country: US, latitude: 37.4, longitude: -122.1}}\n"
    for net in US_NETWORKS
)
CONFIGS = {
    "off": LOCATIONS,
    "rrl": LOCATIONS + f"rate_limit: {{responses_per_second: {RRL_RATE}}}\n",
}
LOADS = {  # load: (query file, extra dnsperf arguments)
    "udp simple": ("simple", []),
    "udp mix": ("mix", []),
    "udp simple x16": ("simple", ["-c", "16"]),
    "tcp simple": ("simple", ["-m", "tcp"]),
    "tcp simple x16": ("simple", ["-m", "tcp", "-c", "16"]),
}


def rotated(items: list[str], by: int) -> list[str]:
    """ITEMS starting at position BY (mod its length): round r's order of configurations."""
    by %= len(items)
    return items[by:] + items[:by]


def ratio(value: float, reference: float) -> str:
    return f"{value / reference:.3f}x" if reference else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--baseline", type=Path, help="a checkout of another commit, measured in the same rounds"
    )
    args = parser.parse_args()
    if args.baseline is not None and not (args.baseline / "resolver").is_dir():
        parser.error(f"--baseline: {args.baseline} holds no resolver package")
    ensure_dnsperf()
    work = Path(tempfile.mkdtemp(prefix="policydns-limits-"))
    zones = work / "zones"
    zones.mkdir()
    files = write_query_files(work, write_zone(zones, NAMES))
    configs = {}
    for name, text in CONFIGS.items():
        configs[name] = work / f"{name}.yaml"
        configs[name].write_text(text)
    variants = [*CONFIGS, *(["baseline"] if args.baseline else [])]
    samples: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    for round_number in range(args.rounds):
        for variant in rotated(variants, round_number):
            kind = "baseline" if variant == "baseline" else "policydns"
            server = launch(kind, work, files, configs.get(variant, configs["off"]), args.baseline)
            try:
                for load, (queries, extra) in LOADS.items():
                    result = measure(server, files[queries], args.seconds, extra)
                    samples.setdefault((variant, load), []).append(result)
            finally:
                server.stop()
    medians = {
        key: tuple(statistics.median(run[i] for run in runs) for i in range(4))
        for key, runs in samples.items()
    }
    print(
        f"{args.rounds} round(s) x {args.seconds:g} s per row, medians, configurations in a "
        f"rotating order; server on core 1, dnsperf on core 0; rrl = rate_limit at "
        f"{RRL_RATE:,} responses/s (nothing limited)"
        + (f"; baseline = {args.baseline}" if args.baseline else "")
    )
    print(
        f"{'load':15} {'config':9} {'qps':>9} {'CPU us/q':>9} {'p99 ms':>7} {'NOERROR':>8} "
        f"{'CPU vs off':>10} {'qps vs off':>10}"
    )
    for load in LOADS:
        off = medians[("off", load)]
        for variant in variants:
            qps, us, p99, ok = medians[(variant, load)]
            print(
                f"{load:15} {variant:9} {qps:9.0f} {us:9.1f} {p99:7.2f} {ok:8.1%} "
                f"{ratio(us, off[1]):>10} {ratio(qps, off[0]):>10}"
            )
        print()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
