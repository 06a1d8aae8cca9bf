"""Reading a zone file's `records`: owner names, record sets, values and aliases.

Each record set is checked on its own here (keys, type, values, TTL, set_id, which routing
key); rules over a whole name and type are the file reader's, rules across files zones.check's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dnslib import RD

import policies
from policies.base import is_int
from resolver.errors import LoadError
from resolver.wire import names, rdata
from resolver.wire.names import Name
from resolver.zones.draft import SetDraft
from resolver.zones.model import Alias
from resolver.zones.yamlsource import SourceDict, SourceList

SET_KEYS = {"type", "values", "value", "ttl", "alias", "set_id", "health_check"}
# The policy of a record set without a routing key; every other registered policy is
# chosen by its key.
# The keys a record set may route by, from the policies themselves (a new policy needs no
# edit here).
ROUTING_KEYS = frozenset(policies.routing_keys())
ALIAS_KEYS = {"target", "evaluate_target_health"}
MAX_TTL = 2147483647

Fail = Callable[[str], None]

# Every key of a one-line flow mapping is on the mapping's line, so its line_of needs no
# table: one shared empty table makes line_of answer the mapping's own line for each key.
SAME_LINE: dict[Any, int] = {}
NO_ITEMS: list[int] = []


def sourced(value: Any, line: int) -> Any:
    """A plain JSON value as the YAML loader builds it for a one-line flow node on LINE."""
    if isinstance(value, dict):
        out = SourceDict()
        for key, item in value.items():
            out[key] = sourced(item, line)
        out.line = line
        out.key_lines = SAME_LINE
        return out
    if isinstance(value, list):
        seq = SourceList([sourced(item, line) for item in value])
        seq.line = line
        seq.item_lines = NO_ITEMS
        return seq
    return value


class FlowSets(SourceList):
    """An owner's record sets as JSON read them, one line each (zones.load's fast path):
    the reader makes each one what YAML would have read (sourced) just before reading it."""

    def materialized(self) -> SourceList:
        """The list as YAML reads it."""
        out = SourceList(
            sourced(item, line) for item, line in zip(self, self.item_lines, strict=True)
        )
        out.line, out.item_lines = self.line, self.item_lines
        return out


class RecordSetReader:
    """Reads the record sets of one zone file; errors go to the file reader's list."""

    def __init__(
        self, origin: Name, file: str, errors: list[LoadError], failed: set[tuple[Name, int]]
    ) -> None:
        self.origin = origin
        self.file = file
        self.errors = errors
        # Names and types of record sets that failed: references to them are not missing.
        self.failed = failed

    def error(self, line: int, what: str, reason: str) -> None:
        self.errors.append(LoadError(self.file, line, what, reason))

    def read(self, raw: Any, doc: SourceDict, ttl: int) -> dict[Name, dict[int, list[SetDraft]]]:
        """The `records` mapping: owner name -> a list of record sets (or just one)."""
        nodes: dict[Name, dict[int, list[SetDraft]]] = {}
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
            flow = isinstance(sets, FlowSets)
            for index, item in enumerate(sets):
                line = sets.line_of(index)
                if flow:
                    item = sourced(item, line)
                record = self._record_set(owner, item, line, ttl)
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

    def _record_set(self, owner: Name, item: Any, line: int, zone_ttl: int) -> SetDraft | None:
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
        routing_keys = [key for key in item if key in ROUTING_KEYS]
        policy = policies.REGISTRY[policies.DEFAULT_KEY]
        raw_routing = None
        if len(routing_keys) > 1:
            fail(f"more than one routing key: {', '.join(routing_keys)}")
        elif routing_keys:
            policy = policies.REGISTRY[routing_keys[0]]
            raw_routing = item[routing_keys[0]]
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
        return SetDraft(
            name=owner,
            rtype=rtype,
            ttl=ttl,
            rdata=tuple(values),
            alias=alias,
            set_id=None if set_id is None else str(set_id),
            policy=policy.key,
            raw_routing=raw_routing,
            health_check=health_check,
            file=self.file,
            line=line,
        )

    def _alias(self, raw: Any, fail: Fail, type_name: str) -> Alias | None:
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

    def _values(self, raw: Any, type_name: str, fail: Fail) -> list[RD]:
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
            if len(raw) > 1:  # one value has no duplicate (and a 100,000-set zone, many)
                key = rd.toZone() if hasattr(rd, "toZone") else repr(rd)
                if key in seen:
                    fail(f"duplicate value {str(value)!r}")
                    continue
                seen.add(key)
            parsed.append(rd)
        if type_name == "CNAME" and len(parsed) > 1:
            fail("a CNAME record set holds exactly one value")
        return parsed
