"""Writing a zone file (SPEC 4) from a plain document: the one writer of zone files.

The Route 53 store, `import route53` and `import bind` all produce zone files. Each
record set is one line of flow style, its scalars written as JSON (a subset of YAML), so
a 100,000-record zone is written in a fraction of a second and reads back as it was
written: the owner keys are always quoted, so `on`, `010` or `*` stay names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

# A zone document as yaml would load a zone file, without source lines: "zone", "ttl",
# optional "soa", "ns", "health_checks", "cidr_collections", and "records" mapping each
# owner (relative, "@" for the apex) to its list of record-set mappings.
ZoneDoc = Mapping[str, Any]

_HEADER_KEYS = ("zone", "ttl", "soa", "ns")
_TABLE_KEYS = ("health_checks", "cidr_collections")


# What JSON leaves raw but YAML refuses in a stream (DEL, C1 controls, non-characters)
# or reads as a line break inside quotes (NEL, U+2028, U+2029): written as \uXXXX.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def flow(value: Any) -> str:
    """One value in flow style (JSON), on one line, readable by YAML as it was."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def render_owner(owner: str, sets: Sequence[Mapping[str, Any]]) -> str:
    """The lines of one owner under `records:` (ending in a newline)."""
    lines = [f"  {flow(owner)}:\n"]
    lines.extend(f"    - {flow(record)}\n" for record in sets)
    return "".join(lines)


def render_zone(
    doc: ZoneDoc, comment: str | None = None, owners: Mapping[str, str] | None = None
) -> str:
    """The zone file's text. Keys are written in SPEC 4's order; owners in the order the
    document holds them. `owners` may hold the already-rendered text of some owners
    (render_owner's output), so a writer that changed ten names of 100,000 renders ten."""
    unknown = set(doc) - set(_HEADER_KEYS) - set(_TABLE_KEYS) - {"records"}
    if unknown:
        raise ValueError(f"not zone-file keys: {', '.join(sorted(unknown))}")
    out: list[str] = []
    if comment:
        out.extend(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
    for key in _HEADER_KEYS:
        if key in doc:
            out.append(f"{key}: {flow(doc[key])}\n")
    for key in _TABLE_KEYS:
        table = doc.get(key)
        if table:
            out.append(f"{key}:\n")
            out.extend(f"  {flow(name)}: {flow(value)}\n" for name, value in table.items())
    records = doc.get("records") or {}
    if not records:
        out.append("records: {}\n")
        return "".join(out)
    out.append("records:\n")
    cached = owners or {}
    for owner, sets in records.items():
        text = cached.get(owner)
        out.append(text if text is not None else render_owner(owner, sets))
    return "".join(out)
