"""UDP and TCP listeners (RFC 1035, RFC 7766) feeding the handler.

A listener never lets an exception out of its callbacks: one bad client costs at most
its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable, Coroutine
from typing import Any

from resolver.serve.admission import (
    MAX_CONNECTIONS,
    REFUSED_FAMILY,
    TIMED_OUT_FAMILY,
    Admission,
    RefusalLog,
)
from resolver.serve.listen import ListenAddress, TcpSettings

log = logging.getLogger("policydns.server")

# The handler: reply bytes, None (no reply), or for a forwarded question a coroutine
# that gives either once the forwarder answers (resolver.query.handler.Later).
Reply = bytes | None
HandleFn = Callable[[bytes, str, bool], "Reply | Coroutine[Any, Any, Reply]"]
CountFn = Callable[[str, str], None]  # Metrics.count: (family, label)
# Queries per connection read but not yet answered and written (RFC 7766 6.2.1.2): a
# round of pipelined queries is at most this many, and the next round is read only once
# the round's replies are taken by the transport. 32 take a few milliseconds even when
# none hits a cache. A forwarded query's answer is awaited within its round (the
# forwarding deadline bounds the wait), so the cap holds for those too.
MAX_IN_FLIGHT = 32
# A round also ends once its replies reach this many bytes, so large answers cannot make
# a round (and so a connection's memory) much bigger than the write high-water mark.
ROUND_BYTES = 64 * 1024
# Bytes of replies a transport holds before drain() waits (asyncio's default, explicit):
# above it the connection stops reading until the client takes its replies.
WRITE_HIGH_WATER = 64 * 1024
READ_SIZE = 65536
# The UDP receive buffer asked for (the kernel caps it at net.core.rmem_max, 4 MiB on
# Debian). The default (about 208 KiB, a few thousand queries) overflows when the loop
# stalls for ~20 ms at 10,000 q/s: the soak (bench/soak.py) lost 0.10-0.16 % of its queries
# at the socket with it and none with 4 MiB. Unbound's so-rcvbuf is the same knob.
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024
# Why the server closed a connection on time: labels of TIMED_OUT_FAMILY.
IDLE = "idle"  # no byte of a next query in idle_timeout
MESSAGE_DEADLINE = "message_deadline"  # a query begun but not complete in idle_timeout
WRITE = "write"  # replies not taken by the client in idle_timeout


class UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, handle: HandleFn) -> None:
        self.handle = handle
        self.transport: asyncio.DatagramTransport | None = None
        self.later: set[asyncio.Future[None]] = set()  # forwarded queries not yet answered

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        try:
            reply = self.handle(data, addr[0], False)
            if reply is None or self.transport is None:
                return
            if type(reply) is bytes:
                self.transport.sendto(reply, addr)
                return
            task = asyncio.ensure_future(self._send_later(reply, addr))  # type: ignore[arg-type]
            self.later.add(task)  # held until sent: the loop keeps only weak references
            task.add_done_callback(self.later.discard)
        except Exception:
            log.exception("dropped a UDP query from %s", addr[0])

    async def _send_later(self, pending: Coroutine[Any, Any, Reply], addr: tuple) -> None:
        """A forwarded query's reply, sent when the forwarder has answered."""
        try:
            reply = await pending
            if reply is not None and self.transport is not None:
                self.transport.sendto(reply, addr)
        except Exception:
            log.exception("dropped a UDP query from %s", addr[0])

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP socket error: %s", exc)  # ICMP unreachable from a gone client


