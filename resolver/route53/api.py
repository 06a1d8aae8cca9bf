"""The Route 53 API's HTTP side: aiohttp routes that verify, parse, invoke and render.

One catch-all route under `/2013-04-01/` matches the method and path against the model's
request URIs itself, so an unknown operation gets Route 53's error XML rather than
aiohttp's plain-text 404/405. Every request is checked for a SigV4 signature first (the
body is read, bounded, because the signature covers it); what the operation does is the
service's business (`Operations`), reached by botocore's operation name and input shape.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import unquote, unquote_to_bytes

from aiohttp import web

from resolver.route53 import shapes, sigv4, xmlcodec
from resolver.route53.errors import Route53Error

log = logging.getLogger("policydns.route53")
PREFIX = f"/{shapes.API_VERSION}/"
# A body beyond the bound is read and dropped up to this much, so that a client still
# sending gets the error response rather than a reset connection; past it we stop reading.
DRAIN_BYTES = 16 * xmlcodec.MAX_BODY_BYTES
_CHUNK = 64 * 1024


class Operations(Protocol):
    """The service behind the API: botocore's operation name and input shape in, the
    output shape out; a Route53Error for anything a client should see."""

    async def invoke(self, operation: str, params: dict[str, Any]) -> dict[str, Any]: ...


def _pattern(uri: str) -> re.Pattern[str]:
    """A request URI template as a regex over the raw path; the trailing slash optional."""
    out = []
    for piece in re.split(r"(\{[A-Za-z0-9]+\})", uri.rstrip("/")):
        if piece.startswith("{"):
            out.append(f"(?P<{piece[1:-1]}>[^/]+)")
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out) + "/?")


# (regex, method, operation), in the model's order.
ROUTES = tuple(
    (_pattern(uri), method, name) for name, (method, uri, *_rest) in shapes.OPERATIONS.items()
)


def match(method: str, raw_path: str) -> tuple[str, dict[str, str]]:
    """The operation and its URI parameters (by member name, decoded) for a request."""
    allowed = []
    for pattern, op_method, name in ROUTES:
        found = pattern.fullmatch(raw_path)
        if found is None:
            continue
        if op_method != method:
            allowed.append(op_method)
            continue
        return name, {key: unquote(value) for key, value in found.groupdict().items()}
    if allowed:
        raise Route53Error(
            "InvalidInput",
            f"{method} is not allowed on {raw_path}; use {' or '.join(allowed)}",
            405,
        )
    raise Route53Error("InvalidInput", f"No Route 53 operation at {method} {raw_path}", 404)


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    pairs = []
    for item in raw_query.split("&") if raw_query else ():
        key, _, value = item.partition("=")
        pairs.append(
            (
                unquote_to_bytes(key).decode("utf-8", "replace"),
                unquote_to_bytes(value).decode("utf-8", "replace"),
            )
        )
    return pairs


def request_params(
    operation: str, uri_params: Mapping[str, str], raw_query: str, body: bytes
) -> dict[str, Any]:
    """botocore's input shape for `operation` from the URI, the query string and the body."""
    _method, _uri, input_shape, _root, _output, _status = shapes.OPERATIONS[operation]
    by_location: dict[tuple[str, str], tuple[str, str]] = {
        (location, xml_name): (member, member_shape)
        for member, member_shape, xml_name, location in shapes.STRUCTURES[input_shape]
        if location
    }
    params: dict[str, Any] = {}
    for name, value in uri_params.items():
        member, member_shape = by_location[("uri", name)]
        params[member] = xmlcodec.scalar(shapes.SCALARS[member_shape], value, name)
    for name, value in _query_pairs(raw_query):
        found = by_location.get(("querystring", name))
        if found is None:
            continue  # Route 53 ignores parameters it does not know
        member, member_shape = found
        params[member] = xmlcodec.scalar(shapes.SCALARS[member_shape], value, name)
    params.update(xmlcodec.parse_body(operation, body))
    return params


async def _read_body(request: web.Request) -> bytes | None:
    """The body, or None when it exceeds the bound (what is left is drained, then left)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > xmlcodec.MAX_BODY_BYTES:
            chunks = []
            if size > DRAIN_BYTES:
                break
            continue
        chunks.append(chunk)
    return None if size > xmlcodec.MAX_BODY_BYTES else b"".join(chunks)


def _error_response(error: Route53Error, request_id: str) -> web.Response:
    return web.Response(
        status=error.status,
        body=xmlcodec.render_error(error, request_id),
        content_type="text/xml",
        headers={"x-amzn-RequestId": request_id},
    )


def add_routes(
    app: web.Application,
    operations: Operations,
    secrets: Callable[[], Mapping[str, str]],
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    """Serve the Route 53 API under /2013-04-01/ on `app`.

    `secrets()` (access key id -> secret) is called for every request, so a reload that
    changes the credentials applies to the next request; `clock` is for tests.
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        raw_path, _, raw_query = request.raw_path.partition("?")
        operation = "-"
        try:
            body = await _read_body(request)
            if body is None:
                raise Route53Error.invalid_input(
                    f"Request body exceeds {xmlcodec.MAX_BODY_BYTES} bytes"
                )
            access_key = sigv4.verify(
                request.method,
                raw_path,
                raw_query,
                list(request.headers.items()),
                body,
                secrets(),
                clock(),
            )
            operation, uri_params = match(request.method, raw_path)
            params = request_params(operation, uri_params, raw_query, body)
            result = await operations.invoke(operation, params)
            status, headers, xml = xmlcodec.render(operation, result)
        except Route53Error as error:
            log.info("route53 %s %s -> %s %s", request.method, operation, error.status, error.code)
            return _error_response(error, request_id)
        except Exception:
            # A bug, not a client error: logged with its traceback, answered as AWS does.
            log.exception("route53 %s %s failed", request.method, operation)
            return _error_response(
                Route53Error("InternalFailure", "The request processing has failed.", 500),
                request_id,
            )
        log.debug("route53 %s by %s -> %s", operation, access_key, status)
        headers["x-amzn-RequestId"] = request_id
        return web.Response(status=status, body=xml, content_type="text/xml", headers=headers)

    app.router.add_route("*", PREFIX + "{tail:.*}", handle)
