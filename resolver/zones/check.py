"""Checks that need every zone file at once, then the ZoneSet they produce."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from dnslib import QTYPE

import policies
from healthcheck import spec as checkspec
from policies.base import LoadContext
from policies.regions import AWS_REGIONS
from resolver.errors import LoadError, LoadFailed
from resolver.wire import names, rdata
from resolver.wire.names import Name
from resolver.zones.load import ZoneDraft, load_zone_drafts
from resolver.zones.model import RecordGroup, ZoneSet
from resolver.zones.serial import carry_serials

CNAME = int(QTYPE.CNAME)


def load_zone_set(
    paths: Iterable[str],
    previous: ZoneSet | None = None,
    regions: Mapping[str, tuple[float, float]] | None = None,
) -> ZoneSet:
    """Load, validate and compile every zone; raise LoadFailed listing every error.

    With `previous` (a reload), derived serials continue from the zones they replace.
    `regions` are the region names routing may use (default: the built-in cloud regions).
    """
    drafts, errors = load_zone_drafts(paths)
    zone_set = build_zone_set(drafts, errors, known_regions() if regions is None else regions)
    if previous is not None:
        carry_serials(list(zone_set.zones.values()), previous.zones)
    return zone_set


def known_regions(extra: Mapping[str, Mapping[str, float]] | None = None) -> dict:
    """Built-in cloud regions plus the config's `regions`, as name -> (latitude, longitude)."""
    table = {name: (r.latitude, r.longitude) for name, r in AWS_REGIONS.items()}
    for name, coords in (extra or {}).items():
        table[name] = (float(coords["latitude"]), float(coords["longitude"]))
    return table


def build_zone_set(
    drafts: list[ZoneDraft], errors: list[LoadError], regions: Mapping[str, tuple[float, float]]
) -> ZoneSet:
    errors = list(errors)
    failed = set().union(*(d.failed for d in drafts)) if drafts else set()
    checks = _merge_health_checks(drafts, errors)
    collections: dict = {}
    for draft in drafts:
        for name, blocks in draft.cidr_collections.items():
            if name in collections and collections[name] != blocks:
                errors.append(
                    LoadError(
                        draft.zone.file,
                        0,
                        f"cidr collection {name}",
                        "defined differently in another zone file",
                    )
                )
            collections[name] = blocks
    ctx = LoadContext(regions, collections)
    for draft in drafts:
        for node in draft.zone.nodes.values():
            for rtype, group in list(node.items()):
                parsed = _parse_routing(group, ctx, errors, failed)
                if parsed is not None:
                    node[rtype] = parsed
    zone_set = ZoneSet.of([d.zone for d in drafts], checks, collections)
    for zone in zone_set.zones.values():
        for node in zone.nodes.values():
            for group in node.values():
                errors.extend(_check_references(group, zone_set, checks, failed))
    errors.extend(_find_loops(zone_set))
    if errors:
        raise LoadFailed(errors)
    return zone_set


def _parse_routing(
    group: RecordGroup, ctx: LoadContext, errors: list[LoadError], failed: set
) -> RecordGroup | None:
    """Let the group's policy parse every set's routing value, then check the group."""
    policy = policies.get(group.policy)
    assert policy is not None
    what = f"{names.to_text(group.name)} {QTYPE.get(group.rtype)}"
    sets = []
    for s in group.sets:
        key, raw = s.routing
        if key != group.policy:
            return None  # mixed policies: already reported by the file reader
        params, reasons = policy.parse(raw, ctx)
        for reason in reasons:
            errors.append(LoadError(s.file, s.line, what, reason))
        if reasons:
            failed.add((group.name, group.rtype))
            return None
        sets.append(dataclasses.replace(s, routing=(key, params)))
    for reason in policy.check_group([s.routing[1] for s in sets]):
        errors.append(LoadError(sets[-1].file, sets[-1].line, what, reason))
    return dataclasses.replace(group, sets=tuple(sets))


