"""Cost of one routing decision per policy, in microseconds (issue 3's benchmark).

The figure is the whole engine answer for one name of zones/steer.example.yaml (lookup,
policy decision, alias nesting, building the records), with a fresh client per query so
the location lookup (cached per /24) is included; medians over rounds, with `simple` as
the baseline measured in the same run. Wire parsing and packing are not included: they
are the same for every policy.

Run:  python bench/policy_cost.py [--rounds 7] [--queries 20000]
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import statistics
import sys
import time
from pathlib import Path

from dnslib import QTYPE, DNSLabel

from healthcheck.view import AllHealthy
from policies.base import Client
from resolver.config import load_config
from resolver.query.engine import Resolver
from resolver.query.location import Locator
from resolver.query.result import QueryContext
from resolver.zones.check import known_regions, load_zone_set

REPO = Path(__file__).resolve().parent.parent
NAMES = {
    "simple": "ns1.steer.example",
    "weighted": "www.steer.example",
    "failover": "api.steer.example",
    "geolocation": "geo.steer.example",
    "geoproximity": "near.steer.example",
    "latency": "fast.steer.example",
    "multivalue": "pool.steer.example",
    "ip-based": "office.steer.example",
    "latency->weighted (nested)": "app.steer.example",
}
CONFIG = """
locations:
  10.1.0.0/16: {continent: NA, country: US, subdivision: CA, latitude: 37.4, longitude: -122.1}
  10.2.0.0/16: {continent: EU, country: DE, latitude: 50.1, longitude: 8.7}
"""


def clients(locator: Locator, count: int, rng: random.Random) -> list[Client]:
    """ECS-style /24 clients spread over mapped, public and unknown networks."""
    nets = ["10.1.{}.0", "10.2.{}.0", "81.169.{}.0", "8.8.{}.0", "192.0.2.0"]
    out = []
    for _ in range(count):
        address = ipaddress.ip_address(rng.choice(nets).format(rng.randrange(256)))
        out.append(Client(address, 24, True, locator.locate, locator.latencies))
    return out


def median_us(fn, queries: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        fn(queries)
        samples.append((time.perf_counter_ns() - start) / queries / 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--queries", type=int, default=20000)
    args = parser.parse_args()
    cfg = Path("/tmp/policydns-bench-config.yaml")
    cfg.write_text(CONFIG)
    config = load_config(str(cfg))
    zone_set = load_zone_set([str(REPO / "zones")], regions=known_regions(config.regions))
    locator = Locator(config.locations, config.latency)
    resolver = Resolver(zone_set)
    rng = random.Random(1)
    pool = clients(locator, 4096, rng)
    health = AllHealthy()
    rows = []
    for label, name in NAMES.items():
        qname = DNSLabel(name)
        qtype = int(QTYPE.A)

        def run(n: int, qname=qname, qtype=qtype) -> None:
            for i in range(n):
                ctx = QueryContext(pool[i & 4095], health, rng)
                resolver.resolve(qname, qtype, ctx)

        resolver.resolve(qname, qtype, QueryContext(pool[0], health, rng))  # warm caches
        rows.append((label, median_us(run, args.queries, args.rounds)))
    base = rows[0][1]
    print(f"python {sys.version.split()[0]}, {args.rounds} rounds x {args.queries} queries")
    print(f"{'policy':30} {'resolve us/q':>13} {'vs simple':>10}")
    for label, us in rows:
        print(f"{label:30} {us:13.2f} {us / base:9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
