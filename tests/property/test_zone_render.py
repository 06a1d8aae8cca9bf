"""The zone-file writer and its reader agree: whatever render_zone writes, zone_document
reads back as the same document, with each owner's lines as render_owner writes them, and
the YAML reader (the oracle for both) reads the same values."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.zones.load import plain, zone_document
from resolver.zones.render import render_owner, render_zone
from resolver.zones.yamlsource import load

text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x85\u2028\u2029\r"),
    max_size=20,
)
scalar = st.one_of(st.integers(-(2**40), 2**40), st.booleans(), st.none(), text)
value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
record = st.dictionaries(
    st.sampled_from(["type", "values", "ttl", "set_id", "x"]), value, min_size=1
)
owners = st.dictionaries(text.filter(bool), st.lists(record, min_size=1, max_size=3), max_size=6)


@settings(max_examples=300, deadline=None)
@given(records=owners, ttl=st.integers(0, 86400), comment=st.none() | st.just("made by a test"))
def test_what_is_written_reads_back(records: dict[str, Any], ttl: int, comment: str | None) -> None:
    doc = {"zone": "w.test", "ttl": ttl, "ns": ["ns1.w.test."], "records": records}
    written = render_zone(doc, comment)
    read, lines = zone_document(written)
    assert read == doc
    assert json.dumps(plain(load(written))) == json.dumps(doc)
    if lines:  # the JSON fast path took the file: each owner's lines as they stand
        assert lines == {owner: render_owner(owner, sets) for owner, sets in records.items()}
        assert render_zone(doc, comment, lines) == written
