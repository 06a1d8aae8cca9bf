"""Property: for generated Route 53 record sets, rrset -> record -> rrset is the identity
(after normalisation: lower-case names, absolute names in values), and botocore accepts
every record set written."""

from __future__ import annotations

import botocore.session
from botocore.validate import ParamValidator
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.route53 import mapping as m

SHAPE = botocore.session.get_session().get_service_model("route53").shape_for("ResourceRecordSet")
ORIGIN = "example.com"
label = st.from_regex(r"[a-z0-9_][a-z0-9_-]{0,10}", fullmatch=True)
owner = st.lists(label, min_size=1, max_size=3).map(".".join) | st.just("@")
txt = st.lists(st.binary(max_size=255).filter(lambda b: _utf8(b)), min_size=1, max_size=1)
routing = st.one_of(
    st.just({}),
    st.builds(lambda w: {"Weight": w}, st.integers(0, 255)),
    st.sampled_from([{"Failover": "PRIMARY"}, {"Failover": "SECONDARY"}]),
    st.sampled_from(
        [
            {"GeoLocation": {"ContinentCode": "EU"}},
            {"GeoLocation": {"CountryCode": "US", "SubdivisionCode": "WA"}},
            {"GeoLocation": {"CountryCode": "*"}},
        ]
    ),
    st.builds(
        lambda la, lo, b: {
            "GeoProximityLocation": {"Coordinates": {"Latitude": la, "Longitude": lo}, "Bias": b}
        },
        st.integers(-9000, 9000).map(lambda n: m._coordinate_text(n / 100, "lat", None)),
        st.integers(-18000, 18000).map(lambda n: m._coordinate_text(n / 100, "lon", None)),
        st.integers(-99, 99),
    ),
    st.sampled_from([{"Region": "us-east-1"}, {"MultiValueAnswer": True}]),
)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@st.composite
def rrsets(draw: st.DrawFn) -> dict:
    name = m.route53_name(draw(owner), ORIGIN)
    kind = draw(st.sampled_from(["A", "TXT", "MX"]))
    if kind == "A":
        value = draw(st.ip_addresses(v=4).map(str))
    elif kind == "TXT":
        value = m.value_to_route53("TXT", draw(txt)[0].decode(), ORIGIN)
    else:
        value = f"{draw(st.integers(0, 65535))} {draw(label)}.example.net."
    rrset = {"Name": name, "Type": kind, "TTL": draw(st.integers(0, 2147483647)),
             "ResourceRecords": [{"Value": value}]}  # fmt: skip
    extra = draw(routing)
    if extra:
        rrset["SetIdentifier"] = draw(label)
        rrset.update(extra)
    if draw(st.booleans()):
        rrset["HealthCheckId"] = draw(st.uuids().map(str))
    return rrset


@settings(max_examples=300, deadline=None)
@given(rrsets())
def test_rrset_record_rrset_is_identity(rrset: dict) -> None:
    owner, record = m.rrset_to_record(rrset, ORIGIN)
    back = m.record_to_rrset(owner, record, ORIGIN, 300)
    assert back == rrset
    report = ParamValidator().validate(back, SHAPE)
    assert not report.has_errors(), report.generate_report()
