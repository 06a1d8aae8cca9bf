"""Route 53's change-batch rules and listing order, each with its exact message.

botocore is the oracle for shapes: every set the batch stores and every page's Next*
fields must validate against the service model's own shapes.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from resolver.route53.batch import (
    apply_changes,
    normalise_name,
    normalise_rrset,
    rrset_key,
    value_key,
)
from resolver.route53.changeshape import shape_errors
from resolver.route53.errors import Route53Error
from resolver.route53.listing import Listing, page, parse_max_items, reversed_name, sort_key

ZONE = "example.com."
SOA = {
    "Name": ZONE,
    "Type": "SOA",
    "TTL": 900,
    "ResourceRecords": [
        {"Value": "ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 86400"}
    ],
}
NS = {"Name": ZONE, "Type": "NS", "TTL": 172800, "ResourceRecords": [{"Value": "ns1.example.com."}]}
_MODEL = botocore.session.get_session().get_service_model("route53")


def validate(shape: str, value: dict[str, Any]) -> None:
    report = ParamValidator().validate(value, _MODEL.shape_for(shape))
    assert not report.has_errors(), report.generate_report()


def a(name: str, *values: str, ttl: int = 60, **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": extra.pop("Type", "A"),
        "TTL": ttl,
        "ResourceRecords": [{"Value": v} for v in values or ("192.0.2.1",)],
        **extra,
    }


def weighted(name: str, set_id: str, weight: int = 10, value: str = "192.0.2.1", **extra: Any):
    return a(name, value, SetIdentifier=set_id, Weight=weight, **extra)


def create(rrset: dict[str, Any]) -> dict[str, Any]:
    return {"Action": "CREATE", "ResourceRecordSet": rrset}


def delete(rrset: dict[str, Any]) -> dict[str, Any]:
    return {"Action": "DELETE", "ResourceRecordSet": rrset}


def upsert(rrset: dict[str, Any]) -> dict[str, Any]:
    return {"Action": "UPSERT", "ResourceRecordSet": rrset}


class Zone:
    """A zone's sets by normalised name, the `existing` callback apply_changes reads."""

    def __init__(self, *rrsets: dict[str, Any]) -> None:
        self.names: dict[str, list[dict[str, Any]]] = {}
        for rrset in (SOA, NS, *rrsets):
            n = normalise_rrset(rrset)
            self.names.setdefault(n["Name"], []).append(n)
        self.asked: list[str] = []

    def __call__(self, name: str) -> list[dict[str, Any]]:
        self.asked.append(name)
        return list(self.names.get(name, []))

    def run(self, *changes: dict[str, Any]) -> list[str]:
        result, errors = apply_changes(ZONE, self, list(changes))
        if not errors:
            self.names.update(result)
        return errors


class TestNames:
    """Names are case-insensitive, absolute, and escaped the way Route 53 writes them."""

    @pytest.mark.parametrize(
        ("given", "stored"),
        [
            ("WWW.Example.COM", "www.example.com."),
            ("www.example.com.", "www.example.com."),
            ("*.example.com", "\\052.example.com."),
            ("\\052.example.com.", "\\052.example.com."),
            ("a\\.b.example.com.", "a\\056b.example.com."),
            ("_sip._tcp.example.com", "_sip._tcp.example.com."),
            ("@.example.com", "\\100.example.com."),
            (".", "."),
        ],
    )
    def test_normalise_name(self, given: str, stored: str) -> None:
        assert normalise_name(given) == stored
        assert normalise_name(stored) == stored

    def test_key_uses_the_normal_name_and_set_identifier(self) -> None:
        assert rrset_key({"Name": "*.Example.com", "Type": "A"}) == ("\\052.example.com.", "A", "")
        assert rrset_key(weighted("w.example.com", "blue"))[2] == "blue"

    def test_normalise_defaults(self) -> None:
        alias = {"HostedZoneId": "Z1", "DNSName": "W.example.com"}
        got = normalise_rrset(
            {"Name": "x.example.com", "Type": "A", "AliasTarget": alias, "TTL": None}
        )
        assert got == {
            "Name": "x.example.com.",
            "Type": "A",
            "AliasTarget": {
                "HostedZoneId": "Z1",
                "DNSName": "w.example.com.",
                "EvaluateTargetHealth": False,
            },
        }
        assert "MultiValueAnswer" not in normalise_rrset(a("x.example.com", MultiValueAnswer=False))


