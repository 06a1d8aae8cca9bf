"""The config's sections on where clients are: geoip, locations, latency and regions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from policies.base import coordinates_problem, is_number
from resolver.config_reader import SectionReader
from resolver.zones.yamlsource import SourceDict

LOCATION_KEYS = {"continent", "country", "subdivision", "latitude", "longitude"}


class GeoSections(SectionReader):
    """Readers of the sections that say where clients and regions are."""

    def _geoip(self, value: Any, line: int, out: dict) -> None:
        if value is None:
            return
        if not self._mapping(
            value, line, "geoip", {"database"}, "must be {database: FILE or null}"
        ):
            return
        database = value.get("database")
        if database is not None:
            if not isinstance(database, str):
                self.error(line, "geoip.database", "must be a file name or null")
            else:
                out["geoip_database"] = str(self.base / database)

    def _networks(
        self, value: Any, line: int, what: str, check: Callable[[Any], str | None]
    ) -> dict:
        if value is None:
            return {}
        if not isinstance(value, SourceDict):
            self.error(line, what, "must map CIDR blocks to settings")
            return {}
        result = {}
        for cidr, settings in value.items():
            key_line = value.line_of(cidr)
            network = self._cidr(cidr, key_line, what)
            if network is None:
                continue
            if what == "locations" and not self._mapping(
                settings, key_line, f"locations {cidr}", LOCATION_KEYS, "must be a mapping"
            ):
                continue
            problem = check(settings)
            if problem:
                self.error(key_line, f"{what} {cidr}", problem)
                continue
            result[network] = settings
        return result

    def _locations(self, value: Any, line: int, out: dict) -> None:
        out["locations"] = self._networks(value, line, "locations", _check_location)

    def _latency(self, value: Any, line: int, out: dict) -> None:
        def check(settings: Any) -> str | None:
            if not isinstance(settings, dict) or not settings:
                return "must map region names to round-trip times in ms"
            bad = [k for k, v in settings.items() if not is_number(v) or v < 0]
            return f"round-trip times must be non-negative numbers: {bad}" if bad else None

        out["latency"] = self._networks(value, line, "latency", check)

    def _regions(self, value: Any, line: int, out: dict) -> None:
        if value is None:
            return
        if not isinstance(value, SourceDict):
            self.error(line, "regions", "must map region names to {latitude, longitude}")
            return
        regions = {}
        for name, coords in value.items():
            problem = _check_coordinates(coords, required=True)
            if problem:
                self.error(value.line_of(name), f"regions {name}", problem)
            else:
                regions[str(name)] = coords
        out["regions"] = regions


def _check_coordinates(value: Any, required: bool) -> str | None:
    if not isinstance(value, dict):
        return "must be a mapping"
    lat, lon = value.get("latitude"), value.get("longitude")
    if lat is None and lon is None and not required:
        return None
    return coordinates_problem(lat, lon)


def _check_location(value: Any) -> str | None:
    if not isinstance(value, dict) or not value:
        return "must be {continent, country, subdivision, latitude, longitude}"
    for key in ("continent", "country", "subdivision"):
        if key in value and not isinstance(value[key], str):
            return f"{key} must be a code string"
    return _check_coordinates(value, required=False)
