"""Zone files (YAML, SPEC 4) compiled into the immutable zone model.

Every problem is collected, not just the first, and each names its file, line, owner
name and type. Rules that span files (alias targets, loops, health-check ids) are in
`zonecheck`, run once all files are read.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnslib import QTYPE

import policies
from healthcheck import spec as checkspec
from resolver.errors import LoadError
from resolver.wire import names, rdata
from resolver.wire.names import Name
from resolver.zones import settled
from resolver.zones.model import Alias, RecordGroup, RecordSet, Soa, Zone
from resolver.zones.yamlsource import SourceDict, SourceList, YamlSourceError, is_int, load

ZONE_KEYS = {"zone", "ttl", "soa", "ns", "health_checks", "cidr_collections", "records"}
SOA_KEYS = {"mname", "rname", "serial", "refresh", "retry", "expire", "minimum"}
SET_KEYS = {"type", "values", "value", "ttl", "alias", "set_id", "health_check"}
ROUTING_KEYS = ("weight", "region", "failover", "geolocation", "geoproximity", "multivalue", "cidr")
ALIAS_KEYS = {"target", "evaluate_target_health"}
MAX_TTL = 2147483647
SOA_DEFAULTS = {"refresh": 7200, "retry": 900, "expire": 1209600, "minimum": 300}


@dataclass
class ZoneDraft:
    """A zone read from one file, before the checks that need every file."""

    zone: Zone
    health_checks: dict[str, checkspec.CheckSpec]
    check_lines: dict[str, int]
    cidr_collections: dict[
        str, dict[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]]
    ]
    # Names and types with a record set that failed to load: references to them are not
    # reported again as missing.
    failed: set[tuple[Name, int]] = field(default_factory=set)
    zone_line: int = 1


def zone_files(paths: Iterable[str]) -> tuple[list[Path], list[LoadError]]:
    """Expand --zones arguments: a file, or every *.yaml/*.yml in a directory."""
    files: list[Path] = []
    errors: list[LoadError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()
            )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            errors.append(LoadError(str(path), 0, "zones", "no such file or directory"))
    return files, errors


class _FileReader:
    """Reads one zone file; accumulates errors instead of raising."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = str(path)
        self.errors: list[LoadError] = []
        self.origin: Name = ()
        self.failed: set[tuple[Name, int]] = set()
        self.digest = ""

    def error(self, line: int, what: str, reason: str) -> None:
        self.errors.append(LoadError(self.file, line, what, reason))

    def read(self) -> ZoneDraft | None:
        try:
            text, stat = settled.read(self.path)
        except settled.StillChanging:
            self.error(
                0,
                "zone",
                "the file kept changing while it was read (still being written?), so it was"
                " not loaded; write zone files to a temporary file and rename it over",
            )
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.error(0, "zone", f"cannot read: {exc}")
            return None
        try:
            doc = load(text)
        except YamlSourceError as exc:
            self.error(exc.line, "zone", exc.reason)
            return None
        if not isinstance(doc, SourceDict):
            self.error(1, "zone", "a zone file must be a mapping with 'zone' and 'records'")
            return None
        self.digest = hashlib.sha256(text.encode()).hexdigest()
        return self._zone(doc, int(stat.st_mtime))

    def _zone(self, doc: SourceDict, mtime: int) -> ZoneDraft | None:
        for key in doc:
            if key not in ZONE_KEYS:
                self.error(doc.line_of(key), "zone", f"unknown key {key!r}")
        origin_text = doc.get("zone")
        if not isinstance(origin_text, str) or not origin_text.strip(". "):
            self.error(doc.line_of("zone"), "zone", "'zone' must name the zone, e.g. example.com")
            return None
        try:
            self.origin = names.from_text(origin_text.rstrip(".") + ".")
        except (names.NameError_, UnicodeError) as exc:
            self.error(doc.line_of("zone"), origin_text, f"bad zone name: {exc}")
            return None
        apex = names.to_text(self.origin)
        ttl = doc.get("ttl", 300)
        if not is_int(ttl) or not 0 <= ttl <= MAX_TTL:
            self.error(doc.line_of("ttl"), apex, f"ttl must be 0..{MAX_TTL}, not {ttl!r}")
            ttl = 300
        ns_names = self._apex_ns(doc, apex)
        soa = self._soa(doc, apex, ns_names, mtime)
        checks, check_lines = self._health_checks(doc.get("health_checks"), doc, apex)
        collections = self._cidr_collections(doc.get("cidr_collections"), doc, apex)
        nodes = self._records(doc.get("records"), doc, ttl)
        self._add_apex(nodes, ttl, ns_names, doc)
        zone = _compile(self.origin, ttl, soa, self.file, nodes)
        zone.health_check_ids = frozenset(check_lines)
        zone.digest = self.digest
        zone.serial_explicit = isinstance(doc.get("soa"), dict) and "serial" in doc["soa"]
        self._check_structure(zone)
        return ZoneDraft(zone, checks, check_lines, collections, self.failed, doc.line_of("zone"))

    def _apex_ns(self, doc: SourceDict, apex: str) -> list[Name]:
        raw = doc.get("ns", [f"ns1.{apex}"])
        line = doc.line_of("ns")
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            self.error(line, f"{apex} NS", "ns must be a non-empty list of name server names")
            return [names.from_text("ns1", self.origin)]
        result = []
        for item in raw:
            try:
                result.append(names.from_text(str(item), self.origin))
            except (names.NameError_, UnicodeError) as exc:
                self.error(line, f"{apex} NS", f"bad name server {item!r}: {exc}")
        return result or [names.from_text("ns1", self.origin)]

    def _soa(self, doc: SourceDict, apex: str, ns: list[Name], mtime: int) -> Soa:
        raw = doc.get("soa") or SourceDict()
        what = f"{apex} SOA"
        if not isinstance(raw, dict):
            self.error(doc.line_of("soa"), what, "soa must be a mapping")
            raw = SourceDict()
        line_of = raw.line_of if isinstance(raw, SourceDict) else (lambda key: doc.line_of("soa"))
        for key in raw:
            if key not in SOA_KEYS:
                self.error(line_of(key), what, f"unknown key {key!r}")
        values: dict[str, Any] = {}
        for key in ("mname", "rname"):
            default = ns[0] if key == "mname" else names.from_text("hostmaster", self.origin)
            text = raw.get(key)
            if text is None:
                values[key] = default
                continue
            try:
                values[key] = names.from_text(str(text), self.origin)
            except (names.NameError_, UnicodeError) as exc:
                self.error(line_of(key), what, f"bad {key}: {exc}")
                values[key] = default
        for key in ("serial", *SOA_DEFAULTS):
            number = mtime & 0xFFFFFFFF if key == "serial" else SOA_DEFAULTS[key]
            value = raw.get(key, number)
            if not is_int(value) or not 0 <= value <= 0xFFFFFFFF:
                self.error(line_of(key), what, f"{key} must be 0..4294967295, not {value!r}")
                value = number
            values[key] = value
        return Soa(**values)

    def _health_checks(
        self, raw: Any, doc: SourceDict, apex: str
    ) -> tuple[dict[str, checkspec.CheckSpec], dict[str, int]]:
        checks: dict[str, checkspec.CheckSpec] = {}
        lines: dict[str, int] = {}
        if raw is None:
            return checks, lines
        if not isinstance(raw, SourceDict):
            self.error(doc.line_of("health_checks"), apex, "health_checks must be a mapping")
            return checks, lines
        for check_id, value in raw.items():
            line = raw.line_of(check_id)
            lines[str(check_id)] = line
            spec, reasons = checkspec.parse(value)
            for reason in reasons:
                self.error(line, f"health check {check_id}", reason)
            if spec is not None:
                checks[str(check_id)] = spec
        return checks, lines

    def _cidr_collections(self, raw: Any, doc: SourceDict, apex: str) -> dict:
        result: dict[str, dict[str, tuple]] = {}
        if raw is None:
            return result
        if not isinstance(raw, SourceDict):
            self.error(doc.line_of("cidr_collections"), apex, "cidr_collections must be a mapping")
            return result
        for cname, locations in raw.items():
            what = f"cidr collection {cname}"
            if not isinstance(locations, SourceDict) or not locations:
                self.error(raw.line_of(cname), what, "must map location names to CIDR lists")
                continue
            result[str(cname)] = {}
            for loc, blocks in locations.items():
                line = locations.line_of(loc)
                if loc == "*":
                    self.error(line, what, "'*' is the default location and holds no CIDRs")
                    continue
                if isinstance(blocks, str):
                    blocks = [blocks]
                if not isinstance(blocks, list) or not blocks:
                    self.error(line, what, f"location {loc} needs a list of CIDR blocks")
                    continue
                nets = []
                for block in blocks:
                    try:
                        nets.append(ipaddress.ip_network(str(block), strict=True))
                    except ValueError as exc:
                        self.error(line, what, f"location {loc}: bad CIDR {block!r}: {exc}")
                result[str(cname)][str(loc)] = tuple(nets)
        return result

    def _records(
        self, raw: Any, doc: SourceDict, ttl: int
    ) -> dict[Name, dict[int, list[RecordSet]]]:
        nodes: dict[Name, dict[int, list[RecordSet]]] = {}
        if raw is None:
            return nodes
        apex = names.to_text(self.origin)
        if not isinstance(raw, SourceDict):
            self.error(
                doc.line_of("records"), apex, "records must map names to lists of record sets"
            )
            return nodes
        for owner_text, sets in raw.items():
            line = raw.line_of(owner_text)
            owner = self._owner(str(owner_text), line)
            if owner is None:
                continue
            if isinstance(sets, SourceDict):
                wrapped = SourceList([sets])
                wrapped.line, wrapped.item_lines = sets.line, [sets.line]
                sets = wrapped
            if not isinstance(sets, SourceList) or not sets:
                self.error(line, names.to_text(owner), "must be a non-empty list of record sets")
                continue
            for index, item in enumerate(sets):
                record = self._record_set(owner, item, sets.line_of(index), ttl)
                if record is not None:
                    nodes.setdefault(owner, {}).setdefault(record.rtype, []).append(record)
        return nodes

    def _owner(self, text: str, line: int) -> Name | None:
        try:
            owner = names.from_text(text, self.origin)
        except (names.NameError_, UnicodeError) as exc:
            self.error(line, text, f"bad name: {exc}")
            return None
        if not names.is_subdomain(owner, self.origin):
            self.error(
                line, names.to_text(owner), f"is outside the zone {names.to_text(self.origin)}"
            )
            return None
        if b"*" in owner[1:]:
            self.error(line, names.to_text(owner), "'*' is only allowed as the leftmost label")
            return None
        return owner

    def _record_set(self, owner: Name, item: Any, line: int, zone_ttl: int) -> RecordSet | None:
        if not isinstance(item, SourceDict):
            self.error(line, names.to_text(owner), "a record set must be a mapping with a type")
            return None
        type_name = str(item.get("type", "")).upper()
        ok = True

        def fail(reason: str) -> None:
            nonlocal ok
            ok = False
            self.error(line, f"{names.to_text(owner)} {type_name or '?'}", reason)

        if type_name in ("SOA",):
            fail("the SOA comes from the zone's 'soa' key")
            return None
        if type_name not in rdata.SUPPORTED_TYPES:
            fail(f"unsupported type {item.get('type')!r}")
            return None
        for key in item:
            if key not in SET_KEYS and key not in ROUTING_KEYS:
                fail(f"unknown key {key!r}")
        if type_name == "NS" and owner == self.origin:
            fail("apex NS records come from the zone's 'ns' key")
        routing_keys = [key for key in ROUTING_KEYS if key in item]
        policy = policies.get("simple")
        raw_routing = None
        if len(routing_keys) > 1:
            fail(f"more than one routing key: {', '.join(routing_keys)}")
        elif routing_keys:
            policy = policies.get(routing_keys[0])
            raw_routing = item[routing_keys[0]]
        assert policy is not None, "every routing key has a registered policy"
        if "alias" in item and not policy.allows_alias:
            fail(f"{policy.name} record sets cannot be aliases")
        set_id = item.get("set_id")
        if set_id is not None and (
            not isinstance(set_id, str | int)
            or isinstance(set_id, bool)
            or not str(set_id)
            or len(str(set_id)) > 128
        ):
            fail("set_id must be a string of 1 to 128 characters")
        health_check = item.get("health_check")
        if health_check is not None and not isinstance(health_check, str):
            fail("health_check must be a health check id")
        sources = [key for key in ("values", "value", "alias") if key in item]
        rtype = rdata.type_code(type_name)
        values: list = []
        alias = None
        if len(sources) != 1:
            fail("needs exactly one of 'values', 'value' or 'alias'")
        elif sources[0] == "alias":
            alias = self._alias(item["alias"], fail, type_name)
            if "ttl" in item:
                fail("an alias takes its TTL from its target; remove 'ttl'")
        else:
            values = self._values(item[sources[0]], type_name, fail)
            if policy.single_value and len(values) > 1:
                fail(f"a {policy.name} record set holds exactly one value, not {len(values)}")
        ttl = item.get("ttl", zone_ttl)
        if not is_int(ttl) or not 0 <= ttl <= MAX_TTL:
            fail(f"ttl must be 0..{MAX_TTL}, not {ttl!r}")
        if not ok:
            self.failed.add((owner, rtype))
            return None
        return RecordSet(
            name=owner,
            rtype=rtype,
            ttl=ttl,
            rdata=tuple(values),
            alias=alias,
            set_id=None if set_id is None else str(set_id),
            routing=(policy.key, raw_routing),
            health_check=health_check,
            file=self.file,
            line=line,
        )

    def _alias(self, raw: Any, fail, type_name: str) -> Alias | None:
        if isinstance(raw, str):
            raw = {"target": raw}
        if not isinstance(raw, dict) or "target" not in raw:
            fail("alias must be {target: NAME, evaluate_target_health: BOOL}")
            return None
        for key in raw:
            if key not in ALIAS_KEYS:
                fail(f"unknown alias key {key!r}")
        eth = raw.get("evaluate_target_health", False)
        if not isinstance(eth, bool):
            fail("evaluate_target_health must be true or false")
        if type_name in ("NS", "SOA"):
            fail(f"{type_name} records cannot be aliases")
        try:
            target = names.from_text(str(raw["target"]), self.origin)
        except (names.NameError_, UnicodeError) as exc:
            fail(f"bad alias target: {exc}")
            return None
        return Alias(target, bool(eth))

    def _values(self, raw: Any, type_name: str, fail) -> list:
        if not isinstance(raw, list):
            raw = [raw]
        if not raw:
            fail("values is empty")
        parsed = []
        seen = set()
        for value in raw:
            if isinstance(value, bool) or value is None or not isinstance(value, str | int):
                fail(f"value {value!r} must be a string (quote it in YAML)")
                continue
            try:
                rd = rdata.parse(type_name, str(value), self.origin)
            except rdata.RdataError as exc:
                fail(f"bad value {str(value)!r}: {exc}")
                continue
            key = rd.toZone() if hasattr(rd, "toZone") else repr(rd)
            if key in seen:
                fail(f"duplicate value {str(value)!r}")
                continue
            seen.add(key)
            parsed.append(rd)
        if type_name == "CNAME" and len(parsed) > 1:
            fail("a CNAME record set holds exactly one value")
        return parsed

    def _add_apex(self, nodes: dict, ttl: int, ns: list[Name], doc: SourceDict) -> None:
        apex_line = doc.line_of("ns") if "ns" in doc else doc.line_of("zone")
        ns_set = RecordSet(
            name=self.origin,
            rtype=int(QTYPE.NS),
            ttl=ttl,
            rdata=tuple(rdata.parse("NS", names.to_text(n), ()) for n in ns),
            alias=None,
            set_id=None,
            routing=("simple", None),
            health_check=None,
            file=self.file,
            line=apex_line,
        )
        nodes.setdefault(self.origin, {})[int(QTYPE.NS)] = [ns_set]

    def _check_structure(self, zone: Zone) -> None:
        cname = int(QTYPE.CNAME)
        for owner, node in zone.nodes.items():
            if cname in node:
                owner_text = names.to_text(owner)
                line = node[cname].sets[0].line
                if owner == zone.origin:
                    self.error(line, f"{owner_text} CNAME", "a CNAME cannot be at the zone apex")
                elif len(node) > 1:
                    others = ", ".join(sorted(str(QTYPE.get(t)) for t in node if t != cname))
                    self.error(
                        line, f"{owner_text} CNAME", f"a CNAME must stand alone; also {others}"
                    )
            for group in node.values():
                self._check_group(group)
            cut = _enclosing_cut(owner, zone)
            if cut is not None:
                for rtype, group in node.items():
                    if rtype not in (int(QTYPE.A), int(QTYPE.AAAA)):
                        self.error(
                            group.sets[0].line,
                            f"{names.to_text(owner)} {QTYPE.get(rtype)}",
                            f"is hidden below the delegation at {names.to_text(cut)}",
                        )

    def _check_group(self, group: RecordGroup) -> None:
        what = f"{names.to_text(group.name)} {QTYPE.get(group.rtype)}"
        used = {s.routing[0] for s in group.sets}
        if len(used) > 1:
            self.error(
                group.sets[-1].line,
                what,
                f"record sets of one name and type mix routing policies: {', '.join(sorted(used))}",
            )
            return
        if len(group.sets) > 1:
            seen: dict[str, int] = {}
            for s in group.sets:
                if s.set_id is None:
                    self.error(
                        s.line,
                        what,
                        "set_id is required when a name and type has several record sets",
                    )
                elif s.set_id in seen:
                    self.error(
                        s.line,
                        what,
                        f"duplicate set_id {s.set_id!r} (first on line {seen[s.set_id]})",
                    )
                else:
                    seen[s.set_id] = s.line


def _enclosing_cut(owner: Name, zone: Zone) -> Name | None:
    """The delegation point strictly above owner, if any (glue and occluded data)."""
    for i in range(1, len(owner) - len(zone.origin) + 1):
        candidate = owner[i:]
        if candidate in zone.cuts and candidate != zone.origin:
            return candidate
    return None


def _compile(origin: Name, ttl: int, soa: Soa, file: str, raw_nodes: dict) -> Zone:
    nodes: dict[Name, dict[int, RecordGroup]] = {}
    existing: set[Name] = {origin}
    ns = int(QTYPE.NS)
    for owner, by_type in raw_nodes.items():
        nodes[owner] = {
            rtype: RecordGroup(owner, rtype, sets[0].routing[0], tuple(sets))
            for rtype, sets in by_type.items()
        }
        for i in range(len(owner) - len(origin) + 1):
            existing.add(owner[i:])
    cuts = frozenset(o for o, n in nodes.items() if ns in n and o != origin)
    return Zone(origin, ttl, soa, file, nodes, frozenset(existing), cuts)


def read_zone_file(path: Path) -> tuple[ZoneDraft | None, list[LoadError]]:
    reader = _FileReader(path)
    draft = reader.read()
    return draft, reader.errors


def load_zone_drafts(paths: Iterable[str]) -> tuple[list[ZoneDraft], list[LoadError]]:
    """Read every zone file; return what loaded and every error of every file."""
    files, errors = zone_files(paths)
    drafts: list[ZoneDraft] = []
    seen: dict[Name, str] = {}
    for path in files:
        draft, file_errors = read_zone_file(path)
        errors.extend(file_errors)
        if draft is None:
            continue
        origin = draft.zone.origin
        if origin in seen:
            errors.append(
                LoadError(
                    str(path),
                    draft.zone_line,
                    draft.zone.name_text,
                    f"zone is also defined in {seen[origin]}",
                )
            )
            continue
        seen[origin] = str(path)
        drafts.append(draft)
    return drafts, errors
