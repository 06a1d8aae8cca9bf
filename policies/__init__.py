"""Routing policies, registered by the routing key that selects them in a zone file.

Every module of this package is imported here, and a policy module registers its class
as it is imported: a new policy is its module, its test file and its docs page, with no
list to extend (see docs/policies/).
"""

import importlib
import pkgutil

from policies.base import (
    DEFAULT_KEY,
    REGISTRY,
    Client,
    Latencies,
    LoadContext,
    Location,
    Policy,
    Selection,
    get,
    register,
    routing_keys,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "DEFAULT_KEY",
    "REGISTRY",
    "Client",
    "Latencies",
    "LoadContext",
    "Location",
    "Policy",
    "Selection",
    "get",
    "register",
    "routing_keys",
]
