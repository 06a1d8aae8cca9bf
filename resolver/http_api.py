"""The HTTP API and status listener (SPEC 9), on aiohttp, bound to loopback by default."""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from resolver.config import ListenAddress
from resolver.explain import ExplainError, explain

if TYPE_CHECKING:
    from resolver.app import App

log = logging.getLogger("policydns.http")
APP_KEY = web.AppKey("policydns", object)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _owner(request: web.Request) -> App:
    return request.app[APP_KEY]  # type: ignore[return-value]


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def metrics(request: web.Request) -> web.Response:
    body = _owner(request).metrics.render()
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


async def explain_endpoint(request: web.Request) -> web.Response:
    owner = _owner(request)
    query = request.query
    unknown = set(query) - {"name", "type", "client", "subnet"}
    if unknown:
        return _error(400, f"unknown parameter(s): {', '.join(sorted(unknown))}")
    if not query.get("name"):
        return _error(400, "name is required")
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
        )
    except ExplainError as exc:
        return _error(400, str(exc))
    return web.json_response(report)


async def reload(request: web.Request) -> web.Response:
    owner = _owner(request)
    token = owner.loaded.config.http_token
    if token is not None:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        valid = scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )
        if not valid:
            response = _error(401, "a bearer token is required for this endpoint")
            response.headers["WWW-Authenticate"] = 'Bearer realm="policydns"'
            return response
    ok, lines = await owner.reload()
    if ok:
        return web.json_response({"status": "ok", "zones": lines})
    return web.json_response({"status": "error", "errors": lines}, status=422)


def make_app(owner: App) -> web.Application:
    app = web.Application()
    app[APP_KEY] = owner
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/zones", zones)
    app.router.add_get("/api/v1/health-checks", health_checks)
    app.router.add_get("/api/v1/explain", explain_endpoint)
    app.router.add_post("/api/v1/reload", reload)
    return app


async def start(owner: App, address: ListenAddress) -> tuple[web.AppRunner, ListenAddress]:
    """Bind the API; returns the runner (to clean up) and the bound address (port 0 resolved)."""
    runner = web.AppRunner(make_app(owner), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, address.host, address.port, reuse_address=True)
    await site.start()
    sockets = site._server.sockets if site._server else []
    port = sockets[0].getsockname()[1] if sockets else address.port
    bound = ListenAddress(address.host, port)
    log.info("http api on %s", bound)
    return runner, bound
