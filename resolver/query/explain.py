"""The decision path for one question, as data (for the CLI and the HTTP API) and as text.

The equivalent of Route 53's TestDNSAnswer: which client address was used, where it was
located and from what, every candidate at every nesting level with its health and verdict,
the ECS scope, and the final answer.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dnslib import CLASS, QTYPE, RCODE, RR, DNSLabel

from healthcheck.view import FixedHealth, HealthView
from resolver.query.client import make_client, source_address
from resolver.query.engine import Resolver
from resolver.query.location import Locator
from resolver.query.result import QueryContext, Result
from resolver.wire import names
from resolver.wire.ecs import ClientSubnet
from resolver.wire.names import Name
from resolver.zones.model import ZoneSet


class ExplainError(ValueError):
    """A question or client that cannot be explained (bad name, type, address, file)."""


def subnet_of(text: str) -> ClientSubnet:
    """An ECS subnet from CIDR text, as a resolver would send it (host bits cleared)."""
    shown = text if len(text) <= 60 else text[:60] + "..."
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        reason = str(exc) if len(text) <= 60 else "expected ADDRESS/PREFIX"
        raise ExplainError(f"bad subnet {shown!r}: {reason}") from None
    family = 1 if network.version == 4 else 2
    return ClientSubnet(family, network.prefixlen, network.network_address)


MAX_NAME_OCTETS = 255  # RFC 1035 2.3.4, counted in wire form
_GENERIC_TYPE_RE = re.compile(r"TYPE([0-9]{1,5})", re.IGNORECASE)  # RFC 3597


def qtype_of(text: str) -> int:
    """A type mnemonic (`A`, `aaaa`) or RFC 3597 `TYPEnnn` with nnn 0..65535."""
    code = QTYPE.reverse.get(text.upper())
    if code is not None:
        return int(code)
    generic = _GENERIC_TYPE_RE.fullmatch(text)
    if generic and int(generic.group(1)) <= 65535:
        return int(generic.group(1))
    shown = text if len(text) <= 40 else text[:40] + "..."
    raise ExplainError(f"unknown record type {shown!r} (a mnemonic like A, or TYPE0..TYPE65535)")


def name_of(name: str) -> DNSLabel:
    """The question name, refused when DNS could not carry it (label > 63, name > 255)."""
    shown = name if len(name) <= 80 else name[:80] + "..."
    if len(name) > 4 * MAX_NAME_OCTETS:  # even fully escaped, no longer than this
        raise ExplainError(f"bad name {shown!r}: longer than {MAX_NAME_OCTETS} octets")
    try:
        qname = DNSLabel(name)
    except Exception as exc:  # dnslib rejects over-long labels in several ways
        raise ExplainError(f"bad name {shown!r}: {exc}") from None
    if any(len(label) > 63 for label in qname.label):
        raise ExplainError(f"bad name {shown!r}: a label is longer than 63 octets")
    if sum(len(label) + 1 for label in qname.label) + 1 > MAX_NAME_OCTETS:
        raise ExplainError(f"bad name {shown!r}: longer than {MAX_NAME_OCTETS} octets")
    return qname


def health_file(path: str) -> FixedHealth:
    """`{"check-id": "healthy" | "unhealthy"}` from a JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExplainError(f"cannot read health file {path}: {exc}") from None
    if not isinstance(data, dict) or not all(v in ("healthy", "unhealthy") for v in data.values()):
        raise ExplainError(f'{path}: expected {{"check-id": "healthy" | "unhealthy", ...}}')
    return FixedHealth({str(k): v == "healthy" for k, v in data.items()})


