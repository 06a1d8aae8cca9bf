"""Hosted zones: create, get, count, list (by name), delete."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dnslib import QTYPE

from resolver.route53 import mapping
from resolver.route53.core import (
    MAX_ITEMS,
    ServiceCore,
    log,
    marker_listing,
    max_items,
    required,
    zone_id_text,
)
from resolver.route53.errors import Route53Error
from resolver.wire import names
from resolver.zones.model import Zone

DEFAULT_TTL = 900  # the SOA and apex NS of a new zone: Route 53's SOA TTL


def _zone_name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip("."):
        raise Route53Error("InvalidDomainName", f"{raw!r} is not a domain name", 400)
    try:
        name = names.from_text(raw.rstrip(".") + ".")
    except (names.NameError_, UnicodeError) as exc:
        raise Route53Error("InvalidDomainName", f"{raw!r}: {exc}", 400) from None
    return names.to_text(name)


class HostedZones(ServiceCore):
    """The hosted zone operations; a zone from an operator's file is listed, read-only."""

    def _hosted_zone(self, zone: Zone) -> dict[str, Any]:
        meta = self.resources["zones"].get(zone.name_text, {})
        config: dict[str, Any] = {"PrivateZone": False}
        comment = meta.get("Comment")
        if not self._is_api_zone(zone):
            comment = f"served from the operator's zone file {zone.file} (read-only)"
        if comment:
            config["Comment"] = comment
        return {
            "Id": f"/hostedzone/{mapping.zone_id_for(zone.name_text)}",
            "Name": zone.name_text,
            "CallerReference": meta.get("CallerReference", f"zone-file:{zone.file}"),
            "Config": config,
            "ResourceRecordSetCount": zone.record_set_count(),
        }

    def _delegation(self, zone: Zone) -> dict[str, Any]:
        ns = zone.group(zone.origin, int(QTYPE.NS))
        servers = [str(rd) for s in ns.sets for rd in s.rdata] if ns else []
        return {"NameServers": servers}

    async def _create_hosted_zone(self, p: dict[str, Any]) -> dict[str, Any]:
        name = _zone_name(p.get("Name"))
        reference = required(p, "CallerReference")
        if p.get("VPC") or (p.get("HostedZoneConfig") or {}).get("PrivateZone"):
            raise Route53Error.invalid_input("private hosted zones (VPC) are not supported")
        async with self.host.lock:
            for meta in self.resources["zones"].values():
                if meta.get("CallerReference") == reference:
                    raise Route53Error(
                        "HostedZoneAlreadyExists",
                        f"A hosted zone has already been created with the caller reference "
                        f"{reference}",
                        409,
                    )
            zone_set = self.host.zone_set
            existing = zone_set.zones.get(names.from_text(name))
            if existing is not None:
                raise Route53Error(
                    "HostedZoneAlreadyExists",
                    f"{name} is already served here (from {existing.file}); one server serves "
                    "one zone of a name",
                    409,
                )
            apex = name.rstrip(".")
            doc: dict[str, Any] = {
                "zone": apex,
                "ttl": DEFAULT_TTL,
                "soa": {
                    "mname": f"ns1.{name}",
                    "rname": f"hostmaster.{name}",
                    "serial": int(time.time()) & 0xFFFFFFFF,
                },
                "ns": [f"ns1.{name}"],
                "records": {},
            }
            path = self.store.zone_path(name)
            new_zone = self._compile_whole(doc, path)
            new_set = self._rebuilt(zone_set, add=new_zone)
            comment = (p.get("HostedZoneConfig") or {}).get("Comment")
            await self._write(name, doc, {})
            self.resources["zones"][name] = {"CallerReference": reference, "Comment": comment}
            await self._save_resources()
            await self.host.commit(new_set)
            zone = new_set.zones[new_zone.origin]
            log.info("route53: created hosted zone %s", name)
            return {
                "HostedZone": self._hosted_zone(zone),
                "ChangeInfo": self._change_info(),
                "DelegationSet": self._delegation(zone),
                "Location": f"https://route53.amazonaws.com/2013-04-01/hostedzone/"
                f"{mapping.zone_id_for(name)}",
            }

    def _get_hosted_zone(self, p: dict[str, Any]) -> dict[str, Any]:
        zone = self._zone_by_id(required(p, "Id"))
        return {"HostedZone": self._hosted_zone(zone), "DelegationSet": self._delegation(zone)}

    def _get_hosted_zone_count(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"HostedZoneCount": len(self.host.zone_set.zones)}

    def _sorted_zones(self) -> list[Zone]:
        return sorted(
            self.host.zone_set.zones.values(),
            key=lambda z: (tuple(reversed(z.origin)), mapping.zone_id_for(z.name_text)),
        )

    def _list_hosted_zones(self, p: dict[str, Any]) -> dict[str, Any]:
        zones = self._sorted_zones()
        ids = [mapping.zone_id_for(z.name_text) for z in zones]
        return marker_listing(p, "HostedZones", ids, lambda i: self._hosted_zone(zones[i]))

    def _list_hosted_zones_by_name(self, p: dict[str, Any]) -> dict[str, Any]:
        size = max_items(p, MAX_ITEMS)
        zones = self._sorted_zones()
        start = 0
        dns_name = p.get("DNSName")
        zone_id = p.get("HostedZoneId")
        if zone_id and not dns_name:
            raise Route53Error.invalid_input("HostedZoneId requires DNSName")
        if dns_name:
            key = tuple(reversed(names.from_text(_zone_name(dns_name))))
            start = next(
                (
                    i
                    for i, z in enumerate(zones)
                    if (tuple(reversed(z.origin)), mapping.zone_id_for(z.name_text))
                    >= (key, zone_id_text(zone_id or ""))
                ),
                len(zones),
            )
        page = zones[start : start + size]
        out: dict[str, Any] = {
            "HostedZones": [self._hosted_zone(z) for z in page],
            "IsTruncated": start + size < len(zones),
            "MaxItems": str(size),
        }
        if dns_name:
            out["DNSName"] = dns_name
        if zone_id:
            out["HostedZoneId"] = zone_id
        if out["IsTruncated"]:
            nxt = zones[start + size]
            out["NextDNSName"] = nxt.name_text
            out["NextHostedZoneId"] = mapping.zone_id_for(nxt.name_text)
        return out

    async def _delete_hosted_zone(self, p: dict[str, Any]) -> dict[str, Any]:
        async with self.host.lock:
            zone = self._zone_by_id(required(p, "Id"))
            self._writable(zone, "DeleteHostedZone")
            apex_only = all(
                owner == zone.origin and set(node) <= {int(QTYPE.NS), int(QTYPE.SOA)}
                for owner, node in zone.nodes.items()
            )
            if not apex_only:
                raise Route53Error(
                    "HostedZoneNotEmpty",
                    "The specified hosted zone contains non-required resource record sets and "
                    "so cannot be deleted.",
                    400,
                )
            new_set = self._rebuilt(self.host.zone_set, remove=zone.origin)
            await asyncio.get_running_loop().run_in_executor(
                None, self.store.delete_zone, zone.name_text
            )
            self.resources["zones"].pop(zone.name_text, None)
            self._zones.pop(zone.name_text, None)
            await self._save_resources()
            await self.host.commit(new_set)
            log.info("route53: deleted hosted zone %s", zone.name_text)
            return {"ChangeInfo": self._change_info()}
