"""Latency routing: the region with the lowest round-trip time from the client."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from random import Random
from typing import Any, ClassVar

from policies.base import (
    BasePolicy,
    Candidate,
    Client,
    LoadContext,
    Selection,
    choose_by_rule,
    register,
    used_twice,
)
from policies.regions import great_circle_km

# Light in fibre covers about 200 km per ms, so a round trip costs 1 ms per 100 km; paths
# are never straight, so this ranks regions rather than predicting milliseconds.
KM_PER_RTT_MS = 100.0


@dataclass(frozen=True, slots=True)
class RegionPoint:
    region: str
    latitude: float
    longitude: float


def rtt_ms(point: RegionPoint, client: Client) -> tuple[float, str]:
    """Measured RTT from the config when known, else estimated from distance."""
    measured = client.latencies
    if measured is not None and point.region in measured.rtt_ms:
        return float(measured.rtt_ms[point.region]), f"measured for {measured.network}"
    where = client.location.coordinates
    if where is None:
        return math.inf, "client not located"
    km = great_circle_km(where[0], where[1], point.latitude, point.longitude)
    return km / KM_PER_RTT_MS, f"estimated from {km:.0f} km"


class LatencyPolicy(BasePolicy):
    key: ClassVar[str] = "region"
    name: ClassVar[str] = "latency"
    dynamic: ClassVar[bool] = True  # the answer depends on the client and health
    random: ClassVar[bool] = False

    @classmethod
    def parse(cls, value: Any, ctx: LoadContext) -> tuple[Any, list[str]]:
        where = ctx.regions.get(str(value)) if isinstance(value, str) else None
        if where is None:
            return None, [f"unknown region {value!r} (not built in, not in the config)"]
        return RegionPoint(str(value), where[0], where[1]), []

    @classmethod
    def check_group(cls, routings: Sequence[Any]) -> list[str]:
        return used_twice([f"region {r.region}" for r in routings])

    @classmethod
    def select(
        cls,
        candidates: Sequence[Candidate],
        client: Client,
        healthy: Callable[[int], bool],
        rng: Random,
    ) -> Selection:
        rtts = [rtt_ms(c.routing, client)[0] for c in candidates]
        measured = client.latencies
        regions = {c.routing.region for c in candidates}
        covered = measured is not None and regions <= set(measured.rtt_ms)
        if covered:
            scope = measured.scope  # type: ignore[union-attr]
        elif measured is not None and regions & set(measured.rtt_ms):
            # Part measured, part estimated: the answer holds where both inputs hold.
            scope = max(measured.scope, client.location.scope)
        else:
            scope = client.location.scope

        def pick(remaining: list[int]) -> int | None:
            return min(remaining, key=lambda i: (rtts[i], i), default=None)

        return choose_by_rule(len(candidates), pick, healthy, scope)

    @classmethod
    def describe(cls, candidate: Candidate, client: Client) -> str:
        ms, how = rtt_ms(candidate.routing, client)
        shown = "unknown" if math.isinf(ms) else f"{ms:.1f} ms"
        return f"{candidate.routing.region}: RTT {shown} ({how})"


register(LatencyPolicy)
