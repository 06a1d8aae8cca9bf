"""`policydns import route53` and `export route53`: whole documents through the mapping.

Import takes what the AWS CLI prints (list-resource-record-sets, list-health-checks or
get-health-check, list-cidr-blocks) and builds a zone document; everything that cannot be
served is a Problem with its record and reason, never dropped silently. Export re-reads a
loaded zone's file and writes every record set as Route 53 lists it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resolver.route53 import mapping
from resolver.route53.mapping import Ids, MappingError


class InputError(ValueError):
    """Input that is not the AWS CLI output it should be (exit 1)."""


@dataclass(frozen=True)
class Problem:
    """Something not converted (or converted with a loss), with the input it came from."""

    what: str
    reason: str
    source: Any = None
    dropped: bool = True

    def __str__(self) -> str:
        head = f"{'not imported' if self.dropped else 'note'}: {self.what}: {self.reason}"
        if self.source is None:
            return head
        return f"{head}\n    {json.dumps(self.source, sort_keys=True)}"


def _label(rrset: Mapping[str, Any]) -> str:
    what = f"{rrset.get('Name')} {rrset.get('Type')}"
    if "SetIdentifier" in rrset:
        what += f" [{rrset['SetIdentifier']}]"
    return what


def read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None


def read_rrsets(path: str) -> list[Mapping[str, Any]]:
    """The record sets of list-resource-record-sets output (pagination keys ignored)."""
    doc = read_json(path)
    sets = doc.get("ResourceRecordSets") if isinstance(doc, Mapping) else None
    if not isinstance(sets, list) or not all(isinstance(s, Mapping) for s in sets):
        raise InputError(f"{path}: not list-resource-record-sets output (no ResourceRecordSets)")
    return sets


def read_checks(path: str) -> list[Mapping[str, Any]]:
    """The health checks of list-health-checks or get-health-check output."""
    doc = read_json(path)
    if isinstance(doc, Mapping) and isinstance(doc.get("HealthChecks"), list):
        checks = doc["HealthChecks"]
    elif isinstance(doc, Mapping) and isinstance(doc.get("HealthCheck"), Mapping):
        checks = [doc["HealthCheck"]]
    else:
        raise InputError(f"{path}: not list-health-checks or get-health-check output")
    if not all(isinstance(c, Mapping) and "Id" in c and "HealthCheckConfig" in c for c in checks):
        raise InputError(f"{path}: every health check needs Id and HealthCheckConfig")
    return checks


def read_blocks(path: str) -> dict[str, list[str]]:
    """One collection's list-cidr-blocks output: location -> its blocks."""
    doc = read_json(path)
    blocks = doc.get("CidrBlocks") if isinstance(doc, Mapping) else None
    if not isinstance(blocks, list):
        raise InputError(f"{path}: not list-cidr-blocks output (no CidrBlocks)")
    locations: dict[str, list[str]] = {}
    for block in blocks:
        if not isinstance(block, Mapping) or "CidrBlock" not in block:
            raise InputError(f"{path}: every CIDR block needs CidrBlock and LocationName")
        locations.setdefault(str(block.get("LocationName")), []).append(str(block["CidrBlock"]))
    return locations


def import_health_checks(
    checks: Sequence[Mapping[str, Any]], problems: list[Problem]
) -> dict[str, dict[str, Any]]:
    """Route 53 health checks by Id as zone-file checks; calculated checks whose children
    did not convert are dropped too (the zone would not load)."""
    out: dict[str, dict[str, Any]] = {}
    for item in checks:
        check_id = str(item["Id"])
        try:
            check, notes = mapping.config_to_check(item["HealthCheckConfig"])
        except MappingError as exc:
            problems.append(Problem(f"health check {check_id}", str(exc), dict(item)))
            continue
        problems.extend(Problem(f"health check {check_id}", n, dropped=False) for n in notes)
        out[check_id] = check
    changed = True
    while changed:
        changed = False
        for check_id, check in list(out.items()):
            missing = [c for c in check.get("children", []) if c not in out]
            if missing:
                reason = f"child health check(s) {', '.join(missing)} not in the input"
                problems.append(Problem(f"health check {check_id}", reason, check))
                del out[check_id]
                changed = True
    return out


