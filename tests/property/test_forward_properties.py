"""Properties of forwarding's pure parts: scrub on any bytes and on generated replies, and
the cache's served TTLs over time (issue 13)."""

from __future__ import annotations

import struct

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.forward.cache import ForwardCache
from resolver.forward.scrub import ScrubError, scrub
from resolver.wire import names
from resolver.wire.reply import question_wire
from tests.property.world import SCALE

DOMAINS = [".", "test.", "corp.test."]
# Owners and targets: inside and outside each domain, above and below one another.
POOL = [
    "corp.test.",
    "www.corp.test.",
    "a.b.corp.test.",
    "ns1.corp.test.",
    "test.",
    "other.test.",
    "www.other.test.",
    "ns.other.test.",
    "example.com.",
    "www.example.com.",
    "ns1.example.com.",
    ".",
]
TYPES = ["A", "AAAA", "CNAME", "NS", "SOA", "TXT", "MX", "DNAME", "DS"]
QTYPES = ["A", "AAAA", "CNAME", "NS", "SOA", "TXT", "MX", "ANY"]
RCODES = [dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL, dns.rcode.REFUSED]


def examples(count: int) -> int:
    return max(1, int(count * SCALE))


@st.composite
def cased(draw: st.DrawFn, name: str) -> str:
    """name with its letters in a random case, as 0x20-randomizing upstreams echo it."""
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if flip else c for c, flip in zip(name, flips, strict=True))


@st.composite
def rdata_text(draw: st.DrawFn, rtype: str) -> str:
    target = draw(st.sampled_from(POOL))
    if rtype == "A":
        return f"192.0.2.{draw(st.integers(0, 255))}"
    if rtype == "AAAA":
        return f"2001:db8::{draw(st.integers(0, 0xFFFF)):x}"
    if rtype in ("CNAME", "NS", "DNAME"):
        return target
    if rtype == "MX":
        return f"{draw(st.integers(0, 65535))} {target}"
    if rtype == "SOA":
        times = draw(st.lists(st.integers(0, 2**32 - 1), min_size=5, max_size=5))
        return f"{target} host.{target if target != '.' else ''} " + " ".join(map(str, times))
    if rtype == "DS":
        return f"{draw(st.integers(0, 65535))} 13 2 " + "ab" * 32
    return '"' + draw(st.text("abc xyz", max_size=20)) + '"'


@st.composite
def records(draw: st.DrawFn) -> list[tuple[str, int, str, str]]:
    out = []
    for _ in range(draw(st.integers(0, 6))):
        rtype = draw(st.sampled_from(TYPES))
        owner = draw(cased(draw(st.sampled_from(POOL))))
        ttl = draw(st.one_of(st.integers(0, 2**31 - 1), st.sampled_from([0, 1, 60, 300, 3600])))
        out.append((owner, ttl, rtype, draw(rdata_text(rtype))))
    return out


@st.composite
def replies(draw: st.DrawFn) -> tuple[bytes, bytes, names.Name]:
    """(an upstream reply, the key it answers, the route's domain)."""
    qname = draw(st.sampled_from(POOL[:-1]))
    qtype = draw(st.sampled_from(QTYPES))
    query = dns.message.make_query(draw(cased(qname)), qtype, want_dnssec=draw(st.booleans()))
    reply = dns.message.make_response(query)
    reply.id = draw(st.integers(0, 65535))
    reply.flags |= draw(st.sampled_from([0, dns.flags.AA, dns.flags.AD, dns.flags.RA]))
    reply.set_rcode(draw(st.sampled_from(RCODES)))
    for section in (reply.answer, reply.authority, reply.additional):
        for owner, ttl, rtype, text in draw(records()):
            section.append(dns.rrset.from_text(owner, ttl, "IN", rtype, text))
    key = question_wire(names.from_text(qname), dns.rdatatype.from_text(qtype), 1)
    return reply.to_wire(), key, names.from_text(draw(st.sampled_from(DOMAINS)))


