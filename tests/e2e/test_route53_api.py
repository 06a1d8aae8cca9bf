"""The Route 53 API driven by boto3 against a real policydns (issue 14's checks).

One server for the module, started with a `route53:` config in tmp; boto3 creates a zone,
a health check probing an aiohttp backend on loopback, a CIDR collection, and a batch with
every routing policy and aliases. The answers are asked with Debian's dig (with +subnet
for the client networks the config locates), and compared to what Route 53's rules give
(the table EXPECTED, written from ROUTE53.md, not read from the server). Tests run in file
order: the last one SIGKILLs the server and restarts it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from tests import r53help as r53
from tests.dnshelp import free_port, write_settled
from tests.r53help import (
    CA,
    DE,
    EXPECTED,
    FAILING,
    JP,
    NOWHERE,
    NY,
    OPERATOR_ZONE,
    SECRET,
    Backend,
    Route53Server,
    addrs,
    by_identity,
    caller_reference,
    change,
    dig,
    ips,
    list_all,
    make_client,
    order_key,
    routing_sets,
    submit,
    wait_for,
    without_apex_defaults,
    zone_id,
)

pytestmark = pytest.mark.timeout(300)

ZONE = "r53.test"
HEALTH_DEADLINE = 40.0  # RequestInterval 10 (Route 53's minimum), FailureThreshold 1


def fqdn(label: str) -> str:
    return r53.fqdn(label, ZONE)


# The same scenario written by hand as a SPEC 4 zone file, its check probing a closed
# port: the engine's answers for it must match EXPECTED/FAILING, so that a failure of the
# API tests above points at the API or the mapping, never at the expected table.
ZONE_FILE_EQUIVALENT = """\
zone: r53.test
ttl: 30
health_checks:
  hc:
    {type: http, target: 127.0.0.1, port: PORT, path: /health, interval: 0.1, failure_threshold: 1}
cidr_collections:
  offices: {hq: [10.1.0.0/16], branch: [10.2.0.0/16]}
records:
  "@": [{type: A, alias: {target: w}}]
  www:
    - {type: A, values: [192.0.2.100, 192.0.2.101]}
    - {type: TXT, ttl: 60, values: ["hi there"]}
  w:
    - {type: A, set_id: a, weight: 1, values: [192.0.2.1], health_check: hc}
    - {type: A, set_id: b, weight: 0, values: [192.0.2.2]}
  fo:
    - {type: A, set_id: primary, failover: primary, values: [192.0.2.11], health_check: hc}
    - {type: A, set_id: secondary, failover: secondary, values: [192.0.2.12]}
  al: [{type: A, alias: {target: fo, evaluate_target_health: true}}]
  geo:
    - {type: A, set_id: ca, geolocation: {country: US, subdivision: CA}, values: [192.0.2.21]}
    - {type: A, set_id: us, geolocation: {country: US}, values: [192.0.2.22]}
    - {type: A, set_id: eu, geolocation: {continent: EU}, values: [192.0.2.23]}
    - {type: A, set_id: default, geolocation: {country: "*"}, values: [192.0.2.24]}
  near:
    - {type: A, set_id: virginia, values: [192.0.2.31],
       geoproximity: {region: us-east-1, bias: 0}}
    - {type: A, set_id: frankfurt, values: [192.0.2.32],
       geoproximity: {coordinates: {latitude: 50.11, longitude: 8.68}, bias: 0}}
  fast:
    - {type: A, set_id: usw1, region: us-west-1, values: [192.0.2.41]}
    - {type: A, set_id: euc1, region: eu-central-1, values: [192.0.2.42]}
    - {type: A, set_id: use1, region: us-east-1, values: [192.0.2.43]}
  mv:
    - {type: A, set_id: a, multivalue: true, values: [192.0.2.51], health_check: hc}
    - {type: A, set_id: b, multivalue: true, values: [192.0.2.52]}
    - {type: A, set_id: c, multivalue: true, values: [192.0.2.53]}
  office:
    - {type: A, set_id: hq, cidr: {collection: offices, location: hq}, values: [192.0.2.61]}
    - {type: A, set_id: branch, values: [192.0.2.62],
       cidr: {collection: offices, location: branch}}
    - {type: A, set_id: rest, cidr: {collection: offices, location: "*"}, values: [192.0.2.63]}
