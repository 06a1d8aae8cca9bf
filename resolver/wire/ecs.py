"""EDNS Client Subnet (RFC 7871): parse the option strictly, build the reply's copy."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from dnslib import EDNSOption

ECS_CODE = 8
FAMILIES = {1: (4, 32), 2: (16, 128)}  # family -> (address bytes, bits)


class EcsError(ValueError):
    """An ECS option the RFC says to answer with FORMERR."""


@dataclass(frozen=True, slots=True)
class ClientSubnet:
    family: int
    source: int
    address: ipaddress.IPv4Address | ipaddress.IPv6Address

    def reply_option(self, scope: int) -> EDNSOption:
        """The option echoed back with the scope the answer depended on (RFC 7871 7.2.1)."""
        size = (self.source + 7) // 8
        packed = self.address.packed[:size]
        data = struct.pack("!HBB", self.family, self.source, min(scope, 255)) + packed
        return EDNSOption(ECS_CODE, data)


def parse(data: bytes) -> ClientSubnet:
    """Validate per RFC 7871 6: known family, prefix in range, exact length, zero padding."""
    if len(data) < 4:
        raise EcsError("ECS option shorter than 4 bytes")
    family, source, scope = struct.unpack_from("!HBB", data)
    if family not in FAMILIES:
        raise EcsError(f"ECS family {family} unknown")
    width, bits = FAMILIES[family]
    if source > bits:
        raise EcsError(f"ECS source prefix {source} longer than {bits}")
    if scope != 0:
        raise EcsError("ECS scope prefix must be 0 in a query")
    raw = data[4:]
    if len(raw) != (source + 7) // 8:
        raise EcsError("ECS address length does not match the source prefix")
    value = int.from_bytes(raw.ljust(width, b"\0"), "big")
    if value & ((1 << (bits - source)) - 1):
        raise EcsError("ECS address has bits set beyond the source prefix")
    address = ipaddress.ip_address(value) if family == 1 else ipaddress.IPv6Address(value)
    if family == 1:
        address = ipaddress.IPv4Address(value)
    return ClientSubnet(family, source, address)


_PARSED: dict[bytes, ClientSubnet] = {}


def parse_cached(data: bytes) -> ClientSubnet:
    """parse(), remembered per option bytes: a resolver sends the same few subnets often."""
    found = _PARSED.get(data)
    if found is None:
        found = parse(data)  # raises for bad options, which are never remembered
        if len(_PARSED) >= 65536:
            _PARSED.clear()
        _PARSED[data] = found
    return found
