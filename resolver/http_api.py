"""The HTTP API and status listener (SPEC 9), on aiohttp, bound to loopback by default.

Loopback is reachable by every browser on the machine, so every request passes `guard`:
a Host header that is not this listener's name is refused (DNS rebinding); a
state-changing request that a web page on another origin could make a browser send is
refused (cross-site request forgery); and, when a token is configured, a state-changing
request needs it.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Protocol

from aiohttp import web

from healthcheck.checker import HealthChecker
from healthcheck.override import parse_state
from resolver import status
from resolver.config import Config, normalize_host_name
from resolver.forward.settings import describe
from resolver.metrics import Metrics
from resolver.query.explain import ExplainError, explain
from resolver.query.location import Locator
from resolver.route53 import api as route53_api
from resolver.route53.api import PREFIX as ROUTE53_PREFIX
from resolver.serve.listen import ListenAddress
from resolver.zones.model import ZoneSet

log = logging.getLogger("policydns.http")
APP_KEY = web.AppKey("policydns", object)
LOCAL_NAMES_KEY = web.AppKey("local_names", frozenset)

# Host names every listener accepts, besides its own address and http_allowed_hosts.
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
# Methods that only read; every other method changes state and passes the CSRF checks.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The Content-Types a cross-site HTML form or a no-cors fetch can send without a CORS
# preflight (the Fetch standard's CORS-safelisted request content types).
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
OVERRIDE_BODY_MAX = 1024  # bytes: {"state": "unhealthy"} needs 22
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Serving(Protocol):
    """One load's data as the API reads it."""

    @property
    def config(self) -> Config: ...

    @property
    def zone_set(self) -> ZoneSet: ...

    @property
    def locator(self) -> Locator: ...


class Owner(Protocol):
    """What the API needs of the running server: the app satisfies it, and the API never
    imports the app (which starts the API)."""

    @property
    def loaded(self) -> Serving: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def checker(self) -> HealthChecker: ...

    async def reload(self) -> tuple[bool, list[str]]: ...

    # The Route 53 API, when configured (route53.service.Route53Service), and the secrets
    # of the access keys that may sign its requests (read again for every request).
    @property
    def route53(self) -> route53_api.Operations | None: ...

    def route53_secrets(self) -> Mapping[str, str]: ...


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _owner(request: web.Request) -> Owner:
    return request.app[APP_KEY]  # type: ignore[return-value]


def split_host(text: str) -> tuple[str, int | None] | None:
    """A Host header (or an Origin's authority) as (normalized name, port or None).

    None when it is not `NAME[:PORT]`, `IPV4[:PORT]` or `[IPV6][:PORT]`.
    """
    text = text.strip()
    if text.startswith("["):
        name, bracket, rest = text.partition("]")
        name += bracket
    else:
        name, colon, rest = text.partition(":")
        rest = colon + rest
    port: int | None = None
    if rest:
        digits = rest[1:]
        if not rest.startswith(":") or not digits.isascii() or not digits.isdigit():
            return None
        if len(digits) > 5 or int(digits) > 65535:
            return None
        port = int(digits)
    host = normalize_host_name(name)
    return None if host is None else (host, port)


def _host_refusal(request: web.Request, names: frozenset[str]) -> str | None:
    """Why the Host header is not one of ours (DNS rebinding), or None when it is."""
    values = request.headers.getall("Host", [])
    if not values:
        return "a Host header is required"
    if len(values) > 1:
        return "exactly one Host header is required"
    parsed = split_host(values[0])
    if parsed is None or parsed[0] not in names:
        return (
            f"Host {values[0]!r} is not a name of this listener; "
            "list it in http_allowed_hosts in the config to accept it"
        )
    return None


def _cross_site_refusal(request: web.Request, forms_too: bool = True) -> str | None:
    """Why a state-changing request may come from another site's page, or None.

    `forms_too`: refuse the content types a cross-site form can send (not needed where
    every request must be signed, as the Route 53 API's are)."""
    fetch_site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if fetch_site in ("cross-site", "same-site"):
        return f"cross-origin request refused (Sec-Fetch-Site: {fetch_site})"
    origin = request.headers.get("Origin")
    if origin is not None:
        scheme, sep, authority = origin.strip().partition("://")
        own = split_host(request.headers.get("Host", ""))
        theirs = split_host(authority) if sep and scheme.lower() == "http" else None
        # Same origin: the page was served by this listener under the name the request uses.
        if own is None or theirs is None or (theirs[0], theirs[1] or 80) != (own[0], own[1] or 80):
            return f"cross-origin request refused: Origin {origin!r} is not this listener"
    media_type = request.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if forms_too and media_type in FORM_TYPES:
        return (
            f"Content-Type {media_type} refused: a cross-site form can send it; "
            "send application/json, or no body"
        )
    return None