def ttls_at(body: bytes, offsets: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(struct.unpack_from("!I", body, offset)[0] for offset in offsets)


@settings(max_examples=examples(400))
@given(st.binary(max_size=200))
def test_any_bytes_raise_only_scrub_error(data: bytes) -> None:
    key = question_wire((b"a", b"test"), 1, 1)
    try:
        scrub(data, key, (), 0, 86400)
    except ScrubError:
        pass


@settings(max_examples=examples(400))
@given(replies(), st.data())
def test_mutated_replies_raise_only_scrub_error(made: tuple, data: st.DataObject) -> None:
    wire, key, domain = made
    mutated = bytearray(wire)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(mutated) - 1))
        mutated[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(12, len(mutated)))
    try:
        out = scrub(bytes(mutated[:cut]), key, domain, 0, 86400)
    except ScrubError:
        return
    dns.message.from_wire(out.body)  # whatever was kept is well formed


@settings(max_examples=examples(500))
@given(replies(), st.integers(0, 600), st.integers(0, 2**31 - 1))
def test_generated_replies_scrub_to_a_well_formed_body_inside_the_domain(
    made: tuple, min_ttl: int, span: int
) -> None:
    wire, key, domain = made
    max_ttl = min(2**31 - 1, min_ttl + span)
    out = scrub(wire, key, domain, min_ttl, max_ttl)
    message = dns.message.from_wire(out.body)
    assert message.id == 0
    assert message.flags & dns.flags.QR and message.flags & dns.flags.RA
    assert not message.flags & (dns.flags.AA | dns.flags.TC | dns.flags.RD | dns.flags.AD)
    assert out.body[12 : 12 + len(key)] == key
    zone = dns.name.from_text(names.to_text(domain))
    rrsets = message.answer + message.authority + message.additional
    for rrset in rrsets:
        assert rrset.name.is_subdomain(zone), (rrset, domain)
        assert rrset.rdclass == dns.rdataclass.IN
    assert len(out.ttls) == sum(struct.unpack_from("!3H", out.body, 6))
    assert ttls_at(out.body, out.ttl_offsets) == out.ttls
    assert all(min_ttl <= ttl <= max_ttl for ttl in out.ttls)
    assert out.lifetime == 0 or out.lifetime == min(out.ttls)
    original = dns.message.from_wire(wire)
    counts = struct.unpack_from("!3H", wire, 6)  # dnspython merges duplicate records
    total = sum(counts) - (original.opt is not None)
    assert out.dropped == total - len(out.ttls)
    if original.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        assert out.lifetime == 0

    again_wire = struct.pack("!H", 0x1234) + out.body[2:]
    again = scrub(again_wire, key, domain, min_ttl, max_ttl)
    assert (again.body, again.ttl_offsets, again.ttls) == (out.body, out.ttl_offsets, out.ttls)
    assert (again.lifetime, again.negative, again.dropped) == (out.lifetime, out.negative, 0)


@settings(max_examples=examples(200))
@given(
    replies(),
    st.integers(0, 300),
    st.lists(st.floats(0, 400, allow_nan=False), min_size=1, max_size=12),
)
def test_served_ttls_never_rise_and_never_exceed_what_was_stored(
    made: tuple, stale_for: int, steps: list[float]
) -> None:
    wire, key, domain = made
    out = scrub(wire, key, domain, 0, 600)
    clock = [5000.0]
    cache = ForwardCache(4, lambda: clock[0])
    cache.put(key, True, out, stale_for)
    last = list(out.ttls)
    for step in steps:
        clock[0] += step
        body = cache.get(key, True)
        if body is None:
            assert clock[0] - 5000.0 >= out.lifetime or out.lifetime == 0
            stale = cache.stale(key, True)
            if stale is not None:
                assert clock[0] - 5000.0 < out.lifetime + stale_for
                assert set(ttls_at(stale, out.ttl_offsets)) <= {30}
            continue
        served = ttls_at(body, out.ttl_offsets)
        assert all(1 <= now <= before for now, before in zip(served, last, strict=True))
        assert all(now <= stored for now, stored in zip(served, out.ttls, strict=True))
        last = list(served)
