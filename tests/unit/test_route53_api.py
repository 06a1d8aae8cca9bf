"""The Route 53 API's routes, driven by a real boto3 client over loopback.

An aiohttp server on 127.0.0.1:0 runs `add_routes` with a recording `Operations`; boto3
serializes and signs every request, and parses every response, so botocore is the oracle
for paths, query parameters, bodies, status codes, headers and error shapes.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore
import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.handlers import fix_route53_ids
from botocore.parsers import create_parser

from resolver.route53 import shapes, xmlcodec
from resolver.route53.api import add_routes
from resolver.route53.errors import Route53Error
from tests.unit.test_route53_xml import MODEL, example

KEY, SECRET = "AKIDTEST", "test/secret+key"


class Recorder:
    """An Operations that records each call and answers a full example of the output."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.error: Exception | None = None
        self.reply: Callable[[str], dict[str, Any]] | None = None

    async def invoke(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((operation, params))
        if self.error is not None:
            raise self.error
        if self.reply is not None:
            return self.reply(operation)
        result: dict[str, Any] = example(MODEL.operation_model(operation).output_shape)
        return result


class Server:
    def __init__(self) -> None:
        self.operations = Recorder()
        self.secrets = {KEY: SECRET}
        self.skew = 0.0
        self.url = ""

    def reset(self) -> None:
        self.operations.__init__()  # type: ignore[misc]
        self.secrets = {KEY: SECRET}
        self.skew = 0.0


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    state = Server()
    loop = asyncio.new_event_loop()
    app = web.Application()
    add_routes(
        app, state.operations, lambda: dict(state.secrets), clock=lambda: time.time() + state.skew
    )
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    host, port = runner.addresses[0][:2]
    state.url = f"http://{host}:{port}"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield state
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture
def srv(server: Server) -> Server:
    server.reset()
    return server


def client(server: Server, key: str = KEY, secret: str = SECRET, **config: Any) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1"
    )
    return session.client(
        "route53",
        endpoint_url=server.url,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )


def snake(name: str) -> str:
    return botocore.xform_name(name)


OPERATIONS = list(shapes.OPERATIONS)


class TestEveryOperation:
    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_request_parses_and_output_reads_back(self, srv: Server, operation: str) -> None:
        """boto3's request reaches invoke as the params it was given (URI, query, body),
        and the full output comes back through boto3 unchanged, status included."""
        model = MODEL.operation_model(operation)
        params = example(model.input_shape) if model.input_shape is not None else {}
        response = getattr(client(srv), snake(operation))(**copy.deepcopy(params))
        fix_route53_ids(params, model)  # boto3's own: "/hostedzone/Z1" -> "Z1"
        assert srv.operations.calls == [(operation, params)]
        metadata = response.pop("ResponseMetadata")
        assert metadata["HTTPStatusCode"] == model.http.get("responseCode", 200)
        assert response == example(model.output_shape)

    def test_create_answers_201_with_location(self, srv: Server) -> None:
        srv.operations.reply = lambda op: {
            "HostedZone": {"Id": "/hostedzone/Z1", "Name": "example.com.", "CallerReference": "r"},
            "ChangeInfo": {"Id": "/change/C1", "Status": "PENDING", "SubmittedAt": "2024-01-01"},
            "DelegationSet": {"NameServers": ["ns1.example.com."]},
            "Location": "https://route53.amazonaws.com/2013-04-01/hostedzone/Z1",
        }
        response = client(srv).create_hosted_zone(Name="example.com", CallerReference="r")
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert response["ResponseMetadata"]["HTTPHeaders"]["location"].endswith("/Z1")
        assert response["Location"].endswith("/hostedzone/Z1")
        assert response["DelegationSet"]["NameServers"] == ["ns1.example.com."]

    def test_prefixed_ids_reach_invoke_bare(self, srv: Server) -> None:
        """boto3 strips `/hostedzone/`; the bare id is what the service sees."""
        client(srv).get_hosted_zone(Id="/hostedzone/Z123")
        assert srv.operations.calls == [("GetHostedZone", {"Id": "Z123"})]

    def test_paginator_passes_the_markers(self, srv: Server) -> None:
        pages = [
            {
                "ResourceRecordSets": [{"Name": "a.example.com.", "Type": "A"}],
                "IsTruncated": True,
                "NextRecordName": "b.example.com.",
                "NextRecordType": "A",
                "NextRecordIdentifier": "w 2",
                "MaxItems": "1",
            },
            {
                "ResourceRecordSets": [{"Name": "b.example.com.", "Type": "A"}],
                "IsTruncated": False,
                "MaxItems": "1",
            },
        ]
        srv.operations.reply = lambda op: pages[len(srv.operations.calls) - 1]
        paginator = client(srv).get_paginator("list_resource_record_sets")
        names = [
            rr["Name"]
            for page in paginator.paginate(HostedZoneId="Z1", PaginationConfig={"PageSize": 1})
            for rr in page["ResourceRecordSets"]
        ]
        assert names == ["a.example.com.", "b.example.com."]
        assert srv.operations.calls[1][1] == {
            "HostedZoneId": "Z1",
            "MaxItems": "1",
            "StartRecordName": "b.example.com.",
            "StartRecordType": "A",
            "StartRecordIdentifier": "w 2",
        }


