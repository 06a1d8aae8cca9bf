"""Reading zone files (YAML, SPEC 4): each file's header, and the rules within one file.

Every problem is collected, not just the first, and each names its file, line, owner
name and type. Record sets are read by zones.recordsets, health checks by
zones.healthchecks; rules that span files (alias targets, loops, health-check ids) are in
zones.check, run once all files are read.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dnslib import QTYPE

from policies.base import DEFAULT_KEY, is_int
from resolver.errors import LoadError
from resolver.wire import names, rdata
from resolver.wire.names import Name
from resolver.zones import settled
from resolver.zones.draft import SetDraft, ZoneDraft
from resolver.zones.healthchecks import read_checks
from resolver.zones.model import CidrCollection, Soa
from resolver.zones.recordsets import (
    MAX_TTL,
    NO_ITEMS,
    SAME_LINE,
    FlowSets,
    RecordSetReader,
    sourced,
)
from resolver.zones.yamlsource import SourceDict, SourceList, YamlSourceError, load

ZONE_KEYS = {"zone", "ttl", "soa", "ns", "health_checks", "cidr_collections", "records"}
SOA_KEYS = {"mname", "rname", "serial", "refresh", "retry", "expire", "minimum"}
SOA_DEFAULTS = {"refresh": 7200, "retry": 900, "expire": 1209600, "minimum": 300}


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


# A zone file as zones/render.py writes it ends in `records:` and then only lines of two
# shapes: an owner key `  "NAME":` and a record set `    - {...}` of JSON (a subset of
# YAML flow style). Read so, a 100,000-record file loads ~50 times faster than through
# YAML's node graph, and without it in memory.
_OWNER_PREFIX = '  "'
_ITEM_PREFIX = "    - "
_NOT_A_KEY = ("", " ", "\t", "{", "[", "?", "-", "#")
_MAX_NESTING = 64
_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


class _NotPlain(Exception):
    """A value JSON and YAML might read differently: YAML reads that line."""


def _refuse(_text: str) -> Any:
    raise _NotPlain


_DECODER = json.JSONDecoder(parse_float=_refuse, parse_constant=_refuse)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Keys interned: 100,000 record sets share one "type" string, not 100,000 copies.
    result = {sys.intern(key): value for key, value in pairs}
    if len(result) != len(pairs):
        raise _NotPlain
    return result


def _relined(value: Any, line: int) -> Any:
    """VALUE as YAML read it alone (on line 1), moved to LINE of the file."""
    if isinstance(value, SourceDict):
        for item in value.values():
            _relined(item, line)
        value.line, value.key_lines = line, SAME_LINE
    elif isinstance(value, SourceList):
        for item in value:
            _relined(item, line)
        value.line, value.item_lines = line, NO_ITEMS
    return value


_ONE_LINE_DECODER = json.JSONDecoder(
    parse_float=_refuse, parse_constant=_refuse, object_pairs_hook=_no_duplicates
)


def _flow_value(text: str, line: int) -> tuple[Any, bool]:
    """One record-set line's value and whether it is plain JSON (for sourced() to turn
    into what YAML reads); else YAML's own reading of the line, already sourced.

    Plain printable ASCII without escapes and without floats reads the same in both (YAML
    1.1 reads `1e5` as a string, and treats some non-ASCII characters as line breaks)."""
    if (
        "\\" not in text
        and text.isascii()
        and text.isprintable()
        and text.count("[") + text.count("{") <= _MAX_NESTING  # no RecursionError below
    ):
        try:
            return _ONE_LINE_DECODER.decode(text), True
        except (ValueError, _NotPlain):
            pass
    if not text.startswith(("{", "[")):
        raise _NotPlain  # not a self-contained flow node: the whole file goes to YAML
    try:
        return _relined(load(text), line), False
    except (YamlSourceError, RecursionError):  # RecursionError: `[&a [*a]]` holds itself
        raise _NotPlain from None


def _flow_records(text: str, lazy: bool = False) -> SourceDict | None:
    """The document of a file in render.py's shape, or None: then YAML reads it whole.

    `lazy` leaves each owner's record sets as FlowSets of plain JSON values, for the
    record-set reader to turn into YAML's values one at a time: 100,000 record sets then
    never exist as SourceDicts all at once (a third of the peak memory)."""
    if text.startswith("records:\n"):
        return None  # no header mapping to read first
    if any(brk in text for brk in _OTHER_BREAKS):
        return None  # YAML counts these as line breaks: its line numbers are not ours
    at = text.find("\nrecords:\n")
    if at < 0:
        return None
    header = text[: at + 1]
    if "\n---" in header or "\n..." in header or header.startswith(("---", "...")):
        return None
    lines = text[at + 10 :].split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or not lines[0].startswith(_OWNER_PREFIX):
        return None
    line_no = header.count("\n") + 2  # of lines[0]
    records = SourceDict()
    records.line = line_no
    records.key_lines = {}
    try:
        owner: Any = None
        sets: SourceList = FlowSets()
        for number, line in enumerate(lines, line_no):
            if line.startswith(_ITEM_PREFIX):
                if owner is None:
                    return None
                value, plain = _flow_value(line[6:], number)
                if isinstance(sets, FlowSets):
                    if plain:
                        sets.append(value)
                        sets.item_lines.append(number)
                        continue
                    sets = records[owner] = sets.materialized()
                sets.append(sourced(value, number) if plain else value)
                sets.item_lines.append(number)
                continue
            if owner is not None and not sets:
                return None  # an owner without record sets: YAML reads null
            if not (line.startswith(_OWNER_PREFIX) and line.endswith('":')):
                return None
            key_text = line[2:-1]
            if "\\" in key_text or not (key_text.isascii() and key_text.isprintable()):
                return None
            owner = _DECODER.decode(key_text)
            if not isinstance(owner, str) or owner in records:
                return None
            sets = FlowSets()
            sets.line = number + 1
            sets.item_lines = []
            records[owner] = sets
            records.key_lines[owner] = number
    except (ValueError, _NotPlain):
        return None
    if not sets:
        return None
    try:
        doc = load(header)
    except YamlSourceError:
        return None
    if not isinstance(doc, SourceDict) or not doc or "records" in doc:
        return None
    # The header must be a block mapping at column 0, as `records:` is (in a flow or an
    # indented mapping, `records:` at column 0 is a syntax error: YAML must say so).
    header_lines = header.split("\n")
    if any(header_lines[doc.line_of(key) - 1][:1] in _NOT_A_KEY for key in doc):
        return None
    if not lazy:
        for key, value in records.items():
            if isinstance(value, FlowSets):
                records[key] = value.materialized()
    doc["records"] = records
    doc.key_lines["records"] = line_no - 1
    return doc


def plain(value: Any) -> Any:
    """YAML's source-tracking dicts and lists as plain ones."""
    if isinstance(value, FlowSets):
        return list(value)  # JSON's own values already
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def zone_document(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A zone file as a plain document (render.py's form), and for a file in render.py's
    shape each owner's lines as they stand in it: a writer changing ten names of 100,000
    reuses the other lines instead of writing them anew."""
    doc = _flow_records(text, lazy=True)
    if doc is None:
        loaded = plain(load(text))
        return (loaded if isinstance(loaded, dict) else {}), {}
    body = text[text.index("\nrecords:\n") + 10 :]
    blocks = body.split("\n" + _OWNER_PREFIX)
    blocks = [blocks[0]] + [_OWNER_PREFIX + b for b in blocks[1:]]
    records = doc["records"]
    lines = {
        owner: block if block.endswith("\n") else block + "\n"
        for owner, block in zip(records, blocks, strict=True)
    }
    return plain(doc), lines


def load_zone_text(text: str) -> Any:
    """The zone file's YAML document, as yamlsource.load reads it (same values and lines)."""
    doc = _flow_records(text)
    return load(text) if doc is None else doc


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
        return self.parse(text, int(stat.st_mtime))

    def parse(self, text: str, mtime: int) -> ZoneDraft | None:
        try:
            doc = _flow_records(text, lazy=True) or load(text)
        except YamlSourceError as exc:
            self.error(exc.line, "zone", exc.reason)
            return None
        if not isinstance(doc, SourceDict):
            self.error(1, "zone", "a zone file must be a mapping with 'zone' and 'records'")
            return None
        self.digest = hashlib.sha256(text.encode()).hexdigest()
        return self._zone(doc, mtime)

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
        checks, check_lines = read_checks(doc.get("health_checks"), doc, apex, self.error)
        collections = self._cidr_collections(doc.get("cidr_collections"), doc, apex)
        records = RecordSetReader(self.origin, self.file, self.errors, self.failed)
        nodes = records.read(doc.get("records"), doc, ttl)
        self._add_apex(nodes, ttl, ns_names, doc)
        existing: set[Name] = {self.origin}
        for owner in nodes:
            for i in range(len(owner) - len(self.origin) + 1):
                existing.add(owner[i:])
        ns = int(QTYPE.NS)
        cuts = frozenset(o for o, n in nodes.items() if ns in n and o != self.origin)
        draft = ZoneDraft(
            origin=self.origin,
            ttl=ttl,
            soa=soa,
            file=self.file,
            nodes=nodes,
            existing=frozenset(existing),
            cuts=cuts,
            digest=self.digest,
            serial_explicit=isinstance(doc.get("soa"), dict) and "serial" in doc["soa"],
            health_checks=checks,
            check_lines=check_lines,
            cidr_collections=collections,
            failed=frozenset(self.failed),
            zone_line=doc.line_of("zone"),
        )
        self._check_structure(draft)
        return draft

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

    def _cidr_collections(self, raw: Any, doc: SourceDict, apex: str) -> dict[str, CidrCollection]:
        result: dict[str, CidrCollection] = {}
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

    def _add_apex(
        self,
        nodes: dict[Name, dict[int, list[SetDraft]]],
        ttl: int,
        ns: list[Name],
        doc: SourceDict,
    ) -> None:
        apex_line = doc.line_of("ns") if "ns" in doc else doc.line_of("zone")
        ns_set = SetDraft(
            name=self.origin,
            rtype=int(QTYPE.NS),
            ttl=ttl,
            rdata=tuple(rdata.parse("NS", names.to_text(n), ()) for n in ns),
            alias=None,
            set_id=None,
            policy=DEFAULT_KEY,
            raw_routing=None,
            health_check=None,
            file=self.file,
            line=apex_line,
        )
        nodes.setdefault(self.origin, {})[int(QTYPE.NS)] = [ns_set]

    def _check_structure(self, zone: ZoneDraft) -> None:
        cname = int(QTYPE.CNAME)
        for owner, node in zone.nodes.items():
            if cname in node:
                owner_text = names.to_text(owner)
                line = node[cname][0].line
                if owner == zone.origin:
                    self.error(line, f"{owner_text} CNAME", "a CNAME cannot be at the zone apex")
                elif len(node) > 1:
                    others = ", ".join(sorted(str(QTYPE.get(t)) for t in node if t != cname))
                    self.error(
                        line, f"{owner_text} CNAME", f"a CNAME must stand alone; also {others}"
                    )
            for rtype, sets in node.items():
                self._check_group(owner, rtype, sets)
            cut = enclosing_cut(owner, zone.origin, zone.cuts)
            if cut is not None:
                for rtype, sets in node.items():
                    if rtype not in (int(QTYPE.A), int(QTYPE.AAAA)):
                        self.error(
                            sets[0].line,
                            f"{names.to_text(owner)} {QTYPE.get(rtype)}",
                            f"is hidden below the delegation at {names.to_text(cut)}",
                        )

    def _check_group(self, owner: Name, rtype: int, sets: list[SetDraft]) -> None:
        if len(sets) == 1:
            return  # one set has one policy, and a set_id of its own
        what = f"{names.to_text(owner)} {QTYPE.get(rtype)}"
        used = {s.policy for s in sets}
        if len(used) > 1:
            self.error(
                sets[-1].line,
                what,
                f"record sets of one name and type mix routing policies: {', '.join(sorted(used))}",
            )
            return
        if len(sets) > 1:
            seen: dict[str, int] = {}
            for s in sets:
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


def enclosing_cut(owner: Name, origin: Name, cuts: frozenset[Name]) -> Name | None:
    """The delegation point strictly above owner, if any (glue and occluded data)."""
    for i in range(1, len(owner) - len(origin) + 1):
        candidate = owner[i:]
        if candidate in cuts and candidate != origin:
            return candidate
    return None


def read_zone_file(path: Path) -> tuple[ZoneDraft | None, list[LoadError]]:
    reader = _FileReader(path)
    draft = reader.read()
    return draft, reader.errors


def read_zone_text(
    text: str, file: str, mtime: int = 0
) -> tuple[ZoneDraft | None, list[LoadError]]:
    """A zone file's text read as if from `file` (the Route 53 store checks a zone, or
    part of one, before it writes it)."""
    reader = _FileReader(Path(file))
    draft = reader.parse(text, mtime)
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
        origin = draft.origin
        if origin in seen:
            errors.append(
                LoadError(
                    str(path),
                    draft.zone_line,
                    draft.name_text,
                    f"zone is also defined in {seen[origin]}",
                )
            )
            continue
        seen[origin] = str(path)
        drafts.append(draft)
    return drafts, errors
