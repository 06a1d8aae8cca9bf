"""AWS Signature Version 4, checked the way AWS checks it, for the Route 53 API.

Pure: the caller hands over the request as received (the raw, still percent-encoded path
and query) and the secrets; nothing here reads files or clocks. The canonical request is
built as botocore builds it when signing (path normalised and encoded once more, query
pairs decoded, re-encoded and sorted, header values trimmed), so whatever boto3 or the
AWS CLI sign verifies, and any change to a signed part does not.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote_to_bytes

from resolver.route53.errors import Route53Error

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "route53"
# How far X-Amz-Date may be from our clock, as AWS allows.
MAX_SKEW_SECONDS = 15 * 60
_AMZ_DATE = re.compile(r"^(\d{8})T(\d{6})Z$")
_FIELD = re.compile(r"\s*(Credential|SignedHeaders|Signature)=([^,\s]*)\s*")


def _error(code: str, message: str) -> Route53Error:
    return Route53Error(code, message, 403)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, and empty segments dropped: AWS's (and botocore's) path normal form."""
    if not path:
        return "/"
    out: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if out:
                out.pop()
        else:
            out.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and out else ""
    return first + "/".join(out) + last


def canonical_path(raw_path: str) -> str:
    """The raw path normalised, then URI-encoded again (non-S3 services encode twice)."""
    return quote(remove_dot_segments(raw_path), safe="/~")


def canonical_query(raw_query: str) -> str:
    """Each pair decoded to bytes and re-encoded with AWS's unreserved set, then sorted."""
    if not raw_query:
        return ""
    pairs = []
    for item in raw_query.split("&"):
        key, _, value = item.partition("=")
        pairs.append(
            (
                quote(unquote_to_bytes(key), safe="-_.~"),
                quote(unquote_to_bytes(value), safe="-_.~"),
            )
        )
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def _parse_authorization(value: str) -> tuple[str, list[str], list[str], str]:
    """(access key id, credential scope parts, signed header names, signature)."""
    if not value.startswith(ALGORITHM + " "):
        raise _error("IncompleteSignature", f"Authorization header must use {ALGORITHM}.")
    fields: dict[str, str] = {}
    for part in value[len(ALGORITHM) + 1 :].split(","):
        match = _FIELD.fullmatch(part)
        if match is None:
            raise _error("IncompleteSignature", "Authorization header is malformed.")
        fields[match.group(1)] = match.group(2)
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in fields]
    if missing:
        raise _error("IncompleteSignature", f"Authorization header requires {', '.join(missing)}.")
    credential = fields["Credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request" or not all(credential):
        raise _error(
            "IncompleteSignature",
            "Credential must be ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request.",
        )
    signed = fields["SignedHeaders"].split(";")
    if not all(signed) or signed != sorted(signed) or any(h != h.lower() for h in signed):
        raise _error("IncompleteSignature", "SignedHeaders must be sorted lowercase names.")
    return credential[0], credential[1:4], signed, fields["Signature"]


def _request_time(amz_date: str) -> float:
    match = _AMZ_DATE.fullmatch(amz_date)
    if match is None:
        raise _error("IncompleteSignature", "X-Amz-Date must be in the form YYYYMMDDTHHMMSSZ.")
    try:
        parsed = time.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        raise _error("IncompleteSignature", "X-Amz-Date is not a valid date.") from None
    return float(calendar.timegm(parsed))


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def verify(
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    secrets: Mapping[str, str],
    now: float,
) -> str:
    """The access key id that signed this request, or Route53Error (403) saying why not.

    `path` and `query` are as on the wire (percent-encoded, query without `?`); `headers`
    are every (name, value) pair received; `now` is seconds since the epoch.
    """
    received: dict[str, list[str]] = {}
    for name, value in headers:
        received.setdefault(name.lower(), []).append(value)
    authorization = received.get("authorization")
    if not authorization:
        raise _error("MissingAuthenticationToken", "Missing Authentication Token")
    if len(authorization) > 1:
        raise _error("IncompleteSignature", "More than one Authorization header.")
    access_key, (scope_date, region, service), signed, signature = _parse_authorization(
        authorization[0]
    )
    amz_date = received.get("x-amz-date")
    if not amz_date:
        raise _error("IncompleteSignature", "Authorization requires an X-Amz-Date header.")
    if "host" not in signed or "x-amz-date" not in signed:
        raise _error("IncompleteSignature", "SignedHeaders must include host and x-amz-date.")
    absent = [name for name in signed if name not in received]
    if absent:
        raise _error("IncompleteSignature", f"Signed header(s) not in the request: {absent}.")
    when = _request_time(amz_date[0])
    if abs(now - when) > MAX_SKEW_SECONDS:
        raise _error(
            "RequestExpired",
            f"Request timestamp {amz_date[0]} is more than {MAX_SKEW_SECONDS // 60} minutes"
            " from the server's time.",
        )
    if scope_date != amz_date[0][:8]:
        raise _error(
            "SignatureDoesNotMatch",
            f"Date in Credential scope does not match {amz_date[0][:8]} from X-Amz-Date.",
        )
    if service != SERVICE:
        raise _error(
            "SignatureDoesNotMatch", f"Credential should be scoped to correct service: {SERVICE!r}."
        )
    secret = secrets.get(access_key)
    if secret is None:
        raise _error(
            "InvalidClientTokenId", "The security token included in the request is invalid."
        )
    canonical_headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in received[name])}\n" for name in signed
    )
    canonical_request = "\n".join(
        (
            method,
            canonical_path(path),
            canonical_query(query),
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        )
    )
    scope = f"{scope_date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        (
            ALGORITHM,
            amz_date[0],
            scope,
            hashlib.sha256(canonical_request.encode("utf-8", "surrogateescape")).hexdigest(),
        )
    )
    key = signing_key(secret, scope_date, region, service)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogateescape")):
        raise _error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    return access_key