class TestErrors:
    def test_invalid_change_batch_shows_every_message(self, srv: Server) -> None:
        messages = [
            "Tried to create resource record set [name='a.example.com.', type='A'] but it "
            "already exists",
            "RRSet of type CNAME with DNS name b.example.com. is not permitted at apex",
            "third <one> & more",
        ]
        srv.operations.error = Route53Error.invalid_batch(messages)
        r53 = client(srv)
        with pytest.raises(r53.exceptions.InvalidChangeBatch) as caught:
            r53.change_resource_record_sets(
                HostedZoneId="Z1",
                ChangeBatch={
                    "Changes": [
                        {"Action": "DELETE", "ResourceRecordSet": {"Name": "a", "Type": "A"}}
                    ]
                },
            )
        error = caught.value.response["Error"]
        assert error["Code"] == "InvalidChangeBatch"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        for message in messages:
            assert message in error["Message"]
            assert message in str(caught.value)

    @pytest.mark.parametrize(
        ("code", "status"),
        [("NoSuchHostedZone", 404), ("HealthCheckInUse", 400), ("NoSuchHealthCheck", 404)],
    )
    def test_modeled_errors_raise_their_exception(
        self, srv: Server, code: str, status: int
    ) -> None:
        srv.operations.error = Route53Error(code, f"{code} happened", status)
        r53 = client(srv)
        with pytest.raises(getattr(r53.exceptions, code)) as caught:
            r53.get_hosted_zone(Id="Z1")
        assert caught.value.response["Error"]["Message"] == f"{code} happened"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status

    def test_a_bug_is_a_500_error_xml_without_traceback(self, srv: Server) -> None:
        srv.operations.reply = lambda op: {"NotAMember": 1}
        with pytest.raises(ClientError) as caught:
            client(srv).get_hosted_zone_count()
        assert caught.value.response["Error"]["Code"] == "InternalFailure"
        assert "Traceback" not in caught.value.response["Error"]["Message"]

    def test_bad_body_integer_is_invalid_input(self, srv: Server) -> None:
        body = (
            b"<ChangeCidrCollectionRequest><CollectionVersion>ten</CollectionVersion>"
            b"<Changes/></ChangeCidrCollectionRequest>"
        )
        status, code = raw(srv, "POST", "/2013-04-01/cidrcollection/c1", body)
        assert (status, code) == (400, "InvalidInput")
        assert srv.operations.calls == []


def expect_auth_error(r53: Any, server: Server, code: str) -> None:
    with pytest.raises(ClientError) as caught:
        r53.list_hosted_zones()
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert server.operations.calls == []


