"""Where a client is: the config's `locations` first, then a GeoIP database (SPEC 5).

With no database configured the embedded data answers: iptocc's registry-based country for
the address, our own country-to-continent and centroid tables for the rest. Lookups are
cached per /24 (IPv4) and /56 (IPv6), the most a resolver's ECS option reveals anyway.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from policies.base import UNKNOWN, Client, IPNetwork, Latencies, Location, holds
from policies.countries import centroid, continent_of

log = logging.getLogger("policydns.location")

CACHE_PREFIX = {4: 24, 6: 56}
CACHE_SIZE = 65536


class PrefixTable:
    """Longest-prefix match of a client network over configured CIDR blocks."""

    def __init__(self, entries: Mapping[str, Any]) -> None:
        rows = [(ipaddress.ip_network(cidr), value) for cidr, value in entries.items()]
        self.rows = sorted(rows, key=lambda row: row[0].prefixlen, reverse=True)

    def match(self, client: Client) -> tuple[IPNetwork, Any, int] | None:
        """(block, value, scope) for the longest block holding the whole client network."""
        for block, value in self.rows:  # longest first
            if holds(block, client):
                return block, value, self._scope(block, client)
        return None

    def overlaps(self, network: IPNetwork) -> bool:
        if not self.rows:
            return False
        return any(b.version == network.version and b.overlaps(network) for b, _ in self.rows)

    def _scope(self, block: IPNetwork, client: Client) -> int:
        # A more specific block inside this one answers differently for part of it: the
        # answer then holds only for the client's own prefix.
        nested = any(
            b.version == block.version and b != block and b.subnet_of(block)  # type: ignore[arg-type]
            for b, _ in self.rows
        )
        return client.prefix if nested else block.prefixlen


def location_from(value: Mapping[str, Any], source: str, scope: int) -> Location:
    """A Location from config or database fields, filling continent and coordinates."""
    country = _upper(value.get("country"))
    subdivision = _upper(value.get("subdivision"))
    if subdivision and country and subdivision.startswith(country + "-"):
        subdivision = subdivision[len(country) + 1 :]
    continent = _upper(value.get("continent")) or (continent_of(country) if country else None)
    lat, lon = value.get("latitude"), value.get("longitude")
    if (lat is None or lon is None) and country:
        point = centroid(country, subdivision)
        if point is not None:
            lat, lon = point
    return Location(continent, country, subdivision, lat, lon, source, scope)


def _upper(value: Any) -> str | None:
    return str(value).upper() if value else None


class Locator:
    """Answers `Client.location` and `Client.latencies` from config and geo data."""

    def __init__(
        self,
        locations: Mapping[str, Any],
        latency: Mapping[str, Any],
        database: str | None = None,
    ) -> None:
        self.locations = PrefixTable(locations)
        self.latency = PrefixTable(latency)
        self.database_path = database
        self._reader = _open_database(database) if database else None
        self._cache: OrderedDict[tuple[int, int, int], Location] = OrderedDict()

    @property
    def source_name(self) -> str:
        return f"geoip database {self.database_path}" if self._reader else "embedded iptocc data"

    def locate(self, client: Client) -> Location:
        found = self.locations.match(client)
        if found is not None:
            block, value, scope = found
            return location_from(value, f"locations {block}", min(scope, client.prefix))
        address = client.address
        if address is None:  # Client asks only when it has an address
            return UNKNOWN
        cut = min(client.prefix, CACHE_PREFIX[address.version])
        bits = address.max_prefixlen
        key = (address.version, int(address) >> (bits - cut), cut)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            if cached.scope <= client.prefix:
                return cached
            return _with_scope(cached, client.prefix)
        where, holds_for = self._lookup(address, client.prefix)
        if self.locations.rows and self.locations.overlaps(
            ipaddress.ip_network(f"{address}/{cut}", strict=False)
        ):
            # Part of this network is mapped in `locations`: the answer holds only here.
            where = _with_scope(where, client.prefix)
        elif holds_for <= cut:
            # The data answers alike for the whole /24 (/56): later clients there reuse it.
            self._cache[key] = where
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return where

    def _lookup(self, address: Any, prefix: int) -> tuple[Location, int]:
        """The location of the client's network, and the prefix over which it holds."""
        if self._reader is not None:
            record, length = self._reader.get_with_prefix_len(address)
            scope = min(prefix, length)
            if not record:
                return Location(source=self.source_name, scope=scope), length
            fields = {
                "continent": (record.get("continent") or {}).get("code"),
                "country": (record.get("country") or {}).get("iso_code"),
                "subdivision": ((record.get("subdivisions") or [{}])[0]).get("iso_code"),
                "latitude": (record.get("location") or {}).get("latitude"),
                "longitude": (record.get("location") or {}).get("longitude"),
            }
            return location_from(fields, self.source_name, scope), length
        import iptocc

        # Registry data has no prefix to report; allocations are /24 (/48) or larger.
        cut = min(prefix, CACHE_PREFIX[address.version])
        country = iptocc.country_code(str(address))
        if not country:
            return Location(source=self.source_name, scope=cut), cut
        return location_from({"country": country}, self.source_name, cut), cut

    def latencies(self, client: Client) -> Latencies | None:
        found = self.latency.match(client)
        if found is None:
            return None
        block, value, scope = found
        return Latencies(value, str(block), min(scope, client.prefix))


def _with_scope(where: Location, scope: int) -> Location:
    return Location(
        where.continent,
        where.country,
        where.subdivision,
        where.latitude,
        where.longitude,
        where.source,
        scope,
    )


def _open_database(path: str) -> Any:
    import maxminddb

    return maxminddb.open_database(path)
