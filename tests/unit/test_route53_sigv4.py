"""SigV4 verification against botocore's own signer.

The oracle is botocore: whatever it signs must verify, and any single changed byte of the
method, path, query, a signed header or the body must not (a change that leaves the
query's meaning the same, such as `%2f` for `%2F`, is not a change).
"""

from __future__ import annotations

import time
from urllib.parse import unquote_to_bytes

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from resolver.route53 import sigv4
from resolver.route53.errors import Route53Error

HOST = "127.0.0.1:8053"
SECRETS = {"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "AKIDOTHER": "other"}


def signed(
    method: str = "GET",
    path: str = "/2013-04-01/hostedzone",
    query: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    key: str = "AKIDEXAMPLE",
    secret: str | None = None,
    region: str = "us-east-1",
    service: str = "route53",
) -> tuple[str, str, str, list[tuple[str, str]], bytes]:
    """(method, raw path, raw query, headers as sent, body) of a botocore-signed request."""
    raw_query = percent_encode_sequence(query or [])
    url = f"http://{HOST}{path}" + (f"?{raw_query}" if raw_query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    credentials = Credentials(key, SECRETS.get(key, "x") if secret is None else secret)
    SigV4Auth(credentials, service, region).add_auth(request)
    prepared = request.prepare()
    sent = [("Host", HOST), *prepared.headers.items()]
    return method, path, raw_query, sent, body


def verify(request: tuple[str, str, str, list[tuple[str, str]], bytes], now: float = 0) -> str:
    method, path, query, headers, body = request
    return sigv4.verify(method, path, query, headers, body, SECRETS, now or time.time())


def code_of(request: tuple[str, str, str, list[tuple[str, str]], bytes], now: float = 0) -> str:
    with pytest.raises(Route53Error) as caught:
        verify(request, now)
    assert caught.value.status == 403
    return caught.value.code


class TestVerify:
    def test_botocore_signature_verifies(self) -> None:
        assert verify(signed(query=[("maxitems", "10"), ("marker", "a b/ü~")])) == "AKIDEXAMPLE"

    def test_any_region_in_the_scope_verifies(self) -> None:
        assert verify(signed(region="eu-west-1")) == "AKIDEXAMPLE"

    def test_body_and_post_verify(self) -> None:
        request = signed("POST", "/2013-04-01/hostedzone/Z1/rrset/", body=b"<x>\xc3\xa9</x>")
        assert verify(request) == "AKIDEXAMPLE"

    def test_missing_authorization(self) -> None:
        request = ("GET", "/2013-04-01/hostedzone", "", [("Host", HOST)], b"")
        assert code_of(request) == "MissingAuthenticationToken"

    def test_unknown_access_key(self) -> None:
        assert code_of(signed(key="AKIDNOBODY")) == "InvalidClientTokenId"

    def test_wrong_secret(self) -> None:
        assert code_of(signed(secret="not the secret")) == "SignatureDoesNotMatch"

    def test_other_keys_secret_does_not_sign_for_this_key(self) -> None:
        assert code_of(signed(secret=SECRETS["AKIDOTHER"])) == "SignatureDoesNotMatch"

    @pytest.mark.parametrize("skew", [-16 * 60, 16 * 60, -86400 * 3])
    def test_skewed_clock_is_request_expired(self, skew: float) -> None:
        assert code_of(signed(), now=time.time() + skew) == "RequestExpired"

    def test_fourteen_minutes_skew_is_accepted(self) -> None:
        assert verify(signed(), now=time.time() + 14 * 60) == "AKIDEXAMPLE"

    def test_other_service_in_scope(self) -> None:
        assert code_of(signed(service="s3")) == "SignatureDoesNotMatch"

    def test_scope_date_must_match_x_amz_date(self) -> None:
        method, path, query, headers, body = signed()
        fixed = [(k, v.replace("/20", "/19", 1) if k == "Authorization" else v) for k, v in headers]
        assert code_of((method, path, query, fixed, body)) == "SignatureDoesNotMatch"

    @pytest.mark.parametrize(
        "authorization",
        [
            "AWS AKIDEXAMPLE:sig",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/route53/aws4_request",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/route53/aws4_request, "
            "SignedHeaders=x-amz-date;host, Signature=00",
            "AWS4-HMAC-SHA256 garbage",
        ],
    )
    def test_incomplete_signature(self, authorization: str) -> None:
        method, path, query, headers, body = signed()
        fixed = [(k, authorization if k == "Authorization" else v) for k, v in headers]
        assert code_of((method, path, query, fixed, body)) == "IncompleteSignature"

    def test_host_must_be_signed(self) -> None:
        method, path, query, headers, body = signed()
        fixed = [
            (k, v.replace("SignedHeaders=host;", "SignedHeaders=") if k == "Authorization" else v)
            for k, v in headers
        ]
        assert code_of((method, path, query, fixed, body)) == "IncompleteSignature"

    def test_missing_x_amz_date(self) -> None:
        method, path, query, headers, body = signed()
        fixed = [(k, v) for k, v in headers if k.lower() != "x-amz-date"]
        assert code_of((method, path, query, fixed, body)) == "IncompleteSignature"


# Path segments without dots or empty segments: AWS's normal form would make `/a/./b` and
# `/a/b` one path, which is not a changed byte in any sense that matters.
SEGMENT = st.lists(
    st.sampled_from(["a", "Z", "0", "-", "_", "~", "%20", "%2F", "%C3%A9"]), min_size=1, max_size=6
).map("".join)
PATHS = st.lists(SEGMENT, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts))
PAIRS = st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=10)), max_size=4).map(
    lambda pairs: [(k.replace("\x00", ""), v) for k, v in pairs if k.replace("\x00", "")]
)
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20
)
HEADERS = st.dictionaries(
    st.sampled_from(["X-Custom-One", "X-Custom-Two", "Content-Type"]), HEADER_TEXT, max_size=3
)
PRINTABLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


