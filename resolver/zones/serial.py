"""Derived SOA serials (SPEC 4): stable while content is unchanged, rising when it changes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from resolver.wire.names import Name
from resolver.zones.model import Zone

HALF = 1 << 31
MOD = 1 << 32


def newer(a: int, b: int) -> bool:
    """RFC 1982: is serial a strictly greater than serial b?"""
    return a != b and ((a > b and a - b < HALF) or (a < b and b - a > HALF))


def next_serial(candidate: int, previous: int) -> int:
    """candidate if it is newer than previous, else previous + 1 (mod 2^32)."""
    return candidate if newer(candidate, previous) else (previous + 1) % MOD


def carry_serials(zones: list[Zone], previous: Mapping[Name, Zone]) -> list[Zone]:
    """The zones of a reload with their derived serials continued from the zones they
    replace: a zone whose serial moves is a new Zone, the others are returned as they are."""
    carried = []
    for zone in zones:
        old = previous.get(zone.origin)
        if old is None or zone.serial_explicit:
            carried.append(zone)
            continue
        if old.digest == zone.digest:
            serial = old.soa.serial
        else:
            serial = next_serial(zone.soa.serial, old.soa.serial)
        soa = dataclasses.replace(zone.soa, serial=serial)
        carried.append(dataclasses.replace(zone, soa=soa))
    return carried