"""


def test_expected_answers_hold_for_the_equivalent_zone_file(tmp_path: Path) -> None:
    server = Route53Server(tmp_path)
    closed = free_port()
    text = ZONE_FILE_EQUIVALENT.replace("PORT", str(closed))
    write_settled(server.zones_dir / f"{ZONE}.yaml", text)
    server.start()
    try:
        for label, per_subnet in EXPECTED.items():
            for subnet, expected in per_subnet.items():
                if label in FAILING:
                    expected = FAILING[label]
                got = wait_for(
                    lambda label=label, subnet=subnet: dig(server, fqdn(label), "A", subnet),
                    lambda v, e=expected: v == ("NOERROR", e),
                    f"{label} {subnet}",
                    5,
                )
                assert got == ("NOERROR", expected)
        assert dig(server, fqdn("www"), "TXT") == ("NOERROR", ['"hi there"'])
    finally:
        server.stop()


@dataclass
class World:
    server: Route53Server
    backend: Backend
    zone: str  # bare hosted zone id
    hc: str
    cidr: str
    sent: list[dict[str, Any]]

    @property
    def client(self) -> Any:
        return self.server.client()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    backend = Backend().start()
    server = Route53Server(Path(tmp_path_factory.mktemp("route53"))).start()
    try:
        client = server.client()
        created = client.create_hosted_zone(Name=ZONE, CallerReference=caller_reference())
        zid = zone_id(created)
        hc = client.create_health_check(
            CallerReference=caller_reference(),
            HealthCheckConfig={
                "IPAddress": "127.0.0.1",
                "Port": backend.port,
                "Type": "HTTP",
                "ResourcePath": "/health",
                "RequestInterval": 10,
                "FailureThreshold": 1,
            },
        )["HealthCheck"]["Id"]
        cidr = client.create_cidr_collection(Name="offices", CallerReference=caller_reference())[
            "Collection"
        ]["Id"]
        client.change_cidr_collection(
            Id=cidr,
            Changes=[
                {"LocationName": "hq", "Action": "PUT", "CidrList": ["10.1.0.0/16"]},
                {"LocationName": "branch", "Action": "PUT", "CidrList": ["10.2.0.0/16"]},
            ],
        )
        sent = routing_sets(ZONE, hc, cidr, zid)
        info = submit(client, zid, [change("CREATE", s) for s in sent])
        assert info["Status"] in ("PENDING", "INSYNC")
        yield World(server, backend, zid, hc, cidr, sent)
    finally:
        server.stop()
        backend.close()


def answer(world: World, label: str, subnet: str | None = None) -> list[str]:
    rcode, values = dig(world.server, fqdn(label), "A", subnet)
    assert rcode == "NOERROR", (label, subnet, rcode)
    return values


# -- the routing, read back and served --------------------------------------------------------


def test_every_routing_policy_answers_by_route53_rules(world: World) -> None:
    for label, per_subnet in EXPECTED.items():
        for subnet, expected in per_subnet.items():
            assert answer(world, label, subnet) == expected, (label, subnet)
    rcode, txt = dig(world.server, fqdn("www"), "TXT")
    assert (rcode, txt) == ("NOERROR", ['"hi there"'])


def test_get_change_reaches_insync(world: World) -> None:
    info = submit(
        world.client,
        world.zone,
        [
            change(
                "UPSERT", {"Name": fqdn("late"), "Type": "A", "TTL": 5, "ResourceRecords": addrs(7)}
            )
        ],
    )
    # "served at once": the answer is there within the 2 s of the reply
    wait_for(lambda: answer_or_rcode(world, "late"), lambda v: v == ips(7), "late served", 2.0)
    status = wait_for(
        lambda: world.client.get_change(Id=info["Id"])["ChangeInfo"]["Status"],
        lambda s: s == "INSYNC",
        "INSYNC",
        5.0,
    )
    assert status == "INSYNC"
    submit(
        world.client,
        world.zone,
        [
            change(
                "DELETE", {"Name": fqdn("late"), "Type": "A", "TTL": 5, "ResourceRecords": addrs(7)}
            )
        ],
    )
    wait_for(lambda: answer_or_rcode(world, "late"), lambda v: v == "NXDOMAIN", "late gone", 2.0)


def answer_or_rcode(world: World, label: str, subnet: str | None = None) -> Any:
    rcode, values = dig(world.server, fqdn(label), "A", subnet)
    return values if rcode == "NOERROR" else rcode


def test_list_resource_record_sets_equals_what_was_sent(world: World) -> None:
    whole = list_all(world.client, world.zone)
    keys = [order_key(s) for s in whole]
    assert keys == sorted(keys), "not in Route 53's order (reversed labels, then type)"
    listed = by_identity(without_apex_defaults(whole, ZONE))
    assert listed == by_identity(world.sent)
    apex = [s["Type"] for s in whole if s["Name"] == fqdn("@")]
    assert "SOA" in apex and "NS" in apex
    for max_items in (1, 2, 3, 7):
        assert list_all(world.client, world.zone, max_items) == whole, max_items


def test_listing_starts_where_asked(world: World) -> None:
    whole = list_all(world.client, world.zone)
    for at, s in enumerate(whole):
        params: dict[str, Any] = {
            "HostedZoneId": world.zone,
            "StartRecordName": s["Name"],
            "StartRecordType": s["Type"],
            "MaxItems": "2",
        }
        if "SetIdentifier" in s:
            params["StartRecordIdentifier"] = s["SetIdentifier"]
        page = world.client.list_resource_record_sets(**params)
        assert page["ResourceRecordSets"] == whole[at : at + 2], s
        assert page["IsTruncated"] == (at + 2 < len(whole))


def test_cidr_collection_reads_back(world: World) -> None:
    client = world.client
    collections = client.list_cidr_collections()["CidrCollections"]
    assert [(c["Id"], c["Name"]) for c in collections] == [(world.cidr, "offices")]
    locations = client.list_cidr_locations(CollectionId=world.cidr)["CidrLocations"]
    assert sorted(loc["LocationName"] for loc in locations) == ["branch", "hq"]
    blocks = client.list_cidr_blocks(CollectionId=world.cidr)["CidrBlocks"]
    assert sorted((b["LocationName"], b["CidrBlock"]) for b in blocks) == [
        ("branch", "10.2.0.0/16"),
        ("hq", "10.1.0.0/16"),
    ]


def test_test_dns_answer_agrees_with_dig(world: World) -> None:
    for label in EXPECTED:
        for subnet in (CA, DE, NY, JP, NOWHERE):
            address, mask = subnet.split("/")
            reply = world.client.test_dns_answer(
                HostedZoneId=world.zone,
                RecordName=fqdn(label),
                RecordType="A",
                EDNS0ClientSubnetIP=address[:-1] + "7",
                EDNS0ClientSubnetMask=mask,
            )
            rcode, values = dig(world.server, fqdn(label), "A", subnet)
            assert reply["ResponseCode"] == rcode, (label, subnet)
            if label != "mv":  # multivalue picks at random, but all three are healthy here
                assert sorted(reply["RecordData"]) == values, (label, subnet)
            else:
                assert sorted(reply["RecordData"]) == ips(51, 52, 53)
            assert reply["RecordName"].rstrip(".") == fqdn(label).rstrip(".")
            assert reply["RecordType"] == "A"


# -- health --------------------------------------------------------------------------------


def status_texts(world: World) -> list[str]:
    observations = world.client.get_health_check_status(HealthCheckId=world.hc)
    return [o["StatusReport"]["Status"] for o in observations["HealthCheckObservations"]]


def test_failing_endpoint_shows_in_status_and_answers(world: World) -> None:
    assert world.backend.hits > 0 or wait_for(
        lambda: world.backend.hits, bool, "a first probe", HEALTH_DEADLINE
    )
    wait_for(lambda: status_texts(world), lambda t: t and t[0].startswith("Success"), "Success", 30)
    world.backend.fail()
    try:
        texts = wait_for(
            lambda: status_texts(world),
            lambda t: t and t[0].startswith("Failure"),
            "GetHealthCheckStatus to report Failure",
            HEALTH_DEADLINE,
        )
        assert "500" in texts[0]
        for label, expected in FAILING.items():
            wait_for(
                lambda label=label: answer(world, label), lambda v, e=expected: v == e, label, 5
            )
        # names the check does not steer are unchanged
        assert answer(world, "geo", CA) == ips(21)
        reasons = world.client.get_health_check_last_failure_reason(HealthCheckId=world.hc)
        assert any("500" in o["StatusReport"]["Status"] for o in reasons["HealthCheckObservations"])
    finally:
        world.backend.recover()
    wait_for(
        lambda: status_texts(world),
        lambda t: t and t[0].startswith("Success"),
        "recovery",
        HEALTH_DEADLINE,
    )
    for label in FAILING:
        wait_for(
            lambda label=label: answer(world, label),
            lambda v, lb=label: v == EXPECTED[lb][None],
            label,
            5,
        )


# -- refusals -------------------------------------------------------------------------------


def error_text(exc: botocore.exceptions.ClientError) -> str:
    """Everything the error carries: the message and, if parsed apart, each Message."""
    error = exc.response.get("Error", {})
    parts = [str(error.get("Message", ""))]
    for key in ("Messages", "messages"):
        found = exc.response.get(key) or error.get(key)
        if found:
            parts.append(repr(found))
    return " ".join(parts)


def test_bad_batch_rejects_every_change_with_every_message(world: World) -> None:
    before = list_all(world.client, world.zone)
    bad = [
        change(
            "CREATE", {"Name": fqdn("good"), "Type": "A", "TTL": 5, "ResourceRecords": addrs(9)}
        ),
        # CREATE of a set that exists
        change("CREATE", {"Name": fqdn("www"), "Type": "A", "TTL": 5, "ResourceRecords": addrs(8)}),
        # DELETE of a set that does not exist
        change(
            "DELETE", {"Name": fqdn("nothere"), "Type": "A", "TTL": 5, "ResourceRecords": addrs(8)}
        ),
        # two routing policies for one name and type
        change(
            "CREATE",
            {
                "Name": fqdn("mixed"),
                "Type": "A",
                "TTL": 5,
                "SetIdentifier": "x",
                "Weight": 5,
                "ResourceRecords": addrs(8),
            },
        ),
        change(
            "CREATE",
            {
                "Name": fqdn("mixed"),
                "Type": "A",
                "TTL": 5,
                "SetIdentifier": "y",
                "Failover": "PRIMARY",
                "ResourceRecords": addrs(8),
            },
        ),
    ]
    client = world.client
    with pytest.raises(client.exceptions.InvalidChangeBatch) as caught:
        submit(client, world.zone, bad)
    text = error_text(caught.value)
    for name in ("www.r53.test", "nothere.r53.test", "mixed.r53.test"):
        assert name in text, f"{name} not in {text!r}"
    assert "good.r53.test" not in text
    assert list_all(client, world.zone) == before
    assert dig(world.server, fqdn("good"))[0] == "NXDOMAIN"


def test_wrong_secret_gets_403_and_changes_nothing(world: World) -> None:
    for key_id, secret in (("AKIDEXAMPLE", SECRET[:-1] + "X"), ("AKIDUNKNOWN", SECRET)):
        stranger = make_client(world.server.endpoint, key_id, secret)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            stranger.create_hosted_zone(Name="intruder.test", CallerReference=caller_reference())
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            stranger.list_hosted_zones()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    names = [z["Name"] for z in world.client.list_hosted_zones()["HostedZones"]]
    assert "intruder.test." not in names


def test_operator_zone_is_listed_and_read_only(world: World) -> None:
    client = world.client
    zones = {z["Name"]: z for z in client.list_hosted_zones()["HostedZones"]}
    assert set(zones) >= {f"{ZONE}.", f"{OPERATOR_ZONE}."}
    by_name = client.list_hosted_zones_by_name(DNSName=OPERATOR_ZONE)["HostedZones"]
    assert by_name[0]["Name"] == f"{OPERATOR_ZONE}."
    operator = zones[f"{OPERATOR_ZONE}."]["Id"].rsplit("/", 1)[-1]
    assert client.get_hosted_zone(Id=operator)["HostedZone"]["Name"] == f"{OPERATOR_ZONE}."
    sets = without_apex_defaults(list_all(client, operator), OPERATOR_ZONE)
    assert sets == [
        {
            "Name": f"www.{OPERATOR_ZONE}.",
            "Type": "A",
            "TTL": 60,
            "ResourceRecords": [{"Value": "192.0.2.200"}],
        }
    ]
    attempts = [
        lambda: submit(
            client,
            operator,
            [
                change(
                    "UPSERT",
                    {
                        "Name": f"x.{OPERATOR_ZONE}.",
                        "Type": "A",
                        "TTL": 5,
                        "ResourceRecords": addrs(5),
                    },
                )
            ],
        ),
        lambda: client.delete_hosted_zone(Id=operator),
    ]
    for attempt in attempts:
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            attempt()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403, 409)
        text = error_text(caught.value).lower()
        assert "read-only" in text or "zone file" in text, text
    assert dig(world.server, f"www.{OPERATOR_ZONE}.") == ("NOERROR", ["192.0.2.200"])
    assert dig(world.server, f"x.{OPERATOR_ZONE}.")[0] == "NXDOMAIN"


def test_delete_hosted_zone_refused_while_it_holds_records(world: World) -> None:
    client = world.client
    zid = zone_id(
        client.create_hosted_zone(Name="scratch.test", CallerReference=caller_reference())
    )
    record = {"Name": "a.scratch.test.", "Type": "A", "TTL": 5, "ResourceRecords": addrs(3)}
    submit(client, zid, [change("CREATE", record)])
    with pytest.raises(client.exceptions.HostedZoneNotEmpty):
        client.delete_hosted_zone(Id=zid)
    assert dig(world.server, "a.scratch.test.") == ("NOERROR", ips(3))
    submit(client, zid, [change("DELETE", record)])
    client.delete_hosted_zone(Id=zid)
    with pytest.raises(client.exceptions.NoSuchHostedZone):
        client.get_hosted_zone(Id=zid)
    wait_for(
        lambda: dig(world.server, "a.scratch.test.")[0], lambda r: r == "REFUSED", "zone gone", 2
    )


def test_health_check_in_use_and_versions(world: World) -> None:
    client = world.client
    config = {
        "IPAddress": "127.0.0.1",
        "Port": world.backend.port,
        "Type": "TCP",
        "RequestInterval": 30,
    }
    hc = client.create_health_check(CallerReference=caller_reference(), HealthCheckConfig=config)
    hid, version = hc["HealthCheck"]["Id"], hc["HealthCheck"]["HealthCheckVersion"]
    record = {
        "Name": fqdn("watched"),
        "Type": "A",
        "TTL": 5,
        "ResourceRecords": addrs(4),
        "HealthCheckId": hid,
    }
    submit(client, world.zone, [change("CREATE", record)])
    with pytest.raises(client.exceptions.HealthCheckInUse):
        client.delete_health_check(HealthCheckId=hid)
    updated = client.update_health_check(
        HealthCheckId=hid, HealthCheckVersion=version, FailureThreshold=2
    )
    assert updated["HealthCheck"]["HealthCheckVersion"] == version + 1
    with pytest.raises(client.exceptions.HealthCheckVersionMismatch):
        client.update_health_check(HealthCheckId=hid, HealthCheckVersion=version, Disabled=True)
    submit(client, world.zone, [change("DELETE", record)])
    client.delete_health_check(HealthCheckId=hid)
    with pytest.raises(client.exceptions.NoSuchHealthCheck):
        client.get_health_check(HealthCheckId=hid)
    assert hid not in [h["Id"] for h in client.list_health_checks()["HealthChecks"]]


# -- persistence ------------------------------------------------------------------------------


def snapshot(world: World) -> dict[str, Any]:
    client = world.client

    def plain(reply: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in reply.items() if k != "ResponseMetadata"}

    return {
        "zones": plain(client.list_hosted_zones()),
        "sets": list_all(client, world.zone),
        "checks": plain(client.list_health_checks()),
        "cidr": sorted(
            (b["LocationName"], b["CidrBlock"])
            for b in client.list_cidr_blocks(CollectionId=world.cidr)["CidrBlocks"]
        ),
        "answers": {
            (lb, s): dig(world.server, fqdn(lb), "A", s) for lb in EXPECTED for s in (CA, DE)
        },
    }


def test_sigkill_and_restart_keeps_everything(world: World) -> None:
    before = snapshot(world)
    world.server.kill()
    world.server.start()
    after = snapshot(world)
    assert after == before
    assert answer(world, "geo", CA) == ips(21)


# -- the apex and the forms of values -----------------------------------------------------------


def test_apex_upserts_and_value_forms_read_back_and_serve(world: World) -> None:
    """The apex NS and SOA are UPSERTed like any set; every change raises the serial; values
    of the other types read back as sent and serve as dig shows them."""
    client = world.client
    _, (soa_before,) = dig(world.server, f"{ZONE}.", "SOA")
    ns = {
        "Name": f"{ZONE}.",
        "Type": "NS",
        "TTL": 900,
        "ResourceRecords": [{"Value": f"ns1.{ZONE}."}, {"Value": f"ns2.{ZONE}."}],
    }
    long_txt = '"' + "a" * 255 + '" "' + "b" * 10 + '"'  # split at 255 bytes, as Route 53 does
    forms = [
        {
            "Name": fqdn("v6"),
            "Type": "AAAA",
            "TTL": 60,
            "ResourceRecords": [{"Value": "2001:db8::5"}],
        },
        {
            "Name": fqdn("mx"),
            "Type": "MX",
            "TTL": 60,
            "ResourceRecords": [{"Value": f"10 mail.{ZONE}."}],
        },
        {
            "Name": fqdn("caa"),
            "Type": "CAA",
            "TTL": 60,
            "ResourceRecords": [{"Value": '0 issue "letsencrypt.org"'}],
        },
        {"Name": fqdn("long"), "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": long_txt}]},
    ]
    submit(client, world.zone, [change("UPSERT", ns)] + [change("CREATE", s) for s in forms])
    listed = {(s["Name"], s["Type"]): s for s in r53.list_all(client, world.zone)}
    assert listed[(f"{ZONE}.", "NS")]["ResourceRecords"] == ns["ResourceRecords"]
    for sent in forms:
        assert listed[(sent["Name"], sent["Type"])] == sent
    assert dig(world.server, f"{ZONE}.", "NS")[1] == [f"ns1.{ZONE}.", f"ns2.{ZONE}."]
    assert dig(world.server, fqdn("v6"), "AAAA")[1] == ["2001:db8::5"]
    assert dig(world.server, fqdn("caa"), "CAA")[1] == ['0 issue "letsencrypt.org"']
    assert dig(world.server, fqdn("long"), "TXT")[1] == [long_txt]
    _, (soa_after,) = dig(world.server, f"{ZONE}.", "SOA")
    assert int(soa_after.split()[2]) > int(soa_before.split()[2])
    submit(client, world.zone, [change("DELETE", s) for s in forms])
    assert dig(world.server, fqdn("v6"), "AAAA") == ("NXDOMAIN", [])


def test_a_hand_edit_served_by_a_reload_is_kept_by_the_next_change(world: World) -> None:
    """The zone files are the state: an operator's edit, served after SIGHUP, is what the
    next API change starts from (it is not overwritten from a stale copy)."""
    client = world.client
    created = client.create_hosted_zone(Name="edit.test", CallerReference=caller_reference())
    zid = zone_id(created)
    first = {"Name": "one.edit.test.", "Type": "A", "TTL": 60, "ResourceRecords": addrs(1)}
    submit(client, zid, [change("CREATE", first)])
    path = world.server.state_dir / "zones" / "edit.test.yaml"
    text = path.read_text()
    write_settled(
        path, text + '  "byhand":\n    - {"type": "A", "ttl": 60, "values": ["192.0.2.2"]}\n'
    )
    world.server.proc.signal(signal.SIGHUP)
    wait_for(
        lambda: dig(world.server, "byhand.edit.test.", "A"),
        lambda got: got == ("NOERROR", ["192.0.2.2"]),
        "the hand edit served after the reload",
    )
    third = {"Name": "three.edit.test.", "Type": "A", "TTL": 60, "ResourceRecords": addrs(3)}
    submit(client, zid, [change("CREATE", third)])
    names = {s["Name"] for s in r53.list_all(client, zid) if s["Type"] == "A"}
    assert names == {"one.edit.test.", "byhand.edit.test.", "three.edit.test."}
    assert dig(world.server, "byhand.edit.test.", "A") == ("NOERROR", ["192.0.2.2"])
    assert '"byhand"' in path.read_text()
    submit(client, zid, [change("DELETE", s) for s in (first, third)])
    byhand = {"Name": "byhand.edit.test.", "Type": "A", "TTL": 60, "ResourceRecords": addrs(2)}
    submit(client, zid, [change("DELETE", byhand)])
    client.delete_hosted_zone(Id=zid)
