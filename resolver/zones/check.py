"""Checks that need every zone file at once, then the immutable ZoneSet they produce."""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Iterable, Mapping

from dnslib import QTYPE

import policies
from healthcheck.spec import CheckSpec
from policies.base import LoadContext
from policies.regions import AWS_REGIONS
from resolver.errors import LoadError, LoadFailed
from resolver.wire import names, rdata
from resolver.wire.names import Name
from resolver.zones.draft import SetDraft, ZoneDraft
from resolver.zones.graph import find_cycles
from resolver.zones.healthchecks import merge_checks
from resolver.zones.load import load_zone_drafts
from resolver.zones.model import CidrCollection, RecordGroup, Zone, ZoneSet
from resolver.zones.serial import carry_serials

CNAME = int(QTYPE.CNAME)


def load_zone_set(
    paths: Iterable[str],
    previous: ZoneSet | None = None,
    regions: Mapping[str, tuple[float, float]] | None = None,
    extra: Extra | None = None,
) -> ZoneSet:
    """Load, validate and compile every zone; raise LoadFailed listing every error.

    With `previous` (a reload), derived serials continue from the zones they replace.
    `regions` are the region names routing may use (default: the built-in cloud regions).
    `extra` holds health checks and CIDR collections defined outside zone files (the
    Route 53 API's), with the file they come from.
    """
    # Loading builds millions of objects and frees few: the cyclic collector, run every few
    # hundred allocations, would walk them all again and again (a third of the load time
    # of 100,000 record sets). It runs once, as usual, after the load.
    collecting = gc.isenabled()
    gc.disable()
    try:
        drafts, errors = load_zone_drafts(paths)
        zone_set = build_zone_set(
            drafts, errors, known_regions() if regions is None else regions, extra
        )
    finally:
        if collecting:
            gc.enable()
    if previous is None:
        return zone_set
    carried = carry_serials(list(zone_set.zones.values()), previous.zones)
    return dataclasses.replace(zone_set, zones={z.origin: z for z in carried})


def known_regions(
    extra: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, tuple[float, float]]:
    """Built-in cloud regions plus the config's `regions`, as name -> (latitude, longitude)."""
    table = {name: (r.latitude, r.longitude) for name, r in AWS_REGIONS.items()}
    for name, coords in (extra or {}).items():
        table[name] = (float(coords["latitude"]), float(coords["longitude"]))
    return table


@dataclasses.dataclass(frozen=True, slots=True)
class Extra:
    """Health checks and CIDR collections from outside the zone files; a zone file may
    hold a copy of one (the same definition), never a different one."""

    file: str
    checks: Mapping[str, CheckSpec]
    collections: Mapping[str, CidrCollection]
    # Zone files whose copies these definitions replace (the API's own zone files: a
    # crash between writing the definitions and rewriting every copy must not make the
    # next start fail).
    owned_dir: str | None = None

    def owns(self, file: str) -> bool:
        return self.owned_dir is not None and file.startswith(self.owned_dir.rstrip("/") + "/")

    def adopt(self, draft: ZoneDraft) -> ZoneDraft:
        """draft with its copies of these definitions replaced by them."""
        checks = {cid: self.checks.get(cid, spec) for cid, spec in draft.health_checks.items()}
        collections = {
            name: self.collections.get(name, blocks)
            for name, blocks in draft.cidr_collections.items()
        }
        return dataclasses.replace(draft, health_checks=checks, cidr_collections=collections)


def build_zone_set(
    drafts: list[ZoneDraft],
    errors: list[LoadError],
    regions: Mapping[str, tuple[float, float]],
    extra: Extra | None = None,
) -> ZoneSet:
    errors = list(errors)
    if extra is not None:
        drafts = [extra.adopt(d) if extra.owns(d.file) else d for d in drafts]
    failed: set[tuple[Name, int]] = set().union(*(d.failed for d in drafts))
    checks = merge_checks(drafts, errors)
    collections: dict[str, CidrCollection] = {}
    if extra is not None:
        for cid, spec in extra.checks.items():
            if cid in checks and checks[cid] != spec:
                errors.append(_differs(extra.file, f"health check {cid}"))
            checks[cid] = spec
        collections.update(extra.collections)
    for draft in drafts:
        for name, blocks in draft.cidr_collections.items():
            if name in collections and collections[name] != blocks:
                errors.append(
                    LoadError(
                        draft.file,
                        0,
                        f"cidr collection {name}",
                        "defined differently in another zone file",
                    )
                )
            collections[name] = blocks
    ctx = LoadContext(regions, collections)
    zones = [_zone(draft, ctx, errors, failed) for draft in drafts]
    zone_set = ZoneSet.of(zones, checks, collections)
    errors.extend(cross_checks(zone_set, failed))
    if errors:
        raise LoadFailed(errors)
    return zone_set


def _differs(file: str, what: str) -> LoadError:
    return LoadError(file, 0, what, "defined differently in a zone file")