class TestCreateDeleteUpsert:
    """CREATE needs absence, DELETE an exact match, UPSERT either."""

    def test_create_of_an_existing_set_fails(self) -> None:
        zone = Zone(a("www.example.com."))
        assert zone.run(create(a("WWW.example.com", "192.0.2.9"))) == [
            "Tried to create resource record set [name='www.example.com.', type='A'] "
            "but it already exists"
        ]

    def test_delete_of_a_missing_set_fails_with_its_identifier(self) -> None:
        assert Zone().run(delete(weighted("www.example.com.", "blue"))) == [
            "Tried to delete resource record set [name='www.example.com.', type='A', "
            "set-identifier='blue'] but it was not found"
        ]

    @pytest.mark.parametrize(
        "changed",
        [
            {"TTL": 61},
            {"ResourceRecords": [{"Value": "192.0.2.2"}]},
            {"ResourceRecords": [{"Value": "192.0.2.1"}, {"Value": "192.0.2.2"}]},
            {"HealthCheckId": "abc"},
        ],
    )
    def test_delete_must_match_every_field(self, changed: dict[str, Any]) -> None:
        zone = Zone(a("www.example.com."))
        assert zone.run(delete({**a("www.example.com."), **changed})) == [
            "Tried to delete resource record set [name='www.example.com.', type='A'] "
            "but the values provided do not match the current values"
        ]

    def test_delete_compares_values_as_a_set_ignoring_case_and_spacing(self) -> None:
        zone = Zone(a("m.example.com.", "10  Mail.example.com.", "20 b.example.com.", Type="MX"))
        sent = a("M.example.com", "20 b.example.com. ", "10 mail.EXAMPLE.com.", Type="MX")
        assert zone.run(delete(sent)) == []
        assert zone.names["m.example.com."] == []

    def test_txt_values_keep_their_case(self) -> None:
        assert value_key("TXT", '"Hello  World"') == '"Hello  World"'
        zone = Zone(a("t.example.com.", '"Hello"', Type="TXT"))
        assert zone.run(delete(a("t.example.com.", '"hello"', Type="TXT"))) != []

    def test_upsert_creates_a_missing_set_and_replaces_an_existing_one(self) -> None:
        zone = Zone()
        assert zone.run(upsert(a("www.example.com.", "192.0.2.1"))) == []
        assert zone.run(upsert(a("www.example.com.", "192.0.2.2", ttl=30))) == []
        assert zone.names["www.example.com."] == [
            normalise_rrset(a("www.example.com.", "192.0.2.2", ttl=30))
        ]

    def test_delete_then_create_in_one_batch(self) -> None:
        zone = Zone(a("www.example.com."))
        assert (
            zone.run(delete(a("www.example.com.")), create(a("www.example.com.", "192.0.2.7")))
            == []
        )
        assert zone.names["www.example.com."][0]["ResourceRecords"] == [{"Value": "192.0.2.7"}]

    def test_a_failing_batch_returns_nothing_to_apply(self) -> None:
        result, errors = apply_changes(
            ZONE, Zone(), [create(a("a.example.com.")), delete(a("b.example.com."))]
        )
        assert result == {} and len(errors) == 1

    def test_only_touched_names_are_read_and_returned(self) -> None:
        zone = Zone(a("other.example.com."))
        result, errors = apply_changes(ZONE, zone, [create(a("new.example.com."))])
        assert (
            errors == []
            and list(result) == ["new.example.com."]
            and zone.asked == ["new.example.com."]
        )

    def test_stored_sets_validate_against_botocore(self) -> None:
        zone = Zone()
        alias = {"HostedZoneId": "Z1", "DNSName": "www.example.com"}
        assert (
            zone.run(
                create(weighted("w.example.com", "blue")),
                create({"Name": "al.example.com", "Type": "A", "AliasTarget": alias}),
            )
            == []
        )
        for sets in zone.names.values():
            for rrset in sets:
                validate("ResourceRecordSet", rrset)


