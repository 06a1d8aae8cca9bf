"""`import bind` against zones it did not make: tests/oracle/zonegen.py writes the same
random content as YAML and as a master file; importing the master file must load to the
same model as the YAML, for every seed, and so must export -> import of that model.
Reading any text at all never raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.bindfile import convert, master
from resolver.wire import names, rdata
from resolver.zones.check import load_zone_set
from resolver.zones.load import load_zone_drafts
from resolver.zones.render import render_zone
from tests.oracle import zonegen


def model(path: Path) -> dict[Any, Any]:
    """What a zone file serves: SOA fields and, per owner and type, TTL and wire values."""
    drafts, errors = load_zone_drafts([str(path)])
    assert errors == [], [str(e) for e in errors]
    (draft,) = drafts
    out: dict[Any, Any] = {"soa": draft.soa, "ttl": draft.ttl}
    for owner, groups in draft.nodes.items():
        for rtype, sets in groups.items():
            (one,) = sets
            out[owner, rtype] = (one.ttl, sorted(rdata.packed(rd) for rd in one.rdata))
    return out


def imported(master_path: Path, out: Path, zone: str) -> Path:
    origin = names.from_text(zone)
    entries, problems = master.parse(str(master_path), origin)
    assert problems == []
    doc, dropped, changed = convert.import_entries(entries, origin)
    assert dropped == [] and changed == [], [str(p) for p in dropped + changed]
    out.write_text(render_zone(doc), encoding="utf-8")
    return out


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_import_of_a_generated_master_file_serves_what_its_yaml_serves(
    seed: int, tmp_path_factory: Any
) -> None:
    base = tmp_path_factory.mktemp("bind")
    zone_set = zonegen.generate(seed)
    zone_set.write(base / "yaml", base / "master")
    for zone in zone_set.zones:
        stem = zone.origin.rstrip(".")
        want = model(base / "yaml" / f"{stem}.yaml")
        got = imported(base / "master" / f"{stem}.zone", base / f"{stem}.in.yaml", zone.origin)
        assert model(got) == want
        # export -> import reads back to the same model
        (compiled,) = load_zone_set([str(got)]).zones.values()
        text, left_out, _ = convert.export_zone(compiled, str(got))
        assert left_out == []
        exported = base / f"{stem}.out.zone"
        exported.write_text(text, encoding="utf-8")
        again = imported(exported, base / f"{stem}.again.yaml", zone.origin)
        assert model(again) == want


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.sampled_from(list(' \t\n()";\\$@.*aAIN0159-TXT=hx#')), max_size=200))
def test_reading_any_text_never_raises(text: str) -> None:
    origin = names.from_text("fuzz.test.")
    entries, problems = master.parse_text(text, "fuzz.zone", origin)
    doc, _, _ = convert.import_entries(entries, origin)
    assert all(str(p).startswith("fuzz.zone:") for p in problems)
    render_zone(doc)
