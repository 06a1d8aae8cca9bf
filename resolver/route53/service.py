"""The Route 53 operations, applied to the zones being served.

Each operation takes botocore's input shape and returns its output shape (resolver.route53.api
turns them into XML). A change is checked against the zone as it would be after it, written
to the store, and only then swapped in, as a reload would be; any failure changes nothing.
Changes to a zone cost in proportion to the names they touch (zones.patch).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import re
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from dnslib import QTYPE

from healthcheck.spec import CheckSpec
from healthcheck.state import CheckState
from resolver.errors import LoadError, LoadFailed
from resolver.query.explain import ExplainError, explain
from resolver.query.location import Locator
from resolver.route53 import batch, listing, mapping, shapes
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
from resolver.zones.serial import next_serial

log = logging.getLogger("policydns.route53")

MAX_ITEMS = 100  # hosted zones and health checks per page (Route 53's maximum)
MAX_CHANGES_KEPT = 10_000  # GetChange remembers this many changes
DEFAULT_TTL = 900  # the SOA and apex NS of a new zone: Route 53's SOA TTL
ARN = "arn:aws:route53:::cidrcollection/"


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


def spec_to_check(spec: CheckSpec) -> dict[str, Any]:
    """A CheckSpec as the zone-file mapping that would produce it (defaults left out)."""
    out: dict[str, Any] = {}
    default = CheckSpec(spec.type)
    for f in dataclasses.fields(CheckSpec):
        value = getattr(spec, f.name)
        if f.name == "type" or value != getattr(default, f.name):
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


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


class Route53Service:
    def __init__(self, store: Store, host: Host) -> None:
        self.store = store
        self.host = host
        self.resources = store.read_resources()
        for key in ("zones", "health_checks", "cidr_collections"):
            self.resources.setdefault(key, {})
        self._zones: dict[str, ApiZone] = {}
        self._changes: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._operations: dict[str, Callable[[dict[str, Any]], Any]] = {
            name: getattr(self, "_" + _snake(name)) for name in shapes.OPERATIONS
        }

    # -- the one entry point -------------------------------------------------------------

    async def invoke(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        method = self._operations.get(operation)
        if method is None:
            raise Route53Error("InvalidAction", f"{operation} is not supported here", 400)
        result = method(params)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    # -- tables the loader needs (also used at startup, before the service exists) ------

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

    # -- ids -----------------------------------------------------------------------------

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

    # -- hosted zones ----------------------------------------------------------------------

    def _hosted_zone(self, zone: Zone) -> dict[str, Any]:
        meta = self.resources["zones"].get(zone.name_text, {})
        config: dict[str, Any] = {"PrivateZone": False}
        comment = meta.get("Comment")
        if not self._is_api_zone(zone):
            comment = f"served from the operator's zone file {zone.file} (read-only)"
        if comment:
            config["Comment"] = comment
        return {
            "Id": f"/hostedzone/{mapping.zone_id_for(zone.name_text)}",
            "Name": zone.name_text,
            "CallerReference": meta.get("CallerReference", f"zone-file:{zone.file}"),
            "Config": config,
            "ResourceRecordSetCount": zone.record_set_count(),
        }

    def _delegation(self, zone: Zone) -> dict[str, Any]:
        ns = zone.group(zone.origin, int(QTYPE.NS))
        servers = [str(rd) for s in ns.sets for rd in s.rdata] if ns else []
        return {"NameServers": servers}

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

    async def _create_hosted_zone(self, p: dict[str, Any]) -> dict[str, Any]:
        name = _zone_name(p.get("Name"))
        reference = _required(p, "CallerReference")
        if p.get("VPC") or (p.get("HostedZoneConfig") or {}).get("PrivateZone"):
            raise Route53Error.invalid_input("private hosted zones (VPC) are not supported")
        async with self.host.lock:
            for meta in self.resources["zones"].values():
                if meta.get("CallerReference") == reference:
                    raise Route53Error(
                        "HostedZoneAlreadyExists",
                        f"A hosted zone has already been created with the caller reference "
                        f"{reference}",
                        409,
                    )
            zone_set = self.host.zone_set
            existing = zone_set.zones.get(names.from_text(name))
            if existing is not None:
                raise Route53Error(
                    "HostedZoneAlreadyExists",
                    f"{name} is already served here (from {existing.file}); one server serves "
                    "one zone of a name",
                    409,
                )
            apex = name.rstrip(".")
            doc: dict[str, Any] = {
                "zone": apex,
                "ttl": DEFAULT_TTL,
                "soa": {
                    "mname": f"ns1.{name}",
                    "rname": f"hostmaster.{name}",
                    "serial": int(time.time()) & 0xFFFFFFFF,
                },
                "ns": [f"ns1.{name}"],
                "records": {},
            }
            path = self.store.zone_path(name)
            new_zone = self._compile_whole(doc, path)
            new_set = self._rebuilt(zone_set, add=new_zone)
            comment = (p.get("HostedZoneConfig") or {}).get("Comment")
            await self._write(name, doc, {})
            self.resources["zones"][name] = {"CallerReference": reference, "Comment": comment}
            await self._save_resources()
            await self.host.commit(new_set)
            zone = new_set.zones[new_zone.origin]
            log.info("route53: created hosted zone %s", name)
            return {
                "HostedZone": self._hosted_zone(zone),
                "ChangeInfo": self._change_info(),
                "DelegationSet": self._delegation(zone),
                "Location": f"https://route53.amazonaws.com/2013-04-01/hostedzone/"
                f"{mapping.zone_id_for(name)}",
            }

    def _get_hosted_zone(self, p: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone_by_id(_required(p, "Id"))
        return {"HostedZone": self._hosted_zone(zone), "DelegationSet": self._delegation(zone)}

    def _get_hosted_zone_count(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"HostedZoneCount": len(self.host.zone_set.zones)}

    def _sorted_zones(self) -> list[Zone]:
        return sorted(
            self.host.zone_set.zones.values(),
            key=lambda z: (tuple(reversed(z.origin)), mapping.zone_id_for(z.name_text)),
        )

    def _list_hosted_zones(self, p: dict[str, Any]) -> dict[str, Any]:
        size = _max_items(p, MAX_ITEMS)
        zones = self._sorted_zones()
        ids = [mapping.zone_id_for(z.name_text) for z in zones]
        start, end, following = _marker_page(ids, p.get("Marker"), size)
        out: dict[str, Any] = {
            "HostedZones": [self._hosted_zone(z) for z in zones[start:end]],
            "Marker": p.get("Marker") or "",
            "IsTruncated": following is not None,
            "MaxItems": str(size),
        }
        if following is not None:
            out["NextMarker"] = following
        return out

    def _list_hosted_zones_by_name(self, p: dict[str, Any]) -> dict[str, Any]:
        size = _max_items(p, MAX_ITEMS)
        zones = self._sorted_zones()
        start = 0
        dns_name = p.get("DNSName")
        zone_id = p.get("HostedZoneId")
        if zone_id and not dns_name:
            raise Route53Error.invalid_input("HostedZoneId requires DNSName")
        if dns_name:
            key = tuple(reversed(names.from_text(_zone_name(dns_name))))
            start = next(
                (
                    i
                    for i, z in enumerate(zones)
                    if (tuple(reversed(z.origin)), mapping.zone_id_for(z.name_text))
                    >= (key, zone_id_text(zone_id or ""))
                ),
                len(zones),
            )
        page = zones[start : start + size]
        out: dict[str, Any] = {
            "HostedZones": [self._hosted_zone(z) for z in page],
            "IsTruncated": start + size < len(zones),
            "MaxItems": str(size),
        }
        if dns_name:
            out["DNSName"] = dns_name
        if zone_id:
            out["HostedZoneId"] = zone_id
        if out["IsTruncated"]:
            nxt = zones[start + size]
            out["NextDNSName"] = nxt.name_text
            out["NextHostedZoneId"] = mapping.zone_id_for(nxt.name_text)
        return out

    async def _delete_hosted_zone(self, p: dict[str, Any]) -> dict[str, Any]:
        async with self.host.lock:
            zone = self._zone_by_id(_required(p, "Id"))
            self._writable(zone, "DeleteHostedZone")
            apex_only = all(
                owner == zone.origin and set(node) <= {int(QTYPE.NS), int(QTYPE.SOA)}
                for owner, node in zone.nodes.items()
            )
            if not apex_only:
                raise Route53Error(
                    "HostedZoneNotEmpty",
                    "The specified hosted zone contains non-required resource record sets and "
                    "so cannot be deleted.",
                    400,
                )
            new_set = self._rebuilt(self.host.zone_set, remove=zone.origin)
            await asyncio.get_running_loop().run_in_executor(
                None, self.store.delete_zone, zone.name_text
            )
            self.resources["zones"].pop(zone.name_text, None)
            self._zones.pop(zone.name_text, None)
            await self._save_resources()
            await self.host.commit(new_set)
            log.info("route53: deleted hosted zone %s", zone.name_text)
            return {"ChangeInfo": self._change_info()}

    # -- record sets -------------------------------------------------------------------------

    def _rrsets_at(self, state: ApiZone, name: str, ids: mapping.Ids) -> list[dict[str, Any]]:
        owner = mapping.owner_of(name, state.name)
        doc = state.doc
        out = [
            mapping.record_to_rrset(owner, record, state.name, doc["ttl"], ids)
            for record in doc["records"].get(owner, [])
        ]
        if owner == "@":
            out = mapping.apex_rrsets(doc) + out
        return out

    async def _change_resource_record_sets(self, p: dict[str, Any]) -> dict[str, Any]:
        change_batch = p.get("ChangeBatch") or {}
        changes = change_batch.get("Changes") or []
        if not changes:
            raise Route53Error.invalid_input("ChangeBatch.Changes must hold at least one change")
        async with self.host.lock:
            zone = self._zone_by_id(_required(p, "HostedZoneId"))
            state = self._writable(zone, "ChangeResourceRecordSets")
            malformed = batch.shape_errors(changes)
            if malformed:  # Route 53 answers a malformed request so, before any rule
                raise Route53Error.invalid_input("; ".join(malformed))
            ids = self._ids()
            touched, errors = batch.apply_changes(
                state.name, lambda name: self._rrsets_at(state, name, ids), changes
            )
            if errors:
                raise Route53Error.invalid_batch(errors)
            doc = dict(state.doc)
            records = dict(doc["records"])
            new_owners: dict[str, list[dict[str, Any]]] = {}
            for name, rrsets in touched.items():
                owner = mapping.owner_of(name, state.name)
                sets = []
                apex = [r for r in rrsets if r["Type"] in ("SOA", "NS")] if owner == "@" else []
                if apex:
                    # One TTL for the SOA and apex NS in a zone file: the SOA's wins.
                    try:
                        doc.update(mapping.apex_from_rrsets(apex, state.name, notes=[]))
                    except mapping.MappingError as exc:
                        errors.append(f"{name} SOA/NS: {exc}")
                for rrset in rrsets:
                    if rrset in apex:
                        continue
                    try:
                        sets.append(mapping.rrset_to_record(rrset, state.name, ids)[1])
                    except mapping.MappingError as exc:
                        errors.append(f"{rrset.get('Name')} {rrset.get('Type')}: {exc}")
                new_owners[owner] = sets
                if sets:
                    records[owner] = sets
                else:
                    records.pop(owner, None)
            if errors:
                raise Route53Error.invalid_batch(errors)
            doc["records"] = records
            old_sets = {o: state.doc["records"].get(o, []) for o in new_owners}
            checks_used = state.checks_used.copy()
            collections_used = state.collections_used.copy()
            for o in new_owners:
                _tally(checks_used, collections_used, old_sets[o], -1)
                _tally(checks_used, collections_used, new_owners[o], +1)
            self._embed(doc, checks_used, collections_used, errors)
            if errors:
                raise Route53Error.invalid_batch(errors)
            doc["soa"] = dict(doc.get("soa") or {})
            doc["soa"]["serial"] = next_serial(
                int(time.time()) & 0xFFFFFFFF, int(doc["soa"].get("serial", zone.soa.serial))
            )
            zone_set = self.host.zone_set
            checks, collections = self._global_tables(zone_set)
            tables = dataclasses.replace(
                zone_set, health_checks=checks, cidr_collections=collections
            )
            try:
                new_set = patch_owners(
                    tables, zone.origin, doc, new_owners, known_regions(self.host.regions)
                )
            except LoadFailed as exc:
                raise Route53Error.invalid_batch(_messages(exc.errors)) from None
            rendered = dict(state.rendered)
            for o in new_owners:
                rendered.pop(o, None)
            await self._write(state.name, doc, rendered)
            state.doc, state.rendered = doc, rendered
            state.zone = new_set.zones[zone.origin]
            state.checks_used, state.collections_used = checks_used, collections_used
            if state.listed is not None:
                for name in touched:
                    state.listed.replace_name(name, self._rrsets_at(state, name, ids))
            await self.host.commit(new_set)
            return {"ChangeInfo": self._change_info(change_batch.get("Comment"))}

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
            raise Route53Error.invalid_batch(_messages(errors) or ["the zone does not load"])
        return draft

    def _compile_whole(self, doc: Mapping[str, Any], path: str) -> Zone:
        """A new zone (or one rewritten whole), compiled with the current tables."""
        draft = self._read(doc, path)
        try:
            compiled = build_zone_set([draft], [], known_regions(self.host.regions))
        except LoadFailed as exc:
            raise Route53Error.invalid_batch(_messages(exc.errors)) from None
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
            raise Route53Error.invalid_input("; ".join(_messages(errors)))

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

    def _list_resource_record_sets(self, p: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone_by_id(_required(p, "HostedZoneId"))
        size = _max_items(p, listing.MAX_ITEMS)
        ids = self._ids()
        if self._is_api_zone(zone):
            state = self._api_zone(zone)
            if state.listed is None:
                state.listed = listing.Listing(_stubs(state.doc, state.name))
            listed = state.listed
            doc = state.doc
        else:
            doc = self._doc_of(zone)
            listed = listing.Listing(_stubs(doc, zone.name_text))
        stubs, following = listed.page(
            p.get("StartRecordName"), p.get("StartRecordType"), p.get("StartRecordIdentifier"), size
        )
        items = [_full(s, zone.name_text, doc.get("ttl", 300), ids) for s in stubs]
        out: dict[str, Any] = {
            "ResourceRecordSets": items,
            "IsTruncated": following is not None,
            "MaxItems": str(size),
        }
        if following:
            out.update(following)
        return out

    def _get_change(self, p: dict[str, Any]) -> dict[str, Any]:
        change_id = zone_id_text(_required(p, "Id"))
        info = self._changes.get(change_id)
        if info is None:
            raise Route53Error(
                "NoSuchChange",
                f"A change with the specified change ID {change_id} does not exist.",
                404,
            )
        return {"ChangeInfo": info}

    # -- health checks -------------------------------------------------------------------

    def _health_check(self, cid: str) -> dict[str, Any]:
        item = self.resources["health_checks"].get(cid)
        if item is not None:
            return {
                "Id": cid,
                "CallerReference": item["CallerReference"],
                "HealthCheckConfig": item["HealthCheckConfig"],
                "HealthCheckVersion": item["HealthCheckVersion"],
            }
        spec = self.host.zone_set.health_checks.get(cid)
        if spec is None:
            raise Route53Error(
                "NoSuchHealthCheck", f"No health check exists with the specified ID {cid}", 404
            )
        return {
            "Id": cid,
            "CallerReference": f"zone-file:{cid}",
            "HealthCheckConfig": mapping.check_to_config(spec_to_check(spec)),
            "HealthCheckVersion": 1,
        }

    def _validated_config(self, config: Mapping[str, Any]) -> CheckSpec:
        try:
            check, _ = mapping.config_to_check(dict(config))
        except mapping.MappingError as exc:
            raise Route53Error.invalid_input(str(exc)) from None
        spec, reasons = parse_check(check)
        if spec is None:
            raise Route53Error.invalid_input("; ".join(reasons))
        known = set(self.host.zone_set.health_checks) | set(self.resources["health_checks"])
        missing = [c for c in spec.children if c not in known]
        if missing:
            raise Route53Error(
                "NoSuchHealthCheck",
                f"No health check exists with the specified ID {missing[0]}",
                404,
            )
        return spec

    async def _create_health_check(self, p: dict[str, Any]) -> dict[str, Any]:
        reference = _required(p, "CallerReference")
        config = p.get("HealthCheckConfig") or {}
        async with self.host.lock:
            for cid, item in self.resources["health_checks"].items():
                if item["CallerReference"] == reference:
                    if item["HealthCheckConfig"] == config:  # a retry: Route 53 answers the same
                        return {
                            "HealthCheck": self._health_check(cid),
                            "Location": _hc_location(cid),
                        }
                    raise Route53Error(
                        "HealthCheckAlreadyExists",
                        f"A health check with caller reference {reference} already exists "
                        "with a different configuration",
                        409,
                    )
            self._validated_config(config)
            cid = str(uuid.uuid4())
            self.resources["health_checks"][cid] = {
                "CallerReference": reference,
                "HealthCheckConfig": config,
                "HealthCheckVersion": 1,
            }
            try:
                await self._checks_changed([])
            except Route53Error:
                del self.resources["health_checks"][cid]
                raise
            log.info("route53: created health check %s", cid)
            return {"HealthCheck": self._health_check(cid), "Location": _hc_location(cid)}

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
                raise Route53Error.invalid_input("; ".join(_messages(exc.errors))) from None
            rewritten.append((state, doc))
        await self._save_resources()
        for state, doc in rewritten:
            await self._write(state.name, doc, {})
            state.doc, state.rendered, state.listed = doc, {}, None
            state.zone = new_set.zones[state.origin]
        await self.host.commit(new_set)

    def _get_health_check(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"HealthCheck": self._health_check(_required(p, "HealthCheckId"))}

    def _all_check_ids(self) -> list[str]:
        return sorted(set(self.host.zone_set.health_checks) | set(self.resources["health_checks"]))

    def _get_health_check_count(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"HealthCheckCount": len(self._all_check_ids())}

    def _list_health_checks(self, p: dict[str, Any]) -> dict[str, Any]:
        size = _max_items(p, MAX_ITEMS)
        ids = self._all_check_ids()
        start, end, following = _marker_page(ids, p.get("Marker"), size)
        out: dict[str, Any] = {
            "HealthChecks": [self._health_check(cid) for cid in ids[start:end]],
            "Marker": p.get("Marker") or "",
            "IsTruncated": following is not None,
            "MaxItems": str(size),
        }
        if following is not None:
            out["NextMarker"] = following
        return out

    def _api_check(self, cid: str, what: str) -> dict[str, Any]:
        item = self.resources["health_checks"].get(cid)
        if item is None:
            self._health_check(cid)  # NoSuchHealthCheck when it is nowhere
            raise Route53Error(
                "AccessDenied",
                f"health check {cid} is defined in an operator's zone file; it is read-only "
                f"through the Route 53 API ({what} refused)",
                403,
            )
        return item

    async def _update_health_check(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = _required(p, "HealthCheckId")
        async with self.host.lock:
            item = self._api_check(cid, "UpdateHealthCheck")
            version = p.get("HealthCheckVersion")
            if version is not None and int(version) != item["HealthCheckVersion"]:
                raise Route53Error(
                    "HealthCheckVersionMismatch",
                    f"The value of HealthCheckVersion ({version}) does not match the current "
                    f"version ({item['HealthCheckVersion']})",
                    409,
                )
            config = dict(item["HealthCheckConfig"])
            for key in UPDATABLE:
                if key in p:
                    config[key] = p[key]
            for reset in p.get("ResetElements") or []:
                config.pop(RESETTABLE.get(reset, reset), None)
            self._validated_config(config)
            old = dict(item)
            item["HealthCheckConfig"] = config
            item["HealthCheckVersion"] += 1
            try:
                await self._checks_changed([cid])
            except Route53Error:
                self.resources["health_checks"][cid] = old
                raise
            return {"HealthCheck": self._health_check(cid)}

    def _users_of_check(self, cid: str) -> list[str]:
        users = []
        zone_set = self.host.zone_set
        for zone in zone_set.zones.values():
            for node in zone.nodes.values():
                for group in node.values():
                    for s in group.sets:
                        if s.health_check == cid:
                            users.append(f"{names.to_text(s.name)} {QTYPE.get(s.rtype)}")
        for other, spec in zone_set.health_checks.items():
            if cid in spec.children:
                users.append(f"calculated health check {other}")
        return users

    async def _delete_health_check(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = _required(p, "HealthCheckId")
        async with self.host.lock:
            self._api_check(cid, "DeleteHealthCheck")
            users = self._users_of_check(cid)
            if users:
                raise Route53Error(
                    "HealthCheckInUse",
                    f"The health check {cid} is still referenced from {', '.join(users[:5])}",
                    400,
                )
            old = self.resources["health_checks"].pop(cid)
            try:
                await self._checks_changed([])
            except Route53Error:
                self.resources["health_checks"][cid] = old
                raise
            return {}

    def _observation(self, cid: str, failure: bool) -> list[dict[str, Any]]:
        self._health_check(cid)
        state = self.host.states().get(cid)
        if state is None:
            return []
        if failure:
            if state.last_failure is None or state.last_failure_at is None:
                return []
            text, at = f"Failure: {state.last_failure}", state.last_failure_at
        else:
            ok = state.last_result
            outcome = "Success" if ok or (ok is None and state.healthy) else "Failure"
            text = f"{outcome}: {state.reason}"
            at = state.last_checked or state.since
        return [
            {
                "Region": "us-east-1",  # one checker, this server; it has no region
                "StatusReport": {
                    "Status": text,
                    "CheckedTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
                },
            }
        ]

    def _get_health_check_status(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"HealthCheckObservations": self._observation(_required(p, "HealthCheckId"), False)}

    def _get_health_check_last_failure_reason(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"HealthCheckObservations": self._observation(_required(p, "HealthCheckId"), True)}

    # -- CIDR collections ---------------------------------------------------------------

    def _collection(self, collection_id: str) -> dict[str, Any]:
        item = self.resources["cidr_collections"].get(collection_id)
        if item is None:
            raise Route53Error(
                "NoSuchCidrCollectionException",
                f"The CIDR collection {collection_id} does not exist.",
                404,
            )
        return item

    def _collection_summary(self, collection_id: str) -> dict[str, Any]:
        item = self._collection(collection_id)
        return {
            "Arn": ARN + collection_id,
            "Id": collection_id,
            "Name": item["Name"],
            "Version": item["Version"],
        }

    async def _create_cidr_collection(self, p: dict[str, Any]) -> dict[str, Any]:
        name = _required(p, "Name")
        reference = _required(p, "CallerReference")
        async with self.host.lock:
            taken = {c["Name"] for c in self.resources["cidr_collections"].values()}
            if name in taken or name in self.host.zone_set.cidr_collections:
                raise Route53Error(
                    "CidrCollectionAlreadyExistsException",
                    f"A CIDR collection named {name} already exists.",
                    409,
                )
            collection_id = str(uuid.uuid4())
            self.resources["cidr_collections"][collection_id] = {
                "Name": name,
                "CallerReference": reference,
                "Version": 1,
                "Locations": {},
            }
            await self._save_resources()
            return {
                "Collection": self._collection_summary(collection_id),
                "Location": f"https://route53.amazonaws.com/2013-04-01/cidrcollection/{collection_id}",
            }

    async def _change_cidr_collection(self, p: dict[str, Any]) -> dict[str, Any]:
        collection_id = _required(p, "Id")
        async with self.host.lock:
            item = self._collection(collection_id)
            version = p.get("CollectionVersion")
            if version is not None and int(version) != item["Version"]:
                raise Route53Error(
                    "CidrCollectionVersionMismatchException",
                    f"CollectionVersion {version} does not match the current version "
                    f"{item['Version']}",
                    409,
                )
            locations = {k: list(v) for k, v in item["Locations"].items()}
            for change in p.get("Changes") or []:
                loc = change.get("LocationName")
                blocks = [str(ipaddress.ip_network(b, strict=True)) for b in _cidrs(change)]
                if change.get("Action") == "PUT":
                    locations[loc] = sorted(set(locations.get(loc, [])) | set(blocks))
                elif change.get("Action") == "DELETE_IF_EXISTS":
                    left = [b for b in locations.get(loc, []) if b not in blocks]
                    if left:
                        locations[loc] = left
                    else:
                        locations.pop(loc, None)
                else:
                    raise Route53Error.invalid_input("Action must be PUT or DELETE_IF_EXISTS")
            gone = set(item["Locations"]) - set(locations)
            used = self._users_of_locations(item["Name"], gone)
            if used:
                raise Route53Error(
                    "CidrBlockInUseException",
                    f"locations still used by records: {', '.join(used[:5])}",
                    400,
                )
            old = dict(item)
            item["Locations"], item["Version"] = locations, item["Version"] + 1
            try:
                await self._checks_changed([item["Name"]])
            except Route53Error:
                self.resources["cidr_collections"][collection_id] = old
                raise
            return {"Id": collection_id}

    def _users_of_locations(self, name: str, locations: set[str]) -> list[str]:
        users = []
        for zone in self.host.zone_set.zones.values():
            for node in zone.nodes.values():
                for group in node.values():
                    for s in group.sets:
                        r = s.routing
                        if (
                            getattr(r, "collection", None) == name
                            and getattr(r, "location", None) in locations
                        ):
                            users.append(f"{names.to_text(s.name)} {QTYPE.get(s.rtype)}")
        return users

    def _list_cidr_collections(self, p: dict[str, Any]) -> dict[str, Any]:
        ids = sorted(
            self.resources["cidr_collections"],
            key=lambda i: self.resources["cidr_collections"][i]["Name"],
        )
        return {"CidrCollections": [self._collection_summary(i) for i in ids]}

    def _list_cidr_locations(self, p: dict[str, Any]) -> dict[str, Any]:
        item = self._collection(_required(p, "CollectionId"))
        return {"CidrLocations": [{"LocationName": loc} for loc in sorted(item["Locations"])]}

    def _list_cidr_blocks(self, p: dict[str, Any]) -> dict[str, Any]:
        item = self._collection(_required(p, "CollectionId"))
        wanted = p.get("LocationName")
        if wanted and wanted not in item["Locations"]:
            raise Route53Error(
                "NoSuchCidrLocationException", f"No location {wanted} in the collection", 404
            )
        blocks = [
            {"CidrBlock": block, "LocationName": loc}
            for loc, cidrs in sorted(item["Locations"].items())
            if not wanted or loc == wanted
            for block in cidrs
        ]
        return {"CidrBlocks": blocks}

    async def _delete_cidr_collection(self, p: dict[str, Any]) -> dict[str, Any]:
        collection_id = _required(p, "Id")
        async with self.host.lock:
            item = self._collection(collection_id)
            used = self._users_of_locations(item["Name"], set(item["Locations"]) | {"*"})
            if used:
                raise Route53Error(
                    "CidrCollectionInUseException",
                    f"The CIDR collection is used by {', '.join(used[:5])}",
                    400,
                )
            del self.resources["cidr_collections"][collection_id]
            await self._save_resources()
            return {}

    # -- TestDNSAnswer --------------------------------------------------------------------

    def _test_dns_answer(self, p: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone_by_id(_required(p, "HostedZoneId"))
        name = _required(p, "RecordName")
        rtype = _required(p, "RecordType")
        subnet = None
        ecs_ip = p.get("EDNS0ClientSubnetIP")
        if ecs_ip:
            try:
                address = ipaddress.ip_address(ecs_ip)
            except ValueError:
                raise Route53Error.invalid_input(f"bad EDNS0ClientSubnetIP {ecs_ip!r}") from None
            mask = p.get("EDNS0ClientSubnetMask") or (24 if address.version == 4 else 64)
            subnet = f"{address}/{mask}"
        try:
            report = explain(
                self.host.zone_set,
                self.host.locator,
                name,
                rtype,
                p.get("ResolverIP") or None,
                subnet,
                self.host.health(),
                self.host.use_ecs,
            )
        except ExplainError as exc:
            raise Route53Error.invalid_input(str(exc)) from None
        asked = names.from_text(report["question"]["name"])
        if zone.origin and asked[len(asked) - len(zone.origin) :] != zone.origin:
            raise Route53Error.invalid_input(f"{name} is not in the hosted zone {zone.name_text}")
        # Like dig's answer section: every record's data, a CNAME chain included.
        data = [line.split(" ", 4)[4] for line in report["answer"]]
        return {
            "Nameserver": "policydns",
            "RecordName": name,
            "RecordType": rtype,
            "RecordData": data,
            "ResponseCode": report["rcode"],
            "Protocol": "UDP",
        }


HEADER = (
    "Managed by policydns's Route 53 API: changes made here by hand are served after a\n"
    "reload, and the next API change to this zone rewrites the file."
)

# UpdateHealthCheck's members that replace the config's own, and ResetElements' names.
UPDATABLE = (
    "IPAddress",
    "Port",
    "ResourcePath",
    "FullyQualifiedDomainName",
    "SearchString",
    "FailureThreshold",
    "Inverted",
    "Disabled",
    "HealthThreshold",
    "ChildHealthChecks",
    "EnableSNI",
    "Regions",
)
RESETTABLE = {
    "FullyQualifiedDomainName": "FullyQualifiedDomainName",
    "Regions": "Regions",
    "ResourcePath": "ResourcePath",
    "ChildHealthChecks": "ChildHealthChecks",
}


def _snake(operation: str) -> str:
    """`TestDNSAnswer` -> `test_dns_answer`: the method that serves an operation."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", operation).lower()


