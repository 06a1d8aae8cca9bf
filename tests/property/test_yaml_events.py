"""Building YAML documents from libyaml's events equals building them from its node graph.

yamlsource reads zone and config files from the event stream (a 100,000-record zone's node
graph alone took 250 MB); the graph loader is the oracle: for any document, both give the
same values, the same types, the same source lines and the same errors.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.zones import yamlsource
from resolver.zones.yamlsource import SourceDict, SourceList, YamlSourceError

pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml")

TRICKY = [
    "on",
    "off",
    "yes",
    "~",
    "null",
    "1e3",
    "0x1F",
    "0o17",
    "010",
    "1_000",
    "1.5",
    ".inf",
    "2026-01-01",
    "2026-01-01 10:00:00",
    "",
    " lead",
    "trail ",
    "a: b",
    "- x",
    "#c",
    "é",
    "*",
    "&a",
    "!tag",
    "'q'",
    '"d"',
    "192.0.2.1",
    "[x]",
    "{y}",
    "true",
    "True",
]
scalars = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.sampled_from(TRICKY),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(TRICKY), st.text(min_size=1, max_size=8))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=25,
)


def shape(value: Any) -> Any:
    """A value with its types and every source line, comparably."""
    if isinstance(value, SourceDict):
        return (
            "map",
            value.line,
            [(k, value.key_lines.get(k), shape(v)) for k, v in value.items()],
        )
    if isinstance(value, SourceList):
        return ("seq", value.line, value.item_lines, [shape(v) for v in value])
    if isinstance(value, float) and value != value:
        return ("nan",)
    return (type(value).__name__, value)


def both(text: str) -> tuple[Any, Any]:
    def run(read: Any) -> Any:
        try:
            return ("ok", shape(read(text)))
        except YamlSourceError as exc:
            return ("error", exc.line, exc.reason)
        except yaml.YAMLError as exc:
            return ("yaml error", type(exc).__name__)

    graph = run(lambda t: yaml.load(t, Loader=yamlsource._FastLoader))
    events = run(yamlsource._load_fast)
    return graph, events


@settings(max_examples=400, deadline=None)
@given(document=documents, flow=st.sampled_from([None, True, False]))
def test_events_build_what_the_graph_builds(document: Any, flow: bool | None) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True)
    graph, events = both(text)
    assert events == graph


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate key, reported at its line
        "a: &x [1, 2]\nb: *x\n",  # anchors and aliases
        "base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n",  # a merge key
        "a: !!str 1\nb: !!int '2'\n",  # explicit tags
        "a: 1\n---\nb: 2\n",  # two documents
        "",  # no document
        "---\n",  # an empty one
        "[1, 2\n",  # a syntax error
        "zone: w.test\nrecords:\n  www: [{type: A, values: [192.0.2.1]}]\n  on: []\n",
        "k: |\n  literal\n  text\nf: >\n  folded\n  text\n",
        "? [a, b]\n: complex key\n",
    ],
)
def test_documents_the_events_hand_over_read_the_same(text: str) -> None:
    graph, events = both(text)
    assert events == graph
