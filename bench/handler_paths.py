"""What one query costs inside the server, by the route it takes (no sockets, no kernel).

`serve_bench` replays query files, so after its warm-up nearly every query is answered
from the memo of finished replies kept by query bytes. Real traffic is less kind: a
resolver caches answers for their TTL (per ECS scope) and many randomise the letter case
(0x20), so an authoritative server sees many first-time query bytes. This script times
`Handler.handle` in-process, median of rounds, for each route:

- memo: the same bytes again (what serve_bench mostly measures);
- new bytes: bytes never seen (random letter case, and for geo a random one of the 1,000
  subnets), the name already cached: parse, look up (for geo, a client network not yet
  seen for that name is decided afresh), finish;
- reload: the first query for each name after a reload: decide, encode, cache.

Loads as serve_bench: 10,000 simple names, 100 weighted (70/30), 100 geolocation names
with ECS from 1,000 client /24s. Run:  python -m bench.handler_paths [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import wire_query
from bench.serve_bench import NAMES, US_NETWORKS, ZONE, client_subnets, write_zone
from healthcheck.view import AllHealthy
from resolver.assemble import build_handler, load_all
from resolver.config import load_config
from resolver.metrics import Metrics
from resolver.query.handler import Handler


def handler(work: Path) -> Handler:
    config = work / "policydns.yaml"
    config.write_text(
        f"zones: [{work / 'zones'}]\nlocations:\n"
        + "".join(f"  {net}: {{continent: NA, country: US}}\n" for net in US_NETWORKS)
    )
    return build_handler(load_all(load_config(str(config))), AllHealthy(), Metrics(), False)


def mixed_case(name: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c for c in name)


def per_query_us(h: Handler, packets: list[bytes]) -> float:
    start = time.perf_counter()
    for packet in packets:
        h.handle(packet, "127.0.0.1", False)
    return (time.perf_counter() - start) / len(packets) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queries", type=int, default=20_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="policydns-paths-"))
    (work / "zones").mkdir()
    names = write_zone(work / "zones", NAMES)
    h = handler(work)
    rng = random.Random(1)
    us, unmapped = client_subnets(rng)
    subnets = us + unmapped
    loads = {
        "simple": [n for n in names if n.startswith("n")],
        "weighted": [f"w{i}.{ZONE}" for i in range(100)],
        "geo + ECS": [f"g{i}.{ZONE}" for i in range(100)],
    }
    n = args.queries
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for load, pool in loads.items():
            ecs = load.startswith("geo")

            def query(name: str, cased: bool = False, ecs: bool = ecs) -> bytes:
                text = mixed_case(name, rng) if cased else name
                return wire_query(text, rng.choice(subnets) if ecs else None)

            # reload: a reload empties the caches; each name asked once, in lowercase.
            h.swap(h.resolver)
            first = [query(name) for name in pool[: min(len(pool), n)]]
            results.setdefault((load, "reload"), []).append(per_query_us(h, first))
            # new bytes: every name cached; bytes never seen before (case, subnet).
            for name in pool:
                h.handle(query(name), "127.0.0.1", False)
            fresh = [query(rng.choice(pool), cased=True) for _ in range(n)]
            results.setdefault((load, "new bytes"), []).append(per_query_us(h, fresh))
            # memo: the same bytes again.
            again = [query(rng.choice(pool)) for _ in range(min(n, 2000))]
            for packet in again:
                h.handle(packet, "127.0.0.1", False)
            repeated = (again * (n // len(again) + 1))[:n]
            results.setdefault((load, "memo"), []).append(per_query_us(h, repeated))
    print(f"python {sys.version.split()[0]}, {args.rounds} rounds, in-process Handler.handle")
    print(f"{'load':10} {'route':10} {'us/query':>9}")
    for (load, route), samples in results.items():
        print(f"{load:10} {route:10} {statistics.median(samples):9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
