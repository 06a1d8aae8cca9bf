"""The per-query client: ECS subnet or packet source, normalised, with lazy location;
and the client's network as the answer reuse layer keys it, and the ECS scope it sends.

Pure: what is worth remembering per source or subnet, `reuse.Reuse` remembers.
"""

from __future__ import annotations

import ipaddress

from policies.base import Client, IPAddress
from resolver.query.location import Locator
from resolver.wire.ecs import ClientSubnet

# (family, address as int, address bits, known prefix) of the client policies see.
ClientBits = tuple[int, int, int, int]


def normalise(address: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 (a dual-stack socket's view of an IPv4 peer) becomes IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def make_client(locator: Locator, subnet: ClientSubnet | None, source: IPAddress | None) -> Client:
    """The client policies route on: the ECS subnet when given, else the packet source
    (`source`, already through `source_address`)."""
    locate, latency = locator.locate, locator.latencies
    if subnet is not None:
        if subnet.source == 0:
            # "Do not use my address" (RFC 7871 7.1.2): route as for an unknown client.
            return Client(None, 0, True, locate, latency)
        address = normalise(subnet.address)
        prefix = subnet.source
        if address.version == 4 and subnet.address.version == 6:
            prefix = max(0, prefix - 96)
        return Client(address, prefix, True, locate, latency)
    if source is None:
        return Client(None, 0, False, locate, latency)
    return Client(source, source.max_prefixlen, False, locate, latency)


def source_address(source: str) -> IPAddress | None:
    """The packet source as a normalised address; None when it is not one."""
    try:
        return normalise(ipaddress.ip_address(source))
    except ValueError:
        return None


def source_bits(address: IPAddress) -> ClientBits:
    """A packet source's bits: the whole address is known."""
    return (address.version, int(address), address.max_prefixlen, address.max_prefixlen)


def subnet_bits(subnet: ClientSubnet) -> ClientBits:
    """An ECS subnet's bits, routed as IPv4 when it is IPv4-mapped IPv6."""
    if subnet.source == 0:
        return (0, 0, 0, 0)  # no address: every such client is the same client
    address = normalise(subnet.address)
    prefix = subnet.source - (96 if address.version != subnet.address.version else 0)
    return (address.version, int(address), address.max_prefixlen, max(prefix, 0))


def reply_scope(scope: int, subnet: ClientSubnet | None, routed_as: int | None) -> int:
    """The ECS scope in the option's own family (IPv4-mapped IPv6 counts 96 more bits).

    `routed_as` is the IP version the client was routed as (4 for a mapped address).
    """
    if subnet is None:
        return 0
    mapped = routed_as == 4 and subnet.family == 2
    if scope and mapped:
        scope += 96  # routed as IPv4, but the option speaks IPv4-mapped IPv6
    return min(scope, subnet.source)
