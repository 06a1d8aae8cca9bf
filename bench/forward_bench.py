"""Throughput of cached forwarded answers against cached authoritative answers, one server.

One policydns (pinned to core 1) serves its own zone auth.test and forwards everything
else to an upstream policydns (core 0: idle once the cache is warm) serving fwd.test;
both zones hold the same number of names (n0..nN-1, one A record each, TTL 86400, so
nothing expires during the run).
Every name of both zones is asked once first, so both sets are in the forwarder's caches;
then dnsperf (core 0, after one untimed pass through the file, as in bench/serve_bench.py)
alternates runs of the authoritative names and the forwarded names for several rounds.
The upstream's CPU time during the measured runs is reported too: ~0 means the forwarded
answers really came from the cache.

Reported: queries per second (median over rounds), server CPU microseconds per answered
query, p99 latency, the NOERROR share, and the ratio forwarded / authoritative of the
median queries per second.

Run:  python -m bench.forward_bench [--rounds 5] [--seconds 5] [--names 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

from bench.common import (
    Server,
    answers,
    ask,
    ensure_dnsperf,
    start_server,
    wire_query,
    write_queries,
)
from bench.serve_bench import measure

AUTH, FORWARDED = "auth.test", "fwd.test"
SEED = 1


def write_zone(directory: Path, zone: str, names: int) -> list[str]:
    """A zone of `names` simple A records with a day's TTL; every name in it, shuffled."""
    lines = [f"zone: {zone}", "ttl: 86400", "records:"]
    lines += [f"  n{i}: [{{type: A, values: [192.0.2.{i % 250 + 1}]}}]" for i in range(names)]
    directory.mkdir()
    (directory / f"{zone}.yaml").write_text("\n".join(lines) + "\n")
    found = [f"n{i}.{zone}" for i in range(names)]
    random.Random(SEED).shuffle(found)
    return found


def warm(server: Server, names: list[str]) -> None:
    """Ask every name once (the forwarded ones go upstream now, and only now)."""
    for name in names:
        reply = ask(server.port, name, timeout=5)
        if reply.header.rcode != 0 or not reply.rr:
            raise RuntimeError(f"{name}: {answers(reply)}\n{server.log.read_text()[-3000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--names", type=int, default=1000)
    args = parser.parse_args()
    ensure_dnsperf()

    with tempfile.TemporaryDirectory(prefix="forward-bench-") as tmp:
        work = Path(tmp)
        auth = write_zone(work / "auth", AUTH, args.names)
        forwarded = write_zone(work / "upstream", FORWARDED, args.names)
        files = {
            "authoritative": work / "auth.queries",
            "forwarded": work / "forwarded.queries",
        }
        write_queries(files["authoritative"], (wire_query(n) for n in auth))
        write_queries(files["forwarded"], (wire_query(n) for n in forwarded))

        upstream = start_server(["--zones", str(work / "upstream")], work / "upstream.log", core=0)
        config = work / "forwarder.yaml"
        config.write_text(
            f"zones: [{json.dumps(str(work / 'auth'))}]\n"
            f'forwarders: ["127.0.0.1:{upstream.port}"]\n'
            f"cache: {{max_entries: {max(100_000, 4 * args.names)}}}\n"
        )
        server = None
        try:
            server = start_server(["--config", str(config)], work / "forwarder.log", core=1)
            warm(server, auth)
            warm(server, forwarded)
            results: dict[str, list[tuple[float, ...]]] = {load: [] for load in files}
            upstream_cpu = 0.0
            for round_ in range(args.rounds):
                for load, queries in files.items():
                    before = upstream.cpu_seconds()
                    results[load].append(measure(server, queries, args.seconds, []))
                    if load == "forwarded":
                        upstream_cpu += upstream.cpu_seconds() - before
                    qps = results[load][-1][0]
                    print(f"round {round_ + 1} {load:<14} {qps:>10.0f} q/s", file=sys.stderr)
        finally:
            if server is not None:
                server.stop()
            upstream.stop()

    print(f"\n{args.names} names per zone, {args.rounds} rounds of {args.seconds:g} s each")
    print(f"{'load':<14} {'q/s':>10} {'CPU us/q':>9} {'p99 ms':>7} {'NOERROR':>8}")
    medians = {}
    for load, rows in results.items():
        medians[load] = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        p99 = statistics.median(r[2] for r in rows)
        noerror = min(r[3] for r in rows)
        print(f"{load:<14} {medians[load]:>10.0f} {cpu:>9.1f} {p99:>7.2f} {noerror:>8.1%}")
    ratio = medians["forwarded"] / medians["authoritative"] if medians["authoritative"] else 0
    print(f"forwarded / authoritative q/s: {ratio:.2f}")
    print(f"upstream CPU during the forwarded runs: {upstream_cpu:.2f} s (0: all from cache)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
