"""What every family of Route 53 operations shares: the service's state, zone lookup by
id, and how a change is compiled, written to the store and swapped in.

A change is checked against the zone as it would be after it, written to the store, and
only then swapped in, as a reload would be; any failure changes nothing. Changes to a zone
cost in proportion to the names they touch (zones.patch).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from healthcheck.spec import CheckSpec
from healthcheck.state import CheckState
from resolver.errors import LoadError, LoadFailed
from resolver.query.location import Locator
from resolver.route53 import listing, mapping
from resolver.route53.errors import Route53Error
from resolver.route53.store import Store
from resolver.wire import names
from resolver.wire.names import Name
from resolver.zones.check import build_zone_set, cross_checks, known_regions
from resolver.zones.draft import ZoneDraft
from resolver.zones.healthchecks import parse_check
from resolver.zones.load import read_zone_text, zone_document
from resolver.zones.model import CidrCollection, Zone, ZoneSet
from resolver.zones.patch import patch_owners
from resolver.zones.render import render_owner, render_zone

log = logging.getLogger("policydns.route53")

MAX_ITEMS = 100  # hosted zones and health checks per page (Route 53's maximum)

MAX_CHANGES_KEPT = 10_000  # GetChange remembers this many changes

HEADER = (
    "Managed by policydns's Route 53 API: changes made here by hand are served after a\n"
    "reload, and the next API change to this zone rewrites the file."
)


class Host(Protocol):
    """What the service needs of the running server (resolver.app.App)."""

    @property
    def zone_set(self) -> ZoneSet: ...

    @property
    def locator(self) -> Locator: ...

    @property
    def regions(self) -> Mapping[str, Mapping[str, float]]: ...

    @property
    def use_ecs(self) -> bool: ...

    def states(self) -> Mapping[str, CheckState]: ...

    def health(self) -> Any: ...

    def commit(self, zone_set: ZoneSet) -> Awaitable[None]:
        """Serve zone_set from now on (answers, workers, health checks)."""
        ...

    lock: asyncio.Lock


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def zone_id_text(raw: str) -> str:
    """`/hostedzone/Z123` or `Z123` -> `Z123`."""
    return raw.rsplit("/", 1)[-1]


@dataclasses.dataclass(slots=True)
class ApiZone:
    """An API-managed zone's document and what is derived from it, kept in step."""

    name: str  # absolute, lower case: "example.com."
    origin: Name
    path: str
    doc: dict[str, Any]
    rendered: dict[str, str]  # owner -> its lines in the zone file
    checks_used: Counter[str]
    collections_used: Counter[str]
    listed: listing.Listing | None = None
    # The served zone this document describes: another object means a reload read the
    # file again (perhaps edited by hand), and the document is read again too.
    zone: Zone | None = None


