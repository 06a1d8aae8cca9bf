"""resolver.route53.mapping: names, values, routing fields and health checks, with
botocore's own validator as the judge of every Route 53 shape written."""

from __future__ import annotations

import re

import botocore.session
import pytest
from botocore.validate import ParamValidator

from resolver.route53 import mapping as m

MODEL = botocore.session.get_session().get_service_model("route53")
RRSET_SHAPE = MODEL.shape_for("ResourceRecordSet")
CHECK_SHAPE = MODEL.shape_for("HealthCheckConfig")


def valid(doc: dict, shape) -> None:
    report = ParamValidator().validate(doc, shape)
    assert not report.has_errors(), report.generate_report()


class TestNames:
    def test_wildcard_is_octal_052(self) -> None:
        assert m.route53_name("*.apps", "example.com") == "\\052.apps.example.com."
        assert m.owner_of("\\052.apps.example.com.", "example.com") == "*.apps"

    def test_apex_and_case(self) -> None:
        assert m.route53_name("@", "Example.COM") == "example.com."
        assert m.owner_of("EXAMPLE.com", "example.com.") == "@"

    def test_outside_the_zone_is_an_error(self) -> None:
        with pytest.raises(m.MappingError, match="outside the zone"):
            m.owner_of("www.example.org.", "example.com")

    def test_unwritable_octet_is_an_error(self) -> None:
        with pytest.raises(m.MappingError, match="octet"):
            m.owner_of("a\\056b.example.com.", "example.com")  # a dot inside a label


class TestValues:
    def test_names_in_values_become_absolute(self) -> None:
        assert m.value_to_zone("CNAME", "WWW.example.com", "example.com") == "www.example.com."
        assert m.value_to_route53("MX", "10 mail", "example.com") == "10 mail.example.com."

    def test_txt_255_split_is_lossless(self) -> None:
        text = "x" * 300
        value = m.value_to_route53("TXT", text, "example.com")
        assert value == '"' + "x" * 255 + '" "' + "x" * 45 + '"'
        assert m.value_to_zone("TXT", value, "example.com") == text

    def test_txt_other_split_is_a_note_or_an_error(self) -> None:
        notes: list[str] = []
        assert m.value_to_zone("TXT", '"a" "b"', "example.com", notes) == "ab"
        assert notes and "2 strings" in notes[0]
        with pytest.raises(m.MappingError):
            m.value_to_zone("TXT", '"a" "b"', "example.com")

    def test_txt_escapes_are_octal(self) -> None:
        assert m.value_to_route53("TXT", 'a"b\\c\u00e9', "x.") == '"a\\"b\\\\c\\303\\251"'
        assert m.value_to_zone("TXT", '"a\\"b\\\\c\\303\\251"', "x.") == 'a"b\\c\u00e9'

    def test_txt_not_utf8_is_an_error(self) -> None:
        with pytest.raises(m.MappingError, match="UTF-8"):
            m.value_to_zone("TXT", '"\\377"', "x.")


RECORDS = [
    {"type": "A", "values": ["192.0.2.1"], "set_id": "a", "weight": 5, "health_check": "hc"},
    {"type": "A", "alias": {"target": "www", "evaluate_target_health": True}, "set_id": "s",
     "failover": "secondary"},
    {"type": "AAAA", "values": ["2001:db8::1"], "set_id": "g",
     "geolocation": {"country": "US", "subdivision": "CA"}},
    {"type": "A", "values": ["192.0.2.2"], "set_id": "p",
     "geoproximity": {"coordinates": {"latitude": 50.11, "longitude": -8.5}, "bias": -3}},
    {"type": "A", "values": ["192.0.2.3"], "set_id": "l", "region": "eu-central-1"},
    {"type": "A", "values": ["192.0.2.4"], "set_id": "m", "multivalue": True},
    {"type": "A", "values": ["192.0.2.5"], "set_id": "c",
     "cidr": {"collection": "offices", "location": "*"}},
    {"type": "SRV", "values": ["1 2 3 sip"], "ttl": 10},
]  # fmt: skip


@pytest.mark.parametrize("record", RECORDS)
def test_records_export_valid_and_come_back(record: dict) -> None:
    ids = m.Ids.for_names(["example.com"], ["offices"])
    rrset = m.record_to_rrset("api", record, "example.com", 300, ids)
    valid(rrset, RRSET_SHAPE)
    assert ("TTL" in rrset) != ("alias" in record)
    owner, back = m.rrset_to_record(rrset, "example.com", ids)
    assert owner == "api"
    assert m.record_to_rrset(owner, back, "example.com", 300, ids) == rrset


def test_zone_and_collection_ids_are_deterministic() -> None:
    assert re.fullmatch(r"Z[A-Z0-9]{20}", m.zone_id_for("example.com"))
    assert m.zone_id_for("Example.com.") == m.zone_id_for("example.com")
    assert m.zone_id_for("example.org") != m.zone_id_for("example.com")
    uid = "4F9D7C1E-1111-4222-8333-944455556666"
    assert m.collection_id_for(uid) == uid.lower()
    assert m.collection_id_for("offices") == m.collection_id_for("offices")


def test_apex_round_trip() -> None:
    doc = {"zone": "example.com", "ttl": 60, "ns": ["ns1.example.com.", "ns2.example.net."],
           "soa": {"serial": 9, "minimum": 30}}  # fmt: skip
    rrsets = m.apex_rrsets(doc)
    for rrset in rrsets:
        valid(rrset, RRSET_SHAPE)
    header = m.apex_from_rrsets(rrsets, "example.com")
    assert header["ns"] == doc["ns"] and header["ttl"] == 60
    assert header["soa"]["serial"] == 9 and header["soa"]["rname"] == "hostmaster.example.com."


@pytest.mark.parametrize("kind", ["HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"])
def test_endpoint_checks_round_trip(kind: str) -> None:
    config = {"Type": kind, "IPAddress": "192.0.2.9", "Port": 8080, "RequestInterval": 10,
              "FailureThreshold": 2, "Inverted": True, "Disabled": False}  # fmt: skip
    if kind != "TCP":
        config.update(ResourcePath="/up", FullyQualifiedDomainName="www.example.com")
    if "STR" in kind:
        config["SearchString"] = "OK"
    check, notes = m.config_to_check(config)
    assert notes == []
    valid(m.check_to_config(check), CHECK_SHAPE)
    assert m.check_to_config(check) == config


def test_calculated_and_unsupported_checks() -> None:
    check, _ = m.config_to_check(
        {"Type": "CALCULATED", "HealthThreshold": 1, "ChildHealthChecks": ["a", "b"]}
    )
    assert check == {"type": "calculated", "healthy_threshold": 1, "children": ["a", "b"]}
    with pytest.raises(m.MappingError, match="CLOUDWATCH_METRIC"):
        m.config_to_check({"Type": "CLOUDWATCH_METRIC"})
    _, notes = m.config_to_check({"Type": "TCP", "IPAddress": "192.0.2.1", "Port": 1,
                                  "MeasureLatency": True, "Regions": ["us-east-1"]})  # fmt: skip
    assert len(notes) == 2


def test_an_octal_escape_beyond_one_octet_is_a_clear_error() -> None:
    with pytest.raises(m.MappingError, match="not an octet"):
        m.owner_of("\\777.w.test.", "w.test.")
    rrset = {
        "Name": "t.w.test.",
        "Type": "TXT",
        "TTL": 60,
        "ResourceRecords": [{"Value": '"\\400"'}],
    }
    with pytest.raises(m.MappingError, match="not an octet"):
        m.rrset_to_record(rrset, "w.test.", m.Ids())
