"""Properties of change batches and listings that no list of examples covers.

- a valid batch followed by its inverse (reversed, CREATE and DELETE swapped, an UPSERT
  undone by the set it replaced) restores the zone exactly;
- one bad change anywhere makes the whole batch change nothing;
- neither the result nor the messages depend on the order of keys in any dict;
- walking pages of any size with the Next* fields visits every set once, in an order
  that agrees with a naive oracle (labels reversed, joined, compared as text).
"""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from resolver.route53.batch import apply_changes, normalise_rrset, rrset_key
from resolver.route53.listing import Listing, page, sort_key

ZONE = "example.com."
RRSet = dict[str, Any]
APEX = [
    {
        "Name": ZONE,
        "Type": "SOA",
        "TTL": 900,
        "ResourceRecords": [{"Value": "ns1.example.com. h.example.com. 1 7200 900 1209600 86400"}],
    },
    {"Name": ZONE, "Type": "NS", "TTL": 900, "ResourceRecords": [{"Value": "ns1.example.com."}]},
]
NAMES = [
    "example.com.",
    "www.example.com.",
    "WWW.example.com",
    "a.b.example.com.",
    "*.x.example.com",
]
VALUES = {
    "A": ["192.0.2.1", "192.0.2.2", "198.51.100.7"],
    "TXT": ['"one"', '"two"', '"Three"'],
    "CNAME": ["t.example.net.", "u.example.net."],
    "MX": ["10 mx.example.net.", "20 mx2.example.net."],
}


@st.composite
def rrsets(draw: st.DrawFn) -> RRSet:
    """Record sets from a small universe, so that batches collide often."""
    rtype = draw(st.sampled_from(sorted(VALUES)))
    rrset: RRSet = {"Name": draw(st.sampled_from(NAMES)), "Type": rtype}
    policy = draw(st.sampled_from(["simple", "simple", "weighted", "failover"]))
    count = 1 if policy == "weighted" or rtype == "CNAME" else draw(st.integers(1, 2))
    values = draw(
        st.lists(st.sampled_from(VALUES[rtype]), min_size=count, max_size=count, unique=True)
    )
    rrset["TTL"] = draw(st.sampled_from([60, 300]))
    rrset["ResourceRecords"] = [{"Value": v} for v in values]
    if policy == "weighted":
        rrset["SetIdentifier"] = draw(st.sampled_from(["blue", "green"]))
        rrset["Weight"] = draw(st.integers(0, 255))
    elif policy == "failover":
        rrset["SetIdentifier"] = draw(st.sampled_from(["p", "s"]))
        rrset["Failover"] = "PRIMARY" if rrset["SetIdentifier"] == "p" else "SECONDARY"
    return rrset


class State:
    """A zone's sets by normalised name; callable as apply_changes' `existing`."""

    def __init__(self) -> None:
        self.names: dict[str, list[RRSet]] = {}
        for rrset in APEX:
            n = normalise_rrset(rrset)
            self.names.setdefault(n["Name"], []).append(n)

    def __call__(self, name: str) -> list[RRSet]:
        return [dict(s) for s in self.names.get(name, [])]

    def current(self, rrset: RRSet) -> RRSet | None:
        key = rrset_key(rrset)
        return next((s for s in self.names.get(key[0], []) if rrset_key(s) == key), None)

    def run(self, changes: list[dict[str, Any]]) -> list[str]:
        result, errors = apply_changes(ZONE, self, changes)
        if not errors:
            self.names.update(result)
        return errors

    def snapshot(self) -> str:
        names = {n: sorted(s, key=rrset_key) for n, s in self.names.items() if s}
        return json.dumps(names, sort_keys=True)


@st.composite
def batches(draw: st.DrawFn, state: State) -> list[dict[str, Any]]:
    """Changes that often make sense against `state`: DELETE of a current set (exact),
    CREATE and UPSERT of drawn ones."""
    changes = []
    for _ in range(draw(st.integers(1, 4))):
        present = [
            s for sets in state.names.values() for s in sets if s["Type"] not in ("SOA", "NS")
        ]
        if present and draw(st.booleans()):
            changes.append(
                {"Action": "DELETE", "ResourceRecordSet": draw(st.sampled_from(present))}
            )
        else:
            action = draw(st.sampled_from(["CREATE", "UPSERT"]))
            changes.append({"Action": action, "ResourceRecordSet": draw(rrsets())})
    return changes


def grow(data: st.DataObject, state: State, rounds: int) -> None:
    """Bring `state` to a random valid zone by applying the batches that are valid."""
    for _ in range(rounds):
        state.run(data.draw(batches(state)))


