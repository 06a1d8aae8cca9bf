"""The compiled, immutable zone model that the query engine reads.

A ZoneSet is built whole by the loader and swapped in by one reference assignment, so a
query never sees half a reload. Every type here is frozen; the dicts inside (Zone.nodes,
ZoneSet.zones and the global tables) are plain dicts for lookup speed on the query path,
filled while the model is built and never mutated after.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dnslib import RD

from healthcheck.spec import CheckSpec
from resolver.wire import names
from resolver.wire.names import Name

# A CIDR collection: location name -> its blocks; the zone set holds them by name.
CidrCollection = dict[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]]


@dataclass(frozen=True, slots=True)
class Alias:
    target: Name
    evaluate_target_health: bool


@dataclass(frozen=True, slots=True)
class RecordSet:
    """One list item of a zone file: values (or an alias) plus routing data.

    It is what a policy reads of a candidate (policies.base.Candidate: set_id and
    routing), so the engine hands a group's sets to its policy as they are.
    """

    name: Name
    rtype: int
    ttl: int
    rdata: tuple[RD, ...]
    alias: Alias | None
    set_id: str | None
    policy: str  # the routing key that chose the policy ("simple" without one)
    # The policy's parsed parameters (a weight, a role, a Point...): opaque to all but it.
    routing: object
    health_check: str | None
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class RecordGroup:
    """All record sets of one name and type, and the policy that chooses among them."""

    name: Name
    rtype: int
    policy: str
    sets: tuple[RecordSet, ...]


@dataclass(frozen=True, slots=True)
class Soa:
    mname: Name
    rname: Name
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int


@dataclass(frozen=True, slots=True)
class Zone:
    """One zone: its apex data and every node, keyed by lowercase label tuple."""

    origin: Name
    ttl: int
    soa: Soa
    file: str
    nodes: dict[Name, dict[int, RecordGroup]]
    # Every name that exists: owners plus empty non-terminals up to the apex.
    existing: frozenset[Name]
    # Owners of NS below the apex: zone cuts.
    cuts: frozenset[Name]
    # Ids of the health checks this zone's file defines (checks themselves are global).
    health_check_ids: frozenset[str] = frozenset()
    # Names of the CIDR collections this zone's file defines.
    cidr_collection_names: frozenset[str] = frozenset()
    # Hash of the zone file's text, and whether the serial was written in it: a derived
    # serial only moves when the content does.
    digest: str = ""
    serial_explicit: bool = False

    @property
    def health_check_count(self) -> int:
        return len(self.health_check_ids)

    @property
    def name_text(self) -> str:
        return names.to_text(self.origin)

    def group(self, name: Name, rtype: int) -> RecordGroup | None:
        node = self.nodes.get(name)
        return node.get(rtype) if node else None

    def record_set_count(self) -> int:
        """Every record set served: each list item of the file, the apex NS and the SOA."""
        return sum(len(g.sets) for node in self.nodes.values() for g in node.values()) + 1


@dataclass(frozen=True, slots=True)
class ZoneSet:
    """Every loaded zone; finds the one authoritative for a name by longest suffix."""

    zones: dict[Name, Zone]
    max_depth: int = 0
    # Health checks and CIDR collections are global: any zone file may use any of them.
    health_checks: dict[str, CheckSpec] = field(default_factory=dict)
    cidr_collections: dict[str, CidrCollection] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        zones: list[Zone],
        health_checks: dict[str, CheckSpec] | None = None,
        cidr_collections: dict[str, CidrCollection] | None = None,
    ) -> ZoneSet:
        table = {z.origin: z for z in zones}
        depth = max((len(z.origin) for z in zones), default=0)
        return cls(table, depth, health_checks or {}, cidr_collections or {})

    def find(self, name: Name) -> Zone | None:
        start = max(0, len(name) - self.max_depth)
        for i in range(start, len(name) + 1):
            zone = self.zones.get(name[i:])
            if zone is not None:
                return zone
        return None

    def group(self, name: Name, rtype: int) -> RecordGroup | None:
        zone = self.find(name)
        return zone.group(name, rtype) if zone else None


if TYPE_CHECKING:
    from policies.base import Candidate

    # A record set is what a policy reads of a candidate: the engine hands group.sets over.
    _RECORD_SET_IS_A_CANDIDATE: type[Candidate] = RecordSet