def _required(p: Mapping[str, Any], key: str) -> str:
    value = p.get(key)
    if value is None or value == "":
        raise Route53Error.invalid_input(f"{key} is required")
    return str(value)


def _max_items(p: Mapping[str, Any], limit: int) -> int:
    raw = p.get("MaxItems", limit)
    try:
        size = int(raw)
    except (TypeError, ValueError):
        raise Route53Error.invalid_input(f"MaxItems must be a number, not {raw!r}") from None
    if size < 1:
        raise Route53Error.invalid_input("MaxItems must be at least 1")
    return min(size, limit)


def _marker_page(keys: list[str], marker: str | None, size: int) -> tuple[int, int, str | None]:
    """A Marker/NextMarker page of keys: where it starts and ends, and the next marker."""
    start = 0
    if marker:
        if marker not in keys:
            raise Route53Error.invalid_input(f"invalid marker {marker}")
        start = keys.index(marker)
    end = start + size
    return start, end, keys[end] if end < len(keys) else None


def _zone_name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip("."):
        raise Route53Error("InvalidDomainName", f"{raw!r} is not a domain name", 400)
    try:
        name = names.from_text(raw.rstrip(".") + ".")
    except (names.NameError_, UnicodeError) as exc:
        raise Route53Error("InvalidDomainName", f"{raw!r}: {exc}", 400) from None
    return names.to_text(name)


