"""The per-query client: ECS subnet or packet source, normalised, with lazy location."""

from __future__ import annotations

import ipaddress

from policies.base import Client, IPAddress
from resolver.query.location import Locator
from resolver.wire.ecs import ClientSubnet


def normalise(address: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 (a dual-stack socket's view of an IPv4 peer) becomes IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def make_client(locator: Locator, source: str, subnet: ClientSubnet | None) -> Client:
    """The client policies route on: the ECS subnet when given, else the packet source."""
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
    found = source_address(source)
    if found is None:
        return Client(None, 0, False, locate, latency)
    return Client(found, found.max_prefixlen, False, locate, latency)


_SOURCES: dict[str, IPAddress | None] = {}


def source_address(source: str) -> IPAddress | None:
    """The packet source as an address; parsed once per source (resolvers repeat)."""
    address = _SOURCES.get(source, False)
    if address is False:
        try:
            address = normalise(ipaddress.ip_address(source))
        except ValueError:
            address = None
        if len(_SOURCES) > 65536:
            _SOURCES.clear()
        _SOURCES[source] = address
    return address  # type: ignore[return-value]
