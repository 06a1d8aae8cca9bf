"""Health checks: create, get, list, update, delete, status and last failure."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Mapping
from typing import Any

from dnslib import QTYPE

from healthcheck.spec import CheckSpec
from resolver.route53 import mapping
from resolver.route53.core import (
    ServiceCore,
    log,
    marker_listing,
    required,
)
from resolver.route53.errors import Route53Error
from resolver.wire import names
from resolver.zones.healthchecks import parse_check


class HealthChecks(ServiceCore):
    """The health check operations; the checks live in the state directory, their state
    in the running checker."""

    def _health_check(self, cid: str) -> dict[str, Any]:
        item = self.resources["health_checks"].get(cid)
        if item is not None:
            return {
                "Id": cid,
                "CallerReference": item["CallerReference"],
                "HealthCheckConfig": item["HealthCheckConfig"],
                "HealthCheckVersion": item["HealthCheckVersion"],
            }
        spec = self.host.zone_set.health_checks.get(cid)
        if spec is None:
            raise Route53Error(
                "NoSuchHealthCheck", f"No health check exists with the specified ID {cid}", 404
            )
        return {
            "Id": cid,
            "CallerReference": f"zone-file:{cid}",
            "HealthCheckConfig": mapping.check_to_config(spec_to_check(spec)),
            "HealthCheckVersion": 1,
        }

    def _validated_config(self, config: Mapping[str, Any]) -> CheckSpec:
        try:
            check, _ = mapping.config_to_check(dict(config))
        except mapping.MappingError as exc:
            raise Route53Error.invalid_input(str(exc)) from None
        spec, reasons = parse_check(check)
        if spec is None:
            raise Route53Error.invalid_input("; ".join(reasons))
        known = set(self.host.zone_set.health_checks) | set(self.resources["health_checks"])
        missing = [c for c in spec.children if c not in known]
        if missing:
            raise Route53Error(
                "NoSuchHealthCheck",
                f"No health check exists with the specified ID {missing[0]}",
                404,
            )
        return spec

    async def _create_health_check(self, p: dict[str, Any]) -> dict[str, Any]:
        reference = required(p, "CallerReference")
        config = p.get("HealthCheckConfig") or {}
        async with self.host.lock:
            for cid, item in self.resources["health_checks"].items():
                if item["CallerReference"] == reference:
                    if item["HealthCheckConfig"] == config:  # a retry: Route 53 answers the same
                        return {
                            "HealthCheck": self._health_check(cid),
                            "Location": _hc_location(cid),
                        }
                    raise Route53Error(
                        "HealthCheckAlreadyExists",
                        f"A health check with caller reference {reference} already exists "
                        "with a different configuration",
                        409,
                    )
            self._validated_config(config)
            cid = str(uuid.uuid4())
            self.resources["health_checks"][cid] = {
                "CallerReference": reference,
                "HealthCheckConfig": config,
                "HealthCheckVersion": 1,
            }
            try:
                await self._checks_changed([])
            except Route53Error:
                del self.resources["health_checks"][cid]
                raise
            log.info("route53: created health check %s", cid)
            return {"HealthCheck": self._health_check(cid), "Location": _hc_location(cid)}

    def _get_health_check(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"HealthCheck": self._health_check(required(p, "HealthCheckId"))}

    def _all_check_ids(self) -> list[str]:
        return sorted(set(self.host.zone_set.health_checks) | set(self.resources["health_checks"]))

    def _get_health_check_count(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"HealthCheckCount": len(self._all_check_ids())}

    def _list_health_checks(self, p: dict[str, Any]) -> dict[str, Any]:
        ids = self._all_check_ids()
        return marker_listing(p, "HealthChecks", ids, lambda i: self._health_check(ids[i]))

    def _api_check(self, cid: str, what: str) -> dict[str, Any]:
        item = self.resources["health_checks"].get(cid)
        if item is None:
            self._health_check(cid)  # NoSuchHealthCheck when it is nowhere
            raise Route53Error(
                "AccessDenied",
                f"health check {cid} is defined in an operator's zone file; it is read-only "
                f"through the Route 53 API ({what} refused)",
                403,
            )
        return item

    async def _update_health_check(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = required(p, "HealthCheckId")
        async with self.host.lock:
            item = self._api_check(cid, "UpdateHealthCheck")
            version = p.get("HealthCheckVersion")
            if version is not None and int(version) != item["HealthCheckVersion"]:
                raise Route53Error(
                    "HealthCheckVersionMismatch",
                    f"The value of HealthCheckVersion ({version}) does not match the current "
                    f"version ({item['HealthCheckVersion']})",
                    409,
                )
            config = dict(item["HealthCheckConfig"])
            for key in UPDATABLE:
                if key in p:
                    config[key] = p[key]
            for reset in p.get("ResetElements") or []:
                config.pop(RESETTABLE.get(reset, reset), None)
            self._validated_config(config)
            old = dict(item)
            item["HealthCheckConfig"] = config
            item["HealthCheckVersion"] += 1
            try:
                await self._checks_changed([cid])
            except Route53Error:
                self.resources["health_checks"][cid] = old
                raise
            return {"HealthCheck": self._health_check(cid)}

    def _users_of_check(self, cid: str) -> list[str]:
        users = []
        zone_set = self.host.zone_set
        for zone in zone_set.zones.values():
            for node in zone.nodes.values():
                for group in node.values():
                    for s in group.sets:
                        if s.health_check == cid:
                            users.append(f"{names.to_text(s.name)} {QTYPE.get(s.rtype)}")
        for other, spec in zone_set.health_checks.items():
            if cid in spec.children:
                users.append(f"calculated health check {other}")
        return users

    async def _delete_health_check(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = required(p, "HealthCheckId")
        async with self.host.lock:
            self._api_check(cid, "DeleteHealthCheck")
            users = self._users_of_check(cid)
            if users:
                raise Route53Error(
                    "HealthCheckInUse",
                    f"The health check {cid} is still referenced from {', '.join(users[:5])}",
                    400,
                )
            old = self.resources["health_checks"].pop(cid)
            try:
                await self._checks_changed([])
            except Route53Error:
                self.resources["health_checks"][cid] = old
                raise
            return {}

    def _observation(self, cid: str, failure: bool) -> list[dict[str, Any]]:
        self._health_check(cid)
        state = self.host.states().get(cid)
        if state is None:
            return []
        if failure:
            if state.last_failure is None or state.last_failure_at is None:
                return []
            text, at = f"Failure: {state.last_failure}", state.last_failure_at
        else:
            ok = state.last_result
            outcome = "Success" if ok or (ok is None and state.healthy) else "Failure"
            text = f"{outcome}: {state.reason}"
            at = state.last_checked or state.since
        return [
            {
                "Region": "us-east-1",  # one checker, this server; it has no region
                "StatusReport": {
                    "Status": text,
                    "CheckedTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
                },
            }
        ]

    def _get_health_check_status(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"HealthCheckObservations": self._observation(required(p, "HealthCheckId"), False)}

    def _get_health_check_last_failure_reason(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"HealthCheckObservations": self._observation(required(p, "HealthCheckId"), True)}


def spec_to_check(spec: CheckSpec) -> dict[str, Any]:
    """A CheckSpec as the zone-file mapping that would produce it (defaults left out)."""
    out: dict[str, Any] = {}
    default = CheckSpec(spec.type)
    for f in dataclasses.fields(CheckSpec):
        value = getattr(spec, f.name)
        if f.name == "type" or value != getattr(default, f.name):
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


# UpdateHealthCheck's members that replace the config's own, and ResetElements' names.
UPDATABLE = (
    "IPAddress",
    "Port",
    "ResourcePath",
    "FullyQualifiedDomainName",
    "SearchString",
    "FailureThreshold",
    "Inverted",
    "Disabled",
    "HealthThreshold",
    "ChildHealthChecks",
    "EnableSNI",
    "Regions",
)


RESETTABLE = {
    "FullyQualifiedDomainName": "FullyQualifiedDomainName",
    "Regions": "Regions",
    "ResourcePath": "ResourcePath",
    "ChildHealthChecks": "ChildHealthChecks",
}


def _hc_location(cid: str) -> str:
    return f"https://route53.amazonaws.com/2013-04-01/healthcheck/{cid}"