class TestZoneRules:
    """Names inside the zone, the apex SOA and NS, CNAME placement."""

    def test_name_outside_the_zone(self) -> None:
        assert Zone().run(create(a("www.example.org"))) == [
            "RRSet with DNS name www.example.org. is not permitted in zone example.com."
        ]
        assert Zone().run(create(a("badexample.com."))) != []

    def test_apex_soa_cannot_be_created_or_deleted(self) -> None:
        message = ["A HostedZone must contain exactly one SOA record."]
        assert Zone().run(delete(SOA)) == message
        assert Zone().run(create(SOA)) == message
        two = {**SOA, "ResourceRecords": SOA["ResourceRecords"] * 2}
        assert Zone().run(upsert(two)) == message
        assert Zone().run(upsert({**SOA, "TTL": 60})) == []

    def test_apex_ns_cannot_be_deleted_but_may_be_upserted(self) -> None:
        assert Zone().run(delete(NS)) == [
            "A HostedZone must contain at least one NS record for the zone itself."
        ]
        assert Zone().run(upsert({**NS, "ResourceRecords": [{"Value": "ns9.example.net."}]})) == []

    def test_delegation_ns_below_the_apex_is_fine(self) -> None:
        zone = Zone()
        sub = a("sub.example.com", "ns1.sub.example.com.", Type="NS")
        assert zone.run(create(sub)) == []
        assert zone.run(delete(sub)) == []

    def test_cname_not_at_the_apex(self) -> None:
        assert Zone().run(create(a(ZONE, "www.example.com.", Type="CNAME"))) == [
            "RRSet of type CNAME with DNS name example.com. is not permitted at apex "
            "in zone example.com."
        ]

    def test_cname_beside_existing_records(self) -> None:
        zone = Zone(a("www.example.com."))
        assert zone.run(create(a("www.example.com.", "x.example.com.", Type="CNAME"))) == [
            "RRSet of type CNAME with DNS name www.example.com. is not permitted as it conflicts "
            "with other records with the same DNS name in zone example.com."
        ]

    def test_record_beside_an_existing_cname(self) -> None:
        zone = Zone(a("www.example.com.", "x.example.com.", Type="CNAME"))
        assert zone.run(create(a("www.example.com.", '"t"', Type="TXT"))) == [
            "RRSet of type TXT with DNS name www.example.com. is not permitted "
            "because a conflicting "
            "RRSet of type  CNAME with the same DNS name already exists in zone example.com."
        ]

    def test_replacing_an_a_by_a_cname_in_one_batch(self) -> None:
        zone = Zone(a("www.example.com."))
        cname = a("www.example.com.", "x.example.com.", Type="CNAME")
        assert zone.run(delete(a("www.example.com.")), create(cname)) == []

    def test_cname_holds_one_value(self) -> None:
        assert Zone().run(create(a("c.example.com", "a.", "b.", Type="CNAME"))) == [
            "RRSet of type CNAME with DNS name c.example.com. is not permitted: "
            "a CNAME holds exactly one value"
        ]

    def test_duplicate_values(self) -> None:
        assert Zone().run(create(a("d.example.com", "192.0.2.1", " 192.0.2.1"))) == [
            "Duplicate Resource Record: ' 192.0.2.1'"
        ]

    def test_ns_at_a_wildcard(self) -> None:
        assert Zone().run(create(a("*.example.com", "ns1.", Type="NS"))) == [
            "RRSet of type NS with DNS name \\052.example.com. is not permitted: "
            "a wildcard name cannot have NS records"
        ]


def _where(action: str, name: str, set_id: str | None = None) -> str:
    return (
        f"in Change with [Action={action}, Name={name}, Type=A, SetIdentifier={set_id or 'null'}]"
    )


