"""From a question to the sections of an authoritative answer (RFC 1034 4.3.2, RFC 4592).

Pure with respect to I/O: it reads the compiled ZoneSet, asks policies to choose and a
health view for state, and returns records (`result`); the answer stage turns them into
wire format.
"""

from __future__ import annotations

from dnslib import QTYPE, RCODE, DNSLabel

import policies
from policies.base import Policy, Selection
from resolver.query.result import (
    Outcome,
    Outcomes,
    QueryContext,
    Record,
    Result,
    negative_soa,
    soa_record,
)
from resolver.wire import names, rdata
from resolver.wire.names import Name
from resolver.zones.model import RecordGroup, RecordSet, Zone, ZoneSet

A, AAAA, NS, CNAME, DS, SOA_TYPE, ANY = (
    int(QTYPE.reverse[t]) for t in ("A", "AAAA", "NS", "CNAME", "DS", "SOA", "ANY")
)
MAX_CNAME_CHAIN = 12
MAX_ALIAS_DEPTH = 8


class Resolver:
    """Answers questions from one ZoneSet."""

    def __init__(self, zone_set: ZoneSet) -> None:
        self.zone_set = zone_set

    def serves(self, name: Name, qtype: int) -> bool:
        """Whether a zone here answers for name (lowercase labels): else REFUSED."""
        return self._zone_for(name, qtype) is not None

    def resolve(self, qname: DNSLabel, qtype: int, ctx: QueryContext) -> Result:
        result = self.resolve_into(qname, qtype, ctx, Result())
        if result.random:
            result.group = self._deciding_group(qname, qtype, result)
        return result

    def resolve_into(
        self, qname: DNSLabel, qtype: int, ctx: QueryContext, result: Result
    ) -> Result:
        """Fill `result` (which may carry a trace list) with the answer to one question."""
        key = names.lower(qname.label)
        zone = self._zone_for(key, qtype)
        if zone is None:
            result.rcode = int(RCODE.REFUSED)
            result.authoritative = False
            return result
        owner = qname
        visited: set[Name] = set()
        for _ in range(MAX_CNAME_CHAIN + 1):
            visited.add(key)
            result.zones.add(zone.origin)
            target = self._lookup(zone, key, owner, qtype, ctx, result)
            if target is None:
                return result
            if target in visited:
                return result  # a loop the loader could not see (e.g. through a wildcard)
            next_zone = self._zone_for(target, qtype)
            if next_zone is None:
                return result  # chain leaves our zones: the client's resolver continues
            key, zone, owner = target, next_zone, DNSLabel(list(target))
        return result

    def _zone_for(self, key: Name, qtype: int) -> Zone | None:
        """The zone that answers for key: the longest suffix, except DS at a child's apex.

        DS lives in the parent (RFC 4035 section 3.1.4.1). So when a served zone's apex is
        also at or below a delegation in a served parent, the parent answers, as Knot
        does. A parent that does not delegate there is not asked: its NXDOMAIN would
        deny a name the child serves (RFC 8020), so the child answers NODATA as before.
        """
        zone = self.zone_set.find(key)
        if qtype != DS or zone is None or zone.origin != key or not key:
            return zone
        parent = self.zone_set.find(key[1:])
        if parent is not None and self._cut(parent, key, NS) is not None:
            return parent
        return zone

    def _lookup(
        self, zone: Zone, key: Name, owner: DNSLabel, qtype: int, ctx: QueryContext, result: Result
    ) -> Name | None:
        """Fill result for one name in one zone; return a CNAME target to chase, if any."""
        cut = self._cut(zone, key, qtype)
        if cut is not None:
            self._referral(zone, cut, result)
            return None
        if qtype == SOA_TYPE and key == zone.origin:
            result.answer.append(soa_record(zone)._replace(rname=owner))
            return None
        node = zone.nodes.get(key)
        if node is None:
            if key in zone.existing:
                result.authority.append(negative_soa(zone))  # empty non-terminal: NODATA
                return None
            node = self._wildcard(zone, key)
            if node is None:
                result.rcode = int(RCODE.NXDOMAIN)
                result.authority.append(negative_soa(zone))
                return None
        if qtype == ANY:
            shown = node.get(CNAME) or node[min(node)]
            result.answer.extend(self._answer_group(shown, owner, ctx, result))
            return None
        group = node.get(qtype)
        if group is not None:
            records = self._answer_group(group, owner, ctx, result)
            if records:
                result.answer.extend(records)
            else:
                result.authority.append(negative_soa(zone))  # a policy matched nothing
            return None
        cname = node.get(CNAME)
        if cname is not None:
            records = self._answer_group(cname, owner, ctx, result)
            result.answer.extend(records)
            for record in records:
                if record.rtype == CNAME:
                    return rdata.target_name(record.rdata)
            return None
        result.authority.append(negative_soa(zone))
        return None

    @staticmethod
    def _cut(zone: Zone, key: Name, qtype: int) -> Name | None:
        """The topmost delegation at or above key, except DS at the cut itself."""
        if not zone.cuts:
            return None
        for depth in range(len(zone.origin) + 1, len(key) + 1):
            candidate = key[len(key) - depth :]
            if candidate in zone.cuts:
                if candidate == key and qtype == DS:
                    return None
                return candidate
        return None

    def _referral(self, zone: Zone, cut: Name, result: Result) -> None:
        # AA speaks for the query name: a CNAME chain already in the answer is ours.
        result.authoritative = bool(result.answer)
        group = zone.nodes[cut][NS]
        ns_records = [
            Record(DNSLabel(list(cut)), NS, s.ttl, rd) for s in group.sets for rd in s.rdata
        ]
        result.authority.extend(ns_records)
        for record in ns_records:
            target = rdata.target_name(record.rdata)
            if target is None or not names.is_subdomain(target, zone.origin):
                continue
            for rtype in (A, AAAA):
                glue = zone.group(target, rtype)
                if glue is None:
                    continue
                for s in glue.sets:
                    result.additional.extend(
                        Record(DNSLabel(list(target)), rtype, s.ttl, rd) for rd in s.rdata
                    )

    @staticmethod
    def _wildcard(zone: Zone, key: Name) -> dict[int, RecordGroup] | None:
        """RFC 4592: the wildcard child of the closest encloser, if there is one."""
        for i in range(1, len(key) - len(zone.origin) + 1):
            encloser = key[i:]
            if encloser in zone.existing:
                return zone.nodes.get((b"*", *encloser))
        return None

    def _answer_group(
        self, group: RecordGroup, owner: DNSLabel, ctx: QueryContext, result: Result, depth: int = 0
    ) -> list[Record]:
        selection = self._select(group, ctx, result, depth, record=True)
        records: list[Record] = []
        for s in (group.sets[i] for i in selection.chosen):
            if s.alias is None:
                records.extend(Record(owner, group.rtype, s.ttl, rd) for rd in s.rdata)
                continue
            target = self.zone_set.group(s.alias.target, group.rtype)
            if target is None or depth >= MAX_ALIAS_DEPTH:
                continue
            target_zone = self.zone_set.find(s.alias.target)
            if target_zone is not None:
                result.zones.add(target_zone.origin)
            records.extend(self._answer_group(target, owner, ctx, result, depth + 1))
        return records

    def _select(
        self, group: RecordGroup, ctx: QueryContext, result: Result, depth: int, record: bool
    ) -> Selection:
        """Run the group's policy; `record` marks the decision that forms the answer."""
        policy = _policy_of(group)
        sets = group.sets  # a RecordSet is what a policy may read of it (policies.Candidate)
        selection = policy.select(
            sets, ctx.client, lambda i: self.healthy(sets[i], ctx, result, depth), ctx.rng
        )
        # Even a decision made only to judge an alias's health shaped the answer.
        result.scope = max(result.scope, selection.scope)
        if policy.dynamic:
            result.dynamic = True
        if record:
            result.random = result.random or policy.random
            result.policies.append(policy.name)
            result.choices.append((group.name, group.rtype, selection.chosen))
            if result.trace is not None:
                result.trace.append(self._trace(group, policy, selection, ctx, depth))
        return selection

    def decide(self, group: RecordGroup, ctx: QueryContext) -> Outcomes | None:
        """Every answer one group, alone at its own name, can give under the current
        health, with its weight; None when its policy lists no odds.

        For a `Result.group`: the answer reuse layer draws among these by weight instead
        of running the policy for every query.
        """
        policy = _policy_of(group)
        sets = group.sets
        consulted = Result()
        odds = policy.odds(sets, lambda i: self.healthy(sets[i], ctx, consulted))
        if odds is None:
            return None
        owner = DNSLabel(list(group.name))
        zone = self._zone_for(group.name, group.rtype)
        each = []
        for chosen, weight in odds:
            result = Result(dynamic=policy.dynamic, random=policy.random, group=group)
            result.policies.append(policy.name)
            result.choices.append((group.name, group.rtype, chosen))
            result.answer.extend(
                Record(owner, group.rtype, sets[i].ttl, rd) for i in chosen for rd in sets[i].rdata
            )
            if zone is not None:
                result.zones.add(zone.origin)
                if not result.answer:
                    result.authority.append(negative_soa(zone))  # as _lookup: matched nothing
            each.append(Outcome(chosen, result, weight))
        return Outcomes(tuple(each), frozenset(consulted.checks))

    def _deciding_group(self, qname: DNSLabel, qtype: int, result: Result) -> RecordGroup | None:
        """The group whose choice alone decided this answer, if one did (`Result.group`)."""
        if len(result.choices) != 1 or result.authority or result.additional:
            return None
        name, rtype, _ = result.choices[0]
        if rtype != qtype or result.rcode != RCODE.NOERROR or name != names.lower(qname.label):
            return None
        group = self.zone_set.group(name, rtype)
        if group is None or any(s.alias is not None for s in group.sets):
            return None
        return group

    def healthy(self, s: RecordSet, ctx: QueryContext, result: Result, depth: int = 0) -> bool:
        """A set's own check and, with evaluate_target_health, what its target would answer.

        The target is healthy when its own policy finds a healthy answer for this client
        without falling back to its last resort (Route 53 "backs out of that branch").
        """
        if s.health_check is not None:
            result.checks.add(s.health_check)
            if not ctx.health.is_healthy(s.health_check):
                return False
        if s.alias is not None and s.alias.evaluate_target_health:
            target = self.zone_set.group(s.alias.target, s.rtype)
            if target is None or depth >= MAX_ALIAS_DEPTH:
                return False
            selection = self._select(target, ctx, result, depth + 1, record=False)
            return bool(selection.chosen) and not selection.degraded
        return True

    def _trace(
        self,
        group: RecordGroup,
        policy: type[Policy],
        selection: Selection,
        ctx: QueryContext,
        depth: int,
    ) -> dict:
        """One level of the decision path, for explain (never on the normal query path)."""
        probe = Result()
        candidates = []
        for i, s in enumerate(group.sets):
            if i in selection.chosen:
                verdict = "chosen (last resort)" if selection.degraded else "chosen"
            elif i in selection.dropped:
                verdict = "dropped: unhealthy"
            else:
                verdict = "not chosen"
            candidates.append(
                {
                    "set_id": s.set_id,
                    "health_check": s.health_check,
                    "healthy": self.healthy(s, ctx, probe, depth),
                    "alias": names.to_text(s.alias.target) if s.alias else None,
                    "evaluate_target_health": bool(s.alias and s.alias.evaluate_target_health),
                    "values": [str(rd) for rd in s.rdata],
                    "detail": policy.describe(s, ctx.client),
                    "verdict": verdict,
                }
            )
        return {
            "depth": depth,
            "name": names.to_text(group.name),
            "type": str(QTYPE.get(group.rtype)),
            "policy": policy.name,
            "candidates": candidates,
            "degraded": selection.degraded,
            "scope": selection.scope,
            "reason": selection.reason,
        }


def _policy_of(group: RecordGroup) -> type[Policy]:
    policy = policies.get(group.policy)
    if policy is None:  # the loader checked every key: a bug, answered SERVFAIL
        raise LookupError(f"policy {group.policy} vanished after load")
    return policy