def _meaning(raw_query: str) -> list[tuple[bytes, bytes]]:
    pairs = []
    for item in raw_query.split("&") if raw_query else ():
        key, _, value = item.partition("=")
        pairs.append((unquote_to_bytes(key), unquote_to_bytes(value)))
    return sorted(pairs)


def _replace(text: str, index: int, char: str) -> str:
    return text[:index] + char + text[index + 1 :]


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    path=PATHS,
    query=PAIRS,
    headers=HEADERS,
    body=st.binary(max_size=64),
    data=st.data(),
)
def test_signature_verifies_and_any_changed_byte_fails(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    data: st.DataObject,
) -> None:
    """Property: botocore's signature verifies; changing one byte of a signed part fails."""
    request = signed(method, path, query, headers, body)
    assert verify(request) == "AKIDEXAMPLE"
    method, path, raw_query, sent, body = request
    part = data.draw(st.sampled_from(["method", "path", "query", "header", "body"]))
    if part == "method":
        i = data.draw(st.integers(0, len(method) - 1))
        char = data.draw(PRINTABLE.filter(lambda c: c != method[i]))
        method = _replace(method, i, char)
    elif part == "path":
        i = data.draw(st.integers(1, len(path) - 1)) if len(path) > 1 else 0
        char = data.draw(PRINTABLE.filter(lambda c: c != path[i]))
        path = _replace(path, i, char)
    elif part == "query":
        assume(raw_query)
        i = data.draw(st.integers(0, len(raw_query) - 1))
        char = data.draw(PRINTABLE.filter(lambda c: c != raw_query[i]))
        changed = _replace(raw_query, i, char)
        assume(_meaning(changed) != _meaning(raw_query))
        raw_query = changed
    elif part == "header":
        authorization = next(v for k, v in sent if k == "Authorization")
        signed_names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
        name = data.draw(st.sampled_from(signed_names))
        j = next(n for n, (k, _) in enumerate(sent) if k.lower() == name)
        value = sent[j][1]
        i = data.draw(st.integers(0, len(value) - 1))
        char = data.draw(PRINTABLE.filter(lambda c: c != value[i]))
        sent = [*sent[:j], (sent[j][0], _replace(value, i, char)), *sent[j + 1 :]]
    else:
        assume(body)
        i = data.draw(st.integers(0, len(body) - 1))
        byte = data.draw(st.integers(0, 255).filter(lambda b: b != body[i]))
        body = body[:i] + bytes([byte]) + body[i + 1 :]
    with pytest.raises(Route53Error) as caught:
        verify((method, path, raw_query, sent, body))
    assert caught.value.status == 403