def _under(path: str, store: Store) -> bool:
    return any(path.startswith(root.rstrip("/") + "/") for root in store.zone_paths())


def _tally(
    checks: Counter[str], collections: Counter[str], sets: Iterable[Mapping[str, Any]], n: int
) -> None:
    for record in sets:
        if record.get("health_check"):
            checks[record["health_check"]] += n
        cidr = record.get("cidr")
        if isinstance(cidr, Mapping) and cidr.get("collection"):
            collections[str(cidr["collection"])] += n


def _count(state: ApiZone, sets: Iterable[Mapping[str, Any]], n: int) -> None:
    _tally(state.checks_used, state.collections_used, sets, n)


def _uses(sets: Iterable[Mapping[str, Any]], collections: set[str]) -> bool:
    """Does an owner route by one of these CIDR collections (its parsed routing holds the
    collection's blocks, so it must be compiled again when they change)?"""
    for record in sets:
        cidr = record.get("cidr")
        if isinstance(cidr, Mapping) and cidr.get("collection") in collections:
            return True
    return False


STUB = "policydns:record"  # a listed set not yet converted: its zone-file record


def _stubs(doc: Mapping[str, Any], origin: str) -> list[dict[str, Any]]:
    """A zone's sets for a listing: the apex SOA and NS whole, every other set only with
    what its place in the order needs (converted when a page shows it: a 100,000-set zone
    lists its first page in about a second, not the five that converting every set takes)."""
    out = mapping.apex_rrsets(doc)
    for owner, sets in (doc.get("records") or {}).items():
        name = mapping.route53_name(owner, origin)
        for record in sets:
            stub = {"Name": name, "Type": record["type"], STUB: (owner, record)}
            if record.get("set_id") is not None:
                stub["SetIdentifier"] = str(record["set_id"])
            out.append(stub)
    return out


def _full(rrset: dict[str, Any], origin: str, ttl: int, ids: mapping.Ids) -> dict[str, Any]:
    if STUB not in rrset:
        return rrset
    owner, record = rrset[STUB]
    return mapping.record_to_rrset(owner, record, origin, ttl, ids)


def _set_table(doc: dict[str, Any], key: str, table: dict[str, Any]) -> None:
    if table:
        doc[key] = table
    else:
        doc.pop(key, None)


def _cidrs(change: Mapping[str, Any]) -> list[str]:
    blocks = change.get("CidrList") or []
    try:
        for b in blocks:
            ipaddress.ip_network(b, strict=True)
    except ValueError as exc:
        raise Route53Error("InvalidInput", f"bad CIDR block: {exc}", 400) from None
    return [str(b) for b in blocks]


def _messages(errors: Iterable[LoadError]) -> list[str]:
    return [f"{e.what}: {e.reason}" for e in errors]


def _hc_location(cid: str) -> str:
    return f"https://route53.amazonaws.com/2013-04-01/healthcheck/{cid}"
