"""The running server: serves what resolver.assemble loaded and built, reloads and stops
on signals, runs the workers, the health checker and the HTTP API."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web

from healthcheck.checker import HealthChecker
from healthcheck.state import CheckState, HealthSnapshot
from resolver import http_api
from resolver.assemble import (
    Loaded,
    apply_loaded,
    build_forwarding,
    build_handler,
    build_limiter,
    load_all,
    make_locator,
    summary_lines,
)
from resolver.config import Config
from resolver.errors import LoadFailed
from resolver.metrics import Metrics
from resolver.query.location import Locator
from resolver.query.logsink import LogSink
from resolver.route53.service import Route53Service
from resolver.route53.store import FileStore
from resolver.serve import heap, sdnotify, workers
from resolver.serve.listen import ListenAddress
from resolver.serve.transport import DnsServer
from resolver.zones.model import ZoneSet

log = logging.getLogger("policydns")


def run_loop(coro: Any) -> None:
    """Run a coroutine on uvloop when installed, else on the default asyncio loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(coro)


class App:
    """One serving process: DNS listeners, health checker, HTTP API, signals."""

    def __init__(
        self, config: Config, reload_config: Callable[[], Config], log_queries: bool = False
    ) -> None:
        self.loaded = load_all(config)
        self._reload_config = reload_config
        self._reload_lock = asyncio.Lock()
        self.lock = self._reload_lock  # Route 53 changes and reloads take turns
        self._tasks: set[asyncio.Task] = set()
        self.log_queries = log_queries
        settings = config.query_log
        self.metrics = Metrics()
        self.sink = (
            LogSink(settings.file, self.metrics.count)
            if settings is not None and settings.file
            else None
        )
        self.checker = HealthChecker(self.loaded.zone_set.health_checks, self._health_changed)
        self.metrics.health_states = self.checker.states
        self.handler = build_handler(
            self.loaded, self.checker.view(), self.metrics, log_queries, self.sink
        )
        self.limiter = build_limiter(self.handler, config, self.metrics)
        self.forwarding = build_forwarding(self.handler, config, self.metrics)
        self.metrics.cache_stats = lambda: (self.handler.cache.hits, self.handler.cache.misses)
        self.server = DnsServer(self.handler.handle, config.tcp, count=self.metrics.count)
        self.workers: list[workers.WorkerLink] = []
        self._preset: list | None = None
        self._reload_sequence = 0
        self.http_runner: web.AppRunner | None = None
        self.http_address: ListenAddress | None = None
        self.stopped = asyncio.Event()
        self.route53: Route53Service | None = None
        if config.route53 is not None:
            self.route53 = Route53Service(FileStore(config.route53.state_dir), self)

    def start_workers(self, count: int) -> None:
        """Fork count-1 worker processes sharing the listen ports (before the loop runs)."""
        config = self.loaded.config
        self._preset = workers.bind_shared(config.listen)

        def run_worker(number: int, sock: socket.socket, addresses: list[ListenAddress]) -> None:
            metrics = Metrics()
            handler = build_handler(
                self.loaded, self.checker.view(), metrics, self.log_queries, self.sink
            )
            limiter = build_limiter(handler, self.loaded.config, metrics)
            forwarding = build_forwarding(handler, self.loaded.config, metrics)

            def apply(config: Config, zone_set: ZoneSet) -> None:
                locator = make_locator(config)
                apply_loaded(handler, worker.server, config, zone_set, locator, limiter, forwarding)

            worker = workers.Worker(number, sock, handler, config.tcp, apply)
            run_loop(worker.run(addresses))

        heap.settle()  # workers start from a frozen heap: fewer pages copied on write
        self.workers = workers.spawn(count, self._preset, run_worker)

    def _broadcast(self, message: tuple) -> None:
        frame = workers.encode(message)
        for link in self.workers:
            link.send_frame(frame)

    async def _from_worker(self, link: workers.WorkerLink, channel: workers.Channel) -> None:
        """Read one worker's messages until it exits: counters and reload outcomes."""
        while True:
            try:
                message = await channel.receive()
            except EOFError:
                link.gone()
                if not self.stopped.is_set():
                    log.error("%s exited", link.name)
                return
            kind = message[0]
            if kind == "metrics":
                _, number, snapshot = message
                self.metrics.remote[number] = snapshot
            elif kind == "applied":
                _, _, sequence, error = message
                future = link.waiting.pop(sequence, None)
                if future is not None and not future.done():
                    future.set_result(error)

    async def _send_reload(
        self, config: Config, zone_set: ZoneSet
    ) -> list[tuple[workers.WorkerLink, asyncio.Future[str | None]]]:
        """Send a reload to every worker; each future tells whether that worker applied it
        (None) or why not."""
        if not self.workers:
            return []
        loop = asyncio.get_running_loop()
        self._reload_sequence += 1
        sequence = self._reload_sequence
        # Pickling megabytes of zones takes a while: in a thread, the loop keeps answering.
        frame = await loop.run_in_executor(
            None, workers.encode, ("reload", sequence, config, zone_set)
        )
        waits = []
        for link in self.workers:
            future: asyncio.Future[str | None] = loop.create_future()
            if link.send_frame(frame):
                link.waiting[sequence] = future
            else:
                future.set_result("it is gone")
            waits.append((link, future))
        return waits

    @staticmethod
    async def _applied(
        waits: list[tuple[workers.WorkerLink, asyncio.Future[str | None]]],
    ) -> list[str]:
        """Wait for every worker's answer to a reload; why any did not apply it."""
        errors = []
        for link, future in waits:
            try:
                error = await asyncio.wait_for(future, workers.APPLY_TIMEOUT)
            except TimeoutError:
                error = f"no answer in {workers.APPLY_TIMEOUT:.0f} s"
            if error is not None:
                errors.append(f"{link.name} did not apply the reload: {error}")
        return errors

    def _health_changed(self, check_id: str, old: bool, new: bool, reason: str) -> None:
        """A check changed state: answers follow at once (the checker logged the change)."""
        view = self.checker.view()
        self.handler.health_changed(view, [check_id])
        self._broadcast(("health", dict(view.states), [check_id]))
        self.metrics.transitions[check_id] += 1

    def _reopen_logs(self) -> None:
        """SIGUSR1: reopen the query-log file here and in every worker (log rotation)."""
        if self.sink is not None:
            self.sink.reopen()
        for link in self.workers:
            try:
                os.kill(link.pid, signal.SIGUSR1)
            except (OSError, AttributeError):
                pass

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        config = self.loaded.config
        # Signals first: a SIGTERM right after the first "listening" line must still
        # stop the server gracefully.
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopped.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload_in_background)
        loop.add_signal_handler(signal.SIGUSR1, self._reopen_logs)
        try:
            for link in self.workers:
                link.channel = channel = await workers.Channel.open(link.sock)
                self._keep(loop.create_task(self._from_worker(link, channel)))
            inherited = self._preset or sdnotify.pair_activated(sdnotify.listen_fds())
            if inherited and not self._preset:
                log.info("socket activation: %d address(es) from systemd", len(inherited))
            await self.server.start(config.listen, inherited)
            if config.http is not None:
                self.http_runner, self.http_address = await http_api.start(self, config.http)
            await self.checker.start()
            if self.route53 is not None:
                self._keep(loop.create_task(self.route53.warm()))
            for line in summary_lines(self.loaded.zone_set):
                log.info("serving %s", line)
            interval = sdnotify.watchdog_interval()
            if interval:
                self._keep(loop.create_task(sdnotify.watchdog_loop(interval)))
            heap.settle()
            # Every socket is bound: only now may systemd consider the service started.
            sdnotify.notify("READY=1", f"STATUS={self._status()}")
            await self.stopped.wait()
            sdnotify.notify("STOPPING=1")
            log.info("stopping: closing listeners, finishing TCP in flight")
        finally:
            for task in self._tasks:
                task.cancel()
            await self.server.stop()
            if self.http_runner is not None:
                await self.http_runner.cleanup()
            await self.checker.stop()
            if self.workers:
                await workers.stop_all(self.workers)
        log.info("stopped")

    async def _serve(self, loaded: Loaded, collect: bool = True) -> list[str]:
        """Swap in what one load (or one Route 53 change) produced, in this process and
        every worker; why any worker did not apply it."""
        self.loaded = loaded
        config, zone_set = loaded.config, loaded.zone_set
        waits = await self._send_reload(config, zone_set)
        apply_loaded(
            self.handler,
            self.server,
            config,
            zone_set,
            loaded.locator,
            self.limiter,
            self.forwarding,
        )
        await self.checker.update(zone_set.health_checks)
        view = self.checker.view()
        self.handler.health_changed(view, list(zone_set.health_checks))
        self._broadcast(("health", dict(view.states), list(zone_set.health_checks)))
        heap.settle(collect)
        return await self._applied(waits)

    # -- what the Route 53 service needs (route53.core.Host) ---------------------------

    @property
    def zone_set(self) -> ZoneSet:
        return self.loaded.zone_set

    @property
    def locator(self) -> Locator:
        return self.loaded.locator

    @property
    def regions(self) -> dict[str, Any]:
        return self.loaded.config.regions

    @property
    def use_ecs(self) -> bool:
        return self.loaded.config.ecs

    def states(self) -> dict[str, CheckState]:
        return self.checker.states()

    def health(self) -> HealthSnapshot:
        return self.checker.view()

    async def commit(self, zone_set: ZoneSet) -> None:
        """Serve a Route 53 change at once, as a reload would (the caller holds the lock)."""
        loaded = Loaded(self.loaded.config, zone_set, self.loaded.locator)
        errors = await self._serve(loaded, collect=False)
        for error in errors:
            log.error("route53 change incomplete: %s", error)

    def route53_secrets(self) -> dict[str, str]:
        settings = self.loaded.config.route53
        return settings.secrets if settings is not None else {}

    def _status(self) -> str:
        zones = len(self.loaded.zone_set.zones)
        return f"serving {zones} zone(s) on {', '.join(str(a) for a in self.server.bound)}"

    def _keep(self, task: asyncio.Task) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _reload_in_background(self) -> None:
        async def reload_for_systemd() -> None:
            sdnotify.notify("RELOADING=1")
            ok, _ = await self.reload()
            status = self._status() if ok else "reload failed or incomplete; see the log"
            sdnotify.notify("READY=1", f"STATUS={status}")

        self._keep(asyncio.get_running_loop().create_task(reload_for_systemd()))

    async def reload(self) -> tuple[bool, list[str]]:
        """Load everything anew off the event loop; swap it in only if all of it loaded.

        Returns (True, summary lines) or (False, error lines). When loading fails the
        previous zones and config keep serving, untouched; when a worker cannot apply what
        loaded (or is gone), the others serve the new data and the errors say which one.
        """
        loop = asyncio.get_running_loop()
        async with self._reload_lock:
            try:
                config = await loop.run_in_executor(None, self._reload_config)
                loaded = await loop.run_in_executor(None, load_all, config, self.loaded.zone_set)
            except LoadFailed as exc:
                self.metrics.reloads["error"] += 1
                for error in exc.errors:
                    log.error("reload failed: %s", error)
                log.error(
                    "reload failed with %d error(s); still serving the previous zones",
                    len(exc.errors),
                )
                return False, [str(e) for e in exc.errors]
            if config.listen != self.loaded.config.listen or config.http != self.loaded.config.http:
                log.warning("listen and http addresses change only on restart")
            if (config.route53 is None) != (self.loaded.config.route53 is None):
                log.warning("the Route 53 API is turned on or off only on restart")
            errors = await self._serve(loaded)
            if errors:  # the main process (and any other worker) serves the new data
                self.metrics.reloads["error"] += 1
                for incomplete in errors:
                    log.error("reload incomplete: %s", incomplete)
                return False, errors
            self.metrics.reloads["ok"] += 1
            lines = summary_lines(loaded.zone_set)
            for line in lines:
                log.info("reloaded %s", line)
            return True, lines
