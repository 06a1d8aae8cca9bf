"""The contract every routing policy implements, the shared selection loop, and the registry.

A policy sees only what is handed to it: the candidate record sets of one name and type
(their set ids and parsed routing parameters), the client, a health predicate and an RNG.
It never touches the zone store, the network or the clock, so it is testable in isolation.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Any, ClassVar, Protocol, TypeGuard

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Location:
    """Where a client is, as far as anyone knows, and over how large a prefix that holds."""

    continent: str | None = None
    country: str | None = None
    subdivision: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    source: str = "unknown"
    scope: int = 0

    @property
    def coordinates(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return self.latitude, self.longitude


UNKNOWN = Location()


@dataclass(frozen=True, slots=True)
class Latencies:
    """Measured round-trip times (ms) by region for the client's network."""

    rtt_ms: Mapping[str, float]
    network: str
    scope: int


class Client:
    """Who is asking: the address policies route on, and lazily where it is.

    Location and measured latencies are looked up only when a policy asks, so weighted
    or failover answers never pay for a geo lookup.
    """

    __slots__ = ("_latencies", "_latency", "_locate", "_location", "address", "from_ecs", "prefix")

    def __init__(
        self,
        address: IPAddress | None,
        prefix: int,
        from_ecs: bool = False,
        locate: Callable[[Client], Location] | None = None,
        latency: Callable[[Client], Latencies | None] | None = None,
    ) -> None:
        self.address = address
        # How many leading bits of address are real: 32/128 for a packet's source, the
        # ECS source prefix when the address came from EDNS Client Subnet.
        self.prefix = prefix
        self.from_ecs = from_ecs
        self._locate = locate
        self._latency = latency
        self._location: Location | None = None
        self._latencies: Latencies | bool | None = False

    @property
    def network(self) -> IPNetwork | None:
        if self.address is None:
            return None
        return ipaddress.ip_network(f"{self.address}/{self.prefix}", strict=False)

    @property
    def location(self) -> Location:
        if self._location is None:
            known = self.address is not None and self._locate is not None
            self._location = self._locate(self) if known else UNKNOWN  # type: ignore[misc]
        return self._location

    @property
    def latencies(self) -> Latencies | None:
        if self._latencies is False:
            known = self.address is not None and self._latency is not None
            self._latencies = self._latency(self) if known else None  # type: ignore[misc]
        return self._latencies  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Client({self.address}/{self.prefix}, ecs={self.from_ecs})"


def holds(block: IPNetwork, client: Client) -> bool:
    """Does block contain the client's whole network? A client subnet shorter than the
    block does not count (SPEC 5); integer arithmetic, as this runs per query."""
    address = client.address
    if address is None or block.version != address.version or client.prefix < block.prefixlen:
        return False
    shift = address.max_prefixlen - block.prefixlen
    return int(address) >> shift == int(block.network_address) >> shift