class ServiceCore:
    """The state and the shared steps; each family of operations is a subclass."""

    def __init__(self, store: Store, host: Host) -> None:
        self.store = store
        self.host = host
        self.resources = store.read_resources()
        for key in ("zones", "health_checks", "cidr_collections"):
            self.resources.setdefault(key, {})
        self._zones: dict[str, ApiZone] = {}
        self._changes: OrderedDict[str, dict[str, Any]] = OrderedDict()

    @staticmethod
    def tables(
        resources: Mapping[str, Any],
    ) -> tuple[dict[str, CheckSpec], dict[str, CidrCollection]]:
        """The API's health checks and CIDR collections as the zone set holds them."""
        checks: dict[str, CheckSpec] = {}
        for cid, item in resources.get("health_checks", {}).items():
            check, _ = mapping.config_to_check(item["HealthCheckConfig"])
            spec, reasons = parse_check(check)
            if spec is not None:
                checks[cid] = spec
            else:
                log.error("health check %s in the state directory: %s", cid, "; ".join(reasons))
        collections: dict[str, CidrCollection] = {}
        for item in resources.get("cidr_collections", {}).values():
            collections[item["Name"]] = {
                loc: tuple(ipaddress.ip_network(b) for b in blocks)
                for loc, blocks in item.get("Locations", {}).items()
            }
        return checks, collections

    def _ids(self) -> mapping.Ids:
        zone_set = self.host.zone_set
        by_id = {cid: c["Name"] for cid, c in self.resources["cidr_collections"].items()}
        by_name = {name: cid for cid, name in by_id.items()}

        def zone_id_of(name: str) -> str | None:
            zone = zone_set.find(names.from_text(name))
            return mapping.zone_id_for(zone.name_text) if zone else None

        def collection_name_of(collection_id: str) -> str | None:
            if collection_id in by_id:
                return by_id[collection_id]
            for name in zone_set.cidr_collections:
                if mapping.collection_id_for(name) == collection_id:
                    return name
            return None

        def collection_id_of(name: str) -> str | None:
            if name in by_name:
                return by_name[name]
            return mapping.collection_id_for(name) if name in zone_set.cidr_collections else None

        return mapping.Ids(zone_id_of, collection_name_of, collection_id_of)

    def _zone_by_id(self, raw: str) -> Zone:
        wanted = zone_id_text(str(raw))
        for zone in self.host.zone_set.zones.values():
            if mapping.zone_id_for(zone.name_text) == wanted:
                return zone
        raise Route53Error("NoSuchHostedZone", f"No hosted zone found with ID: {wanted}", 404)

    def _is_api_zone(self, zone: Zone) -> bool:
        return zone.name_text in self.resources["zones"] or _under(zone.file, self.store)

    def _writable(self, zone: Zone, what: str) -> ApiZone:
        if not self._is_api_zone(zone):
            raise Route53Error(
                "AccessDenied",
                f"{zone.name_text} is served from the operator's zone file {zone.file}; it is "
                f"read-only through the Route 53 API ({what} refused): edit the file and reload",
                403,
            )
        return self._api_zone(zone)

    def _api_zone(self, zone: Zone) -> ApiZone:
        state = self._zones.get(zone.name_text)
        if state is None or state.zone is not zone:
            state = self._read_zone(zone)
            self._zones[zone.name_text] = state
        return state

    def _read_zone(self, zone: Zone) -> ApiZone:
        with open(zone.file, encoding="utf-8") as handle:
            doc, rendered = zone_document(handle.read())
        if not doc.get("records"):
            doc["records"] = {}
        state = ApiZone(zone.name_text, zone.origin, zone.file, doc, rendered, Counter(), Counter())
        state.zone = zone
        for sets in doc["records"].values():
            _count(state, sets, +1)
        return state

    async def warm(self) -> None:
        """Read every API zone's document in a thread once the server is up, so the first
        change to a big zone costs what any change costs (a 100,000-set zone: 3 s once)."""
        loop = asyncio.get_running_loop()
        async with self.host.lock:
            for zone in list(self.host.zone_set.zones.values()):
                if self._is_api_zone(zone) and zone.name_text not in self._zones:
                    state = await loop.run_in_executor(None, self._read_zone, zone)
                    if self.host.zone_set.zones.get(zone.origin) is zone:
                        self._zones[zone.name_text] = state

    def _doc_of(self, zone: Zone) -> dict[str, Any]:
        """Any served zone's document: the API's own, or the operator's file read again."""
        if self._is_api_zone(zone):
            return self._api_zone(zone).doc
        with open(zone.file, encoding="utf-8") as handle:
            return zone_document(handle.read())[0]

    def _change_info(self, comment: str | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "Id": f"/change/C{uuid.uuid4().hex[:20].upper()}",
            "Status": "INSYNC",  # swapped in before the reply: served already
            "SubmittedAt": now_iso(),
        }
        if comment:
            info["Comment"] = comment
        self._changes[zone_id_text(info["Id"])] = info
        while len(self._changes) > MAX_CHANGES_KEPT:
            self._changes.popitem(last=False)
        return info

    def _embed(
        self,
        doc: dict[str, Any],
        checks_used: Counter[str],
        collections_used: Counter[str],
        errors: list[str],
    ) -> None:
        """Copy the API's health checks and CIDR collections a zone uses into its file,
        so the file stands alone (`policydns check` on the state directory works)."""
        api_checks = self.resources["health_checks"]
        operator = self._operator_checks()
        embedded: dict[str, Any] = {}
        todo = [cid for cid, n in checks_used.items() if n > 0]
        while todo:
            cid = todo.pop()
            if cid in embedded or cid in operator:
                continue
            item = api_checks.get(cid)
            if item is None:
                errors.append(f"No health check found with ID {cid}")
                continue
            check, _ = mapping.config_to_check(item["HealthCheckConfig"])
            embedded[cid] = check
            todo.extend(check.get("children", []))
        by_name = {c["Name"]: c for c in self.resources["cidr_collections"].values()}
        collections = {}
        for name, n in collections_used.items():
            if n > 0 and name in by_name:
                collections[name] = by_name[name].get("Locations", {})
        _set_table(doc, "health_checks", dict(sorted(embedded.items())))
        _set_table(doc, "cidr_collections", dict(sorted(collections.items())))

    def _operator_checks(self) -> set[str]:
        """Ids of the health checks the operator's zone files define."""
        return {
            cid
            for zone in self.host.zone_set.zones.values()
            if not self._is_api_zone(zone)
            for cid in zone.health_check_ids
        }

    def _global_tables(
        self, zone_set: ZoneSet
    ) -> tuple[dict[str, CheckSpec], dict[str, CidrCollection]]:
        """Every health check and CIDR collection: the operator's files' and the API's."""
        api_checks, api_collections = self.tables(self.resources)
        operator = [z for z in zone_set.zones.values() if not self._is_api_zone(z)]
        operator_checks = {
            cid: zone_set.health_checks[cid] for z in operator for cid in z.health_check_ids
        }
        operator_collections = {
            name: zone_set.cidr_collections[name]
            for z in operator
            for name in z.cidr_collection_names
        }
        return {**operator_checks, **api_checks}, {**operator_collections, **api_collections}

    def _read(self, doc: Mapping[str, Any], path: str) -> ZoneDraft:
        draft, errors = read_zone_text(render_zone(doc), path)
        if errors or draft is None:
            raise Route53Error.invalid_batch(messages(errors) or ["the zone does not load"])
        return draft

    def _compile_whole(self, doc: Mapping[str, Any], path: str) -> Zone:
        """A new zone (or one rewritten whole), compiled with the current tables."""
        draft = self._read(doc, path)
        try:
            compiled = build_zone_set([draft], [], known_regions(self.host.regions))
        except LoadFailed as exc:
            raise Route53Error.invalid_batch(messages(exc.errors)) from None
        zone = compiled.zones[draft.origin]
        return dataclasses.replace(zone, serial_explicit=True)

    def _rebuilt(
        self, zone_set: ZoneSet, add: Zone | None = None, remove: Name | None = None
    ) -> ZoneSet:
        """The zone set with one zone added or removed, every reference checked again (a
        new zone may take names from its parent zone)."""
        zones = [z for z in zone_set.zones.values() if z.origin != remove]
        if add is not None:
            zones.append(add)
        checks, collections = self._global_tables(zone_set)
        new_set = ZoneSet.of(zones, checks, collections)
        self._verify(new_set)
        return new_set

    def _verify(self, zone_set: ZoneSet) -> None:
        errors = cross_checks(zone_set)
        if errors:
            raise Route53Error.invalid_input("; ".join(messages(errors)))

    async def _write(self, name: str, doc: dict[str, Any], rendered: dict[str, str]) -> None:
        """Write one zone's file (rendering only the owners not already rendered)."""
        for owner, sets in doc["records"].items():
            if owner not in rendered:
                rendered[owner] = render_owner(owner, sets)
        text = render_zone(doc, HEADER, rendered)
        await asyncio.get_running_loop().run_in_executor(None, self.store.write_zone, name, text)

    async def _save_resources(self) -> None:
        data = {k: v for k, v in self.resources.items()}
        await asyncio.get_running_loop().run_in_executor(None, self.store.write_resources, data)

    async def _checks_changed(self, changed: Iterable[str]) -> None:
        """Save the resources, copy the changed health checks and CIDR collections into
        every API zone that embeds them (recompiling the owners whose routing holds a
        collection's blocks), and serve the new tables."""
        changed = set(changed)
        zone_set = self.host.zone_set
        checks, collections = self._global_tables(zone_set)
        new_set = dataclasses.replace(zone_set, health_checks=checks, cidr_collections=collections)
        rewritten: list[tuple[ApiZone, dict[str, Any]]] = []
        for zone in list(new_set.zones.values()):
            if not self._is_api_zone(zone):
                continue
            state = self._api_zone(zone)
            embedded = set(state.doc.get("health_checks") or {})
            embedded |= set(state.doc.get("cidr_collections") or {})
            if not changed & embedded:
                continue
            doc = dict(state.doc)
            errors: list[str] = []
            self._embed(doc, state.checks_used, state.collections_used, errors)
            if errors:
                raise Route53Error.invalid_input("; ".join(errors))
            owners = {o: sets for o, sets in doc["records"].items() if _uses(sets, changed)}
            try:
                new_set = patch_owners(
                    new_set, zone.origin, doc, owners, known_regions(self.host.regions), zone.soa
                )
            except LoadFailed as exc:
                raise Route53Error.invalid_input("; ".join(messages(exc.errors))) from None
            rewritten.append((state, doc))
        await self._save_resources()
        for state, doc in rewritten:
            await self._write(state.name, doc, {})
            state.doc, state.rendered, state.listed = doc, {}, None
            state.zone = new_set.zones[state.origin]
        await self.host.commit(new_set)


