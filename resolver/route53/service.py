"""The Route 53 operations, applied to the zones being served: one class made of the
families of operations (hosted zones, record sets, health checks, CIDR collections,
TestDNSAnswer), each in its own module, over the shared state in route53.core.

Each operation takes botocore's input shape and returns its output shape
(resolver.route53.api turns them into XML).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from resolver.route53 import shapes
from resolver.route53.cidr import CidrCollections
from resolver.route53.core import Host
from resolver.route53.dnsanswer import DnsAnswer
from resolver.route53.errors import Route53Error
from resolver.route53.health_checks import HealthChecks
from resolver.route53.hosted_zones import HostedZones
from resolver.route53.record_sets import RecordSets
from resolver.route53.store import Store


class Route53Service(HostedZones, RecordSets, HealthChecks, CidrCollections, DnsAnswer):
    def __init__(self, store: Store, host: Host) -> None:
        super().__init__(store, host)
        self._operations: dict[str, Callable[[dict[str, Any]], Any]] = {
            name: getattr(self, "_" + _snake(name)) for name in shapes.OPERATIONS
        }

    async def invoke(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        method = self._operations.get(operation)
        if method is None:
            raise Route53Error("InvalidAction", f"{operation} is not supported here", 400)
        result = method(params)
        if asyncio.iscoroutine(result):
            result = await result
        return result


def _snake(operation: str) -> str:
    """`TestDNSAnswer` -> `test_dns_answer`: the method that serves an operation."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", operation).lower()