def cross_checks(zone_set: ZoneSet, failed: set[tuple[Name, int]] | None = None) -> list[LoadError]:
    """The rules across zones, over all of them: references (health checks, alias targets)
    and alias/CNAME loops. `failed`: groups that did not load (not reported again)."""
    failed = set() if failed is None else failed
    errors: list[LoadError] = []
    for zone in zone_set.zones.values():
        for node in zone.nodes.values():
            for group in node.values():
                errors.extend(check_references(group, zone_set, zone_set.health_checks, failed))
    errors.extend(find_loops(zone_set))
    return errors


def _zone(
    draft: ZoneDraft, ctx: LoadContext, errors: list[LoadError], failed: set[tuple[Name, int]]
) -> Zone:
    nodes = {
        owner: {
            rtype: compile_group(owner, rtype, sets, ctx, errors, failed)
            for rtype, sets in by_type.items()
        }
        for owner, by_type in draft.nodes.items()
    }
    return Zone(
        origin=draft.origin,
        ttl=draft.ttl,
        soa=draft.soa,
        file=draft.file,
        nodes=nodes,
        existing=draft.existing,
        cuts=draft.cuts,
        health_check_ids=frozenset(draft.check_lines),
        cidr_collection_names=frozenset(draft.cidr_collections),
        digest=draft.digest,
        serial_explicit=draft.serial_explicit,
    )


def compile_group(
    owner: Name,
    rtype: int,
    drafts: list[SetDraft],
    ctx: LoadContext,
    errors: list[LoadError],
    failed: set[tuple[Name, int]],
) -> RecordGroup:
    """The group with its policy's parsed parameters in every set.

    When they do not parse (the load then fails), the sets carry no parameters, and still
    count for the checks of references and loops that follow.
    """
    key = drafts[0].policy
    params = _parse_routing(owner, rtype, drafts, ctx, errors, failed)
    if params is None:
        sets = tuple(d.built(None) for d in drafts)
    else:
        sets = tuple(d.built(p) for d, p in zip(drafts, params, strict=True))
    return RecordGroup(owner, rtype, key, sets)


def _parse_routing(
    owner: Name,
    rtype: int,
    drafts: list[SetDraft],
    ctx: LoadContext,
    errors: list[LoadError],
    failed: set[tuple[Name, int]],
) -> list[object] | None:
    """Let the group's policy parse every set's routing value, then check the group."""
    key = drafts[0].policy
    policy = policies.REGISTRY[key]
    parsed = []
    for s in drafts:
        if s.policy != key:
            return None  # mixed policies: already reported by the file reader
        params, reasons = policy.parse(s.raw_routing, ctx)
        if reasons:
            what = _what(owner, rtype)
            errors.extend(LoadError(s.file, s.line, what, reason) for reason in reasons)
            failed.add((owner, rtype))
            return None
        parsed.append(params)
    group_reasons = policy.check_group(parsed)
    if group_reasons:
        what = _what(owner, rtype)
        for reason in group_reasons:
            errors.append(LoadError(drafts[-1].file, drafts[-1].line, what, reason))
    return parsed


def _what(owner: Name, rtype: int) -> str:
    """`NAME TYPE` as errors name a record set: written only for an error (it is costly)."""
    return f"{names.to_text(owner)} {QTYPE.get(rtype)}"


def check_references(
    group: RecordGroup,
    zone_set: ZoneSet,
    checks: Mapping[str, CheckSpec],
    failed: set[tuple[Name, int]],
) -> list[LoadError]:
    errors: list[LoadError] = []
    for s in group.sets:
        if s.health_check is not None and s.health_check not in checks:
            errors.append(
                LoadError(
                    s.file,
                    s.line,
                    _what(group.name, group.rtype),
                    f"unknown health check {s.health_check!r}",
                )
            )
        if s.alias is None:
            continue
        what = _what(group.name, group.rtype)
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


def find_loops(zone_set: ZoneSet, starts: list[tuple[Name, int]] | None = None) -> list[LoadError]:
    """Alias and CNAME chains that return to where they started (of those passing
    through `starts`, when given: a change can only close a loop through what it changed)."""

    def leads_to(key: tuple[Name, int]) -> list[tuple[Name, int]]:
        group = zone_set.group(*key)
        if group is None:
            return []
        return [
            nxt
            for nxt in _edges(group, zone_set)
            if nxt[1] != CNAME or zone_set.group(nxt[0], CNAME) is not None
        ]

    if starts is None:
        starts = [
            (owner, rtype)
            for zone in zone_set.zones.values()
            for owner, node in zone.nodes.items()
            for rtype in node
        ]
    errors: list[LoadError] = []
    reported: set[frozenset[tuple[Name, int]]] = set()
    for cycle in find_cycles(starts, leads_to):
        marker = frozenset(cycle)
        first = zone_set.group(*cycle[0])
        if marker in reported or first is None:  # first is a group: it leads on
            continue
        reported.add(marker)
        chain = " -> ".join(names.to_text(n) for n, _ in cycle)
        s = first.sets[0]
        kind = "CNAME" if cycle[0][1] == CNAME and s.alias is None else "alias"
        errors.append(
            LoadError(
                s.file,
                s.line,
                f"{names.to_text(cycle[0][0])} {QTYPE.get(cycle[0][1])}",
                f"{kind} loop: {chain}",
            )
        )
    return errors
