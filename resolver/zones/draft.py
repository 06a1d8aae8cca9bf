"""What the reader of one zone file produces, before the checks that need every file.

Routing values stay as the file gave them here: a policy can parse them only once every
file's CIDR collections are known. zones.check turns drafts into the immutable model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dnslib import RD

from healthcheck.spec import CheckSpec
from resolver.wire import names
from resolver.wire.names import Name
from resolver.zones.model import Alias, CidrCollection, RecordSet, Soa


@dataclass(frozen=True, slots=True)
class SetDraft:
    """One record set as read, its routing value not yet parsed by its policy."""

    name: Name
    rtype: int
    ttl: int
    rdata: tuple[RD, ...]
    alias: Alias | None
    set_id: str | None
    policy: str  # the routing key that chose the policy ("simple" without one)
    raw_routing: Any  # the routing key's value as YAML gave it
    health_check: str | None
    file: str
    line: int

    def built(self, routing: object) -> RecordSet:
        """The record set, with routing the parameters its policy parsed."""
        return RecordSet(
            name=self.name,
            rtype=self.rtype,
            ttl=self.ttl,
            rdata=self.rdata,
            alias=self.alias,
            set_id=self.set_id,
            policy=self.policy,
            routing=routing,
            health_check=self.health_check,
            file=self.file,
            line=self.line,
        )


@dataclass(frozen=True, slots=True)
class ZoneDraft:
    """A zone read from one file: its header, its record sets by owner and type, and the
    health checks and CIDR collections it defines."""

    origin: Name
    ttl: int
    soa: Soa
    file: str
    nodes: dict[Name, dict[int, list[SetDraft]]]
    existing: frozenset[Name]
    cuts: frozenset[Name]
    digest: str
    serial_explicit: bool
    health_checks: dict[str, CheckSpec]
    check_lines: dict[str, int]
    cidr_collections: dict[str, CidrCollection]
    # Names and types with a record set that failed to load: references to them are not
    # reported again as missing.
    failed: frozenset[tuple[Name, int]] = field(default_factory=frozenset)
    zone_line: int = 1

    @property
    def name_text(self) -> str:
        return names.to_text(self.origin)
