"""Who may recurse and which forwarders serve a name: decided from config, no I/O."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from resolver.query.client import source_address
from resolver.serve.listen import ListenAddress
from resolver.wire import names
from resolver.wire.names import Name

Route = tuple[Name, tuple[ListenAddress, ...]]  # the domain matched, its forwarders in order
# Seconds one try at one forwarder may take, and a whole question over every forwarder:
# below a stub resolver's own timeout (glibc and dig wait 5 s), so a client gets our
# SERVFAIL or stale answer before it gives up on us.
TRY_TIMEOUT = 1.0
DEADLINE = 3.0
STALE_TTL = 30  # RFC 8767 section 4: the TTL of a stale answer served
SOURCES_REMEMBERED = 4096  # packet sources whose allow_recursion verdict is kept


@dataclass(frozen=True, slots=True)
class ForwardSettings:
    """SPEC 3's forwarders, allow_recursion and the cache's TTL settings, checked."""

    routes: dict[Name, tuple[ListenAddress, ...]] = field(default_factory=dict)
    allow_recursion: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    min_ttl: int = 0
    max_ttl: int = 86400
    serve_stale: int = 0
    try_timeout: float = TRY_TIMEOUT
    deadline: float = DEADLINE

    @property
    def enabled(self) -> bool:
        return any(self.routes.values())

    def route(self, name: Name) -> Route | None:
        """The forwarders for name: the longest configured suffix on label boundaries."""
        routes = self.routes
        for start in range(len(name) + 1):
            suffix = name[start:]
            servers = routes.get(suffix)
            if servers is not None:
                return (suffix, servers) if servers else None
        return None


def describe(settings: ForwardSettings, name: Name, source: str) -> dict | None:
    """What forwarding would do with a question for name (in no zone) from source, for
    `explain`; None when no forwarders cover the name. RD is taken as set, as a stub
    resolver sends it."""
    route = settings.route(name)
    if route is None:
        return None
    domain, servers = route
    allowed = Recursion(settings.allow_recursion).allowed(source)
    return {
        "domain": names.to_text(domain),
        "forwarders": [str(server) for server in servers],
        "client_may_recurse": allowed,
    }


class Recursion:
    """Whether a packet source may recurse (allow_recursion), each source decided once."""

    def __init__(self, blocks: tuple[str, ...]) -> None:
        self.networks = tuple(ipaddress.ip_network(block) for block in blocks)
        self._known: dict[str, bool] = {}

    def allowed(self, source: str) -> bool:
        known = self._known.get(source)
        if known is None:
            address = source_address(source)  # IPv4-mapped IPv6 is matched as IPv4
            known = address is not None and any(address in net for net in self.networks)
            if len(self._known) >= SOURCES_REMEMBERED:
                self._known.clear()
            self._known[source] = known
        return known