class TestAuthentication:
    def test_wrong_secret(self, srv: Server) -> None:
        expect_auth_error(client(srv, secret="wrong"), srv, "SignatureDoesNotMatch")

    def test_unknown_key(self, srv: Server) -> None:
        expect_auth_error(client(srv, key="AKIDNOBODY"), srv, "InvalidClientTokenId")

    def test_no_auth(self, srv: Server) -> None:
        unsigned = client(srv, signature_version=botocore.UNSIGNED)
        expect_auth_error(unsigned, srv, "MissingAuthenticationToken")

    @pytest.mark.parametrize("skew", [-20 * 60, 20 * 60])
    def test_skewed_date(self, srv: Server, skew: float) -> None:
        srv.skew = skew
        expect_auth_error(client(srv), srv, "RequestExpired")

    def test_secrets_are_read_per_request(self, srv: Server) -> None:
        """A reload that changes the credentials applies to the next request."""
        r53 = client(srv)
        r53.get_hosted_zone_count()
        srv.secrets = {"AKIDNEW": "new"}
        srv.operations.calls.clear()
        expect_auth_error(r53, srv, "InvalidClientTokenId")
        client(srv, key="AKIDNEW", secret="new").get_hosted_zone_count()

    def test_auth_comes_before_routing(self, srv: Server) -> None:
        status, code = raw(srv, "GET", "/2013-04-01/nosuchthing", sign=False)
        assert (status, code) == (403, "MissingAuthenticationToken")


def raw(
    server: Server,
    method: str,
    path: str,
    body: bytes = b"",
    query: str = "",
    sign: bool = True,
) -> tuple[int, str]:
    """Send a request boto3 would never send (signed as botocore signs); (status, code)."""
    url = server.url + path + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body)
    if sign:
        SigV4Auth(Credentials(KEY, SECRET), "route53", "us-east-1").add_auth(request)
    prepared = request.prepare()
    sent = urllib.request.Request(
        prepared.url, data=body or None, headers=dict(prepared.headers), method=method
    )
    try:
        with urllib.request.urlopen(sent, timeout=30) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        status, payload, headers = error.code, error.read(), dict(error.headers)
    assert headers["Content-Type"].startswith("text/xml")
    parsed = create_parser("rest-xml").parse(
        {"status_code": status, "headers": headers, "body": payload},
        MODEL.operation_model("GetHostedZone").output_shape,
    )
    return status, str(parsed["Error"]["Code"])


ZONE = "/2013-04-01/hostedzone"


class TestBadRequests:
    @pytest.mark.parametrize(
        ("method", "path", "status"),
        [
            ("GET", "/2013-04-01/nosuchthing", 404),
            ("GET", "/2013-04-01/hostedzone/Z1/rrset/extra", 404),
            ("PUT", "/2013-04-01/hostedzone", 405),
            ("PATCH", "/2013-04-01/hostedzone/Z1", 405),
        ],
    )
    def test_unknown_operation_is_error_xml(
        self, srv: Server, method: str, path: str, status: int
    ) -> None:
        assert raw(srv, method, path) == (status, "InvalidInput")
        assert srv.operations.calls == []

    @pytest.mark.parametrize(
        "body",
        [
            b"<CreateHostedZoneRequest><Name>a</Name>",
            b"\xff\xfe garbage",
            b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><r>&b;</r>',
            b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>',
            b"",
        ],
    )
    def test_malformed_bodies_are_400(self, srv: Server, body: bytes) -> None:
        assert raw(srv, "POST", ZONE, body) == (400, "InvalidInput")
        assert srv.operations.calls == []

    def test_oversized_body_is_400(self, srv: Server) -> None:
        body = b"<CreateHostedZoneRequest><Name>" + b"a" * (2 * xmlcodec.MAX_BODY_BYTES)
        assert raw(srv, "POST", ZONE, body) == (400, "InvalidInput")
        assert srv.operations.calls == []

    def test_body_at_the_bound_is_parsed(self, srv: Server) -> None:
        head, tail = b"<CreateHostedZoneRequest><Name>", b"</Name></CreateHostedZoneRequest>"
        body = head + b"a" * (xmlcodec.MAX_BODY_BYTES - len(head) - len(tail)) + tail
        assert raw(srv, "POST", ZONE, body) == (201, "")
        assert srv.operations.calls[0][0] == "CreateHostedZone"
