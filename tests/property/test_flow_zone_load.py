"""The line-by-line reader of render.py-shaped zone files reads what YAML reads.

zones.load reads a zone file that ends in flow-style `records:` lines with json instead of
YAML's node graph (issue 14, item 9: 100,000 record sets loaded in a fraction of the
time). The oracle is yamlsource.load itself: for rendered zones and for rendered zones
with one line mangled (escapes, floats, non-ASCII, duplicates, comments, indentation,
anchors), the document has the same values, types and source lines, or the same error.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.zones import load as zones_load
from resolver.zones.load import _flow_records, load_zone_text, read_zone_file
from resolver.zones.recordsets import FlowSets
from resolver.zones.render import render_zone
from resolver.zones.yamlsource import SourceDict, SourceList, YamlSourceError, load

_WILD = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from('\\"\t #:{}[],&*!'),
    max_size=8,
)
_PLAIN = st.text("abcxyz019-_.*@ ", max_size=8)
_TEXT = st.one_of(_PLAIN, _PLAIN, _PLAIN, st.text(st.characters(codec="ascii"), max_size=6), _WILD)
_SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | _TEXT
)
_JSON: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_SET = st.fixed_dictionaries(
    {"type": st.sampled_from(["A", "TXT", "CNAME"])},
    optional={"values": st.lists(_JSON, max_size=2), "ttl": _JSON, "weight": _JSON},
)
_OWNERS = st.dictionaries(
    st.one_of(st.sampled_from(["@", "www", "on", "010", "*", "a.b"]), _PLAIN, _PLAIN, _TEXT),
    st.lists(_SET, min_size=1, max_size=3),
    max_size=5,
)
_HEADER = st.fixed_dictionaries(
    {"zone": st.sampled_from(["example.com", "x.test."])},
    optional={"ttl": st.integers(0, 600), "ns": st.lists(_TEXT, max_size=2)},
)
_MANGLE = st.sampled_from(
    [
        "\\u00e9", "\\", "1e5", "1.5", "NaN", "\u2028", "\x85", "\t", " ", "  ", "#", "# x",
        "&a ", "*a", "<<: ", "!!str ", '"', "{", "}", ",", ":", "- ", "---", "...", "\n",
        "\nrecords:\n", "é", "records:",
    ]
)  # fmt: skip


def _same(a: Any, b: Any, path: str = "$") -> None:
    assert type(a) is type(b), (path, a, b)
    if isinstance(a, SourceDict):
        assert (a.line, list(a)) == (b.line, list(b)), path
        for key in a:
            assert a.line_of(key) == b.line_of(key), (path, key)
            _same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, SourceList):
        assert (a.line, len(a)) == (b.line, len(b)), path
        assert [a.line_of(i) for i in range(-1, len(a) + 1)] == [
            b.line_of(i) for i in range(-1, len(b) + 1)
        ], path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and a != a:
        assert b != b, path
    else:
        assert a == b, (path, a, b)


def _outcome(reader: Any, text: str) -> Any:
    try:
        return reader(text)
    except YamlSourceError as exc:
        return ("error", exc.line, exc.reason)


def _materialized(doc: Any) -> Any:
    """The lazy document (zones.load's own reader) with every FlowSets made what the
    record-set reader makes of it, item by item."""
    if isinstance(doc, SourceDict) and isinstance(doc.get("records"), SourceDict):
        records = doc["records"]
        for owner, sets in records.items():
            if isinstance(sets, FlowSets):
                records[owner] = sets.materialized()
    return doc


def _assert_reads_as_yaml(text: str) -> None:
    expected = _outcome(load, text)
    got = _outcome(load_zone_text, text)
    lazy = _outcome(lambda t: _materialized(_flow_records(t, lazy=True)), text)
    if isinstance(expected, tuple):
        assert got == expected
        assert lazy is None
    else:
        _same(got, expected)
        if lazy is not None:
            _same(lazy, expected)


@settings(max_examples=300)
@given(header=_HEADER, owners=_OWNERS, comment=st.none() | _TEXT)
def test_rendered_zones_read_as_yaml_reads_them(
    header: dict[str, Any], owners: dict[str, Any], comment: str | None
) -> None:
    text = render_zone({**header, "records": owners}, comment=comment)
    _assert_reads_as_yaml(text)


@settings(max_examples=600)
@given(
    header=_HEADER,
    owners=_OWNERS,
    where=st.integers(0, 10_000),
    column=st.integers(0, 10_000),
    edit=_MANGLE,
    how=st.sampled_from(["insert", "replace", "drop", "double"]),
)
def test_mangled_zones_read_as_yaml_reads_them(
    header: dict[str, Any], owners: dict[str, Any], where: int, column: int, edit: str, how: str
) -> None:
    lines = render_zone({**header, "records": owners}).split("\n")
    at = where % len(lines)
    line = lines[at]
    col = column % (len(line) + 1)
    if how == "insert":
        lines[at] = line[:col] + edit + line[col:]
    elif how == "replace":
        lines[at] = line[:col] + edit + line[col + 1 :]
    elif how == "drop":
        del lines[at]
    else:
        lines.insert(at, line)
    _assert_reads_as_yaml("\n".join(lines))


def test_a_rendered_zone_takes_the_line_path() -> None:
    """Not a vacuous oracle: the fast path is taken for what render.py writes."""
    doc = {"zone": "example.com", "records": {"www": [{"type": "A", "values": ["192.0.2.1"]}]}}
    text = render_zone(doc, comment="written by a test")
    assert _flow_records(text) is not None
    # YAML 1.1 reads 1e5 as a string, JSON as a float: that line is YAML's to read.
    odd = _flow_records(text.replace('"192.0.2.1"', "1e5"))
    assert odd is not None and odd["records"]["www"][0]["values"] == ["1e5"]
    got = load_zone_text(text)
    assert got["records"]["www"][0]["values"] == ["192.0.2.1"]
    assert got["records"].line_of("www") == 4


_VALUES = (
    st.sampled_from(
        [
            "192.0.2.1",
            " 192.0.2.1",
            "192.0.2.01",
            "192.0.2",
            "::1",
            "2001:DB8::1",
            "::ffff:1.2.3.4",
            "2001:db8:0:0:0:0:0:1",
            "fe80::1%eth0",
            "10 mx.example.net.",
            "10 mx",
            '10 "mx"',
            "x",
            "a\tb",
            "v=spf1 ~all",
            '"quoted" text',
            "n1",
            "n1.example.com.",
            "",
            "1e5",
            "*",
        ]
    )
    | st.integers(-1, 70000)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.none()
)
_RECORD = st.fixed_dictionaries(
    {"type": st.sampled_from(["A", "AAAA", "MX", "TXT", "CNAME", "SRV", "NS", "a", "SOA"])},
    optional={
        "values": st.lists(_VALUES, max_size=3),
        "value": _VALUES,
        "ttl": st.integers(-1, 3000) | st.sampled_from(["60", 1.5]),
        "set_id": st.sampled_from(["blue", "green", 7, ""]),
        "weight": st.integers(-1, 300) | st.sampled_from(["10", 2.5]),
        "failover": st.sampled_from(["primary", "secondary", "PRIMARY", 1]),
        "alias": st.sampled_from(["n1", {"target": "n2"}, {"target": "n1", "x": 1}]),
    },
)


@settings(max_examples=300)
@given(
    owners=st.dictionaries(
        st.sampled_from(["@", "n1", "n2", "*.w", "a.b", "on", "x..y", "n1.other.org."]),
        st.lists(_RECORD, min_size=1, max_size=3),
        max_size=5,
    )
)
def test_drafts_and_errors_are_those_of_the_yaml_reader(owners: dict[str, Any]) -> None:
    """The whole file reader, on the fast path and through YAML, builds equal drafts and
    reports equal errors (values, routing keys and aliases valid and not)."""
    text = render_zone({"zone": "example.com", "ttl": 60, "records": owners})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "example.com.yaml"
        path.write_text(text)
        old = time.time() - 60  # a file that holds still: settled.read does not wait
        os.utime(path, (old, old))
        fast = read_zone_file(path)
        with mock.patch.object(zones_load, "_flow_records", lambda text, lazy=False: None):
            slow = read_zone_file(path)
    assert _flow_records(text) is not None or not owners  # the fast path was the one taken
    assert fast[1] == slow[1]
    assert fast[0] == slow[0]
