"""What the engine takes and gives: the query's context, and the answer as records plus
what it depended on (for reuse and the logs)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dnslib import QTYPE, RCODE, SOA, DNSLabel

from healthcheck.view import HealthView
from policies.base import Client
from resolver.wire.names import Name
from resolver.zones.model import RecordGroup, Zone

SOA_TYPE = int(QTYPE.SOA)


@dataclass(slots=True)
class QueryContext:
    """What one query carries into the decision besides its question."""

    client: Client
    health: HealthView
    rng: random.Random


@dataclass(slots=True)
class Result:
    """The sections of a reply, plus what the answer depended on (for caches and logs)."""

    rcode: int = int(RCODE.NOERROR)
    authoritative: bool = True
    answer: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)
    scope: int = 0
    zones: set[Name] = field(default_factory=set)
    checks: set[str] = field(default_factory=set)
    policies: list[str] = field(default_factory=list)
    # The decision path, filled only when explain asks for it (a list, else None).
    trace: list[dict] | None = None
    # Which record sets each policy chose, in order: with the question, this determines
    # the answer's records exactly (the cache keys encoded replies by it).
    choices: list[tuple[Name, int, tuple[int, ...]]] = field(default_factory=list)
    # A policy other than simple took part: the answer can differ between queries.
    dynamic: bool = False
    # A policy that chooses at random took part: no two queries may share a decision.
    random: bool = False
    # Set for a random answer when one group's choice alone decided it: the records of
    # one group at the question's own name, no alias or CNAME between, nothing but the
    # answer section. Re-deciding that group (`Resolver.decide`) gives the answer again.
    group: RecordGroup | None = None

    def min_ttl(self) -> int:
        ttls = [rr.ttl for rr in (*self.answer, *self.authority, *self.additional)]
        return min(ttls, default=0)


class Record(NamedTuple):
    """One resource record of an answer: dnslib RR's fields, at a tenth of its cost.

    It packs itself like dnslib's RR, so a DNSRecord can carry it as is.
    """

    rname: DNSLabel
    rtype: int
    ttl: int
    rdata: Any
    rclass: int = 1

    def pack(self, buffer: Any) -> None:
        buffer.encode_name(self.rname)
        buffer.pack("!HHI", self.rtype, self.rclass, self.ttl)
        length_at = buffer.offset
        buffer.pack("!H", 0)
        start = buffer.offset
        self.rdata.pack(buffer)
        buffer.update(length_at, "!H", buffer.offset - start)


def soa_record(zone: Zone) -> Record:
    soa = zone.soa
    rd = SOA(
        DNSLabel(list(soa.mname)),
        DNSLabel(list(soa.rname)),
        (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum),
    )
    return Record(DNSLabel(list(zone.origin)), SOA_TYPE, zone.ttl, rd)


def negative_soa(zone: Zone) -> Record:
    """The SOA for NXDOMAIN/NODATA, with TTL min(SOA TTL, minimum) per RFC 2308."""
    return soa_record(zone)._replace(ttl=min(zone.ttl, zone.soa.minimum))


class Outcome(NamedTuple):
    """One answer a group's odds can give: the sets chosen, the answer, its weight."""

    chosen: tuple[int, ...]
    result: Result
    weight: float


class Outcomes(NamedTuple):
    """Every answer a group can give now, and the health checks its odds consulted."""

    each: tuple[Outcome, ...]
    checks: frozenset[str]