def explain(
    zone_set: ZoneSet,
    locator: Locator,
    name: str,
    qtype: str,
    client: str | None = None,
    subnet: str | None = None,
    health: HealthView | None = None,
    use_ecs: bool = True,
    forwarding: Callable[[Name, str], dict | None] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Resolve one question with tracing on; return the whole decision path as plain data.

    `forwarding` says what forwarding would do with a name in no zone, asked by a client
    address (`resolver.forward.settings.describe`). `overrides`: check id -> the manual
    override's `{state, who, at}`, so a candidate says its health was forced."""
    source = client or "127.0.0.1"
    try:
        ipaddress.ip_address(source)
    except ValueError:
        shown = source if len(source) <= 60 else source[:60] + "..."
        raise ExplainError(f"bad client address {shown!r}") from None
    ecs = subnet_of(subnet) if subnet else None
    code = qtype_of(qtype)
    qname = name_of(name)
    who = make_client(locator, ecs if use_ecs else None, source_address(source))
    result = Result(trace=[])
    resolver = Resolver(zone_set)
    ctx = QueryContext(who, health or FixedHealth({}), random.Random())
    outcome = resolver.resolve_into(qname, code, ctx, result)
    for step in outcome.trace or ():
        for cand in step["candidates"]:
            forced = (overrides or {}).get(cand["health_check"] or "")
            cand["override"] = dict(forced) if forced is not None else None
    where = who.location
    return {
        "question": {"name": str(qname), "type": str(QTYPE.get(code))},
        "client": {
            "address": str(who.address) if who.address is not None else None,
            "prefix": who.prefix,
            "from": "ecs" if who.from_ecs else "source address",
        },
        "location": {
            "continent": where.continent,
            "country": where.country,
            "subdivision": where.subdivision,
            "latitude": where.latitude,
            "longitude": where.longitude,
            "source": where.source,
        },
        "decisions": outcome.trace,
        "rcode": str(RCODE.get(outcome.rcode)),
        "authoritative": outcome.authoritative,
        "ecs_scope": min(outcome.scope, who.prefix) if ecs else None,
        "answer": [_text(rr) for rr in outcome.answer],
        "authority": [_text(rr) for rr in outcome.authority],
        "additional": [_text(rr) for rr in outcome.additional],
        "forwarding": _forwarding(forwarding, qname, outcome, source),
    }


def _forwarding(
    forwarding: Callable[[Name, str], dict | None] | None,
    qname: DNSLabel,
    outcome: Result,
    source: str,
) -> dict | None:
    """For a name in no zone: the forwarders that would be asked (RD set), if any."""
    if forwarding is None or outcome.zones or outcome.rcode != RCODE.REFUSED:
        return None
    return forwarding(names.lower(qname.label), source)


def _text(rr: RR) -> str:
    return f"{rr.rname} {rr.ttl} {CLASS.get(rr.rclass)} {QTYPE.get(rr.rtype)} {rr.rdata.toZone()}"


def to_text(report: dict[str, Any]) -> str:
    """The decision path for a terminal; the last line starts with `answer:`."""
    q, c, loc = report["question"], report["client"], report["location"]
    lines = [f"question: {q['name']} {q['type']}"]
    if c["address"] is None:
        lines.append("client: no address (ECS source prefix 0)")
    else:
        lines.append(f"client: {c['address']}/{c['prefix']} (from {c['from']})")
    if loc["country"] or loc["continent"]:
        place = "-".join(p for p in (loc["country"], loc["subdivision"]) if p)
        coords = (
            f" at {loc['latitude']:.2f},{loc['longitude']:.2f}"
            if loc["latitude"] is not None
            else ""
        )
        lines.append(f"location: {loc['continent'] or '?'} {place}{coords} (from {loc['source']})")
    else:
        lines.append(f"location: unknown (looked up in {loc['source']})")
    for step in report["decisions"]:
        pad = "  " * step["depth"]
        lines.append(f"{pad}{step['name']} {step['type']}: {step['policy']} policy")
        for cand in step["candidates"]:
            health = "healthy" if cand["healthy"] else "UNHEALTHY"
            if cand.get("override"):
                health += f" (override by {cand['override']['who']})"
            check = f" [check {cand['health_check']}]" if cand["health_check"] else ""
            target = f" alias -> {cand['alias']}" if cand["alias"] else ""
            values = f" {', '.join(cand['values'])}" if cand["values"] else ""
            label = cand["set_id"] or "(single set)"
            lines.append(
                f"{pad}  - {label}:{values}{target} {health}{check}; {cand['detail']}; "
                f"{cand['verdict']}"
            )
        if step["reason"]:
            lines.append(f"{pad}  ({step['reason']})")
    if report["ecs_scope"] is not None:
        lines.append(f"ecs scope: /{report['ecs_scope']}")
    for rr in report["authority"]:
        lines.append(f"authority: {rr}")
    forwarding = report.get("forwarding")
    if forwarding is not None:
        allowed = forwarding["client_may_recurse"]
        lines.append(
            f"in no zone: forwarders (route {forwarding['domain']}): "
            f"{', '.join(forwarding['forwarders'])}; this client may "
            + ("recurse (with RD set)" if allowed else "not recurse (allow_recursion)")
        )
        if allowed:
            lines.append("answer: forwarded (explain does not ask the forwarders)")
            return "\n".join(lines)
    records = "; ".join(report["answer"]) if report["answer"] else "(no records)"
    lines.append(f"answer: {report['rcode']} {records}")
    return "\n".join(lines)
