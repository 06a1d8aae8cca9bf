"""IP-based routing: the CIDR location with the longest prefix holding the client's network."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from random import Random
from typing import Any, ClassVar

from policies.base import (
    BasePolicy,
    Candidate,
    Client,
    IPNetwork,
    LoadContext,
    Selection,
    choose_by_rule,
    holds,
    register,
    used_twice,
)

DEFAULT = "*"


@dataclass(frozen=True, slots=True)
class CidrLocation:
    collection: str
    location: str
    blocks: tuple[IPNetwork, ...]

    def match_length(self, client: Client) -> int:
        """Longest block prefix holding the client's whole network, or -1.

        A client subnet shorter than a block does not match it (SPEC 5).
        """
        return max((b.prefixlen for b in self.blocks if holds(b, client)), default=-1)


class IpBasedPolicy(BasePolicy):
    key: ClassVar[str] = "cidr"
    name: ClassVar[str] = "ip-based"
    dynamic: ClassVar[bool] = True  # the answer depends on the client and health
    random: ClassVar[bool] = False

    @classmethod
    def parse(cls, value: Any, ctx: LoadContext) -> tuple[Any, list[str]]:
        if not isinstance(value, Mapping) or set(value) != {"collection", "location"}:
            return None, ['cidr must be {collection: NAME, location: NAME or "*"}']
        collection, location = str(value["collection"]), str(value["location"])
        blocks = ctx.cidr_collections.get(collection)
        if blocks is None:
            return None, [f"unknown cidr collection {collection!r}"]
        if location != DEFAULT and location not in blocks:
            return None, [f"cidr collection {collection!r} has no location {location!r}"]
        return CidrLocation(collection, location, tuple(blocks.get(location, ()))), []

    @classmethod
    def check_group(cls, routings: Sequence[Any]) -> list[str]:
        reasons = []
        if len({r.collection for r in routings}) > 1:
            reasons.append("all record sets of one name and type must use the same cidr collection")
        return reasons + used_twice([f"cidr location {r.location}" for r in routings])

    @classmethod
    def select(
        cls,
        candidates: Sequence[Candidate],
        client: Client,
        healthy: Callable[[int], bool],
        rng: Random,
    ) -> Selection:
        places: list[CidrLocation] = [c.routing for c in candidates]
        lengths = [p.match_length(client) for p in places]

        def pick(remaining: list[int]) -> int | None:
            best = max(remaining, key=lambda i: lengths[i], default=None)
            if best is not None and lengths[best] >= 0:
                return best
            return next((i for i in remaining if places[i].location == DEFAULT), None)

        return choose_by_rule(
            len(candidates),
            pick,
            healthy,
            _scope(places, lengths, client),
        )

    @classmethod
    def describe(cls, candidate: Candidate, client: Client) -> str:
        place: CidrLocation = candidate.routing
        if place.location == DEFAULT:
            return 'default location "*"'
        length = place.match_length(client)
        verdict = f"matches with /{length}" if length >= 0 else "does not match"
        return f"location {place.location}: {verdict}"


register(IpBasedPolicy)


def _scope(places: list[CidrLocation], lengths: list[int], client: Client) -> int:
    """The prefix length over which this answer holds for every address (RFC 7871)."""
    if client.address is None:
        return 0
    best = max(lengths, default=-1)
    if best < 0 or client.prefix == best:
        return client.prefix  # no match, or the match is the client's own network
    winner = places[lengths.index(best)]
    matched = next(
        b
        for b in winner.blocks
        if b.prefixlen == best and b.version == client.address.version and client.address in b
    )
    return client.prefix if _has_nested(places, matched) else best


def _has_nested(places: list[CidrLocation], matched: IPNetwork) -> bool:
    """Does any block of the group lie strictly inside the matched block?

    Then the matched block does not answer alike for all of its addresses. Worked out per
    query, in integers: a group holds a handful of blocks, and a cache of it would outlive
    the zone it came from.
    """
    shift = matched.max_prefixlen - matched.prefixlen
    top = int(matched.network_address) >> shift
    return any(
        b.prefixlen > matched.prefixlen
        and b.version == matched.version
        and int(b.network_address) >> shift == top
        for p in places
        for b in p.blocks
    )
