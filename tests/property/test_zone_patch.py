"""A patched zone is the zone a full load gives: the oracle for zones.patch.

The Route 53 API compiles only the names a batch touched (issue 14, item 9). For any zone
and any replacement of a few of its owners (valid or not: aliases, CNAME chains and
loops, delegations hiding data, mixed policies), patching the loaded zone must fail
exactly when loading the changed file fails, and otherwise equal it in every field the
engine reads.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from resolver.errors import LoadFailed
from resolver.wire import names
from resolver.zones.check import build_zone_set, known_regions
from resolver.zones.load import read_zone_text
from resolver.zones.model import Zone, ZoneSet
from resolver.zones.patch import patch_owners
from resolver.zones.render import render_zone

ORIGIN = "p.test"
FILE = "/state/zones/p.test.yaml"
OWNERS = ["@", "a", "b", "c", "d.c", "x.d.c", "*.w", "e"]
REGIONS = known_regions()


def absolute(owner: str) -> str:
    return f"{ORIGIN}." if owner == "@" else f"{owner}.{ORIGIN}."


ip = st.integers(1, 254).map(lambda n: f"192.0.2.{n}")
target = st.sampled_from(OWNERS)
record = st.one_of(
    st.builds(lambda v: {"type": "A", "values": [v]}, ip),
    st.builds(lambda t: {"type": "A", "alias": {"target": absolute(t)}}, target),
    st.builds(lambda t: {"type": "CNAME", "values": [absolute(t)]}, target),
    st.builds(lambda v: {"type": "TXT", "values": [v]}, st.sampled_from(["x", "y z"])),
    st.just({"type": "NS", "values": ["ns.elsewhere.test."]}),
    st.builds(lambda v: {"type": "AAAA", "values": [f"2001:db8::{v}"]}, st.integers(1, 9)),
)
weighted = st.lists(
    st.tuples(ip, st.integers(0, 3)), min_size=1, max_size=3, unique_by=lambda p: p[0]
).map(
    lambda pairs: [
        {"type": "A", "set_id": f"s{i}", "weight": w, "values": [v]}
        for i, (v, w) in enumerate(pairs)
    ]
)
owner_sets = st.one_of(st.lists(record, max_size=3), weighted)


def zone_doc(records: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "zone": ORIGIN,
        "ttl": 300,
        "soa": {"serial": 7},
        "ns": [f"ns1.{ORIGIN}."],
        "records": {o: sets for o, sets in records.items() if sets},
    }


def full_load(doc: dict[str, Any]) -> ZoneSet:
    draft, errors = read_zone_text(render_zone(doc), FILE)
    if draft is None:
        raise LoadFailed(errors)
    return build_zone_set([draft], errors, REGIONS)


def shape(zone: Zone) -> dict[str, Any]:
    """Everything the engine reads of a zone, comparably."""
    nodes = {
        owner: {
            rtype: (
                group.policy,
                tuple(
                    (
                        s.set_id,
                        s.ttl,
                        tuple(rd.toZone() for rd in s.rdata),
                        s.alias,
                        s.health_check,
                        repr(s.routing),
                    )
                    for s in group.sets
                ),
            )
            for rtype, group in node.items()
        }
        for owner, node in zone.nodes.items()
    }
    return {"nodes": nodes, "existing": zone.existing, "cuts": zone.cuts, "soa": zone.soa}


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@example(  # a name an untouched alias points at goes away
    before={
        "a": [{"type": "A", "alias": {"target": absolute("b")}}],
        "b": [{"type": "A", "values": ["192.0.2.1"]}],
    },
    change={"b": []},
)
@example(  # a new delegation hides data below it
    before={"x.d.c": [{"type": "TXT", "values": ["x"]}]},
    change={"d.c": [{"type": "NS", "values": ["ns.elsewhere.test."]}]},
)
@given(
    before=st.dictionaries(st.sampled_from(OWNERS), owner_sets, max_size=6),
    change=st.dictionaries(st.sampled_from(OWNERS), owner_sets, min_size=1, max_size=3),
)
def test_patching_equals_loading_the_changed_file(
    before: dict[str, list[dict[str, Any]]], change: dict[str, list[dict[str, Any]]]
) -> None:
    try:
        base = full_load(zone_doc(before))
    except LoadFailed:
        assume(False)
    after_doc = zone_doc({**before, **change})
    try:
        expected: ZoneSet | None = full_load(after_doc)
    except LoadFailed:
        expected = None
    try:
        origin = names.from_text(f"{ORIGIN}.")
        patched: ZoneSet | None = patch_owners(base, origin, after_doc, change, REGIONS)
    except LoadFailed:
        patched = None
    if expected is None or patched is None:
        assert expected is None and patched is None, (
            "the full load "
            + ("fails" if expected is None else "succeeds")
            + " but the patch "
            + ("fails" if patched is None else "succeeds")
        )
        return
    (want,) = expected.zones.values()
    (got,) = patched.zones.values()
    assert shape(got) == shape(want)