def required(p: Mapping[str, Any], key: str) -> str:
    value = p.get(key)
    if value is None or value == "":
        raise Route53Error.invalid_input(f"{key} is required")
    return str(value)


def max_items(p: Mapping[str, Any], limit: int) -> int:
    raw = p.get("MaxItems", limit)
    try:
        size = int(raw)
    except (TypeError, ValueError):
        raise Route53Error.invalid_input(f"MaxItems must be a number, not {raw!r}") from None
    if size < 1:
        raise Route53Error.invalid_input("MaxItems must be at least 1")
    return min(size, limit)


def marker_listing(
    p: Mapping[str, Any], key: str, keys: list[str], item: Callable[[int], dict[str, Any]]
) -> dict[str, Any]:
    """A Marker/NextMarker page (ListHostedZones, ListHealthChecks): the items at the
    page's indexes of `keys`, under `key`, with Route 53's paging members."""
    size = max_items(p, MAX_ITEMS)
    marker = p.get("Marker")
    start = 0
    if marker:
        if marker not in keys:
            raise Route53Error.invalid_input(f"invalid marker {marker}")
        start = keys.index(marker)
    end = min(start + size, len(keys))
    out: dict[str, Any] = {
        key: [item(i) for i in range(start, end)],
        "Marker": marker or "",
        "IsTruncated": end < len(keys),
        "MaxItems": str(size),
    }
    if end < len(keys):
        out["NextMarker"] = keys[end]
    return out