class TestShape:
    """Shape problems: InvalidInput in Route 53, found before anything is applied."""

    def test_needs_ttl_and_records_or_an_alias(self) -> None:
        data = "AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId"
        bare = {"Name": "x.example.com", "Type": "A", "TTL": 60}
        assert shape_errors([create(bare)]) == [
            f"Invalid request: Expected exactly one of [{data}], but found none "
            + _where("CREATE", "x.example.com")
        ]
        both = {**a("x.example.com"), "AliasTarget": {"HostedZoneId": "Z", "DNSName": "y."}}
        assert shape_errors([create(both)]) == [
            f"Invalid request: Expected exactly one of [{data}], but found more than one "
            + _where("CREATE", "x.example.com")
        ]

    def test_set_identifier_goes_with_a_routing_field(self) -> None:
        no_id = {**a("x.example.com"), "Weight": 1}
        assert shape_errors([create(no_id)]) == [
            "Invalid request: Missing field 'SetIdentifier' " + _where("CREATE", "x.example.com")
        ]
        lone = a("x.example.com", SetIdentifier="s")
        assert shape_errors([upsert(lone)]) == [
            "Invalid request: Field 'SetIdentifier' needs one of [Weight, Region, GeoLocation, "
            "GeoProximityLocation, Failover, MultiValueAnswer, CidrRoutingConfig] "
            + _where("UPSERT", "x.example.com", "s")
        ]

    def test_at_most_one_routing_field(self) -> None:
        two = weighted("x.example.com", "s", Region="us-east-1")
        assert shape_errors([create(two)]) == [
            "Invalid request: Expected at most one of [Weight, Region, GeoLocation, "
            "GeoProximityLocation, Failover, MultiValueAnswer, CidrRoutingConfig], but found more "
            "than one " + _where("CREATE", "x.example.com", "s")
        ]

    @pytest.mark.parametrize(
        ("rrset", "path", "rule"),
        [
            (
                weighted("x.", "s", 256),
                "weight",
                "Member must have value less than or equal to 255",
            ),
            (
                weighted("x.", "s", -1),
                "weight",
                "Member must have value greater than or equal to 0",
            ),
            (
                a("x.", ttl=2147483648),
                "tTL",
                "Member must have value less than or equal to 2147483647",
            ),
            (a("x.", ttl=-1), "tTL", "Member must have value greater than or equal to 0"),
            (
                a("x.", SetIdentifier="s", Failover="TERTIARY"),
                "failover",
                "Member must satisfy enum value set: [PRIMARY, SECONDARY]",
            ),
            (
                a("x.", SetIdentifier="s", GeoProximityLocation={"AWSRegion": "r", "Bias": 100}),
                "geoProximityLocation.bias",
                "Member must have value less than or equal to 99",
            ),
            (
                a("x.", SetIdentifier="s", GeoLocation={"ContinentCode": "eu"}),
                "geoLocation.continentCode",
                "Member must satisfy regular expression pattern: [A-Z]{2}",
            ),
            (
                a("x.", SetIdentifier="s", GeoLocation={"CountryCode": "USA"}),
                "geoLocation.countryCode",
                "Member must satisfy regular expression pattern: \\*|[A-Z]{2}",
            ),
        ],
    )
    def test_ranges(self, rrset: dict[str, Any], path: str, rule: str) -> None:
        value = rrset.get("Weight", rrset.get("TTL"))
        for field in ("Failover", "GeoProximityLocation", "GeoLocation"):
            if field in rrset:
                inner = rrset[field]
                value = (
                    inner
                    if isinstance(inner, str)
                    else next(v for k, v in inner.items() if path.endswith(k[0].lower() + k[1:]))
                )
        assert shape_errors([create(rrset)]) == [
            f"1 validation error detected: Value '{value}' at "
            f"'changeBatch.changes.1.member.resourceRecordSet.{path}' failed to "
            f"satisfy constraint: {rule}"
        ]

    def test_range_edges_pass(self) -> None:
        for rrset in (
            weighted("x.", "s", 0),
            weighted("x.", "t", 255),
            a("x.", ttl=0),
            a("x.", ttl=2147483647),
        ):
            assert shape_errors([create(rrset)]) == []

    def test_geolocation_continent_with_country(self) -> None:
        geo = a(
            "x.example.com",
            SetIdentifier="s",
            GeoLocation={"ContinentCode": "EU", "CountryCode": "DE"},
        )
        assert shape_errors([create(geo)]) == [
            "Invalid request: Expected exactly one of [ContinentCode, CountryCode], but found more "
            "than one " + _where("CREATE", "x.example.com", "s")
        ]

    def test_geoproximity_needs_one_place(self) -> None:
        geo = a("x.", SetIdentifier="s", GeoProximityLocation={"Bias": 5})
        assert shape_errors([create(geo)]) == [
            "Invalid request: Expected exactly one of [AWSRegion, LocalZoneGroup, Coordinates], "
            "but found none " + _where("CREATE", "x.", "s")
        ]
        far = {"Coordinates": {"Latitude": "91", "Longitude": "0"}}
        assert shape_errors([create(a("x.", SetIdentifier="s", GeoProximityLocation=far))]) == [
            "1 validation error detected: Value '91' at "
            "'changeBatch.changes.1.member.resourceRecordSet"
            ".geoProximityLocation.coordinates.latitude' failed to satisfy constraint: "
            "Member must be between -90 and 90"
        ]

    def test_change_numbers_count_from_one(self) -> None:
        errors = shape_errors([create(a("x.")), {"Action": "MOVE", "ResourceRecordSet": a("y.")}])
        assert errors == [
            "1 validation error detected: Value 'MOVE' at 'changeBatch.changes.2.member.action' "
            "failed to satisfy constraint: Member must satisfy enum value set: "
            "[CREATE, DELETE, UPSERT]"
        ]

    def test_empty_batch(self) -> None:
        assert shape_errors([]) == [
            "1 validation error detected: Value '[]' at 'changeBatch.changes' failed to satisfy "
            "constraint: Member must have length greater than or equal to 1"
        ]

    def test_apply_reports_shape_errors_and_skips_those_changes(self) -> None:
        result, errors = apply_changes(ZONE, Zone(), [create(weighted("x.example.com", "s", 999))])
        assert result == {} and errors == shape_errors(
            [create(weighted("x.example.com", "s", 999))]
        )


