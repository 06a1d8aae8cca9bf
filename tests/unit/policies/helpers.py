"""What the policy tests share: a load context, candidates, clients and selection helpers."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from typing import Any

from policies import Client, Latencies, LoadContext, Location, Selection
from policies.regions import AWS_REGIONS

REGIONS = {name: (r.latitude, r.longitude) for name, r in AWS_REGIONS.items()}
COLLECTIONS = {
    "offices": {
        "hq": (ip_network("10.1.0.0/16"), ip_network("2001:db8:1::/48")),
        "lab": (ip_network("10.1.2.0/24"),),
        "branch": (ip_network("10.2.0.0/16"),),
    },
    "partners": {"acme": (ip_network("192.0.2.0/24"),)},
}
CTX = LoadContext(regions=REGIONS, cidr_collections=COLLECTIONS)

FRANKFURT = Location("EU", "DE", "HE", 50.11, 8.68, "test", 24)
NEW_YORK = Location("NA", "US", "NY", 40.7, -74.0, "test", 24)


@dataclass(frozen=True)
class Cand:
    set_id: str
    routing: Any


def parsed(policy: Any, value: Any, ctx: LoadContext = CTX) -> Any:
    params, reasons = policy.parse(value, ctx)
    assert reasons == [], reasons
    return params


def rejected(policy: Any, value: Any, ctx: LoadContext = CTX) -> list[str]:
    params, reasons = policy.parse(value, ctx)
    assert params is None
    assert reasons
    return reasons


def group(policy: Any, *pairs: tuple[str, Any]) -> list[Cand]:
    return [Cand(set_id, parsed(policy, value)) for set_id, value in pairs]


def health(*unhealthy: int):
    down = set(unhealthy)
    return lambda i: i not in down


def client(
    where: Location | None = None,
    latencies: Latencies | None = None,
    address: str | None = "192.0.2.1",
    prefix: int | None = None,
) -> Client:
    addr = ip_address(address) if address is not None else None
    if prefix is None:
        prefix = 0 if addr is None else (32 if addr.version == 4 else 128)
    return Client(
        addr,
        prefix,
        locate=lambda _c: where if where is not None else Location(),
        latency=lambda _c: latencies,
    )


def select(policy: Any, cands: list[Cand], who: Client | None = None, down=(), seed=1234):
    return policy.select(cands, who or client(), health(*down), random.Random(seed))


def ids(cands: list[Cand], sel: Selection) -> list[str]:
    return [cands[i].set_id for i in sel.chosen]


def only(cands: list[Cand], sel: Selection) -> str:
    assert len(sel.chosen) == 1, sel
    return cands[sel.chosen[0]].set_id


def tally(policy: Any, cands: list[Cand], n: int, down=(), who: Client | None = None) -> Counter:
    rng = random.Random(1234)
    healthy = health(*down)
    who = who or client()
    counts: Counter = Counter()
    for _ in range(n):
        counts[only(cands, policy.select(cands, who, healthy, rng))] += 1
    return counts
