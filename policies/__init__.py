"""Routing policies, registered by the routing key that selects them in a zone file."""

from policies import (
    failover,
    geolocation,
    geoproximity,
    ipbased,
    latency,
    multivalue,
    simple,
    weighted,
)
from policies.base import (
    REGISTRY,
    Client,
    Latencies,
    LoadContext,
    Location,
    Policy,
    Selection,
    get,
    register,
)

__all__ = [
    "REGISTRY",
    "Client",
    "Latencies",
    "LoadContext",
    "Location",
    "Policy",
    "Selection",
    "failover",
    "geolocation",
    "geoproximity",
    "get",
    "ipbased",
    "latency",
    "multivalue",
    "register",
    "simple",
    "weighted",
]
