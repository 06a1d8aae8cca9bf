"""Geolocation routing: the most specific match of subdivision, country, continent, default."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from random import Random
from typing import Any, ClassVar

from policies.base import (
    BasePolicy,
    Candidate,
    Client,
    LoadContext,
    Location,
    Selection,
    choose_by_rule,
    register,
    used_twice,
)
from policies.countries import CONTINENTS, COUNTRIES, US_STATES

KEYS = {"continent", "country", "subdivision"}


@dataclass(frozen=True, slots=True)
class GeoMatch:
    """One record set's location; specificity 3 subdivision, 2 country, 1 continent, 0 default."""

    continent: str | None = None
    country: str | None = None
    subdivision: str | None = None

    @property
    def specificity(self) -> int:
        if self.subdivision:
            return 3
        if self.country:
            return 2
        return 1 if self.continent else 0

    def matches(self, where: Location) -> bool:
        if self.subdivision:
            return where.country == self.country and where.subdivision == self.subdivision
        if self.country:
            return where.country == self.country
        if self.continent:
            return where.continent == self.continent
        return True  # the default matches every client, located or not

    def __str__(self) -> str:
        if self.subdivision:
            return f"subdivision {self.country}-{self.subdivision}"
        if self.country:
            return f"country {self.country}"
        return f"continent {self.continent}" if self.continent else 'default (country "*")'


@functools.cache
def _iso_subdivisions() -> frozenset[str]:
    """Every ISO 3166-2 code, from pycountry's copy of the iso-codes data."""
    import pycountry

    return frozenset(s.code.upper() for s in pycountry.subdivisions)


def valid_subdivision(country: str, subdivision: str) -> bool:
    if country == "US" and subdivision in US_STATES:
        return True
    return f"{country}-{subdivision}" in _iso_subdivisions()


def parse_location(value: Any) -> tuple[GeoMatch | None, list[str]]:
    if not isinstance(value, Mapping) or not value:
        return None, ["geolocation must be {continent: XX} or {country: XX[, subdivision: YY]}"]
    reasons = [f"unknown geolocation key {k!r}" for k in value if k not in KEYS]
    continent, country, subdivision = (
        str(value[k]).upper() if isinstance(value.get(k), str) else value.get(k)
        for k in ("continent", "country", "subdivision")
    )
    if continent is not None and (country is not None or subdivision is not None):
        reasons.append("geolocation takes a continent or a country, not both")
    if continent is not None and continent not in CONTINENTS:
        reasons.append(
            f"unknown continent code {value['continent']!r} (one of {' '.join(CONTINENTS)})"
        )
    if country == "*":
        if subdivision is not None:
            reasons.append('the default (country "*") takes no subdivision')
    elif country is not None and country not in COUNTRIES:
        reasons.append(f"unknown ISO 3166-1 country code {value['country']!r}")
    if subdivision is not None:
        if country is None:
            reasons.append("a subdivision needs its country")
        elif country in COUNTRIES and not valid_subdivision(country, str(subdivision)):
            reasons.append(f"unknown ISO 3166-2 subdivision {country}-{value['subdivision']}")
    if continent is None and country is None and not reasons:
        reasons.append("geolocation needs a continent or a country")
    if reasons:
        return None, reasons
    if country == "*":
        return GeoMatch(), []
    return GeoMatch(continent, country, subdivision), []


class GeolocationPolicy(BasePolicy):
    key: ClassVar[str] = "geolocation"
    name: ClassVar[str] = "geolocation"
    dynamic: ClassVar[bool] = True  # the answer depends on the client and health
    random: ClassVar[bool] = False

    @classmethod
    def parse(cls, value: Any, ctx: LoadContext) -> tuple[Any, list[str]]:
        return parse_location(value)

    @classmethod
    def check_group(cls, routings: Sequence[Any]) -> list[str]:
        return used_twice([str(r) for r in routings])

    @classmethod
    def select(
        cls,
        candidates: Sequence[Candidate],
        client: Client,
        healthy: Callable[[int], bool],
        rng: Random,
    ) -> Selection:
        matches: list[GeoMatch] = [c.routing for c in candidates]
        only_default = all(m.specificity == 0 for m in matches)
        where = client.location if not only_default else Location()

        def pick(remaining: list[int]) -> int | None:
            fitting = [i for i in remaining if matches[i].matches(where)]
            return max(fitting, key=lambda i: matches[i].specificity, default=None)

        scope = 0 if only_default else where.scope
        return choose_by_rule(len(candidates), pick, healthy, scope)

    @classmethod
    def describe(cls, candidate: Candidate, client: Client) -> str:
        match: GeoMatch = candidate.routing
        verdict = "matches" if match.matches(client.location) else "does not match"
        return f"{match}: {verdict} the client"


register(GeolocationPolicy)
