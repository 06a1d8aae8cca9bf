"""Health-check definitions: plain data validated once, before any probe runs (SPEC 6)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
}
_PROBE_ONLY = {"target", "port", "path", "host", "search", "timeout"}


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One health check. Equal specs are the same probe, whatever their ids."""

    type: str
    target: str | None = None
    port: int | None = None
    path: str = "/"
    host: str | None = None
    search: str | None = None
    interval: float = 30.0
    timeout: float = 4.0
    failure_threshold: int = 3
    invert: bool = False
    children: tuple[str, ...] = ()
    healthy_threshold: int = 0


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse(value: Any) -> tuple[CheckSpec | None, list[str]]:
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
        if not _is_int(threshold) or not 0 <= threshold <= len(children):
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
        if not _is_int(port) or not 1 <= port <= 65535:
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
        if not _is_number(timeout) or timeout <= 0:
            reasons.append(f"timeout must be a positive number of seconds, not {timeout!r}")
        fields["timeout"] = float(timeout) if _is_number(timeout) else 4.0
    interval = value.get("interval", 30)
    if not _is_number(interval) or interval < 0.1:
        reasons.append(f"interval must be at least 0.1 seconds, not {interval!r}")
    else:
        fields["interval"] = float(interval)
    threshold = value.get("failure_threshold", 3)
    if not _is_int(threshold) or not 1 <= threshold <= 10:
        reasons.append(f"failure_threshold must be 1..10, not {threshold!r}")
    else:
        fields["failure_threshold"] = threshold
    invert = value.get("invert", False)
    if not isinstance(invert, bool):
        reasons.append(f"invert must be true or false, not {invert!r}")
    fields["invert"] = invert
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


def find_cycles(specs: Mapping[str, CheckSpec]) -> list[list[str]]:
    """Cycles among calculated checks, each as the path that closes on itself."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(check_id: str, path: list[str]) -> None:
        state[check_id] = 1
        for child in specs[check_id].children:
            if child not in specs:
                continue
            if state.get(child) == 1:
                cycles.append([*path[path.index(child) :], child])
            elif child not in state:
                visit(child, [*path, child])
        state[check_id] = 2

    for check_id in specs:
        if check_id not in state:
            visit(check_id, [check_id])
    return cycles
