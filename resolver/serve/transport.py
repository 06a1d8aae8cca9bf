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
from collections.abc import Callable

from resolver.serve.listen import ListenAddress, TcpSettings

log = logging.getLogger("policydns.server")

HandleFn = Callable[[bytes, str, bool], "bytes | None"]
# Pipelined TCP queries answered before a connection yields to the event loop: 32 take
# a few milliseconds even when none hits a cache.
BATCH = 32


class UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, handle: HandleFn) -> None:
        self.handle = handle
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        try:
            reply = self.handle(data, addr[0], False)
            if reply is not None and self.transport is not None:
                self.transport.sendto(reply, addr)
        except Exception:
            log.exception("dropped a UDP query from %s", addr[0])

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP socket error: %s", exc)  # ICMP unreachable from a gone client


class TcpListener:
    """Length-prefixed DNS over TCP: pipelined queries, idle timeout, connection cap."""

    def __init__(self, handle: HandleFn, settings: TcpSettings) -> None:
        self.handle = handle
        self.settings = settings
        self.connections: set[asyncio.Task] = set()
        # Connections waiting for the start of a query: safe to close on shutdown.
        self.idle: set[asyncio.Task] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?",)
        if len(self.connections) >= self.settings.max_connections:
            log.warning(
                "TCP connection cap (%d) reached; closing %s",
                self.settings.max_connections,
                peer[0],
            )
            writer.close()
            return
        task = asyncio.current_task()
        if task is None:  # asyncio.start_server runs each connection in its own task
            raise RuntimeError("a TCP connection must be served in a task")
        self.connections.add(task)
        try:
            await self._session(reader, writer, peer[0], task)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("TCP connection from %s failed", peer[0])
        finally:
            self.connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _session(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
        task: asyncio.Task,
    ) -> None:
        """Answer the complete queries of each read in batches, writing each batch at once.

        Pipelined queries (RFC 7766 6.2.1.1) cost one write per batch, not per query. After
        each batch of BATCH queries the connection yields to the event loop, so one client's
        64 KiB of queries cannot hold up everyone else's answers; replies keep the order of
        the queries. The idle timeout (read anew each time: reloads change it) bounds
        waiting for data and waiting to write, so a client that stops reading cannot hold
        its connection slot.
        """
        buffer = bytearray()
        while True:
            async with asyncio.timeout(self.settings.idle_timeout):
                if not buffer:
                    self.idle.add(task)  # between queries: safe to close on shutdown
                try:
                    chunk = await reader.read(65536)
                finally:
                    self.idle.discard(task)
            if not chunk:
                return
            buffer += chunk
            start = 0  # the first byte not yet answered
            while True:
                replies: list[bytes] = []
                answered = 0
                while answered < BATCH and len(buffer) - start >= 2:
                    end = start + 2 + (buffer[start] << 8 | buffer[start + 1])
                    if len(buffer) < end:
                        break
                    message = bytes(buffer[start + 2 : end])
                    start = end
                    answered += 1
                    reply = self.handle(message, peer, True)
                    if reply is not None:
                        replies.append(struct.pack("!H", len(reply)) + reply)
                if replies:
                    writer.write(b"".join(replies))
                    async with asyncio.timeout(self.settings.idle_timeout):
                        await writer.drain()  # backpressure: a client that reads slowly waits
                if answered < BATCH:
                    break  # no complete query left in the buffer
                await asyncio.sleep(0)  # let other clients' queries in between batches
            del buffer[:start]


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

    def __init__(self, handle: HandleFn, tcp_settings: TcpSettings, announce: bool = True) -> None:
        self.handle = handle
        self.announce = announce  # workers stay quiet: the main process announces
        self.tcp = TcpListener(self._dispatch, tcp_settings)
        self.bound: list[ListenAddress] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._servers: list[asyncio.Server] = []

    def _dispatch(self, data: bytes, peer: str, tcp: bool) -> bytes | None:
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
