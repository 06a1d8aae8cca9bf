"""What a config and its zones become: everything loaded and checked (load_all), and
the query path's parts built from it (handler, forwarding, rate limiter). `serve` and
every worker build theirs here; `check`, `explain` and `export` only load."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

from resolver import __version__
from resolver.config import Config
from resolver.errors import LoadError, LoadFailed
from resolver.forward.cache import ForwardCache
from resolver.forward.stage import Forwarding
from resolver.metrics import Metrics
from resolver.query.chaos import Chaos
from resolver.query.engine import Resolver
from resolver.query.handler import Handler
from resolver.query.limiter import Limiter, place
from resolver.query.location import Locator
from resolver.query.logsink import LogSink
from resolver.query.reuse import Reuse
from resolver.route53.mapping import zone_id_for
from resolver.route53.service import Route53Service
from resolver.route53.settings import Route53Settings
from resolver.route53.store import FileStore
from resolver.serve.transport import DnsServer
from resolver.wire import fastpath, names
from resolver.zones.check import Extra, known_regions, load_zone_set
from resolver.zones.model import ZoneSet

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
    paths, extra = list(config.zones), None
    if config.route53 is not None:
        try:
            paths, extra = route53_sources(config.route53, paths)
        except (OSError, ValueError, KeyError) as exc:
            where = os.path.join(config.route53.state_dir, "resources.json")
            raise LoadFailed([LoadError(where, 0, "route53", f"cannot read: {exc}")]) from None
    try:
        zone_set = load_zone_set(paths, previous, known_regions(config.regions), extra)
    except LoadFailed as exc:
        raise LoadFailed(errors + exc.errors) from None
    if errors:
        raise LoadFailed(errors)
    return Loaded(config, zone_set, locator)


def route53_sources(settings: Route53Settings, paths: list[str]) -> tuple[list[str], Extra]:
    """The Route 53 API's zone files after the operator's, and its health checks and CIDR
    collections (a state directory not yet made holds nothing)."""
    store = FileStore(settings.state_dir, create=False)
    resources = store.read_resources()
    checks, collections = Route53Service.tables(resources)
    extra = Extra(
        os.path.join(settings.state_dir, "resources.json"), checks, collections, str(store.zones)
    )
    return paths + store.zone_paths(), extra


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


def apply_loaded(
    handler: Handler,
    server: DnsServer,
    config: Config,
    zone_set: ZoneSet,
    locator: Locator,
    limiter: Limiter,
    forwarding: Forwarding,
) -> None:
    """Put one loaded configuration into a running process's handler and listeners.

    The one place a reload changes how a process answers, used alike by the main process
    and by every worker (which builds its own locator): zones, chaos texts, ECS, the
    locator, the cache bound, forwarding, the TCP settings and rate limiting (its
    accounts kept when its settings did not change). Log settings are command-line
    flags, fixed for the process's life. The swap comes last: it empties every cached answer.
    """
    place(handler.after_answer, limiter, config.rate_limit)
    handler.locator = locator
    handler.use_ecs = config.ecs
    handler.chaos = chaos_of(config)
    answers, forwarded = cache_shares(config)
    handler.cache.max_entries = answers
    forwarding.reconfigure(config.forwarding)
    forwarding.cache.max_entries = forwarded
    server.tcp.settings = config.tcp
    handler.swap(Resolver(zone_set))


def cache_shares(config: Config) -> tuple[int, int]:
    """cache.max_entries split between answer reuse and, when forwarding is on, the
    forward cache (a quarter): one bound for every kind of cached answer (SPEC 3)."""
    total = config.cache_max_entries
    forwarded = total // 4 if config.forwarding.enabled else 0
    return total - forwarded, forwarded


def query_log_on(config: Config, log_queries: bool) -> bool:
    """A `query_log:` section or --log-queries turns the query log on."""
    return log_queries or config.query_log is not None


def build_handler(
    loaded: Loaded, health: Any, metrics: Metrics, log_queries: bool, sink: LogSink | None = None
) -> Handler:
    """The query handler for one process, from what one load produced (rate limiting
    comes from `build_limiter`, forwarding from `build_forwarding`)."""
    config = loaded.config
    handler = _handler(loaded, health, metrics, query_log_on(config, log_queries))
    stats = handler.statistics
    if stats is not None and handler.log_queries and config.query_log is not None:
        stats.sink = sink
        stats.route53 = config.query_log.format == "route53"

        def zone_id(question: bytes) -> str:
            zone = handler.resolver.zone_set.find(fastpath.labels(question))
            return "-" if zone is None else zone_id_for(names.escaped(zone.origin))

        stats.zone_id = zone_id
    return handler


def _handler(loaded: Loaded, health: Any, metrics: Metrics, log_queries: bool) -> Handler:
    config = loaded.config
    answers, _ = cache_shares(config)
    return Handler(
        Resolver(loaded.zone_set),
        health,
        chaos_of(config),
        loaded.locator,
        config.ecs,
        metrics,
        log_queries,
        Reuse(answers),
    )


def build_forwarding(handler: Handler, config: Config, metrics: Metrics) -> Forwarding:
    """One process's forwarding stage, in the handler (it refuses all while no forwarders
    are configured, and a reload may configure them)."""
    _, forwarded = cache_shares(config)
    cache = ForwardCache(forwarded)
    forwarding = Forwarding(config.forwarding, cache, metrics.count, metrics.time_upstream)
    handler.forwarding = forwarding
    return forwarding


def build_limiter(handler: Handler, config: Config, metrics: Metrics) -> Limiter:
    """One process's rate limiter, in the handler's after-answer list when it is on."""
    limiter = Limiter(config.rate_limit, metrics.count)
    place(handler.after_answer, limiter, config.rate_limit)
    return limiter
