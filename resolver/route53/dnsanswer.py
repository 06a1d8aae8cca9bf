"""TestDNSAnswer: one question answered as a client would get it."""

from __future__ import annotations

import ipaddress
from typing import Any

from resolver.query.explain import ExplainError, explain
from resolver.route53.core import (
    ServiceCore,
    required,
)
from resolver.route53.errors import Route53Error
from resolver.wire import names


class DnsAnswer(ServiceCore):
    """TestDNSAnswer, through the same explain as `policydns explain`."""

    def _test_dns_answer(self, p: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone_by_id(required(p, "HostedZoneId"))
        name = required(p, "RecordName")
        rtype = required(p, "RecordType")
        subnet = None
        ecs_ip = p.get("EDNS0ClientSubnetIP")
        if ecs_ip:
            try:
                address = ipaddress.ip_address(ecs_ip)
            except ValueError:
                raise Route53Error.invalid_input(f"bad EDNS0ClientSubnetIP {ecs_ip!r}") from None
            mask = p.get("EDNS0ClientSubnetMask") or (24 if address.version == 4 else 64)
            subnet = f"{address}/{mask}"
        try:
            report = explain(
                self.host.zone_set,
                self.host.locator,
                name,
                rtype,
                p.get("ResolverIP") or None,
                subnet,
                self.host.health(),
                self.host.use_ecs,
            )
        except ExplainError as exc:
            raise Route53Error.invalid_input(str(exc)) from None
        asked = names.from_text(report["question"]["name"])
        if zone.origin and asked[len(asked) - len(zone.origin) :] != zone.origin:
            raise Route53Error.invalid_input(f"{name} is not in the hosted zone {zone.name_text}")
        # Like dig's answer section: every record's data, a CNAME chain included.
        data = [line.split(" ", 4)[4] for line in report["answer"]]
        return {
            "Nameserver": "policydns",
            "RecordName": name,
            "RecordType": rtype,
            "RecordData": data,
            "ResponseCode": report["rcode"],
            "Protocol": "UDP",
        }
