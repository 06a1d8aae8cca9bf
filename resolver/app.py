"""The running server: loads config and zones, serves them, reloads and stops on signals."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from dataclasses import dataclass

from healthcheck.view import AllHealthy
from resolver import __version__
from resolver.config import Config
from resolver.engine import Resolver
from resolver.errors import LoadError, LoadFailed
from resolver.handler import Chaos, Handler
from resolver.location import Locator
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
        sets = sum(len(g.sets) for node in zone.nodes.values() for g in node.values()) + 1
        lines.append(
            f"{zone.name_text.rstrip('.') or '.'}: {sets} record sets, "
            f"{zone.health_check_count} health checks, serial {zone.soa.serial}"
        )
    return lines


class App:
    """One serving process."""

    def __init__(self, config: Config, reload_config) -> None:
        self.loaded = load_all(config)
        self._reload_config = reload_config
        self.handler = Handler(
            Resolver(self.loaded.zone_set),
            AllHealthy(),
            chaos_of(config),
            self.loaded.locator,
            config.ecs,
        )
        self.server = DnsServer(self.handler.handle, config.tcp)
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        config = self.loaded.config
        if config.http is not None:
            log.debug("the HTTP API is not part of this version; %s is not bound", config.http)
        await self.server.start(config.listen)
        for line in summary_lines(self.loaded.zone_set):
            log.info("serving %s", line)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopped.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        await self.stopped.wait()
        log.info("stopping: closing listeners, finishing TCP in flight")
        await self.server.stop()
        log.info("stopped")

    def reload(self) -> bool:
        """Load everything anew; swap it in only if it all loaded. The old set keeps serving."""
        try:
            config = self._reload_config()
            loaded = load_all(config, self.loaded.zone_set)
        except LoadFailed as exc:
            for error in exc.errors:
                log.error("reload failed: %s", error)
            log.error(
                "reload failed with %d error(s); still serving the previous zones", len(exc.errors)
            )
            return False
        self.loaded = loaded
        self.handler.resolver = Resolver(loaded.zone_set)
        self.handler.locator = loaded.locator
        self.handler.use_ecs = config.ecs
        self.handler.chaos = chaos_of(config)
        for line in summary_lines(loaded.zone_set):
            log.info("reloaded %s", line)
        return True
