"""import_entries and export_zone: what converts, what is reported, nothing silent."""

from __future__ import annotations

from pathlib import Path

from resolver.bindfile import convert
from resolver.bindfile.master import Entry
from resolver.wire import names
from resolver.zones.load import load_zone_drafts
from resolver.zones.render import render_zone

ZONE = names.from_text("example.test.")


def entry(owner: str, rtype: str, *rdata: str, ttl: int = 300, line: int = 1, **kw) -> Entry:
    origin = kw.pop("origin", ZONE)
    return Entry(
        file="z.zone",
        line=line,
        owner=names.from_text(owner, origin),
        ttl=ttl,
        ttl_explicit=True,
        rclass=kw.pop("rclass", "IN"),
        rtype=rtype,
        rdata=tuple(rdata),
        origin=origin,
    )


SOA = entry("@", "SOA", "ns1", "hostmaster", "2026120101", "7200", "900", "1209600", "60", ttl=3600)


def test_soa_and_apex_ns_become_header_keys() -> None:
    doc, dropped, changed = convert.import_entries(
        [SOA, entry("@", "NS", "ns1", ttl=3600), entry("@", "NS", "ns2.example.net.", ttl=3600)],
        ZONE,
    )
    assert not dropped and not changed
    assert doc["zone"] == "example.test" and doc["ttl"] == 3600
    assert doc["soa"] == {
        "mname": "ns1.example.test.",
        "rname": "hostmaster.example.test.",
        "serial": 2026120101,
        "refresh": 7200,
        "retry": 900,
        "expire": 1209600,
        "minimum": 60,
    }
    assert doc["ns"] == ["ns1.example.test.", "ns2.example.net."]


def test_names_in_values_are_relative_to_the_origin_where_they_were_written() -> None:
    sub = names.from_text("sub.example.test.")
    doc, dropped, _ = convert.import_entries(
        [SOA, entry("www", "CNAME", "host", origin=sub), entry("@", "MX", "10", "mail")], ZONE
    )
    assert not dropped
    assert doc["records"]["www.sub"] == [
        {"type": "CNAME", "ttl": 300, "values": ["host.sub.example.test."]}
    ]
    assert doc["records"]["@"] == [{"type": "MX", "ttl": 300, "values": ["10 mail.example.test."]}]


def test_txt_strings_are_decoded_and_a_resplit_is_noted() -> None:
    doc, dropped, changed = convert.import_entries(
        [SOA, entry("t", "TXT", '"a\\"b"', '"c\\226\\130\\172"', line=7)], ZONE
    )
    assert not dropped
    assert doc["records"]["t"][0]["values"] == ['a"bc\u20ac']
    assert [str(p) for p in changed] == [
        "z.zone:7: t.example.test. TXT: its 2 strings become one text, split at every 255"
        " bytes (every byte kept; the strings' boundaries are not)"
    ]


def test_txt_split_at_255_is_not_noted() -> None:
    _, _, changed = convert.import_entries(
        [SOA, entry("t", "TXT", '"' + "x" * 255 + '"', '"yz"')], ZONE
    )
    assert changed == []


def test_what_cannot_be_imported_is_reported_with_file_and_line() -> None:
    doc, dropped, _ = convert.import_entries(
        [
            SOA,
            entry("loc", "LOC", "52", "22", "23.000", "N", line=4),
            entry("ch", "TXT", '"x"', rclass="CH", line=5),
            entry("other.example.", "A", "192.0.2.1", line=6),
            entry("bad", "A", "192.0.2.300", line=8),
            entry("bin", "TXT", '"\\255"', line=9),
        ],
        ZONE,
    )
    assert doc["records"] == {}
    reasons = [str(p) for p in dropped]
    assert [r.split(":")[1] for r in reasons] == ["4", "5", "6", "8", "9"]
    assert "type LOC is not one the zone format holds" in reasons[0]
    assert "class CH" in reasons[1]
    assert "outside the zone example.test." in reasons[2]
    assert "not an IPv4 address" in reasons[3]
    assert "not UTF-8" in reasons[4]


def test_lowest_ttl_of_an_rrset_is_used_and_noted() -> None:
    doc, _, changed = convert.import_entries(
        [SOA, entry("a", "A", "192.0.2.1", ttl=600), entry("a", "A", "192.0.2.2", ttl=60)], ZONE
    )
    assert doc["records"]["a"] == [{"type": "A", "ttl": 60, "values": ["192.0.2.1", "192.0.2.2"]}]
    assert "the lowest, 60, is used" in str(changed[0])


def test_rfc3597_generic_form_of_a_known_type() -> None:
    doc, dropped, _ = convert.import_entries(
        [SOA, entry("g", "TYPE1", "\\#", "4", "c0000201"), entry("h", "MX", "\\#", "3", "000a00")],
        ZONE,
    )
    assert not dropped
    assert doc["records"]["g"][0] == {"type": "A", "ttl": 300, "values": ["192.0.2.1"]}
    assert doc["records"]["h"][0]["values"] == ["10 ."]


def test_escaped_owner_survives_rendering_and_loading(tmp_path: Path) -> None:
    doc, dropped, _ = convert.import_entries(
        [SOA, entry("a\\.b", "A", "192.0.2.1"), entry("\\065x", "A", "192.0.2.2")], ZONE
    )
    assert not dropped
    path = tmp_path / "z.yaml"
    path.write_text(render_zone(doc))
    drafts, errors = load_zone_drafts([str(path)])
    assert errors == []
    owners = set(drafts[0].nodes)
    assert (b"a.b", b"example", b"test") in owners
    assert (b"ax", b"example", b"test") in owners


def test_a_report_holds_no_control_characters() -> None:
    _, dropped, _ = convert.import_entries(
        [SOA, entry("x", "TXT", '"\x1b[31mred"', rclass="CH", line=3)], ZONE
    )
    (problem,) = dropped
    assert "\x1b" not in str(problem) and "\\027[31mred" in str(problem)
    assert str(problem).endswith('not imported: x.example.test. 300 CH TXT "\\027[31mred"')
