"""Geoproximity routing: the nearest record set by great-circle distance, scaled by bias."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
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
    coordinates_problem,
    is_int,
    register,
)
from policies.regions import great_circle_km


@dataclass(frozen=True, slots=True)
class Point:
    latitude: float
    longitude: float
    bias: int
    label: str

    def biased_km(self, client: tuple[float, float] | None) -> float:
        """Biased distance: d*(1-b/100) for positive bias, d/(1+b/100) for negative."""
        if client is None:
            return math.inf
        d = great_circle_km(client[0], client[1], self.latitude, self.longitude)
        return d * (1 - self.bias / 100) if self.bias >= 0 else d / (1 + self.bias / 100)


def parse_coordinates(value: Any) -> tuple[tuple[float, float] | None, str | None]:
    if not isinstance(value, Mapping) or set(value) != {"latitude", "longitude"}:
        return None, "coordinates must be {latitude: N, longitude: N}"
    lat, lon = value["latitude"], value["longitude"]
    problem = coordinates_problem(lat, lon)
    if problem is not None:
        return None, problem
    return (float(lat), float(lon)), None


class GeoproximityPolicy(BasePolicy):
    key: ClassVar[str] = "geoproximity"
    name: ClassVar[str] = "geoproximity"
    dynamic: ClassVar[bool] = True  # the answer depends on the client and health
    random: ClassVar[bool] = False

    @classmethod
    def parse(cls, value: Any, ctx: LoadContext) -> tuple[Any, list[str]]:
        if not isinstance(value, Mapping):
            return None, ["geoproximity must be {region: NAME | coordinates: {...}, bias: N}"]
        reasons = [
            f"unknown geoproximity key {k!r}"
            for k in value
            if k not in ("region", "coordinates", "bias")
        ]
        bias = value.get("bias", 0)
        if not is_int(bias) or not -99 <= bias <= 99:
            reasons.append(f"bias must be an integer -99..99, not {bias!r}")
        where: tuple[float, float] | None = None
        if ("region" in value) == ("coordinates" in value):
            reasons.append("geoproximity needs exactly one of region or coordinates")
        elif "region" in value:
            label = str(value["region"])
            where = ctx.regions.get(label)
            if where is None:
                reasons.append(f"unknown region {label!r} (not built in, not in the config)")
        else:
            where, problem = parse_coordinates(value["coordinates"])
            if problem:
                reasons.append(problem)
            label = f"{where[0]},{where[1]}" if where else ""
        if reasons or where is None:
            return None, reasons
        return Point(where[0], where[1], bias, label), []

    @classmethod
    def select(
        cls,
        candidates: Sequence[Candidate],
        client: Client,
        healthy: Callable[[int], bool],
        rng: Random,
    ) -> Selection:
        where = client.location
        distance = [c.routing.biased_km(where.coordinates) for c in candidates]

        def pick(remaining: list[int]) -> int | None:
            # Ties (and an unlocated client) go to the set listed first.
            return min(remaining, key=lambda i: (distance[i], i), default=None)

        return choose_by_rule(len(candidates), pick, healthy, where.scope)

    @classmethod
    def describe(cls, candidate: Candidate, client: Client) -> str:
        point: Point = candidate.routing
        km = point.biased_km(client.location.coordinates)
        shown = "unknown (client not located)" if math.isinf(km) else f"{km:.0f} km"
        return f"{point.label} bias {point.bias}: biased distance {shown}"


register(GeoproximityPolicy)
