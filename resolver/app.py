"""The running server: loads config and zones, serves them, reloads and stops on signals."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from healthcheck.checker import HealthChecker
from resolver import __version__, heap, http_api, sdnotify, workers
from resolver.cache import AnswerCache
from resolver.config import Config, ListenAddress
from resolver.engine import Resolver
from resolver.errors import LoadError, LoadFailed
from resolver.handler import Chaos, Handler
from resolver.location import Locator
from resolver.metrics import Metrics
from resolver.server import DnsServer
from resolver.zone import ZoneSet
from resolver.zonecheck import known_regions, load_zone_set

log = logging.getLogger("policydns")


@dataclass(frozen=True, slots=True)
class Loaded:
    """Everything one load produced, swapped in as a whole."""

    config: Config
    zone_set: ZoneSet
    locator: Locator


def load_all(config: Config, previous: ZoneSet | None = None) -> Loaded:
    """Load every zone the config names; raises LoadFailed with every error."""
    errors: list[LoadError] = []
    try:
        locator = Locator(config.locations, config.latency, config.geoip_database)
    except Exception as exc:  # maxminddb raises several kinds for a bad file
        where = config.source or "--geoip-db"
        errors.append(LoadError(where, 0, "geoip.database", f"cannot open: {exc}"))
        locator = Locator(config.locations, config.latency)
    try:
        zone_set = load_zone_set(config.zones, previous, known_regions(config.regions))
    except LoadFailed as exc:
        raise LoadFailed(errors + exc.errors) from None
    if errors:
        raise LoadFailed(errors)
    return Loaded(config, zone_set, locator)


def chaos_of(config: Config) -> Chaos:
    if not config.chaos_enabled:
        return Chaos(None, None)
    version = config.chaos_version
    identity = config.chaos_id
    return Chaos(
        f"policydns {__version__}" if version is None else (version or None),
        socket.gethostname() if identity is None else (identity or None),
    )


def summary_lines(zone_set: ZoneSet) -> list[str]:
    """`example.com: 42 record sets, 3 health checks, serial N`, one line per zone."""
    lines = []
    for origin in sorted(zone_set.zones, key=lambda o: tuple(reversed(o))):
        zone = zone_set.zones[origin]
        lines.append(
            f"{zone.name_text.rstrip('.') or '.'}: {zone.record_set_count()} record sets, "
            f"{zone.health_check_count} health checks, serial {zone.soa.serial}"
        )
    return lines


def make_locator(config: Config) -> Locator:
    return Locator(config.locations, config.latency, config.geoip_database)


def build_handler(loaded: Loaded, health: Any, metrics: Metrics, log_queries: bool) -> Handler:
    """The query handler for one process, from what one load produced."""
    config = loaded.config
    return Handler(
        Resolver(loaded.zone_set),
        health,
        chaos_of(config),
        loaded.locator,
        config.ecs,
        metrics,
        log_queries,
        AnswerCache(config.cache_max_entries),
    )


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
        self._tasks: set[asyncio.Task] = set()
        self.log_queries = log_queries
        self.metrics = Metrics()
        self.checker = HealthChecker(self.loaded.zone_set.health_checks, self._health_changed)
        self.metrics.health_states = self.checker.states
        self.handler = build_handler(self.loaded, self.checker.view(), self.metrics, log_queries)
        self.metrics.cache_stats = lambda: (self.handler.cache.hits, self.handler.cache.misses)
        self.server = DnsServer(self.handler.handle, config.tcp)
        self.workers: list[workers.WorkerLink] = []
        self._preset: list | None = None
        self.http_runner: web.AppRunner | None = None
        self.http_address: ListenAddress | None = None
        self.stopped = asyncio.Event()

    def start_workers(self, count: int) -> None:
        """Fork count-1 worker processes sharing the listen ports (before the loop runs)."""
        config = self.loaded.config
        self._preset = workers.bind_shared(config.listen)

        def run_worker(number: int, conn: Any, addresses: list[ListenAddress]) -> None:
            handler = build_handler(self.loaded, self.checker.view(), Metrics(), self.log_queries)
            worker = workers.Worker(number, conn, handler, config, make_locator)
            run_loop(worker.run(addresses))

        heap.settle()  # workers start from a frozen heap: fewer pages copied on write
        self.workers = workers.spawn(count, self._preset, run_worker)

    def _broadcast(self, message: tuple) -> None:
        for link in self.workers:
            link.send(message)

    def _from_worker(self, link: workers.WorkerLink) -> None:
        try:
            kind, number, snapshot = link.conn.recv()
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(link.conn.fileno())
            log.error("worker %d (pid %d) exited", link.number, link.pid)
            return
        if kind == "metrics":
            self.metrics.remote[number] = snapshot

    def _health_changed(self, check_id: str, old: bool, new: bool, reason: str) -> None:
        """A check changed state: answers follow at once (the checker logged the change)."""
        view = self.checker.view()
        self.handler.health_changed(view, [check_id])
        self._broadcast(("health", dict(view.states), [check_id]))
        self.metrics.transitions[check_id] += 1

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        config = self.loaded.config
        # Signals first: a SIGTERM right after the first "listening" line must still
        # stop the server gracefully.
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopped.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload_in_background)
        for link in self.workers:
            loop.add_reader(link.conn.fileno(), self._from_worker, link)
        try:
            inherited = self._preset or sdnotify.pair_activated(sdnotify.listen_fds())
            if inherited and not self._preset:
                log.info("socket activation: %d address(es) from systemd", len(inherited))
            await self.server.start(config.listen, inherited)
            if config.http is not None:
                self.http_runner, self.http_address = await http_api.start(self, config.http)
            await self.checker.start()
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
                for link in self.workers:
                    loop.remove_reader(link.conn.fileno())
                await loop.run_in_executor(None, workers.reap, self.workers)
        log.info("stopped")

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
            status = self._status() if ok else "reload failed; serving the previous zones"
            sdnotify.notify("READY=1", f"STATUS={status}")

        self._keep(asyncio.get_running_loop().create_task(reload_for_systemd()))

    async def reload(self) -> tuple[bool, list[str]]:
        """Load everything anew off the event loop; swap it in only if all of it loaded.

        Returns (True, summary lines) or (False, error lines); on failure the previous
        zones and config keep serving, untouched.
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
            self.loaded = loaded
            self.handler.locator = loaded.locator
            self.handler.cache.max_entries = config.cache_max_entries
            self.handler.swap(Resolver(loaded.zone_set))
            self._broadcast(("reload", config, loaded.zone_set))
            self.handler.use_ecs = config.ecs
            self.handler.chaos = chaos_of(config)
            await self.checker.update(loaded.zone_set.health_checks)
            view = self.checker.view()
            self.handler.health_changed(view, list(loaded.zone_set.health_checks))
            self._broadcast(("health", dict(view.states), list(loaded.zone_set.health_checks)))
            heap.settle()
            self.metrics.reloads["ok"] += 1
            lines = summary_lines(loaded.zone_set)
            for line in lines:
                log.info("reloaded %s", line)
            return True, lines