class Candidate(Protocol):
    """What a policy may read of a record set."""

    @property
    def set_id(self) -> str | None: ...

    @property
    def routing(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Selection:
    """The chosen candidates (indices into the group) and how the choice was made."""

    chosen: tuple[int, ...]
    # ECS scope prefix length the decision depended on: 0 when it did not use the client.
    scope: int = 0
    # Every candidate that could answer was unhealthy: the policy used its last resort.
    degraded: bool = False
    # Candidates picked by the rule but dropped as unhealthy, in order.
    dropped: tuple[int, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class LoadContext:
    """What policies may consult when parsing zone data: known regions and CIDR collections."""

    regions: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    cidr_collections: Mapping[str, Mapping[str, tuple[IPNetwork, ...]]] = field(
        default_factory=dict
    )


class Policy(Protocol):
    """A routing policy: parse its parameters at load time, select at query time."""

    key: ClassVar[str]  # the routing key that selects it in a zone file
    name: ClassVar[str]  # what logs and explain call it
    single_value: ClassVar[bool]  # each record set holds exactly one value
    allows_alias: ClassVar[bool]
    # The answer can differ between queries (by client, health or chance); only a policy
    # that always gives every set (simple) is not.
    dynamic: ClassVar[bool]
    random: ClassVar[bool]  # chooses at random: its answer must be decided per query

    @classmethod
    def parse(cls, value: Any, ctx: LoadContext) -> tuple[Any, list[str]]:
        """Turn the zone file's routing value into parameters, with every reason it is bad."""
        ...

    @classmethod
    def check_group(cls, routings: Sequence[Any]) -> list[str]:
        """Rules over all sets of one name and type (e.g. one primary)."""
        ...

    @classmethod
    def select(
        cls,
        candidates: Sequence[Candidate],
        client: Client,
        healthy: Callable[[int], bool],
        rng: Random,
    ) -> Selection: ...

    @classmethod
    def odds(cls, candidates: Sequence[Candidate], healthy: Callable[[int], bool]) -> Odds | None:
        """Every choice `select` can make with its relative weight, when the choice depends
        on health and chance alone (never on the client); None when it cannot be listed.

        With these a server can draw an answer per query from precomputed replies instead
        of running `select`: the draw has the same distribution.
        """
        ...

    @classmethod
    def describe(cls, candidate: Candidate, client: Client) -> str:
        """Why this candidate ranks where it does for this client (for explain)."""
        ...


# Each possible choice (indices into the group) with its relative weight (> 0).
Odds = tuple[tuple[tuple[int, ...], float], ...]


class BasePolicy:
    """Defaults every policy starts from; a policy overrides what makes it different.

    `dynamic` and `random` have no default: what a policy is, each states itself, and
    `register` refuses one that does not.
    """

    single_value: ClassVar[bool] = False
    allows_alias: ClassVar[bool] = True

    @classmethod
    def check_group(cls, routings: Sequence[Any]) -> list[str]:
        return []

    @classmethod
    def odds(cls, candidates: Sequence[Candidate], healthy: Callable[[int], bool]) -> Odds | None:
        return None


def choose_one(
    count: int,
    pick: Callable[[list[int]], int | None],
    last_resort: Callable[[], int | None],
    healthy: Callable[[int], bool],
    scope: int = 0,
) -> Selection:
    """The loop every single-answer policy shares (SPEC 5).

    Pick by the policy's rule; if the pick is unhealthy, drop it and pick again by the
    same rule; when nothing healthy is left, fall back to the policy's last resort.
    """
    remaining = list(range(count))
    dropped: list[int] = []
    while remaining:
        choice = pick(remaining)
        if choice is None:
            break
        if healthy(choice):
            return Selection((choice,), scope, False, tuple(dropped))
        dropped.append(choice)
        remaining.remove(choice)
    fallback = last_resort()
    if fallback is None:
        return Selection((), scope, bool(dropped), tuple(dropped), "no record set matches")
    return Selection((fallback,), scope, True, tuple(dropped), "last resort: none healthy")


def choose_by_rule(
    count: int,
    pick: Callable[[list[int]], int | None],
    healthy: Callable[[int], bool],
    scope: int = 0,
) -> Selection:
    """choose_one with the last resort every SPEC 5 policy has: its own rule applied to
    all record sets as if all were healthy (the best region, the primary, the most
    specific match, a weighted draw over all)."""
    return choose_one(count, pick, lambda: pick(list(range(count))), healthy, scope)


def used_twice(places: Sequence[str]) -> list[str]:
    """The rule of the policies that route by place (a region, a location, a CIDR
    location): each place answers for one record set of the group, or the choice
    between them would be arbitrary."""
    twice = {place for place in places if places.count(place) > 1}
    return sorted(f"{place} is used by more than one record set" for place in twice)


# Routing key -> policy, filled as `policies` imports every module of the package.
REGISTRY: dict[str, type[Policy]] = {}

# The policy of a record set with no routing key (SPEC 4: "none = simple"). The key names
# that choice in the zone model; no zone file writes it.
DEFAULT_KEY = "simple"


def register(policy: type[Policy]) -> type[Policy]:
    """Add a policy under its routing key, once it has said whether it is dynamic and random."""
    for flag in ("dynamic", "random"):
        if not isinstance(vars(policy).get(flag), bool):
            raise TypeError(f"{policy.__qualname__} must declare {flag}: ClassVar[bool]")
    existing = REGISTRY.get(policy.key)
    if existing is not None and existing is not policy:
        raise ValueError(f"policy {policy.key!r} already registered by {existing.__qualname__}")
    REGISTRY[policy.key] = policy
    return policy


def get(key: str) -> type[Policy] | None:
    """The policy a routing key selects (DEFAULT_KEY when a record set has none)."""
    return REGISTRY.get(key)


def routing_keys() -> tuple[str, ...]:
    """The routing keys a record set may carry in a zone file: every policy's but simple's."""
    return tuple(key for key in REGISTRY if key != DEFAULT_KEY)


# The value rules every reader of zone and config files shares (policies, health-check
# specs, the config): written once here, the lowest layer all of them may import.


def is_int(value: Any) -> TypeGuard[int]:
    """An integer as YAML gives it; YAML's true and false are bools, not 1 and 0."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def coordinates_problem(latitude: Any, longitude: Any) -> str | None:
    """Why a latitude and longitude pair is not a place on Earth, or None."""
    if not is_number(latitude) or not -90 <= latitude <= 90:
        return f"latitude must be -90..90, not {latitude!r}"
    if not is_number(longitude) or not -180 <= longitude <= 180:
        return f"longitude must be -180..180, not {longitude!r}"
    return None
