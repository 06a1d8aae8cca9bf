"""Routing policies, registered by the routing key that selects them in a zone file."""

from policies.base import REGISTRY, Client, Policy, Selection, get, register
from policies.simple import SimplePolicy

__all__ = ["REGISTRY", "Client", "Policy", "Selection", "SimplePolicy", "get", "register"]
