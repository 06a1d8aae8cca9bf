"""The answer stage: a reply body from answer reuse when an earlier answer still holds,
else from the engine, kept for reuse on the way out.

Both query routes call `answer` with the lowercased question; it returns the body (the
reply with ID 0, the question in lowercase, no OPT) and the ECS scope it depends on, and
notes in `state.reusable` whether and how the finished reply may be replayed.
"""

from __future__ import annotations

import itertools
import random
from typing import Protocol

from dnslib import DNSLabel

from healthcheck.view import HealthView
from policies.base import Client
from resolver.query.client import make_client, reply_scope
from resolver.query.engine import Resolver
from resolver.query.location import Locator
from resolver.query.querylog import qtype_name
from resolver.query.result import QueryContext, Result
from resolver.query.reuse import Draw, Entry, Reusable, Reuse, pick
from resolver.query.stages import Facts
from resolver.wire import fastpath, reply
from resolver.wire.codes import IN, NOERROR, NXDOMAIN, REFUSED
from resolver.wire.ecs import ClientSubnet


class State(Protocol):
    """What the answer stage reads of the handler: the current data and this query."""

    resolver: Resolver
    health: HealthView
    locator: Locator
    rng: random.Random
    cache: Reuse
    facts: Facts
    reusable: Reusable


def render(labels: tuple[bytes, ...], qtype: int, qclass: int, result: Result) -> bytes:
    """Pack an engine result as a reply body: ID 0, lowercase question, no OPT."""
    aa = result.authoritative and result.rcode != REFUSED
    sections = (result.answer, result.authority, result.additional)
    return reply.render(labels, qtype, qclass, result.rcode, aa, sections)


def outside_body(key: bytes) -> bytes:
    """The body for a name in no zone (`facts.outside`): REFUSED, no AA."""
    return reply.empty(key, REFUSED)


def answer(
    state: State,
    key: bytes,
    labels: tuple[bytes, ...] | None,
    qtype: int,
    qclass: int,
    source: str,
    subnet: ClientSubnet | None,
) -> tuple[bytes, int]:
    """The reply body and the ECS scope it depends on; for a name in no zone, b"" with
    `facts.outside` set (forwarding may take it, else `outside_body`).

    `key` is the lowercase wire question; `labels` its name's labels, if already known.
    """
    facts = state.facts
    if not facts.question:
        facts.question, facts.code, facts.qtype = key, qtype, qtype_name(qtype)
    facts.subnet = subnet
    cache = state.cache
    answers = cache.answers
    reusable = state.reusable
    entry = answers.get(key)
    if entry is not None and not entry.dynamic:
        cache.hits += 1
        facts.policy = entry.policy
        reusable.set(entry.expires, False, None)
        return entry.body, 0
    who = cache.client_bits(source, subnet)
    if entry is not None and entry.scopes and who is not None:
        found = entry.for_client(*who)
        if found is not None:
            cache.hits += 1
            facts.policy = entry.policy
            reusable.set(entry.expires, True, None)
            return found[0], reply_scope(found[1], subnet, who[0])
    if entry is not None and entry.direct is not None:
        # A random choice within one group whose policy lists its odds: draw by them.
        draw = entry.draw if entry.drawn else _build_draw(state, key, entry)
        if draw is not None:
            cache.hits += 1
            facts.policy = entry.policy
            reusable.set(entry.expires, False, draw)
            return pick(draw, state.rng), 0
    if labels is None:
        labels = fastpath.labels(key)
    if not state.resolver.serves(labels, qtype):
        facts.outside = True  # REFUSED, unless the forwarding stage takes the question
        return b"", 0  # the caller packs outside_body(key) only if it is not forwarded
    client = make_client(state.locator, subnet, cache.source(source) if subnet is None else None)
    ctx = QueryContext(client, state.health, state.rng)
    result = state.resolver.resolve(DNSLabel(list(labels)), qtype, ctx)
    facts.policy = ">".join(result.policies) or "none"
    scope = reply_scope(result.scope, subnet, client.address.version if client.address else None)
    # The decision (the sets chosen at every level) determines the records: a body
    # encoded for it before, for another client network or an earlier draw, serves.
    choices = tuple(result.choices)
    encoded = entry.variants.get(choices) if entry is not None else None
    if encoded is not None:
        cache.hits += 1
        if result.random:
            return encoded[0], scope
        body = encoded[0]
    else:
        cache.misses += 1
        body = render(labels, qtype, qclass, result)
    if result.rcode in (NOERROR, NXDOMAIN) and result.zones:
        ttl = result.min_ttl() if result.answer or result.authority else 0
        until = answers.now() + ttl if ttl > 0 else 0.0
        policy, checks = facts.policy, result.checks
        if not result.dynamic:
            answers.put_static(key, body, ttl, policy, checks)
            reusable.set(until, False, None)
        elif not result.random and who is not None:
            # Decided by client network and health only: reuse it within the scope.
            answers.put_client(key, who, result.scope, body, result.scope, ttl, policy, checks)
            if encoded is None:
                answers.put_variant(key, choices, body, scope, ttl, policy, checks)
            reusable.set(until, True, None)
        else:
            answers.put_variant(key, choices, body, scope, ttl, policy, checks)
            entry = answers.get(key)
            if entry is not None and entry.direct is None and result.group is not None:
                entry.direct = result.group
                draw = _build_draw(state, key, entry)
                if draw is not None:
                    reusable.set(until, False, draw)
    return body, scope


def _build_draw(state: State, key: bytes, entry: Entry) -> Draw | None:
    """Every body a random group's policy can give now, with its odds, kept on the
    entry; None when the policy lists no odds (then each query runs the policy)."""
    group = entry.direct
    if group is None:
        return None
    answers = state.cache.answers
    ctx = QueryContext(Client(None, 0), state.health, state.rng)
    outcomes = state.resolver.decide(group, ctx)
    if outcomes is None:
        answers.put_draw(key, None, ())
        return None
    labels = fastpath.labels(key)
    bodies = []
    for outcome in outcomes.each:
        choices = ((group.name, group.rtype, outcome.chosen),)
        found = entry.variants.get(choices)
        if found is not None:
            bodies.append(found[0])
            continue
        result = outcome.result
        body = render(labels, group.rtype, IN, result)
        ttl = result.min_ttl()
        answers.put_variant(key, choices, body, 0, ttl, entry.policy, result.checks)
        bodies.append(body)
    cumulative = tuple(itertools.accumulate(outcome.weight for outcome in outcomes.each))
    draw = (tuple(bodies), cumulative, cumulative[-1])
    answers.put_draw(key, draw, outcomes.checks)
    return draw
