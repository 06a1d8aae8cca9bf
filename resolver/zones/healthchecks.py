"""A zone file's `health_checks` entries read into CheckSpecs (SPEC 6), every problem named.

Validated once, before any probe runs; the checker receives only the CheckSpecs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from healthcheck.spec import CheckSpec
from policies.base import is_int, is_number
from resolver.errors import LoadError
from resolver.zones.draft import ZoneDraft
from resolver.zones.graph import find_cycles
from resolver.zones.yamlsource import SourceDict

CHECK_TYPES = ("http", "https", "tcp", "calculated")
_KEYS = {
    "type",
    "target",
    "port",
    "path",
    "host",
    "search",
    "interval",
    "timeout",
    "failure_threshold",
    "invert",
    "children",
    "healthy_threshold",
    "disabled",
}
_PROBE_ONLY = {"target", "port", "path", "host", "search", "timeout"}


def read_checks(
    raw: Any, doc: SourceDict, apex: str, error: Callable[[int, str, str], None]
) -> tuple[dict[str, CheckSpec], dict[str, int]]:
    """One file's `health_checks` mapping: the valid checks by id, and every id's line."""
    checks: dict[str, CheckSpec] = {}
    lines: dict[str, int] = {}
    if raw is None:
        return checks, lines
    if not isinstance(raw, SourceDict):
        error(doc.line_of("health_checks"), apex, "health_checks must be a mapping")
        return checks, lines
    for check_id, value in raw.items():
        line = raw.line_of(check_id)
        lines[str(check_id)] = line
        spec, reasons = parse_check(value)
        for reason in reasons:
            error(line, f"health check {check_id}", reason)
        if spec is not None:
            checks[str(check_id)] = spec
    return checks, lines


def merge_checks(drafts: list[ZoneDraft], errors: list[LoadError]) -> dict[str, CheckSpec]:
    """Every file's checks in one table (ids are global), with the rules across files:
    one definition per id, known children, no cycles among calculated checks."""
    checks: dict[str, CheckSpec] = {}
    where: dict[str, tuple[str, int]] = {}
    for draft in drafts:
        for check_id, spec in draft.health_checks.items():
            line = draft.check_lines[check_id]
            if check_id in checks and checks[check_id] != spec:
                file, first = where[check_id]
                errors.append(
                    LoadError(
                        draft.file,
                        line,
                        f"health check {check_id}",
                        f"defined differently in {file}:{first}",
                    )
                )
                continue
            checks[check_id] = spec
            where.setdefault(check_id, (draft.file, line))
    for check_id, spec in checks.items():
        for child in spec.children:
            if child not in checks:
                file, line = where[check_id]
                errors.append(
                    LoadError(
                        file,
                        line,
                        f"health check {check_id}",
                        f"unknown child health check {child!r}",
                    )
                )

    def children(check_id: str) -> list[str]:
        return [child for child in checks[check_id].children if child in checks]

    for cycle in find_cycles(checks, children):
        file, line = where[cycle[0]]
        errors.append(
            LoadError(
                file,
                line,
                f"health check {cycle[0]}",
                f"calculated checks form a cycle: {' -> '.join(cycle)}",
            )
        )
    return checks


def parse_check(value: Any) -> tuple[CheckSpec | None, list[str]]:
    """Validate one check's mapping; return the spec or every reason it is wrong."""
    if not isinstance(value, Mapping):
        return None, ["a health check must be a mapping"]
    reasons = [f"unknown key {key!r}" for key in value if key not in _KEYS]
    kind = value.get("type")
    if kind not in CHECK_TYPES:
        reasons.append(f"type must be one of {', '.join(CHECK_TYPES)}, not {kind!r}")
        return None, reasons
    fields: dict[str, Any] = {"type": kind}
    if kind == "calculated":
        reasons += [
            f"{key} does not apply to a calculated check" for key in _PROBE_ONLY & set(value)
        ]
        children = value.get("children")
        if not isinstance(children, list) or not children:
            reasons.append("a calculated check needs a non-empty children list")
            children = []
        elif not all(isinstance(c, str) for c in children):
            reasons.append("children must be health check ids")
            children = []
        elif len(set(children)) != len(children):
            reasons.append("children lists a check twice")
        fields["children"] = tuple(children)
        threshold = value.get("healthy_threshold", len(children))
        if not is_int(threshold) or not 0 <= threshold <= len(children):
            reasons.append(f"healthy_threshold must be 0..{len(children)}, not {threshold!r}")
        else:
            fields["healthy_threshold"] = threshold
    else:
        for key in ("children", "healthy_threshold"):
            if key in value:
                reasons.append(f"{key} only applies to calculated checks")
        target = value.get("target")
        if not isinstance(target, str) or not target:
            reasons.append("target (an IP address or host name) is required")
        else:
            fields["target"] = target
            if not _valid_target(target):
                reasons.append(f"target {target!r} is neither an IP address nor a host name")
        port = value.get("port", 443 if kind == "https" else 80)
        if kind == "tcp" and "port" not in value:
            reasons.append("a tcp check needs a port")
        if not is_int(port) or not 1 <= port <= 65535:
            reasons.append(f"port must be 1..65535, not {port!r}")
        fields["port"] = port
        if kind == "tcp":
            reasons += [
                f"{key} only applies to http and https checks"
                for key in ("path", "host", "search")
                if key in value
            ]
        path = value.get("path", "/")
        if not isinstance(path, str) or not path.startswith("/"):
            reasons.append(f"path must start with '/', not {path!r}")
        fields["path"] = path
        for key in ("host", "search"):
            if key in value:
                if not isinstance(value[key], str) or not value[key]:
                    reasons.append(f"{key} must be a non-empty string")
                fields[key] = value[key]
        timeout = value.get("timeout", 10.0 if kind == "tcp" else 4.0)
        if not is_number(timeout) or timeout <= 0:
            reasons.append(f"timeout must be a positive number of seconds, not {timeout!r}")
        fields["timeout"] = float(timeout) if is_number(timeout) else 4.0
    interval = value.get("interval", 30)
    if not is_number(interval) or interval < 0.1:
        reasons.append(f"interval must be at least 0.1 seconds, not {interval!r}")
    else:
        fields["interval"] = float(interval)
    threshold = value.get("failure_threshold", 3)
    if not is_int(threshold) or not 1 <= threshold <= 10:
        reasons.append(f"failure_threshold must be 1..10, not {threshold!r}")
    else:
        fields["failure_threshold"] = threshold
    invert = value.get("invert", False)
    if not isinstance(invert, bool):
        reasons.append(f"invert must be true or false, not {invert!r}")
    fields["invert"] = invert
    disabled = value.get("disabled", False)
    if not isinstance(disabled, bool):
        reasons.append(f"disabled must be true or false, not {disabled!r}")
    fields["disabled"] = disabled
    if reasons:
        return None, reasons
    return CheckSpec(**fields), []


def _valid_target(target: str) -> bool:
    try:
        ipaddress.ip_address(target)
        return True
    except ValueError:
        pass
    labels = target.rstrip(".").split(".")
    return all(0 < len(label) <= 63 and label.replace("-", "").isalnum() for label in labels)