def _merge_health_checks(drafts: list[ZoneDraft], errors: list[LoadError]) -> dict:
    checks: dict[str, checkspec.CheckSpec] = {}
    where: dict[str, tuple[str, int]] = {}
    for draft in drafts:
        for check_id, spec in draft.health_checks.items():
            line = draft.check_lines[check_id]
            if check_id in checks and checks[check_id] != spec:
                file, first = where[check_id]
                errors.append(
                    LoadError(
                        draft.zone.file,
                        line,
                        f"health check {check_id}",
                        f"defined differently in {file}:{first}",
                    )
                )
                continue
            checks[check_id] = spec
            where.setdefault(check_id, (draft.zone.file, line))
    for check_id, spec in checks.items():
        for child in spec.children:
            if child not in checks:
                file, line = where[check_id]
                errors.append(
                    LoadError(
                        file,
                        line,
                        f"health check {check_id}",
                        f"unknown child health check {child!r}",
                    )
                )
    for cycle in checkspec.find_cycles(checks):
        file, line = where[cycle[0]]
        errors.append(
            LoadError(
                file,
                line,
                f"health check {cycle[0]}",
                f"calculated checks form a cycle: {' -> '.join(cycle)}",
            )
        )
    return checks


def _check_references(
    group: RecordGroup, zone_set: ZoneSet, checks: dict, failed: set
) -> list[LoadError]:
    errors = []
    what = f"{names.to_text(group.name)} {QTYPE.get(group.rtype)}"
    for s in group.sets:
        if s.health_check is not None and s.health_check not in checks:
            errors.append(
                LoadError(s.file, s.line, what, f"unknown health check {s.health_check!r}")
            )
        if s.alias is None:
            continue
        target_text = names.to_text(s.alias.target)
        if zone_set.find(s.alias.target) is None:
            errors.append(
                LoadError(
                    s.file, s.line, what, f"alias target {target_text} is not in any loaded zone"
                )
            )
        elif (
            zone_set.group(s.alias.target, group.rtype) is None
            and (s.alias.target, group.rtype) not in failed
        ):
            errors.append(
                LoadError(
                    s.file,
                    s.line,
                    what,
                    f"alias target {target_text} has no {QTYPE.get(group.rtype)} records",
                )
            )
    return errors


def _edges(group: RecordGroup, zone_set: ZoneSet) -> list[tuple[Name, int]]:
    """Where a group leads: alias targets of its type, and CNAME targets in our zones."""
    out = []
    for s in group.sets:
        if s.alias is not None:
            out.append((s.alias.target, group.rtype))
        elif group.rtype == CNAME:
            for rd in s.rdata:
                target = rdata.target_name(rd)
                if target is not None and zone_set.find(target) is not None:
                    out.append((target, CNAME))
    return out


def _find_loops(zone_set: ZoneSet) -> list[LoadError]:
    """Alias and CNAME chains that return to where they started."""
    errors: list[LoadError] = []
    state: dict[tuple[Name, int], int] = {}
    reported: set[frozenset] = set()

    def lookup(key: tuple[Name, int]) -> RecordGroup | None:
        name, rtype = key
        group = zone_set.group(name, rtype)
        if group is None and rtype == CNAME:
            return None
        if group is None:
            return None
        return group

    def visit(key: tuple[Name, int], path: list[tuple[Name, int]]) -> None:
        state[key] = 1
        group = lookup(key)
        if group is not None:
            for nxt in _edges(group, zone_set):
                if nxt[1] == CNAME and zone_set.group(nxt[0], CNAME) is None:
                    continue
                if state.get(nxt) == 1:
                    cycle = [*path[path.index(nxt) :], nxt]
                    marker = frozenset(cycle)
                    if marker not in reported:
                        reported.add(marker)
                        first = zone_set.group(*cycle[0])
                        assert first is not None
                        chain = " -> ".join(names.to_text(n) for n, _ in cycle)
                        kind = (
                            "CNAME"
                            if cycle[0][1] == CNAME and first.sets[0].alias is None
                            else "alias"
                        )
                        s = first.sets[0]
                        errors.append(
                            LoadError(
                                s.file,
                                s.line,
                                f"{names.to_text(cycle[0][0])} {QTYPE.get(cycle[0][1])}",
                                f"{kind} loop: {chain}",
                            )
                        )
                elif nxt not in state:
                    visit(nxt, [*path, nxt])
        state[key] = 2

    for zone in zone_set.zones.values():
        for owner, node in zone.nodes.items():
            for rtype in node:
                key = (owner, rtype)
                if key not in state:
                    visit(key, [key])
    return errors
