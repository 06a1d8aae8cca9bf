"""`--workers N`: N processes answer on the same ports, one checks health (SPEC 3, issue 5).

The main process binds every listen address with SO_REUSEPORT (port 0 resolves there),
then forks N-1 workers before any event loop runs; each worker binds its own sockets to
the same ports, so the kernel spreads clients over all N. Only the main process runs the
health checker, the HTTP API and sd_notify. It tells the workers, over one socketpair
each, every health change (as it happens), every successful reload (the new config and
zone set) and when to stop; each worker answers a reload with whether it applied it, and
reports its counters twice a second for /metrics. A worker whose main process is gone
stops by itself.

Messages are pickles behind a 4-byte length. On a running loop both ends use asyncio
streams over the non-blocking socketpair, each with a reader task: a send only queues
bytes, so a large zone set one way and metrics the other way can never deadlock the two
processes (blocking writes on both ends could, once both socket buffers filled).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from healthcheck.state import HealthSnapshot
from resolver.serve import heap
from resolver.serve.listen import ListenAddress, TcpSettings
from resolver.serve.transport import DnsServer, bind_pair
from resolver.zones.model import ZoneSet

log = logging.getLogger("policydns.workers")
METRICS_EVERY = 0.5
HEADER = struct.Struct("!I")
# Frames at least this long are (un)pickled in a thread, so the loop keeps answering.
LARGE_FRAME = 1 << 20
# How long a reload waits for every worker to say whether it applied the new data.
APPLY_TIMEOUT = 60.0


def encode(message: tuple) -> bytes:
    """One frame: the length, then the pickled message."""
    payload = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


def _recv_exactly(sock: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError("the other process closed the channel")
        data += chunk
    return bytes(data)


def recv_blocking(sock: socket.socket, timeout: float) -> Any:
    """One message from a blocking socket: only before the event loop runs."""
    sock.settimeout(timeout)
    try:
        (length,) = HEADER.unpack(_recv_exactly(sock, HEADER.size))
        return pickle.loads(_recv_exactly(sock, length))
    finally:
        sock.settimeout(None)


class Channel:
    """One end of a socketpair on the running loop: frames out without blocking, in by
    awaiting."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, sock: socket.socket) -> Channel:
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock)
        return cls(reader, writer)

    def send_frame(self, frame: bytes) -> bool:
        """Queue one frame; False when the other end is gone."""
        if self.writer.is_closing():
            return False
        try:
            self.writer.write(frame)
        except (OSError, RuntimeError):
            return False
        return True

    def send(self, message: tuple) -> bool:
        return self.send_frame(encode(message))

    def pending(self) -> int:
        """Bytes queued but not yet taken by the other end."""
        return self.writer.transport.get_write_buffer_size()

    async def receive(self) -> Any:
        """The next message; raises EOFError when the other end is gone."""
        try:
            (length,) = HEADER.unpack(await self.reader.readexactly(HEADER.size))
            payload = await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise EOFError("the other process closed the channel") from exc
        if length >= LARGE_FRAME:
            return await asyncio.get_running_loop().run_in_executor(None, pickle.loads, payload)
        return pickle.loads(payload)

    def close(self) -> None:
        self.writer.close()