class TestPolicies:
    """One routing policy per name and type, and each policy's own limits."""

    def test_weighted_beside_simple(self) -> None:
        zone = Zone(a("www.example.com."))
        assert zone.run(create(weighted("www.example.com", "blue"))) == [
            "RRSet with DNS name www.example.com., type A, SetIdentifier blue cannot be created as "
            "a non-weighted set exists with the same name and type."
        ]

    def test_latency_beside_weighted(self) -> None:
        zone = Zone(weighted("www.example.com", "blue"))
        latency = a("www.example.com", SetIdentifier="use1", Region="us-east-1")
        assert zone.run(create(latency)) == [
            "RRSet with DNS name www.example.com., type A, SetIdentifier use1 cannot be created as "
            "a non-latency set exists with the same name and type."
        ]

    def test_simple_beside_weighted(self) -> None:
        zone = Zone(weighted("www.example.com", "blue"))
        assert zone.run(create(a("www.example.com"))) == [
            "RRSet with DNS name www.example.com., type A cannot be created as other RRSets exist "
            "with the same name and type."
        ]

    def test_swapping_policy_in_one_batch_is_fine(self) -> None:
        zone = Zone(a("www.example.com."))
        assert (
            zone.run(create(weighted("www.example.com", "blue")), delete(a("www.example.com.")))
            == []
        )

    def test_set_identifier_unique(self) -> None:
        zone = Zone(weighted("www.example.com", "blue"))
        assert zone.run(create(weighted("www.example.com", "blue", 5, "192.0.2.5"))) == [
            "Tried to create resource record set [name='www.example.com.', type='A', "
            "set-identifier='blue'] but it already exists"
        ]

    def test_weighted_sets_share_a_ttl(self) -> None:
        zone = Zone(weighted("www.example.com", "blue"))
        assert zone.run(create(weighted("www.example.com", "green", ttl=300))) == [
            "RRSet with DNS name www.example.com. and type A, SetIdentifier green "
            "cannot be created "
            "as weighted sets must contain the same TTL."
        ]
        both = [upsert(weighted("www.example.com", s, ttl=30)) for s in ("blue", "green")]
        assert zone.run(*both) == []

    @pytest.mark.parametrize(
        ("field", "value"), [("Weight", 1), ("Region", "us-east-1"), ("MultiValueAnswer", True)]
    )
    def test_one_value_policies(self, field: str, value: Any) -> None:
        rrset = a("x.example.com", "192.0.2.1", "192.0.2.2", SetIdentifier="s", **{field: value})
        word = {"Weight": "weighted", "Region": "latency", "MultiValueAnswer": "multivalue answer"}
        assert Zone().run(create(rrset)) == [
            "RRSet with DNS name x.example.com., type A, SetIdentifier s is not permitted: "
            f"a {word[field]} record set holds exactly one value"
        ]

    def test_failover_and_geolocation_may_hold_several_values(self) -> None:
        geo = a(
            "x.example.com",
            "192.0.2.1",
            "192.0.2.2",
            SetIdentifier="g",
            GeoLocation={"CountryCode": "*"},
        )
        assert Zone().run(create(geo)) == []

    def test_one_latency_set_per_region(self) -> None:
        zone = Zone(a("l.example.com", SetIdentifier="one", Region="us-east-1"))
        twin = a("l.example.com", "192.0.2.2", SetIdentifier="two", Region="us-east-1")
        assert zone.run(create(twin)) == [
            "RRSet with DNS name l.example.com., type A, SetIdentifier two cannot be created as a "
            "latency set for the same location exists with the same name and type."
        ]

    def test_one_geolocation_set_per_location(self) -> None:
        zone = Zone(a("g.example.com", SetIdentifier="one", GeoLocation={"CountryCode": "US"}))
        twin = a("g.example.com", SetIdentifier="two", GeoLocation={"CountryCode": "US"})
        assert zone.run(create(twin)) != []
        other = a(
            "g.example.com",
            SetIdentifier="ca",
            GeoLocation={"CountryCode": "US", "SubdivisionCode": "CA"},
        )
        assert zone.run(create(other)) == []

    @pytest.mark.parametrize("rtype", ["NS", "DS"])
    def test_simple_only_types(self, rtype: str) -> None:
        rrset = weighted("sub.example.com", "s", Type=rtype)
        assert Zone().run(create(rrset)) == [
            f"RRSet with DNS name sub.example.com., type {rtype}, SetIdentifier s is "
            "not permitted: "
            f"weighted record sets cannot have type {rtype}"
        ]

    def test_multivalue_cannot_be_cname_or_alias(self) -> None:
        cname = a("m.example.com", "x.", Type="CNAME", SetIdentifier="s", MultiValueAnswer=True)
        assert Zone().run(create(cname)) != []
        alias = {
            "Name": "m.example.com",
            "Type": "A",
            "SetIdentifier": "s",
            "MultiValueAnswer": True,
            "AliasTarget": {"HostedZoneId": "Z", "DNSName": "w.example.com."},
        }
        assert Zone().run(create(alias)) == [
            "RRSet with DNS name m.example.com., type A, SetIdentifier s is not permitted: "
            "multivalue answer record sets cannot be aliases"
        ]

    def test_group_limit(self) -> None:
        changes = [
            create(weighted("w.example.com", f"s{i}", value=f"192.0.2.{i}")) for i in range(101)
        ]
        assert Zone().run(*changes) == [
            "Exceeded limit on number of weighted RRSets for w.example.com., type A in this zone."
        ]
        assert Zone().run(*changes[:100]) == []


