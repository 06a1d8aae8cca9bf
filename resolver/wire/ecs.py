"""EDNS Client Subnet (RFC 7871): parse the option strictly, build the reply's copy.

The one place the option is read and written: both query routes find it here, and both
echo it through `reply_option`.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

ECS_CODE = 8
FAMILIES = {1: (4, 32), 2: (16, 128)}  # family -> (address bytes, bits)


class EcsError(ValueError):
    """An ECS option the RFC says to answer with FORMERR."""


@dataclass(frozen=True, slots=True)
class ClientSubnet:
    family: int
    source: int
    address: ipaddress.IPv4Address | ipaddress.IPv6Address


def reply_option(subnet: ClientSubnet | None, scope: int) -> bytes:
    """The option, code and length included, echoed with the scope the answer depended
    on (RFC 7871 7.2.1); empty when the query carried none."""
    if subnet is None:
        return b""
    packed = subnet.address.packed[: (subnet.source + 7) // 8]
    data = struct.pack("!HBB", subnet.family, subnet.source, scope) + packed
    return struct.pack("!HH", ECS_CODE, len(data)) + data


def from_options(found: list[tuple[int, bytes]]) -> ClientSubnet | None:
    """The subnet among a query's EDNS options; EcsError when there is more than one."""
    subnets = [data for code, data in found if code == ECS_CODE]
    if len(subnets) > 1:
        raise EcsError("more than one ECS option")
    return parse(subnets[0]) if subnets else None


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