class TcpListener:
    """Length-prefixed DNS over TCP (RFC 7766): pipelined queries, a deadline for each
    message, caps on connections overall and per client, backpressure on replies."""

    def __init__(self, handle: HandleFn, settings: TcpSettings, count: CountFn) -> None:
        self.handle = handle
        self.settings = settings  # replaced whole on reload; read anew at each use
        self.count = count
        self.admission = Admission()
        self.refusals = RefusalLog()
        self._flush: asyncio.TimerHandle | None = None  # the pending refusal summary
        self.connections: set[asyncio.Task] = set()
        # Connections waiting for the start of a query: safe to close on shutdown.
        self.idle: set[asyncio.Task] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = (writer.get_extra_info("peername") or ("?",))[0]
        settings = self.settings
        refused = self.admission.admit(peer, settings.max_connections, settings.max_per_client)
        if refused is not None:
            self._refuse(refused, peer, settings)
            writer.close()  # a listening socket cannot refuse: accepted, closed at once
            return
        task = asyncio.current_task()
        if task is None:  # asyncio.start_server runs each connection in its own task
            self.admission.release(peer)
            raise RuntimeError("a TCP connection must be served in a task")
        self.connections.add(task)
        try:
            await self._session(reader, writer, peer, task)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("TCP connection from %s failed", peer)
        finally:
            self.connections.discard(task)
            self.admission.release(peer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _refuse(self, reason: str, peer: str, settings: TcpSettings) -> None:
        """Count a refused connection; log it only as RefusalLog allows."""
        self.count(REFUSED_FAMILY, reason)
        cap = settings.max_connections if reason == MAX_CONNECTIONS else settings.max_per_client
        loop = asyncio.get_running_loop()
        line = self.refusals.refused(reason, peer, cap, loop.time())
        if line is not None:
            log.warning("%s", line)
        if self.refusals.pending and self._flush is None:
            self._flush = loop.call_at(self.refusals.quiet_until, self._log_summary)

    def _log_summary(self) -> None:
        self._flush = None
        loop = asyncio.get_running_loop()
        line = self.refusals.due(loop.time())
        if line is not None:
            log.warning("%s", line)
        elif self.refusals.pending:  # woken a little early: try again at the right time
            self._flush = loop.call_at(self.refusals.quiet_until, self._log_summary)

    def close(self) -> None:
        """On shutdown: no summary is logged after the listener stops."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None

    async def _session(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
        task: asyncio.Task,
    ) -> None:
        """Answer the complete queries of each read in rounds, writing each round at once.

        Each message must be complete within idle_timeout of the connection's start or of
        the previous round's replies being written (a deadline, not a per-read timeout: a
        client trickling bytes is cut off). Pipelined queries (RFC 7766 6.2.1.1) are taken
        MAX_IN_FLIGHT (or ROUND_BYTES of replies) at a time and cost one write per round;
        once the transport holds over WRITE_HIGH_WATER bytes, the next round waits until
        it is below its low-water mark, so a client that never reads stops being read
        (its queries queue in the kernel, not in our memory) and is cut off when a write
        does not finish within idle_timeout. Between rounds the connection yields to the
        event loop, so one client's 64 KiB of queries cannot hold up everyone else;
        replies keep the order of the queries.
        """
        loop = asyncio.get_running_loop()
        writer.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        buffer = bytearray()
        deadline = loop.time() + self.settings.idle_timeout
        while True:
            if not buffer:
                self.idle.add(task)  # between queries: safe to close on shutdown
            try:
                async with asyncio.timeout_at(deadline):
                    chunk = await reader.read(READ_SIZE)
            except TimeoutError:
                self._timed_out(MESSAGE_DEADLINE if buffer else IDLE, peer)
                return
            finally:
                self.idle.discard(task)
            if not chunk:
                return
            buffer += chunk
            start = 0  # the first byte not yet answered
            while True:
                replies: list[bytes] = []
                later: list[tuple[int, asyncio.Future[Reply]]] = []
                taken = size = 0
                while taken < MAX_IN_FLIGHT and size < ROUND_BYTES and len(buffer) - start >= 2:
                    end = start + 2 + (buffer[start] << 8 | buffer[start + 1])
                    if len(buffer) < end:
                        break
                    message = bytes(buffer[start + 2 : end])
                    start = end
                    taken += 1
                    reply = self.handle(message, peer, True)
                    if reply is None:
                        continue
                    if type(reply) is not bytes:  # forwarded: its place kept in the round
                        later.append((len(replies), asyncio.ensure_future(reply)))  # type: ignore[arg-type]
                        replies.append(b"")
                        continue
                    replies.append(struct.pack("!H", len(reply)) + reply)
                    size += len(reply)
                for place, pending in later:  # the round's forwarded answers, concurrently
                    reply = await pending
                    replies[place] = struct.pack("!H", len(reply)) + reply if reply else b""
                if later:
                    replies = [framed for framed in replies if framed]
                if replies:
                    writer.write(b"".join(replies))
                    try:
                        async with asyncio.timeout(self.settings.idle_timeout):
                            await writer.drain()  # waits only above the high-water mark
                    except TimeoutError:
                        self._timed_out(WRITE, peer)
                        return
                if taken:
                    deadline = loop.time() + self.settings.idle_timeout
                if taken < MAX_IN_FLIGHT and size < ROUND_BYTES:
                    break  # no complete query left in the buffer
                await asyncio.sleep(0)  # let other clients' queries in between rounds
            del buffer[:start]

    def _timed_out(self, reason: str, peer: str) -> None:
        self.count(TIMED_OUT_FAMILY, reason)
        log.debug("TCP connection from %s closed: %s timeout", peer, reason)


def bind_pair(
    address: ListenAddress, reuse_port: bool = False
) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on the same address and port (port 0: one free for both).

    With reuse_port, other processes may bind the same port too (SO_REUSEPORT): the
    kernel then spreads queries over them (--workers).
    """
    for _ in range(20):
        udp = socket.socket(address.family, socket.SOCK_DGRAM)
        tcp = socket.socket(address.family, socket.SOCK_STREAM)
        try:
            for sock in (udp, tcp):
                if address.family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            udp.bind((address.host, address.port))
            port = udp.getsockname()[1]
            tcp.bind((address.host, port))
            tcp.listen(1024)
            udp.setblocking(False)
            tcp.setblocking(False)
            return udp, tcp
        except OSError:
            udp.close()
            tcp.close()
            if address.port != 0:
                raise
    raise OSError(f"no port free for both UDP and TCP on {address.host}")


