"""`export bind` and `import bind` of a large zone, beside two baselines in the same run.

The zone is bench/zone_load_bench.py's seeded file of N record sets (default 100,000;
one name in ten weighted, which `export bind` leaves out and lists). Each round, one after
the other: `policydns check` of the YAML (our own load, the reference), `policydns export
bind` of it, `policydns import bind` of that master file, and dnspython's
`dns.zone.from_file` reading the same master file (a parser we did not write). Reported:
wall seconds and maximum RSS, medians of --rounds, and each one's ratio to `check` and
import's ratio to dnspython. Whole-process figures (interpreter start included).

Run:  python -m bench.bind_bench [--records 100000] [--rounds 3]
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

from bench.common import REPO
from bench.zone_load_bench import ZONE, Run, timed, zone_text

DNSPYTHON = (
    "import sys, dns.zone; dns.zone.from_file(sys.argv[1], origin=sys.argv[2],"
    " relativize=False, check_origin=False)"
)


def dnspython_read(master: Path) -> Run:
    """dnspython reading the master file, timed like the others (through -c)."""
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-c", DNSPYTHON, str(master), ZONE + "."],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"dnspython failed:\n{proc.stderr[-2000:]}")
    rss = [line for line in proc.stderr.splitlines() if "Maximum resident set size" in line]
    rss_mb = int(rss[0].rsplit(":", 1)[1]) / 1024 if rss else float("nan")
    return Run(seconds, rss_mb, "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bind-bench-"))
    try:
        zone = work / f"{ZONE}.yaml"
        zone.write_text(zone_text(args.records))
        master = work / f"{ZONE}.zone"
        runs: dict[str, list[Run]] = {"check": [], "export": [], "import": [], "dnspython": []}
        for _ in range(args.rounds):
            runs["check"].append(timed(REPO, "check", "--zones", str(zone)))
            exported = timed(REPO, "export", "bind", ZONE, "--zones", str(zone))
            master.write_text(exported.stdout)
            runs["export"].append(exported)
            imported = timed(REPO, "import", "bind", str(master))
            runs["import"].append(imported)
            runs["dnspython"].append(dnspython_read(master))
        lines = exported.stdout.count("\n")
        print(
            f"zone {args.records} record sets; master file {master.stat().st_size / 1e6:.1f} MB,"
            f" {lines} lines; imported YAML {len(imported.stdout) / 1e6:.1f} MB"
        )
        median = {k: statistics.median(r.seconds for r in v) for k, v in runs.items()}
        rss = {k: statistics.median(r.max_rss_mb for r in v) for k, v in runs.items()}
        print(
            f"{'step':12} {'wall s':>8} {'max RSS MB':>11} {'/ check':>8}"
            f"   (median of {args.rounds})"
        )
        for name in runs:
            print(
                f"{name:12} {median[name]:8.2f} {rss[name]:11.1f}"
                f" {median[name] / median['check']:8.2f}"
            )
        print(f"import / dnspython: {median['import'] / median['dnspython']:.2f}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
