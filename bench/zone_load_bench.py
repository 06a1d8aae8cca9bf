"""Load time and memory of a large zone file: `policydns check` on N record sets.

Generates (seeded, so every run and every checkout reads the same bytes) one zone file of
N record sets (default 100,000) in flow style, one record set per line as
resolver/zones/render.py writes them: most names simple, of type A, AAAA, TXT, MX or CNAME
(a CNAME points at an earlier A name of the zone, so the loop check walks real chains),
and one name in ten weighted with two A sets. Then runs `python -m resolver check --zones
FILE` as a subprocess under /usr/bin/time -v (else resource.getrusage(RUSAGE_CHILDREN))
and reports wall seconds and maximum RSS, the median of --rounds runs.

With --baseline DIR (another checkout, e.g. `git worktree add DIR START_COMMIT`), the same
file is checked by that checkout in the same rounds, alternating, and the ratios printed.

Run:  python -m bench.zone_load_bench [--records 100000] [--rounds 3] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import REPO

ZONE = "big.test"
SEED = 1
WEIGHTED_EVERY = 10  # one name in ten is weighted, with two record sets
TIME = "/usr/bin/time"


def flow(value: object) -> str:
    """As resolver/zones/render.py writes a value (kept here so a baseline checkout
    without render.py reads the same file)."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9._/-]*|[0-9][0-9.]*[0-9]\.[0-9]+")


def yaml_flow(value: object) -> str:
    """A value in YAML flow style as a person writes it: bare words where YAML reads them
    as the same string (names, IPv4 addresses), quotes elsewhere."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(yaml_flow(v) for v in value) + "]"
    if isinstance(value, str) and _BARE.fullmatch(value) and value.count(".") != 1:
        return value
    return flow(value)


def zone_text(records: int, seed: int = SEED, style: str = "json") -> str:
    """The zone file: `records` record sets besides the apex NS and SOA. Style `json` is
    what render.py writes (an owner's sets one per line); `yaml` is one line per owner in
    YAML flow style (`n1: [{type: A, values: [192.0.2.1]}]`), as hand-written zones are."""
    rng = random.Random(seed)
    out = [f"zone: {flow(ZONE)}\n", "ttl: 300\n", 'ns: ["ns1.big.test."]\n', "records:\n"]
    out.append(f"  {flow('ns1')}:\n    - {flow({'type': 'A', 'value': '192.0.2.53'})}\n")
    a_names: list[str] = []
    count, i = 1, 0  # the ns1 set above counts
    while count < records:
        owner = f"n{i}"
        sets: list[dict[str, object]]
        if i % WEIGHTED_EVERY == WEIGHTED_EVERY - 1 and records - count >= 2:
            sets = [
                {
                    "type": "A",
                    "set_id": side,
                    "weight": rng.randrange(0, 256),
                    "values": [f"198.51.{rng.randrange(256)}.{rng.randrange(1, 255)}"],
                }
                for side in ("blue", "green")
            ]
        else:
            kind = rng.choices(["A", "AAAA", "TXT", "MX", "CNAME"], [50, 20, 15, 10, 5])[0]
            if kind == "CNAME" and not a_names:
                kind = "A"
            if kind == "A":
                first = rng.randrange(1, 254)
                value: object = [
                    f"192.0.{rng.randrange(256)}.{first + k}" for k in range(rng.choice((1, 1, 2)))
                ]
                a_names.append(owner)
            elif kind == "AAAA":
                value = [f"2001:db8::{rng.randrange(1 << 16):x}:{rng.randrange(1 << 16):x}"]
            elif kind == "TXT":
                value = [f"v=spf1 include:_spf{rng.randrange(1000)}.example.net ~all"]
            elif kind == "MX":
                value = [f"{rng.choice((10, 20))} mx{rng.randrange(10)}.example.net."]
            else:
                value = rng.choice(a_names)
            entry: dict[str, object] = {"type": kind}
            entry["values" if isinstance(value, list) else "value"] = value
            if rng.random() < 0.2:
                entry["ttl"] = rng.choice((60, 600, 3600))
            sets = [entry]
        if style == "yaml":
            out.append(f"  {owner}: {yaml_flow(sets)}\n")
        else:
            out.append(f"  {flow(owner)}:\n")
            out.extend(f"    - {flow(s)}\n" for s in sets)
        count += len(sets)
        i += 1
    return "".join(out)


@dataclass
class Run:
    seconds: float
    max_rss_mb: float
    stdout: str


def timed(checkout: Path, *args: str) -> Run:
    """`python -m resolver ARGS` from CHECKOUT, timed as /usr/bin/time -v does."""
    cmd = [sys.executable, "-m", "resolver", *args]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    if os.path.exists(TIME):
        start = time.perf_counter()
        proc = subprocess.run(
            [TIME, "-v", *cmd], cwd=checkout, env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        rss_mb = int(found.group(1)) / 1024 if found else float("nan")
    else:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        # ru_maxrss of children is the largest child so far: exact while runs only grow.
        rss_mb = max(after, before) / 1024
    if proc.returncode != 0:
        raise SystemExit(
            f"{args[0]} failed in {checkout} ({proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return Run(seconds, rss_mb, proc.stdout)


def check(checkout: Path, zone: Path) -> Run:
    """`policydns check --zones ZONE` from CHECKOUT."""
    run = timed(checkout, "check", "--zones", str(zone))
    return Run(run.seconds, run.max_rss_mb, run.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare against")
    parser.add_argument("--keep", type=Path, help="write the zone file here and keep it")
    parser.add_argument(
        "--style", choices=["json", "yaml"], default="json", help="how records are written"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zone-load-"))
    try:
        zone = args.keep or work / f"{ZONE}.yaml"
        zone.write_text(zone_text(args.records, style=args.style))
        size_mb = zone.stat().st_size / 1e6
        print(
            f"zone {zone}: {args.records} record sets, {args.style} style, {size_mb:.1f} MB,"
            f" seed {SEED}"
        )
        checkouts = {"policydns": REPO}
        if args.baseline:
            checkouts["baseline"] = args.baseline.resolve()
        runs: dict[str, list[Run]] = {name: [] for name in checkouts}
        for round_no in range(args.rounds):
            for name, checkout in checkouts.items():
                run = check(checkout, zone)
                runs[name].append(run)
                print(
                    f"  round {round_no + 1} {name:9} {run.seconds:7.2f} s"
                    f" {run.max_rss_mb:7.1f} MB  {run.stdout.splitlines()[-1]}"
                )
        outputs = {name: [r.stdout for r in rs] for name, rs in runs.items()}
        if len({out for outs in outputs.values() for out in outs}) > 1:
            print("warning: the checkouts' summaries differ:", outputs, file=sys.stderr)
        print(f"\n{'checkout':10} {'wall s':>8} {'max RSS MB':>11}   (median of {args.rounds})")
        medians = {}
        for name, rs in runs.items():
            seconds = statistics.median(r.seconds for r in rs)
            rss = statistics.median(r.max_rss_mb for r in rs)
            medians[name] = (seconds, rss)
            print(f"{name:10} {seconds:8.2f} {rss:11.1f}")
        if "baseline" in medians:
            (s, m), (bs, bm) = medians["policydns"], medians["baseline"]
            print(f"{'ratio':10} {bs / s:7.2f}x {m / bm:10.2f}   (speed-up; RSS over baseline)")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