class DnsServer:
    """Every listen address, bound and serving until stopped."""

    def __init__(
        self,
        handle: HandleFn,
        tcp_settings: TcpSettings,
        announce: bool = True,
        count: CountFn = lambda family, label: None,
    ) -> None:
        self.handle = handle
        self.announce = announce  # workers stay quiet: the main process announces
        self.tcp = TcpListener(self._dispatch, tcp_settings, count)
        self.bound: list[ListenAddress] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._servers: list[asyncio.Server] = []

    def _dispatch(self, data: bytes, peer: str, tcp: bool) -> Reply | Coroutine[Any, Any, Reply]:
        return self.handle(data, peer, tcp)

    async def start(
        self,
        addresses: tuple[ListenAddress, ...],
        inherited: list[tuple[socket.socket, socket.socket]] | None = None,
    ) -> list[ListenAddress]:
        """Serve on (udp, tcp) socket pairs: inherited ones (socket activation), else bound."""
        pairs = inherited or [bind_pair(address) for address in addresses]
        loop = asyncio.get_running_loop()
        for udp_sock, tcp_sock in pairs:
            host, port = udp_sock.getsockname()[:2]
            with contextlib.suppress(OSError):  # a smaller buffer still serves
                udp_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
            transport, _ = await loop.create_datagram_endpoint(
                lambda: UdpProtocol(self._dispatch), sock=udp_sock
            )
            self._transports.append(transport)
            server = await asyncio.start_server(self.tcp.serve, sock=tcp_sock, limit=70000)
            self._servers.append(server)
            bound = ListenAddress(host, port)
            self.bound.append(bound)
            if self.announce:
                log.info("listening on udp+tcp %s", bound)
        return self.bound

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let in-flight TCP finish (up to grace seconds), then close."""
        for server in self._servers:
            server.close()
        for transport in self._transports:
            transport.close()
        self.tcp.close()
        for task in list(self.tcp.idle):
            task.cancel()
        pending = list(self.tcp.connections)
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=1)
