"""Which HTTP statuses are healthy (SPEC 6: only 2xx and 3xx), against a real listener.

The target is a raw asyncio TCP server writing the reply bytes the test chooses, so a
status that a web framework would not send as a final reply (101, a bare 1xx) reaches the
probe exactly as written.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from healthcheck import probes
from healthcheck.checker import HealthChecker
from healthcheck.spec import CheckSpec

pytestmark = pytest.mark.timeout(30)


class RawTarget:
    """Answers every request with the bytes in `reply`, then closes; counts requests."""

    def __init__(self) -> None:
        self.reply = b""
        self.requests = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
            writer.write(self.reply)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def target() -> AsyncIterator[RawTarget]:
    raw = RawTarget()
    await raw.open()
    yield raw
    await raw.close()


def final(status: int, reason: str = "Whatever", headers: str = "") -> bytes:
    """A complete final reply with an empty body."""
    return f"HTTP/1.1 {status} {reason}\r\n{headers}Content-Length: 0\r\n\r\n".encode()


def spec(port: int) -> CheckSpec:
    return CheckSpec(type="http", target="127.0.0.1", port=port, timeout=1.0, interval=0.1)


async def probe(target: RawTarget, reply: bytes) -> tuple[bool, str]:
    """One real http probe of the target answering `reply`."""
    target.reply = reply
    async with probes.new_session() as session:
        result = await probes.http(session, spec(target.port))
    assert target.requests >= 1
    return result


@pytest.mark.parametrize(
    ("status", "healthy"),
    [
        *[(status, True) for status in (200, 204, 299, 301, 302, 399)],
        *[(status, False) for status in (400, 404, 500, 503, 599)],
    ],
)
async def test_final_status(target: RawTarget, status: int, healthy: bool):
    assert await probe(target, final(status)) == (healthy, f"status {status}")


@pytest.mark.parametrize(
    "headers", ["", "Upgrade: websocket\r\nConnection: Upgrade\r\n"], ids=["bare", "upgrade"]
)
async def test_switching_protocols_is_unhealthy(target: RawTarget, headers: str):
    """101 is the one 1xx a client takes as the reply; it is not 2xx or 3xx."""
    reply = f"HTTP/1.1 101 Switching Protocols\r\n{headers}\r\n".encode()
    assert await probe(target, reply) == (False, "status 101")


@pytest.mark.parametrize("status", [100, 103, 199])
async def test_interim_status_alone_is_unhealthy(target: RawTarget, status: int):
    """A 1xx with no final reply after it: unhealthy (the connection ends without one)."""
    ok, _reason = await probe(target, f"HTTP/1.1 {status} Whatever\r\n\r\n".encode())
    assert ok is False


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (302, True), (500, False)])
async def test_interim_then_final_status_decides(target: RawTarget, status: int, healthy: bool):
    """103 Early Hints then a final reply: the final status decides."""
    reply = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n" + final(status)
    assert await probe(target, reply) == (healthy, f"status {status}")


async def test_checker_turns_unhealthy_on_101(target: RawTarget):
    """Through the checker: a check answered 101 goes unhealthy and says why."""
    target.reply = b"HTTP/1.1 101 Switching Protocols\r\n\r\n"
    changes: list[tuple[str, bool, bool, str]] = []
    changed = asyncio.Event()

    def record(check_id: str, old: bool, new: bool, reason: str) -> None:
        changes.append((check_id, old, new, reason))
        changed.set()

    check = CheckSpec(
        type="http", target="127.0.0.1", port=target.port, interval=0.1, failure_threshold=1
    )
    checker = HealthChecker({"up": check}, on_change=record)
    await checker.start()
    try:
        async with asyncio.timeout(5):
            await changed.wait()
    finally:
        await checker.stop()
    assert changes[0] == ("up", True, False, "status 101")
    assert checker.states()["up"].healthy is False
