"""One probe per check type, each returning (ok, reason) and never raising for a bad target.

Every probe is bounded by the check's timeouts so a hanging target costs only the task that
probes it. Host names are resolved through the loop's getaddrinfo (a worker thread), never
blocking the loop. Reasons are short and human-readable because they end up in logs and in
the HTTP API ("status 503", "timeout", "connection refused", "search string missing").
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl

import aiohttp
from yarl import URL

from healthcheck.spec import CheckSpec

SEARCH_BYTES = 5120
STATUS_TIMEOUT = 2.0  # SPEC 6: the status must arrive within 2 s of connecting
Result = tuple[bool, str]


def new_session() -> aiohttp.ClientSession:
    """The one session all http(s) probes share.

    A fresh connection per probe (force_close) so every probe really tests connecting, no
    connection limit so a hanging target never queues others, no cookies, no proxy env.
    """
    connector = aiohttp.TCPConnector(limit=0, force_close=True, ttl_dns_cache=10)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        trust_env=False,
    )


def _url(spec: CheckSpec) -> URL:
    target = spec.target or ""
    try:
        if ipaddress.ip_address(target).version == 6:
            target = f"[{target}]"
    except ValueError:
        pass
    return URL(f"{spec.type}://{target}:{spec.port}{spec.path}", encoded=True)


async def http(session: aiohttp.ClientSession, spec: CheckSpec) -> Result:
    """GET the path: 2xx/3xx healthy (redirects not followed), optional body search.

    Connect (including name resolution and TLS) within spec.timeout, then the status line
    and headers within 2 s more; the body read for `search` is bounded by 2 s as well.
    HTTPS does not verify the certificate; SNI and Host are spec.host when set.
    """
    timeout = aiohttp.ClientTimeout(
        total=None, connect=spec.timeout, sock_connect=spec.timeout, sock_read=STATUS_TIMEOUT
    )
    headers = {"Host": spec.host} if spec.host else None
    https = spec.type == "https"
    try:
        async with asyncio.timeout(spec.timeout + STATUS_TIMEOUT):
            resp = await session.get(
                _url(spec),
                allow_redirects=False,
                timeout=timeout,
                headers=headers,
                ssl=not https,  # https: no certificate verification (SPEC 6)
                server_hostname=spec.host if https else None,
            )
        async with resp:
            # aiohttp skips interim 1xx replies, but 101 (Switching Protocols) ends the
            # exchange: only 2xx and 3xx are healthy (SPEC 6).
            if not 200 <= resp.status < 400:
                return False, f"status {resp.status}"
            if spec.search is None:
                return True, f"status {resp.status}"
            async with asyncio.timeout(STATUS_TIMEOUT):
                body = await _head_of_body(resp)
            if spec.search.encode() not in body:
                return False, "search string missing"
            return True, f"status {resp.status}, search string found"
    except Exception as exc:
        return False, describe(exc)


async def _head_of_body(resp: aiohttp.ClientResponse) -> bytes:
    """At most the first SEARCH_BYTES of the body, without reading the rest."""
    body = bytearray()
    while len(body) < SEARCH_BYTES:
        chunk = await resp.content.read(SEARCH_BYTES - len(body))
        if not chunk:
            break
        body += chunk
    return bytes(body)


async def tcp(spec: CheckSpec) -> Result:
    """Healthy when a TCP connection opens within spec.timeout (resolution included)."""
    try:
        async with asyncio.timeout(spec.timeout):
            loop = asyncio.get_running_loop()
            infos = await loop.getaddrinfo(spec.target, spec.port, type=socket.SOCK_STREAM)
            errors: list[Exception] = []
            for family, kind, proto, _name, addr in infos:
                sock = socket.socket(family, kind, proto)
                try:
                    sock.setblocking(False)
                    await loop.sock_connect(sock, addr)
                    return True, "connected"
                except OSError as exc:
                    errors.append(exc)
                finally:
                    sock.close()
            if errors:
                raise errors[0]
            return False, "no address"
    except Exception as exc:
        return False, describe(exc)


def describe(exc: BaseException) -> str:
    """A short reason for a failed probe; the exception class name when nothing better."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        exc = exc.os_error
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"name resolution failed: {exc.strerror}"
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return "tls error"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__
