"""`explain` for a name in no zone says what forwarding would do with it: which route and
forwarders, and whether this client may recurse; names in a zone never mention it."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from resolver.forward.settings import ForwardSettings, describe
from resolver.query.explain import explain, to_text
from resolver.query.location import Locator
from resolver.serve.listen import ListenAddress
from resolver.zones.check import load_zone_set
from tests.unit.test_forwarding_stage import own_zone

SETTINGS = ForwardSettings(
    routes={
        (): (ListenAddress("127.0.0.1", 5301),),
        (b"corp", b"test"): (ListenAddress("10.0.0.53", 53), ListenAddress("10.0.0.54", 53)),
        (b"lab", b"corp", b"test"): (),
    },
    allow_recursion=("127.0.0.0/8",),
)


def report(tmp_path: Path, name: str, client: str = "127.0.0.1") -> dict:
    zone_set = load_zone_set([own_zone(tmp_path)])
    forwarding = partial(describe, SETTINGS)
    found = explain(zone_set, Locator({}, {}), name, "A", client, forwarding=forwarding)
    json.dumps(found)  # the API sends it as it is
    return found


def test_a_name_in_no_zone_names_its_route_and_forwarders(tmp_path: Path):
    found = report(tmp_path, "db.Corp.Test")
    assert found["forwarding"] == {
        "domain": "corp.test.",
        "forwarders": ["10.0.0.53:53", "10.0.0.54:53"],
        "client_may_recurse": True,
    }
    assert to_text(found).splitlines()[-1] == (
        "answer: forwarded (explain does not ask the forwarders)"
    )


def test_a_client_outside_allow_recursion_is_told_refused(tmp_path: Path):
    found = report(tmp_path, "www.example.org", client="192.0.2.1")
    assert found["forwarding"]["client_may_recurse"] is False
    lines = to_text(found).splitlines()
    assert "not recurse (allow_recursion)" in lines[-2]
    assert lines[-1] == "answer: REFUSED (no records)"


def test_no_forwarders_for_the_name_or_a_name_in_our_zone_say_nothing(tmp_path: Path):
    assert report(tmp_path, "x.lab.corp.test")["forwarding"] is None  # mapped to []
    own = report(tmp_path, "www.own.test")
    assert own["forwarding"] is None and own["rcode"] == "NOERROR"
    assert "forward" not in to_text(own)