def _under(path: str, store: Store) -> bool:
    return any(path.startswith(root.rstrip("/") + "/") for root in store.zone_paths())


def tally(
    checks: Counter[str], collections: Counter[str], sets: Iterable[Mapping[str, Any]], n: int
) -> None:
    for record in sets:
        if record.get("health_check"):
            checks[record["health_check"]] += n
        cidr = record.get("cidr")
        if isinstance(cidr, Mapping) and cidr.get("collection"):
            collections[str(cidr["collection"])] += n


def _count(state: ApiZone, sets: Iterable[Mapping[str, Any]], n: int) -> None:
    tally(state.checks_used, state.collections_used, sets, n)


def _uses(sets: Iterable[Mapping[str, Any]], collections: set[str]) -> bool:
    """Does an owner route by one of these CIDR collections (its parsed routing holds the
    collection's blocks, so it must be compiled again when they change)?"""
    for record in sets:
        cidr = record.get("cidr")
        if isinstance(cidr, Mapping) and cidr.get("collection") in collections:
            return True
    return False


def _set_table(doc: dict[str, Any], key: str, table: dict[str, Any]) -> None:
    if table:
        doc[key] = table
    else:
        doc.pop(key, None)


def messages(errors: Iterable[LoadError]) -> list[str]:
    return [f"{e.what}: {e.reason}" for e in errors]
