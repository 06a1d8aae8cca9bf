"""The live status page at `/` (SPEC 9) and the two endpoints only it needs.

`add_routes` registers the page, its static files, `GET /api/v1/events` (server-sent
events: the health-check JSON on every change of the checker's version) and
`GET /api/v1/stats` (queries per second by policy and the cache hit rate). They are added
to the API's app, so http_api.guard checks their Host header like every other route.
This package never imports http_api (which imports it): the caller passes `owner_of`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from importlib import resources
from typing import Any, Protocol

from aiohttp import web

from healthcheck.checker import HealthChecker
from resolver.metrics import Metrics

# Open event streams across all pages; one more gets 503 so pages cannot exhaust the server.
MAX_STREAMS = 32
KEEPALIVE = 15.0  # seconds between keep-alive comments on an idle stream
POLL = 0.5  # seconds between looks at whether the client is still there
# Stats samples: at most one a second, the rate is measured over up to WINDOW seconds.
WINDOW = 60.0
MAX_SAMPLES = 64
# Every response of the page: nothing from elsewhere, no framing, no type sniffing.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC = {
    "/": ("page.html", "text/html"),
    "/status/page.css": ("page.css", "text/css"),
    "/status/page.js": ("page.js", "text/javascript"),
}
STATE_KEY = web.AppKey("status_state", object)


class Source(Protocol):
    """What the page reads of the running server (http_api.Owner satisfies it)."""

    @property
    def metrics(self) -> Metrics: ...

    @property
    def checker(self) -> HealthChecker: ...


OwnerOf = Callable[[web.Request], Source]


class _State:
    """Per-app bookkeeping: open streams and the stats samples."""

    def __init__(self) -> None:
        self.streams = 0
        self.samples: deque[tuple[float, dict[str, int]]] = deque(maxlen=MAX_SAMPLES)


def _read(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


def health_payload(checker: HealthChecker) -> dict[str, Any]:
    """The health-check JSON of /api/v1/health-checks, the version, and recent changes
    when the checker keeps them (`recent()`, added by the overrides work)."""
    states = checker.states()
    out: dict[str, Any] = {
        "version": checker.version,
        "checks": {cid: s.as_dict() for cid, s in sorted(states.items())},
    }
    recent = getattr(checker, "recent", None)
    if callable(recent):
        out["recent"] = [
            {"time": t, "id": cid, "old": old, "new": new, "reason": reason}
            for t, cid, old, new, reason in list(recent())[-50:]
        ]
    return out


def policy_totals(metrics: Metrics) -> tuple[dict[str, int], int, int]:
    """Queries answered per policy, cache hits and misses, this process's and workers'."""
    snap = metrics.snapshot()
    totals: dict[str, int] = {}
    hits, misses = snap.hits, snap.misses
    for source in (snap.queries, *(r.get("queries", {}) for r in snap.remote)):
        for (_qtype, _rcode, policy), count in source.items():
            totals[policy] = totals.get(policy, 0) + count
    for remote in snap.remote:
        hits += remote.get("hits", 0)
        misses += remote.get("misses", 0)
    return totals, hits, misses


def rates(
    samples: deque[tuple[float, dict[str, int]]], now: float, totals: dict[str, int]
) -> tuple[dict[str, float], float]:
    """Per-policy queries per second since the oldest sample within WINDOW; records `now`
    as a sample when the newest is at least a second old. Returns (rates, seconds)."""
    while samples and now - samples[0][0] > WINDOW:
        samples.popleft()
    if not samples or now - samples[-1][0] >= 1.0:
        samples.append((now, dict(totals)))
    then, old = samples[0]
    span = now - then
    if span <= 0:
        return {policy: 0.0 for policy in totals}, 0.0
    return {p: (n - old.get(p, 0)) / span for p, n in sorted(totals.items())}, span


def add_routes(app: web.Application, owner_of: OwnerOf) -> None:
    """Register the page, its files, /api/v1/events and /api/v1/stats on the API's app."""
    app[STATE_KEY] = _State()
    bodies = {path: (_read(name), kind) for path, (name, kind) in STATIC.items()}

    async def static(request: web.Request) -> web.Response:
        body, kind = bodies[request.path]
        return web.Response(body=body, content_type=kind, charset="utf-8", headers=HEADERS)

    async def events(request: web.Request) -> web.StreamResponse:
        state: _State = request.app[STATE_KEY]  # type: ignore[assignment]
        if state.streams >= MAX_STREAMS:
            return web.json_response(
                {"error": f"too many event streams open (at most {MAX_STREAMS})"},
                status=503,
                headers={"Retry-After": "5"},
            )
        state.streams += 1
        try:
            return await _stream(request, owner_of(request).checker)
        finally:
            state.streams -= 1

    async def stats(request: web.Request) -> web.Response:
        state: _State = request.app[STATE_KEY]  # type: ignore[assignment]
        totals, hits, misses = policy_totals(owner_of(request).metrics)
        per_policy, span = rates(state.samples, time.monotonic(), totals)
        lookups = hits + misses
        body = {
            "queries": totals,
            "qps": per_policy,
            "window_seconds": round(span, 3),
            "cache": {
                "hits": hits,
                "misses": misses,
                "hit_rate": hits / lookups if lookups else None,
            },
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    for path in STATIC:
        app.router.add_get(path, static)
    app.router.add_get("/api/v1/events", events)
    app.router.add_get("/api/v1/stats", stats)


async def _stream(request: web.Request, checker: HealthChecker) -> web.StreamResponse:
    """Send the health JSON now and after every version change; a comment when idle."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
            "X-Content-Type-Options": "nosniff",
        }
    )
    await response.prepare(request)
    version = -1
    quiet_since = time.monotonic()
    try:
        # aiohttp does not cancel a handler whose client left: look at the transport
        # every POLL seconds, so a closed page frees its place in MAX_STREAMS at once.
        while request.transport is not None and not request.transport.is_closing():
            if checker.version != version:
                payload = health_payload(checker)
                version = payload["version"]
                data = json.dumps(payload, separators=(",", ":"))
                await response.write(f"event: health\nid: {version}\ndata: {data}\n\n".encode())
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= KEEPALIVE:
                await response.write(b": keep-alive\n\n")
                quiet_since = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(checker.wait_changed(version), POLL)
    except (ConnectionResetError, ConnectionError):
        pass  # the page went away
    with contextlib.suppress(Exception):
        await response.write_eof()
    return response