def import_route53(
    rrsets: Sequence[Mapping[str, Any]],
    zone: str,
    checks: Sequence[Mapping[str, Any]] | None = None,
    cidr_blocks: Mapping[str, Mapping[str, list[str]]] | None = None,
) -> tuple[dict[str, Any], list[Problem]]:
    """A zone document from Route 53 record sets (and health checks, and the blocks of
    CIDR collections by CollectionId), with every problem met."""
    origin = zone.rstrip(".")
    problems: list[Problem] = []
    notes: list[str] = []
    doc: dict[str, Any] = {"zone": origin}
    try:
        doc.update(mapping.apex_from_rrsets(rrsets, origin, notes=notes))
    except MappingError as exc:
        problems.append(Problem(f"{origin} SOA/NS", str(exc)))
    problems.extend(Problem(f"{origin} apex", n, dropped=False) for n in notes)
    doc.setdefault("ttl", 300)
    health = import_health_checks(checks or [], problems)
    if health:
        doc["health_checks"] = health
    collections = {cid: dict(blocks) for cid, blocks in (cidr_blocks or {}).items()}
    used_collections: dict[str, dict[str, list[str]]] = {}
    records: dict[str, list[dict[str, Any]]] = {}
    for rrset in rrsets:
        try:
            if mapping.is_apex_rrset(rrset, origin):
                continue
            notes = []
            owner, record = mapping.rrset_to_record(rrset, origin, Ids(), notes=notes)
        except MappingError as exc:
            problems.append(Problem(_label(rrset), str(exc), dict(rrset)))
            continue
        problems.extend(Problem(_label(rrset), n, dropped=False) for n in notes)
        target = record.get("alias", {}).get("target", "")
        if target.endswith("."):
            reason = f"alias to {target}, outside the zone {origin}. being imported"
            problems.append(Problem(_label(rrset), reason, dict(rrset)))
            continue
        if "cidr" in record:
            cid = record["cidr"]["collection"]
            if cid not in collections:
                reason = (
                    f"CIDR collection {cid}: its blocks are not in the input"
                    f" (--cidr-blocks {cid}=FILE, from aws route53 list-cidr-blocks)"
                )
                problems.append(Problem(_label(rrset), reason, dict(rrset)))
                continue
            location = record["cidr"]["location"]
            if location != "*" and location not in collections[cid]:
                reason = f"CIDR collection {cid} has no location {location!r} in the input"
                problems.append(Problem(_label(rrset), reason, dict(rrset)))
                continue
            used_collections[cid] = collections[cid]
        check_id = record.get("health_check")
        if check_id is not None and check_id not in health:
            reason = (
                f"health check {check_id} was not imported (see above or --health-checks), so this"
                " record set is imported without it and counts as always healthy"
            )
            problems.append(Problem(_label(rrset), reason, dict(rrset), dropped=False))
            del record["health_check"]
        records.setdefault(owner, []).append(record)
    if used_collections:
        doc["cidr_collections"] = used_collections
    doc["records"] = records
    return doc, problems


def plain(value: Any) -> Any:
    """A loaded YAML value (SourceDict, SourceList) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def export_route53(
    doc: Mapping[str, Any], ids: Ids, serial: int | None = None
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Every record set of a zone document as Route 53 ResourceRecordSets, SOA and NS
    first, then the document's order."""
    origin = str(doc["zone"])
    ttl = int(doc.get("ttl", 300))
    out = mapping.apex_rrsets(doc, serial=serial)
    problems: list[Problem] = []
    for owner, sets in (doc.get("records") or {}).items():
        if isinstance(sets, Mapping):
            sets = [sets]
        for record in sets:
            notes: list[str] = []
            try:
                rrset = mapping.record_to_rrset(owner, record, origin, ttl, ids, notes=notes)
            except MappingError as exc:
                problems.append(Problem(f"{owner} {record.get('type')}", str(exc), record))
                continue
            problems.extend(Problem(_label(rrset), n, dropped=False) for n in notes)
            out.append(rrset)
    return out, problems


def export_health_checks(
    checks: Mapping[str, Mapping[str, Any]], wanted: Sequence[str]
) -> list[dict[str, Any]]:
    """The checks `wanted` (and their children) as list-health-checks prints them."""
    seen: list[str] = []
    queue = list(wanted)
    while queue:
        check_id = queue.pop(0)
        if check_id in seen or check_id not in checks:
            continue
        seen.append(check_id)
        queue.extend(str(c) for c in checks[check_id].get("children", []))
    return [
        {
            "Id": check_id,
            "CallerReference": f"policydns-{check_id}",
            "HealthCheckConfig": mapping.check_to_config(checks[check_id]),
            "HealthCheckVersion": 1,
        }
        for check_id in seen
    ]
