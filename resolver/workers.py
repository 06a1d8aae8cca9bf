"""`--workers N`: N processes answer on the same ports, one checks health (SPEC 3, issue 5).

The main process binds every listen address with SO_REUSEPORT (port 0 resolves there),
then forks N-1 workers before any event loop runs; each worker binds its own sockets to
the same ports, so the kernel spreads clients over all N. Only the main process runs the
health checker, the HTTP API and sd_notify. It tells the workers, over one socketpair
each, every health change (as it happens), every successful reload (the new zone set,
pickled) and when to stop; workers report their counters twice a second for /metrics.
A worker whose main process is gone stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from healthcheck.state import HealthSnapshot
from resolver import heap
from resolver.config import Config, ListenAddress
from resolver.engine import Resolver
from resolver.server import DnsServer, bind_pair

log = logging.getLogger("policydns.workers")
METRICS_EVERY = 0.5


@dataclass
class WorkerLink:
    """The main process's end of one worker."""

    number: int
    pid: int
    conn: Connection

    def send(self, message: tuple) -> None:
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            log.warning("worker %d (pid %d) is gone", self.number, self.pid)


def bind_shared(addresses: tuple[ListenAddress, ...]) -> list[tuple[socket.socket, socket.socket]]:
    return [bind_pair(address, reuse_port=True) for address in addresses]


def spawn(
    count: int,
    pairs: list[tuple[socket.socket, socket.socket]],
    make_worker: Callable[[int, Connection, list[ListenAddress]], None],
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
                    link.conn.close()
                for udp, tcp in pairs:
                    udp.close()
                    tcp.close()
                make_worker(number, Connection(theirs.detach()), addresses)
            except BaseException:  # the worker must never return into the main program
                log.exception("worker %d failed", number)
                code = 1
            finally:
                os._exit(code)
        theirs.close()
        links.append(WorkerLink(number, pid, Connection(ours.detach())))
    # Announce nothing until every worker has bound its sockets: a client that starts
    # right after "listening on" must find all of them.
    for link in links:
        try:
            ready = link.conn.poll(30) and link.conn.recv() == ("ready", link.number)
        except (EOFError, OSError):
            ready = False
        if not ready:
            for other in links:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(other.pid, signal.SIGTERM)
                os.waitpid(other.pid, 0)
            raise OSError(f"worker {link.number} (pid {link.pid}) did not start")
        log.info("started worker %d (pid %d)", link.number, link.pid)
    return links


def reap(links: list[WorkerLink], timeout: float = 10.0) -> None:
    """Ask every worker to stop, wait for it, kill it if it does not (our own children)."""
    for link in links:
        link.send(("stop",))
    deadline = time.monotonic() + timeout
    for link in links:
        while not os.waitpid(link.pid, os.WNOHANG)[0]:
            if time.monotonic() > deadline:
                log.warning("worker %d did not stop; killing pid %d", link.number, link.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(link.pid, signal.SIGKILL)
                os.waitpid(link.pid, 0)
                break
            time.sleep(0.05)
        link.conn.close()


class Worker:
    """A DNS-only process: the handler and listeners, fed by the main process."""

    def __init__(
        self,
        number: int,
        conn: Connection,
        handler: Any,
        config: Config,
        make_locator: Callable[[Config], Any],
    ) -> None:
        self.number = number
        self.conn = conn
        self.handler = handler
        self.make_locator = make_locator
        self.server = DnsServer(handler.handle, config.tcp, announce=False)
        self.stopped = asyncio.Event()

    async def run(self, addresses: list[ListenAddress]) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopped.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)  # the main process reloads
        pairs = [bind_pair(address, reuse_port=True) for address in addresses]
        await self.server.start(tuple(addresses), pairs)
        heap.settle()
        self.conn.send(("ready", self.number))
        loop.add_reader(self.conn.fileno(), self._receive)
        reporter = loop.create_task(self._report())
        log.debug("worker %d serving", self.number)
        await self.stopped.wait()
        reporter.cancel()
        loop.remove_reader(self.conn.fileno())
        await self.server.stop()

    def _receive(self) -> None:
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            self.stopped.set()  # the main process is gone
            return
        kind = message[0]
        if kind == "health":
            _, states, changed = message
            self.handler.health_changed(HealthSnapshot(states), changed)
        elif kind == "reload":
            _, config, zone_set = message
            self.handler.locator = self.make_locator(config)
            self.handler.use_ecs = config.ecs
            self.handler.cache.max_entries = config.cache_max_entries
            self.handler.swap(Resolver(zone_set))
            heap.settle()
        elif kind == "stop":
            self.stopped.set()

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(METRICS_EVERY)
            metrics = self.handler.metrics
            snapshot = {
                "queries": dict(metrics.queries),
                "buckets": list(metrics.latency_buckets),
                "sum": metrics.latency_sum,
                "hits": self.handler.cache.hits,
                "misses": self.handler.cache.misses,
            }
            try:
                self.conn.send(("metrics", self.number, snapshot))
            except (OSError, ValueError):
                self.stopped.set()
                return
