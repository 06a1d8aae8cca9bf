"""The AWS CLI (v1, from PyPI) drives policydns's Route 53 API, as an operator would.

Every call is a real `aws route53 ... --endpoint-url` subprocess with credentials in the
environment and empty AWS config files. The scenario is the one the boto3 test submits
(tests/r53help.py routing_sets), so the CLI's own serializer and its auto-pagination are
checked against the same expected answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.r53help import (
    CA,
    DE,
    EXPECTED,
    FAILING,
    NY,
    SECRET,
    Backend,
    Route53Server,
    by_identity,
    caller_reference,
    change,
    dig,
    fqdn,
    order_key,
    routing_sets,
    wait_for,
    without_apex_defaults,
)

pytestmark = pytest.mark.timeout(400)

ZONE = "cli.test"
HEALTH_DEADLINE = 40.0


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    made = Backend().start()
    yield made
    made.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Route53Server]:
    made = Route53Server(Path(tmp_path_factory.mktemp("route53-cli"))).start()
    yield made
    made.stop()


def write_json(server: Route53Server, name: str, doc: Any) -> str:
    path = server.root / name
    path.write_text(json.dumps(doc))
    return f"file://{path}"


def values(server: Route53Server, label: str, subnet: str | None = None) -> list[str]:
    rcode, found = dig(server, fqdn(label, ZONE), "A", subnet)
    assert rcode == "NOERROR", (label, subnet, rcode)
    return found


def test_the_cli_drives_zones_records_and_health(server: Route53Server, backend: Backend) -> None:
    zone = server.aws(
        "create-hosted-zone", "--name", ZONE, "--caller-reference", caller_reference()
    )
    zid = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    assert zone["HostedZone"]["Name"] == f"{ZONE}."
    config = {
        "IPAddress": "127.0.0.1",
        "Port": backend.port,
        "Type": "HTTP",
        "ResourcePath": "/health",
        "RequestInterval": 10,
        "FailureThreshold": 1,
    }
    hc = server.aws(
        "create-health-check",
        "--caller-reference",
        caller_reference(),
        "--health-check-config",
        write_json(server, "hc.json", config),
    )["HealthCheck"]
    assert hc["HealthCheckConfig"]["Port"] == backend.port
    cidr = server.aws(
        "create-cidr-collection", "--name", "offices", "--caller-reference", caller_reference()
    )["Collection"]["Id"]
    server.aws(
        "change-cidr-collection",
        "--id",
        cidr,
        "--changes",
        write_json(
            server,
            "cidr.json",
            [
                {"LocationName": "hq", "Action": "PUT", "CidrList": ["10.1.0.0/16"]},
                {"LocationName": "branch", "Action": "PUT", "CidrList": ["10.2.0.0/16"]},
            ],
        ),
    )
    sent = routing_sets(ZONE, hc["Id"], cidr, zid)
    batch = {"Comment": "every policy", "Changes": [change("CREATE", s) for s in sent]}
    info = server.aws(
        "change-resource-record-sets",
        "--hosted-zone-id",
        zid,
        "--change-batch",
        write_json(server, "batch.json", batch),
    )["ChangeInfo"]
    for label, per_subnet in EXPECTED.items():
        for subnet, expected in per_subnet.items():
            assert values(server, label, subnet) == expected, (label, subnet)
    assert server.aws("get-change", "--id", info["Id"])["ChangeInfo"]["Status"] in (
        "PENDING",
        "INSYNC",
    )

    # read back: the CLI's auto-pagination with 2 per page, and one page of everything
    paged = server.aws("list-resource-record-sets", "--hosted-zone-id", zid, "--page-size", "2")
    whole = server.aws("list-resource-record-sets", "--hosted-zone-id", zid, "--max-items", "300")
    assert paged["ResourceRecordSets"] == whole["ResourceRecordSets"]
    listed = paged["ResourceRecordSets"]
    assert [order_key(s) for s in listed] == sorted(order_key(s) for s in listed)
    assert by_identity(without_apex_defaults(listed, ZONE)) == by_identity(sent)

    # TestDNSAnswer agrees with dig for several ECS subnets
    for label in ("geo", "near", "fast", "office"):
        for subnet in (CA, DE, NY):
            address, mask = subnet.split("/")
            reply = server.aws(
                "test-dns-answer",
                "--hosted-zone-id",
                zid,
                "--record-name",
                fqdn(label, ZONE),
                "--record-type",
                "A",
                "--edns0-client-subnet-ip",
                address,
                "--edns0-client-subnet-mask",
                mask,
            )
            assert sorted(reply["RecordData"]) == values(server, label, subnet), (label, subnet)

    # the endpoint fails: GetHealthCheckStatus and the answers show it
    def status() -> str:
        found = server.aws("get-health-check-status", "--health-check-id", hc["Id"])
        observations = found["HealthCheckObservations"]
        return observations[0]["StatusReport"]["Status"] if observations else ""

    wait_for(status, lambda s: s.startswith("Success"), "Success", HEALTH_DEADLINE)
    backend.fail()
    try:
        wait_for(status, lambda s: s.startswith("Failure"), "Failure", HEALTH_DEADLINE)
        for label, expected in FAILING.items():
            wait_for(
                lambda label=label: values(server, label), lambda v, e=expected: v == e, label, 5
            )
    finally:
        backend.recover()

    # refusals, as the CLI shows them: the error code on stderr, a non-zero exit
    refused = server.aws("delete-health-check", "--health-check-id", hc["Id"], check=False)
    assert refused.returncode != 0 and "HealthCheckInUse" in refused.stderr
    refused = server.aws("delete-hosted-zone", "--id", zid, check=False)
    assert refused.returncode != 0 and "HostedZoneNotEmpty" in refused.stderr
    bad = {
        "Changes": [
            change("CREATE", sent[0]),
            change("DELETE", {**sent[0], "Name": fqdn("x", ZONE)}),
        ]
    }
    refused = server.aws(
        "change-resource-record-sets",
        "--hosted-zone-id",
        zid,
        "--change-batch",
        write_json(server, "bad.json", bad),
        check=False,
    )
    assert refused.returncode != 0 and "InvalidChangeBatch" in refused.stderr, refused.stderr
    assert f"www.{ZONE}" in refused.stderr and f"x.{ZONE}" in refused.stderr, refused.stderr
    wrong = server.aws("list-hosted-zones", check=False, secret=SECRET[::-1])
    assert wrong.returncode != 0 and wrong.stdout == "", wrong.stderr
    after = server.aws("list-resource-record-sets", "--hosted-zone-id", zid)
    assert after["ResourceRecordSets"] == listed

    # take it all down again, as the CLI would
    deletes = [change("DELETE", s) for s in sent]
    server.aws(
        "change-resource-record-sets",
        "--hosted-zone-id",
        zid,
        "--change-batch",
        write_json(server, "delete.json", {"Changes": deletes}),
    )
    server.aws("delete-hosted-zone", "--id", zid)
    server.aws("delete-health-check", "--health-check-id", hc["Id"])
    zones = server.aws("list-hosted-zones")["HostedZones"]
    assert f"{ZONE}." not in [z["Name"] for z in zones]
    assert dig(server, fqdn("www", ZONE))[0] == "REFUSED"