class TestListing:
    """Labels reversed as ASCII text, then type, then SetIdentifier; pages of at most 300."""

    def test_reversed_name(self) -> None:
        assert reversed_name("www.Example.com") == "com.example.www."
        assert reversed_name("\\052.example.com.") == "com.example.*."

    def test_order_follows_the_text_with_its_trailing_dot(self) -> None:
        names = [
            "b.example.com.",
            "a-b.example.com.",
            "a.example.com.",
            "example.com.",
            "*.example.com.",
            "z.a.example.com.",
        ]
        rrsets = [a(normalise_name(n)) for n in names]
        got = [r["Name"] for r in sorted(rrsets, key=sort_key)]
        # "com.example.a-b." < "com.example.a." because '-' (45) < '.' (46)
        assert got == [
            "example.com.",
            "\\052.example.com.",
            "a-b.example.com.",
            "a.example.com.",
            "z.a.example.com.",
            "b.example.com.",
        ]

    def test_type_then_identifier(self) -> None:
        rrsets = [
            a("w.example.com.", Type="TXT"),
            weighted("w.example.com.", "b", Type="AAAA"),
            weighted("w.example.com.", "a", Type="AAAA"),
            a("w.example.com."),
        ]
        got = [(r["Type"], r.get("SetIdentifier")) for r in sorted(rrsets, key=sort_key)]
        assert got == [("A", None), ("AAAA", "a"), ("AAAA", "b"), ("TXT", None)]

    def test_start_rules(self) -> None:
        with pytest.raises(Route53Error) as caught:
            page([], start_type="A")
        assert caught.value.code == "InvalidInput"
        with pytest.raises(Route53Error):
            page([], start_name="x.", start_identifier="s")
        with pytest.raises(Route53Error):
            page([], start_name="x.", start_type="BOGUS")

    @pytest.mark.parametrize(
        ("given", "used"), [(None, 300), ("1", 1), ("300", 300), ("5000", 300), (7, 7)]
    )
    def test_max_items(self, given: Any, used: int) -> None:
        assert parse_max_items(given) == used

    @pytest.mark.parametrize("given", ["0", "-1", "ten", "1.5"])
    def test_bad_max_items(self, given: str) -> None:
        with pytest.raises(Route53Error) as caught:
            parse_max_items(given)
        assert caught.value.code == "InvalidInput"

    def test_start_name_between_sets_and_next_fields(self) -> None:
        rrsets = sorted(
            [
                a("a.example.com."),
                weighted("b.example.com.", "x"),
                weighted("b.example.com.", "y"),
                a("c.example.com."),
            ],
            key=sort_key,
        )
        items, follow = page(rrsets, start_name="B.example.com", max_items="1")
        assert [i.get("SetIdentifier") for i in items] == ["x"]
        assert follow == {
            "NextRecordName": "b.example.com.",
            "NextRecordType": "A",
            "NextRecordIdentifier": "y",
        }
        validate(
            "ListResourceRecordSetsResponse",
            {"ResourceRecordSets": items, "IsTruncated": True, "MaxItems": "1", **follow},
        )
        items, follow = page(rrsets, "b.example.com.", "A", "y", "2")
        assert [i["Name"] for i in items] == ["b.example.com.", "c.example.com."] and follow is None
        assert page(rrsets, start_name="bb.example.com.")[0] == [rrsets[-1]]

    def test_listing_replace_name(self) -> None:
        listing = Listing(
            [a("a.example.com."), a("b.example.com."), a("x.b.example.com."), a("c.example.com.")]
        )
        listing.replace_name(
            "b.example.com.", [weighted("b.example.com.", "2"), weighted("b.example.com.", "1")]
        )
        got = [(r["Name"], r.get("SetIdentifier")) for r in listing]
        assert got == [
            ("a.example.com.", None),
            ("b.example.com.", "1"),
            ("b.example.com.", "2"),
            ("x.b.example.com.", None),
            ("c.example.com.", None),
        ]
        listing.update({"b.example.com.": [], "d.example.com.": [a("d.example.com.")]})
        assert [r["Name"] for r in listing] == [
            "a.example.com.",
            "x.b.example.com.",
            "c.example.com.",
            "d.example.com.",
        ]
        with pytest.raises(ValueError):
            listing.replace_name("e.example.com.", [a("f.example.com.")])

    def test_listing_is_fast_on_100000_sets(self) -> None:
        import time

        listing = Listing(a(f"h{i}.example.com.") for i in range(100_000))
        began = time.perf_counter()
        start: dict[str, str] | None = {"NextRecordName": "h5.example.com.", "NextRecordType": "A"}
        for _ in range(100):
            assert start is not None
            _, start = listing.page(start["NextRecordName"], start["NextRecordType"], None, "300")
        assert time.perf_counter() - began < 1.0