def _token_refusal(request: web.Request, token: str) -> web.Response | None:
    """401 unless the request carries `Authorization: Bearer TOKEN` (constant-time compare)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    valid = scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )
    if valid:
        return None
    response = _error(401, "a bearer token is required for this endpoint")
    response.headers["WWW-Authenticate"] = 'Bearer realm="policydns"'
    return response


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Host check for every request; CSRF checks and the token for state-changing ones."""
    config = _owner(request).loaded.config
    names = request.app[LOCAL_NAMES_KEY] | frozenset(config.http_allowed_hosts)
    refusal = _host_refusal(request, names)
    if refusal is not None:
        log.info("refused %s %s: %s", request.method, request.path, refusal)
        return _error(421, refusal)
    if request.method not in SAFE_METHODS:
        signed = request.path.startswith(ROUTE53_PREFIX)
        refusal = _cross_site_refusal(request, forms_too=not signed)
        if refusal is not None:
            log.info("refused %s %s: %s", request.method, request.path, refusal)
            return _error(403, refusal)
        # The Route 53 API's requests carry their own proof (SigV4, checked by route53.api):
        # a page in the operator's browser can send neither that nor a bearer token.
        if config.http_token is not None and not signed:
            unauthorized = _token_refusal(request, config.http_token)
            if unauthorized is not None:
                return unauthorized
    return await handler(request)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def metrics(request: web.Request) -> web.Response:
    body = await _owner(request).metrics.render_off_loop()  # rendered in a thread
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


async def zones(request: web.Request) -> web.Response:
    zone_set = _owner(request).loaded.zone_set
    out = [
        {
            "name": zone.name_text.rstrip(".") or ".",
            "serial": zone.soa.serial,
            "record_sets": zone.record_set_count(),
            "health_checks": sorted(zone.health_check_ids),
            "file": zone.file,
        }
        for zone in sorted(zone_set.zones.values(), key=lambda z: tuple(reversed(z.origin)))
    ]
    return web.json_response(out)


async def health_checks(request: web.Request) -> web.Response:
    states = _owner(request).checker.states()
    return web.json_response({check_id: s.as_dict() for check_id, s in sorted(states.items())})


async def set_override(request: web.Request) -> web.Response:
    """PUT {"state": "healthy"|"unhealthy"|"none"}: force a check (token checked in `guard`).

    Who: "token" when the listener has a token (it has one, unnamed), else "local"."""
    owner = _owner(request)
    check_id = request.match_info["id"]
    if request.content_length is not None and request.content_length > OVERRIDE_BODY_MAX:
        return _error(400, f"body larger than {OVERRIDE_BODY_MAX} bytes")
    raw = await request.content.read(OVERRIDE_BODY_MAX + 1)
    if len(raw) > OVERRIDE_BODY_MAX:
        return _error(400, f"body larger than {OVERRIDE_BODY_MAX} bytes")
    try:
        body = json.loads(raw)
        if not isinstance(body, dict) or set(body) != {"state"}:
            raise ValueError('expected {"state": "healthy" | "unhealthy" | "none"}')
        state = parse_state(body["state"])
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return _error(400, f"bad override body: {exc}")
    who = "token" if owner.loaded.config.http_token is not None else "local"
    if not owner.checker.set_override(check_id, state, who):
        return _error(404, f"no health check {check_id!r}")
    return web.json_response(owner.checker.states()[check_id].as_dict())


async def explain_endpoint(request: web.Request) -> web.Response:
    owner = _owner(request)
    query = request.query
    unknown = set(query) - {"name", "type", "client", "subnet"}
    if unknown:
        return _error(400, f"unknown parameter(s): {', '.join(sorted(unknown))}")
    if not query.get("name"):
        return _error(400, "name is required")
    forced = {
        cid: state.override.as_dict()
        for cid, state in owner.checker.states().items()
        if state.override is not None
    }
    try:
        report = explain(
            owner.loaded.zone_set,
            owner.loaded.locator,
            query["name"],
            query.get("type", "A"),
            query.get("client"),
            query.get("subnet"),
            owner.checker.view(),
            owner.loaded.config.ecs,
            partial(describe, owner.loaded.config.forwarding),
            forced,
        )
    except ExplainError as exc:
        return _error(400, str(exc))
    return web.json_response(report)


async def reload(request: web.Request) -> web.Response:
    """Reload config and zones (the token and CSRF checks are in `guard`)."""
    owner = _owner(request)
    ok, lines = await owner.reload()
    if ok:
        return web.json_response({"status": "ok", "zones": lines})
    return web.json_response({"status": "error", "errors": lines}, status=422)


def make_app(owner: Owner, listen_host: str = "127.0.0.1") -> web.Application:
    """The routes, behind `guard`; listen_host is the address the listener binds."""
    app = web.Application(middlewares=[guard])
    app[APP_KEY] = owner
    own = normalize_host_name(listen_host)
    app[LOCAL_NAMES_KEY] = LOOPBACK_NAMES | ({own} if own else set())
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/zones", zones)
    app.router.add_get("/api/v1/health-checks", health_checks)
    app.router.add_get("/api/v1/explain", explain_endpoint)
    app.router.add_post("/api/v1/reload", reload)
    app.router.add_put("/api/v1/health-checks/{id}/override", set_override)
    status.add_routes(app, _owner)  # the page at /, /api/v1/events, /api/v1/stats
    service = owner.route53
    if service is not None:
        route53_api.add_routes(app, service, owner.route53_secrets)
    return app


async def start(owner: Owner, address: ListenAddress) -> tuple[web.AppRunner, ListenAddress]:
    """Bind the API; returns the runner (to clean up) and the bound address (port 0 resolved)."""
    runner = web.AppRunner(make_app(owner, address.host), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, address.host, address.port, reuse_address=True)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    port = sockets[0].getsockname()[1] if sockets else address.port
    bound = ListenAddress(address.host, port)
    log.info("http api on %s", bound)
    return runner, bound
