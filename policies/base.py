"""The contract every routing policy implements, and the registry that names them.

A policy sees only what is handed to it: the candidate record sets of one name and type
(their set ids and routing parameters), the client, a health predicate and an RNG. It
never touches the zone store, the network or the clock, so it is testable in isolation.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Client:
    """Who is asking: the address policies route on and how much of it is known."""

    address: IPAddress | None
    # Prefix length of the address that is real: 32/128 for a packet source, the ECS
    # source prefix when the address came from EDNS Client Subnet.
    prefix: int
    from_ecs: bool = False


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
    # Every candidate was unhealthy and the policy fell back to its last resort.
    degraded: bool = False
    reason: str = ""


class Policy(Protocol):
    """A routing policy: validate its parameters at load time, select at query time."""

    name: ClassVar[str]

    @classmethod
    def parse(cls, value: Any) -> tuple[Any, list[str]]:
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
        rng: random.Random,
    ) -> Selection: ...


REGISTRY: dict[str, type[Policy]] = {}


def register(policy: type[Policy]) -> type[Policy]:
    existing = REGISTRY.get(policy.name)
    if existing is not None and existing is not policy:
        raise ValueError(f"policy {policy.name!r} already registered by {existing.__qualname__}")
    REGISTRY[policy.name] = policy
    return policy


def get(name: str) -> type[Policy] | None:
    return REGISTRY.get(name)


def known() -> Mapping[str, type[Policy]]:
    return REGISTRY
