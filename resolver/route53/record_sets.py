"""Record sets: change batches, listing, GetChange."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from resolver.errors import LoadFailed
from resolver.route53 import batch, changeshape, listing, mapping
from resolver.route53.core import (
    ApiZone,
    ServiceCore,
    max_items,
    messages,
    required,
    tally,
    zone_id_text,
)
from resolver.route53.errors import Route53Error
from resolver.zones.check import known_regions
from resolver.zones.patch import patch_owners
from resolver.zones.serial import next_serial

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


class RecordSets(ServiceCore):
    """ChangeResourceRecordSets, ListResourceRecordSets and GetChange."""

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
            zone = self._zone_by_id(required(p, "HostedZoneId"))
            state = self._writable(zone, "ChangeResourceRecordSets")
            malformed = changeshape.shape_errors(changes)
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
                tally(checks_used, collections_used, old_sets[o], -1)
                tally(checks_used, collections_used, new_owners[o], +1)
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
                raise Route53Error.invalid_batch(messages(exc.errors)) from None
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

    def _list_resource_record_sets(self, p: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone_by_id(required(p, "HostedZoneId"))
        size = max_items(p, listing.MAX_ITEMS)
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
        change_id = zone_id_text(required(p, "Id"))
        info = self._changes.get(change_id)
        if info is None:
            raise Route53Error(
                "NoSuchChange",
                f"A change with the specified change ID {change_id} does not exist.",
                404,
            )
        return {"ChangeInfo": info}
