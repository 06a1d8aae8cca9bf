"""A changed zone compiled in proportion to the change: the names a Route 53 batch
touched are read and checked, every other name keeps the groups it had.

The rules are the loader's own (zones.load for one file, zones.check across files); this
module only decides which of them a change can have broken. A patched zone set equals
what a full load of the written files would give (tests/property checks exactly that).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from dnslib import QTYPE

from healthcheck.spec import CheckSpec
from policies.base import LoadContext
from resolver.errors import LoadError, LoadFailed
from resolver.wire import names
from resolver.wire.names import Name
from resolver.zones.check import check_references, compile_group, find_loops
from resolver.zones.draft import SetDraft
from resolver.zones.load import enclosing_cut, read_zone_text
from resolver.zones.model import CidrCollection, Soa, Zone, ZoneSet
from resolver.zones.render import render_zone

NS = int(QTYPE.NS)
CNAME = int(QTYPE.CNAME)


@dataclasses.dataclass(frozen=True, slots=True)
class ZonePatch:
    """The new content of some owners of one zone, as read by zones.load (the whole
    owner: every type), and the tables around it after the change."""

    origin: Name
    owners: Mapping[Name, Mapping[int, list[SetDraft]]]  # an owner missing here is removed
    touched: frozenset[Name]
    soa: Soa
    checks: Mapping[str, CheckSpec]  # every health check after the change
    collections: Mapping[str, CidrCollection]  # every CIDR collection after the change
    health_check_ids: frozenset[str]  # those the zone's own file defines
    cidr_collection_names: frozenset[str]
    file: str


def patch_owners(
    zone_set: ZoneSet,
    origin: Name,
    doc: Mapping[str, Any],
    owners: Mapping[str, Sequence[Mapping[str, Any]]],
    regions: Mapping[str, tuple[float, float]],
    soa: Soa | None = None,
) -> ZoneSet:
    """zone_set with some owners of one zone replaced by their record sets in `doc`'s
    form (owner text -> list; an empty list removes the owner), every rule the change
    could break checked: LoadFailed otherwise. `doc` gives the zone's header and tables
    after the change; without `soa`, the zone takes the one `doc` gives."""
    zone = zone_set.zones[origin]
    mini = {k: v for k, v in doc.items() if k in ("zone", "ttl", "soa", "ns")}
    mini["records"] = {o: list(sets) for o, sets in owners.items() if sets}
    draft, errors = read_zone_text(render_zone(mini), zone.file)
    if errors or draft is None:
        raise LoadFailed(errors or [LoadError(zone.file, 0, zone.name_text, "does not load")])
    touched = frozenset(origin if o == "@" else names.from_text(o, origin) for o in owners)
    patch = ZonePatch(
        origin=origin,
        owners={o: n for o, n in draft.nodes.items() if o in touched},
        touched=touched,
        soa=soa or draft.soa,
        checks=zone_set.health_checks,
        collections=zone_set.cidr_collections,
        health_check_ids=frozenset(doc.get("health_checks") or {}),
        cidr_collection_names=frozenset(doc.get("cidr_collections") or {}),
        file=zone.file,
    )
    return apply_patch(zone_set, patch, regions)


def apply_patch(
    zone_set: ZoneSet, patch: ZonePatch, regions: Mapping[str, tuple[float, float]]
) -> ZoneSet:
    """The zone set with the patch applied; LoadFailed with every error it would cause."""
    zone = zone_set.zones[patch.origin]
    errors: list[LoadError] = []
    failed: set[tuple[Name, int]] = set()
    ctx = LoadContext(regions, patch.collections)
    nodes = dict(zone.nodes)
    owners_changed = False
    ns_touched = False
    for owner in patch.touched:
        old = nodes.pop(owner, None)
        new = patch.owners.get(owner)
        ns_touched = ns_touched or (old is not None and NS in old) or bool(new and NS in new)
        if new:
            nodes[owner] = {
                rtype: compile_group(owner, rtype, sets, ctx, errors, failed)
                for rtype, sets in new.items()
            }
        if (old is None) != (not new):
            owners_changed = True
    existing = zone.existing
    if owners_changed:
        found: set[Name] = {patch.origin}
        depth = len(patch.origin)
        for owner in nodes:
            for i in range(len(owner) - depth + 1):
                found.add(owner[i:])
        existing = frozenset(found)
    cuts = zone.cuts
    if ns_touched:
        cuts = frozenset(o for o, n in nodes.items() if NS in n and o != patch.origin)
    new_zone = dataclasses.replace(
        zone,
        soa=patch.soa,
        nodes=nodes,
        existing=existing,
        cuts=cuts,
        health_check_ids=patch.health_check_ids,
        cidr_collection_names=patch.cidr_collection_names,
        file=patch.file,
        serial_explicit=True,
    )
    zones = dict(zone_set.zones)
    zones[patch.origin] = new_zone
    new_set = dataclasses.replace(
        zone_set,
        zones=zones,
        health_checks=dict(patch.checks),
        cidr_collections=dict(patch.collections),
    )
    errors.extend(_occluded(new_zone, patch.touched, cuts != zone.cuts))
    errors.extend(_references(new_set, patch, zone_set, failed))
    starts = [(o, t) for o in patch.touched for t in nodes.get(o, {})]
    errors.extend(find_loops(new_set, starts))
    if errors:
        raise LoadFailed(errors)
    return new_set


def _occluded(zone: Zone, touched: frozenset[Name], cuts_moved: bool) -> list[LoadError]:
    """Data hidden below a delegation: of the touched names, or of any name once a cut
    moved."""
    errors = []
    candidates = (
        zone.nodes if cuts_moved else {o: zone.nodes[o] for o in touched if o in zone.nodes}
    )
    for owner, node in candidates.items():
        cut = enclosing_cut(owner, zone.origin, zone.cuts)
        if cut is None:
            continue
        for rtype, group in node.items():
            if rtype not in (int(QTYPE.A), int(QTYPE.AAAA)):
                s = group.sets[0]
                errors.append(
                    LoadError(
                        s.file,
                        s.line,
                        f"{names.to_text(owner)} {QTYPE.get(rtype)}",
                        f"is hidden below the delegation at {names.to_text(cut)}",
                    )
                )
    return errors


def _references(
    new_set: ZoneSet, patch: ZonePatch, old_set: ZoneSet, failed: set[tuple[Name, int]]
) -> list[LoadError]:
    """Health-check ids and alias targets: of the touched groups; of every group whose
    alias pointed at a group the patch removed; of every group once the check table shrank.
    (Only a removal can break an untouched alias, so a batch that only adds costs nothing
    here, however big the zone.)"""
    checks = patch.checks
    checks_shrank = any(cid not in checks for cid in old_set.health_checks)
    errors = []
    zone = new_set.zones[patch.origin]
    old_nodes = old_set.zones[patch.origin].nodes
    removed = {
        (owner, rtype)
        for owner in patch.touched
        for rtype in old_nodes.get(owner, {})
        if rtype not in zone.nodes.get(owner, {})
    }
    for owner in patch.touched:
        for group in zone.nodes.get(owner, {}).values():
            errors.extend(check_references(group, new_set, checks, failed))
    if not removed and not checks_shrank:
        return errors
    for other in new_set.zones.values():
        for owner, node in other.nodes.items():
            if other is zone and owner in patch.touched:
                continue
            for group in node.values():
                if checks_shrank or any(
                    s.alias is not None and (s.alias.target, group.rtype) in removed
                    for s in group.sets
                ):
                    errors.extend(check_references(group, new_set, checks, failed))
    return errors