def inverse(state: State, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch that undoes `changes` when applied after them, computed before them."""
    undo = []
    shadow = State()
    shadow.names = {n: list(s) for n, s in state.names.items()}
    for change in changes:
        rrset = normalise_rrset(change["ResourceRecordSet"])
        before = shadow.current(rrset)
        if change["Action"] == "DELETE":
            undo.append({"Action": "CREATE", "ResourceRecordSet": before})
        elif before is None:
            undo.append({"Action": "DELETE", "ResourceRecordSet": rrset})
        else:
            undo.append({"Action": "UPSERT", "ResourceRecordSet": before})
        result, _ = apply_changes(ZONE, shadow, [change])
        shadow.names.update(result)
    return undo[::-1]


@settings(max_examples=150)
@given(st.data())
def test_a_valid_batch_then_its_inverse_restores_the_zone(data: st.DataObject) -> None:
    state = State()
    grow(data, state, data.draw(st.integers(0, 4)))
    before = state.snapshot()
    changes = data.draw(batches(state))
    undo = inverse(state, changes)
    if state.run(changes):
        event("batch refused")
        assert state.snapshot() == before
        return
    event("batch applied")
    assert state.run(undo) == []
    assert state.snapshot() == before


BAD_CHANGES = [
    {"Action": "CREATE", "ResourceRecordSet": {**APEX[1], "Name": "www.example.org."}},
    {
        "Action": "DELETE",
        "ResourceRecordSet": {
            "Name": "nowhere.example.com.",
            "Type": "A",
            "TTL": 1,
            "ResourceRecords": [{"Value": "192.0.2.99"}],
        },
    },
    {"Action": "DELETE", "ResourceRecordSet": APEX[0]},
    {"Action": "UPSERT", "ResourceRecordSet": {"Name": "w.example.com.", "Type": "A", "TTL": 5}},
    {"Action": "CREATE", "ResourceRecordSet": {**APEX[1], "Name": "x.example.com.", "Weight": 300}},
]


@settings(max_examples=100)
@given(st.data(), st.sampled_from(BAD_CHANGES))
def test_one_bad_change_changes_nothing(data: st.DataObject, bad: dict[str, Any]) -> None:
    state = State()
    grow(data, state, data.draw(st.integers(0, 3)))
    changes = data.draw(batches(state))
    changes.insert(data.draw(st.integers(0, len(changes))), bad)
    result, errors = apply_changes(ZONE, state, changes)
    assert errors and result == {}


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same value with every dict's keys in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


@settings(max_examples=100)
@given(st.data(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_dict_order(data: st.DataObject, rng: random.Random) -> None:
    state = State()
    grow(data, state, data.draw(st.integers(0, 3)))
    changes = data.draw(batches(state))
    plain = apply_changes(ZONE, state, changes)
    mixed = apply_changes(ZONE, lambda n: shuffled(state(n), rng), shuffled(changes, rng))
    assert json.dumps(plain) == json.dumps(mixed)


LABEL = st.text(alphabet="abcz019-_*!AZ", min_size=1, max_size=4)


@st.composite
def zones(draw: st.DrawFn) -> list[RRSet]:
    """Sets with distinct keys under varied names (wildcards, '-' and '!' that sort
    before '.', upper case), several types and set identifiers."""
    out: dict[tuple[str, str, str], RRSet] = {}
    for _ in range(draw(st.integers(0, 40))):
        labels = draw(st.lists(LABEL, min_size=0, max_size=3))
        rrset: RRSet = {
            "Name": ".".join([*labels, "example", "com"]) + ".",
            "Type": draw(st.sampled_from(["A", "AAAA", "TXT", "MX"])),
        }
        set_id = draw(st.sampled_from(["", "a", "B", "b1"]))
        if set_id:
            rrset["SetIdentifier"] = set_id
        n = normalise_rrset(rrset)
        out.setdefault(rrset_key(n), n)
    return list(out.values())


def naive_key(rrset: RRSet, raw: str) -> tuple[str, str, str]:
    """Labels reversed and joined with a trailing dot, letters folded: the documented order."""
    text = ".".join(reversed(raw.rstrip(".").lower().split("."))) + "."
    return (text, rrset["Type"], rrset.get("SetIdentifier", ""))


@settings(max_examples=200)
@given(zones(), st.integers(1, 12))
def test_walking_pages_visits_every_set_once_in_order(sets: list[RRSet], size: int) -> None:
    listing = Listing(sets)
    ordered = sorted(sets, key=sort_key)
    assert list(listing) == ordered
    decoded = {id(s): s["Name"].replace("\\052", "*").replace("\\041", "!") for s in sets}
    assert ordered == sorted(sets, key=lambda s: naive_key(s, decoded[id(s)]))
    for pager in (listing.page, lambda *a: page(ordered, *a)):
        seen: list[RRSet] = []
        start: tuple[str | None, str | None, str | None] = (None, None, None)
        while True:
            items, follow = pager(*start, str(size))
            assert len(items) <= size
            seen += items
            if follow is None:
                break
            assert len(items) == size
            start = (
                follow["NextRecordName"],
                follow["NextRecordType"],
                follow.get("NextRecordIdentifier"),
            )
        assert seen == ordered


@settings(max_examples=100)
@given(zones(), zones())
def test_replacing_names_equals_rebuilding(first: list[RRSet], second: list[RRSet]) -> None:
    listing = Listing(first)
    by_name: dict[str, list[RRSet]] = {}
    for rrset in second:
        by_name.setdefault(rrset["Name"], []).append(rrset)
    for rrset in first[::2]:
        by_name.setdefault(rrset["Name"], [])
    listing.update(by_name)
    kept = [s for s in first if s["Name"] not in by_name]
    assert list(listing) == list(Listing(kept + [s for sets in by_name.values() for s in sets]))