@dataclass
class WorkerLink:
    """The main process's end of one worker."""

    number: int
    pid: int
    sock: socket.socket
    channel: Channel | None = None
    alive: bool = True
    # Reloads sent but not yet answered: sequence number -> the worker's error or None.
    waiting: dict[int, asyncio.Future[str | None]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"worker {self.number} (pid {self.pid})"

    def send(self, message: tuple) -> bool:
        return self.send_frame(encode(message))

    def send_frame(self, frame: bytes) -> bool:
        return self.alive and self.channel is not None and self.channel.send_frame(frame)

    def gone(self) -> None:
        """The worker exited: every reload waiting on it fails."""
        self.alive = False
        for future in self.waiting.values():
            if not future.done():
                future.set_result(f"{self.name} exited")
        self.waiting.clear()


def bind_shared(addresses: tuple[ListenAddress, ...]) -> list[tuple[socket.socket, socket.socket]]:
    return [bind_pair(address, reuse_port=True) for address in addresses]


def spawn(
    count: int,
    pairs: list[tuple[socket.socket, socket.socket]],
    make_worker: Callable[[int, socket.socket, list[ListenAddress]], None],
) -> list[WorkerLink]:
    """Fork workers 1..count-1; each runs make_worker and exits. Call before any loop runs."""
    addresses = [ListenAddress(udp.getsockname()[0], udp.getsockname()[1]) for udp, _ in pairs]
    links: list[WorkerLink] = []
    for number in range(1, count):
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                ours.close()
                for link in links:
                    link.sock.close()
                for udp, tcp in pairs:
                    udp.close()
                    tcp.close()
                make_worker(number, theirs, addresses)
            except BaseException:  # the worker must never return into the main program
                log.exception("worker %d failed", number)
                code = 1
            finally:
                os._exit(code)
        theirs.close()
        links.append(WorkerLink(number, pid, ours))
    # Announce nothing until every worker has bound its sockets: a client that starts
    # right after "listening on" must find all of them.
    for link in links:
        try:
            ready = recv_blocking(link.sock, 30) == ("ready", link.number)
        except (EOFError, OSError, pickle.UnpicklingError):
            ready = False
        if not ready:
            for other in links:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(other.pid, signal.SIGTERM)
                os.waitpid(other.pid, 0)
            raise OSError(f"worker {link.number} (pid {link.pid}) did not start")
        log.info("started worker %d (pid %d)", link.number, link.pid)
    return links


async def stop_all(links: list[WorkerLink], grace: float = 10.0) -> None:
    """Ask every worker to stop, wait for it (off the loop), kill it if it does not."""
    for link in links:
        link.send(("stop",))
    await asyncio.get_running_loop().run_in_executor(None, reap, links, grace)
    for link in links:
        if link.channel is not None:
            link.channel.close()
        else:
            link.sock.close()


def reap(links: list[WorkerLink], timeout: float = 10.0) -> None:
    """Wait for every worker to exit; kill one that does not (our own children)."""
    deadline = time.monotonic() + timeout
    for link in links:
        while not os.waitpid(link.pid, os.WNOHANG)[0]:
            if time.monotonic() > deadline:
                log.warning("%s did not stop; killing it", link.name)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(link.pid, signal.SIGKILL)
                os.waitpid(link.pid, 0)
                break
            time.sleep(0.05)


# The main process's configuration is opaque here: a worker hands it back to `apply`.
ApplyFn = Callable[[Any, ZoneSet], None]


class Worker:
    """A DNS-only process: the handler and listeners, fed by the main process."""

    def __init__(
        self, number: int, sock: socket.socket, handler: Any, tcp: TcpSettings, apply: ApplyFn
    ) -> None:
        self.number = number
        self.sock = sock
        self.handler = handler
        self.apply = apply  # the same function the main process applies a reload with
        self.server = DnsServer(handler.handle, tcp, announce=False, count=handler.metrics.count)
        self.stopped = asyncio.Event()

    def _reopen_logs(self) -> None:
        """SIGUSR1 from the main process: reopen this worker's query-log file."""
        stats = self.handler.statistics
        sink = getattr(stats, "sink", None)
        if sink is not None:
            sink.reopen()

    async def run(self, addresses: list[ListenAddress]) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopped.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)  # the main process reloads
        loop.add_signal_handler(signal.SIGUSR1, self._reopen_logs)  # forwarded by the main
        pairs = [bind_pair(address, reuse_port=True) for address in addresses]
        await self.server.start(tuple(addresses), pairs)
        heap.settle()
        channel = await Channel.open(self.sock)
        channel.send(("ready", self.number))
        tasks = [loop.create_task(self._receive(channel)), loop.create_task(self._report(channel))]
        log.debug("worker %d serving", self.number)
        await self.stopped.wait()
        for task in tasks:
            task.cancel()
        await self.server.stop()
        channel.close()

    async def _receive(self, channel: Channel) -> None:
        while True:
            try:
                message = await channel.receive()
            except EOFError:
                self.stopped.set()  # the main process is gone
                return
            kind = message[0]
            if kind == "health":
                _, states, changed = message
                self.handler.health_changed(HealthSnapshot(states), changed)
            elif kind == "reload":
                _, sequence, config, zone_set = message
                channel.send(("applied", self.number, sequence, self._apply(config, zone_set)))
            elif kind == "stop":
                self.stopped.set()

    def _apply(self, config: Any, zone_set: ZoneSet) -> str | None:
        """Apply a reload; None when it worked, else why not (the main process reports it)."""
        try:
            self.apply(config, zone_set)
        except Exception as exc:
            log.exception("worker %d could not apply the reload", self.number)
            return f"{type(exc).__name__}: {exc}"
        heap.settle()
        return None

    async def _report(self, channel: Channel) -> None:
        while True:
            await asyncio.sleep(METRICS_EVERY)
            if channel.pending():
                continue  # the last report is still on its way: only the latest matters
            metrics = self.handler.metrics
            snapshot = {
                "queries": dict(metrics.queries),
                "buckets": list(metrics.latency_buckets),
                "sum": metrics.latency_sum,
                "hits": self.handler.cache.hits,
                "misses": self.handler.cache.misses,
                "events": dict(metrics.events),
                "upstream": {name: list(counts) for name, counts in metrics.upstream.items()},
            }
            if not channel.send(("metrics", self.number, snapshot)):
                self.stopped.set()
                return
