"""Properties of Handler.handle on generated and mutated DNS messages (issue 10).

1. Every packet gets a well-formed reply, or none exactly where SPEC 7 says (shorter than
   a header, or QR set); the reply is what SPEC 7 asks for that packet, and no packet
   reaches the internal-error path.
2. The fast route (fastpath.parse_query + Handler._plain) and the general route
   (Handler._general) give identical bytes for the same query.
3. Asking any question never changes the answer to another.

All run in-process against the real Handler over tests/fixtures/zones plus world.PROP_ZONE.
"""

from __future__ import annotations

import struct

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.query.handler import Handler
from resolver.wire import fastpath
from tests.property import strategies as gen
from tests.property.world import RANDOM_NAMES, SCALE, World, error_log, load

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, BADVERS = 0, 1, 2, 3, 4, 5, 16
ALLOWED_RCODES = {NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED, BADVERS}
# Header bits a NOTIMP reply must not carry: it answers nothing, so it claims nothing.
NOTIMP_CLEAR = (
    dns.flags.AA | dns.flags.RD | dns.flags.RA | dns.flags.AD | dns.flags.CD | dns.flags.TC
)
SOURCES = ["127.0.0.1", "192.0.2.99", "10.1.2.3", "2001:db8::53", "::ffff:10.2.0.9"]


def examples(count: int) -> int:
    return max(1, int(count * SCALE))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(load(tmp_path_factory.mktemp("zones")))


class Shared:
    """One handler for a whole property: its cache and memo fill up as the examples run."""

    def __init__(self, world: World) -> None:
        self.handler = world.handler()

    def __repr__(self) -> str:
        return "Shared()"


@pytest.fixture(scope="module")
def shared(world: World) -> Shared:
    return Shared(world)


# --- reading wire ----------------------------------------------------------------------------


def raw_question(wire: bytes) -> bytes | None:
    """The first question's wire (no compression), or None when it cannot be read."""
    pos = 12
    while pos < len(wire):
        length = wire[pos]
        if length == 0:
            end = pos + 5
            return wire[12:end] if end <= len(wire) and end - 12 - 4 <= 255 else None
        if length > 63:
            return None
        pos += 1 + length
    return None


def strict_parse(wire: bytes) -> dns.message.Message | None:
    try:
        return dns.message.from_wire(wire, ignore_trailing=False)
    except Exception:  # dnspython raises many kinds on malformed input
        return None


def ask(handler: Handler, wire: bytes, source: str, tcp: bool) -> bytes | None:
    """handle(), which must neither raise nor log an internal error."""
    with error_log() as errors:
        reply = handler.handle(wire, source, tcp)
    assert not errors.messages, f"internal error logged: {errors.messages[0]}"
    return reply


# --- property 1 ------------------------------------------------------------------------------


def reply_problems(query: bytes, reply: bytes | None, tcp: bool) -> list[str]:
    """What SPEC 7 says of any reply to any packet, broken; [] when all holds."""
    if len(query) < 12 or query[2] & 0x80:
        return [] if reply is None else ["a reply to a packet that must get none"]
    if reply is None:
        return ["no reply to a query that must get one"]
    message = strict_parse(reply)
    if message is None:
        try:
            dns.message.from_wire(reply, ignore_trailing=False)
        except Exception as exc:
            return [f"dnspython cannot parse the reply: {exc!r}"]
    assert message is not None
    found = []
    q_ident, q_flags, q_qd, q_an, q_ns, q_ar = struct.unpack_from("!6H", query)
    opcode = (q_flags >> 11) & 0xF
    rcode = int(message.rcode())
    if message.id != q_ident:
        found.append(f"reply ID {message.id} is not the query's {q_ident}")
    if not message.flags & dns.flags.QR:
        found.append("reply has QR clear")
    if int(message.opcode()) != opcode:
        found.append(f"reply opcode {int(message.opcode())}, query's {opcode}")
    if rcode not in ALLOWED_RCODES:
        found.append(f"rcode {dns.rcode.to_text(rcode)} ({rcode})")
    if opcode != 0:
        if rcode != NOTIMP:
            found.append(f"opcode {opcode} got {dns.rcode.to_text(rcode)}, not NOTIMP")
        if message.flags & NOTIMP_CLEAR:
            found.append(f"NOTIMP reply carries flags {dns.flags.to_text(message.flags)}")
    elif q_qd != 1 and rcode != FORMERR:
        found.append(f"QDCOUNT {q_qd} got {dns.rcode.to_text(rcode)}, not FORMERR")
    if len(message.question) > 1:
        found.append(f"{len(message.question)} questions in the reply")
    elif message.question:
        sent = raw_question(query)
        if sent is None or reply[12 : 12 + len(sent)] != sent:
            found.append("the reply's question is not the query's, byte for byte")
    parsed = strict_parse(query)
    if (
        parsed is not None
        and opcode == 0
        and q_qd == 1
        and q_an + q_ns + q_ar <= 16
        and not message.question
    ):
        found.append(f"a query dnspython reads got {dns.rcode.to_text(rcode)} without question")
    if not tcp and len(reply) > fastpath.UDP_PAYLOAD:
        found.append(f"{len(reply)}-byte UDP reply, over the 1232 advertised")
    return found


def expected_rcodes(query: gen.Built) -> set[int]:
    """The rcodes SPEC 7 allows for an unmutated generated query."""
    if query.opcode:
        return {NOTIMP}
    edns, qtype, qclass = query.edns, query.qtype, query.qclass
    errors = set()
    if edns is not None and edns.version:
        errors.add(BADVERS)
    if qtype in (0, 41):
        errors.add(FORMERR)
    if qclass == 3:
        errors |= {NOERROR, REFUSED}
    elif qclass not in (1, 255) or qtype in (251, 252):
        errors.add(REFUSED)
    elif qtype in (253, 254):
        errors.add(NOTIMP)
    if edns is not None and edns.ecs == "invalid":
        errors.add(FORMERR)
    return errors or {NOERROR, NXDOMAIN, REFUSED}


def clean_problems(query: gen.Built, reply: bytes, tcp: bool) -> list[str]:
    """What an unmutated query must get beyond reply_problems: its rcode, question, OPT."""
    message = dns.message.from_wire(reply, ignore_trailing=False)
    rcode = int(message.rcode())
    found = []
    wanted = expected_rcodes(query)
    if rcode not in wanted:
        names = ", ".join(sorted(dns.rcode.to_text(r) for r in wanted))
        found.append(f"rcode {dns.rcode.to_text(rcode)}, expected one of {names}")
    if query.opcode == 0:
        if reply[12 : 12 + len(query.question)] != query.question or len(message.question) != 1:
            found.append("the question is not echoed as sent")
        if (message.edns >= 0) != (query.edns is not None):
            found.append(f"reply EDNS {message.edns}, query EDNS {query.edns is not None}")
        if not tcp:
            limit = fastpath.udp_limit(
                query.edns is not None, query.edns.payload if query.edns else 0
            )
            if len(reply) > limit:
                found.append(f"{len(reply)}-byte UDP reply over the client's limit {limit}")
    return found


@settings(max_examples=examples(400))
@given(data=st.binary(max_size=300), clear_qr=st.booleans(), tcp=st.booleans())
def test_random_bytes_get_a_proper_reply_or_none(shared, data, clear_qr, tcp):
    """Fully random bytes: no reply only for a short or QR-set packet, else a proper one."""
    if clear_qr and len(data) > 2:
        data = data[:2] + bytes((data[2] & 0x7F,)) + data[3:]
    assert reply_problems(data, ask(shared.handler, data, "192.0.2.99", tcp), tcp) == []


@settings(max_examples=examples(800))
@given(query=gen.queries(), tcp=st.booleans(), source=st.sampled_from(SOURCES))
def test_generated_queries_get_the_reply_spec_7_says(shared, query, tcp, source):
    """Valid queries (any name octets, type, class, EDNS, ECS): the exact outcome."""
    reply = ask(shared.handler, query.wire, source, tcp)
    assert reply is not None
    assert reply_problems(query.wire, reply, tcp) + clean_problems(query, reply, tcp) == []


@settings(max_examples=examples(1000))
@given(case=gen.mutated(), tcp=st.booleans())
def test_mutated_queries_get_a_proper_reply_or_none(shared, case, tcp):
    """Valid queries after bit flips, truncation, insertions, count and RDLENGTH lies."""
    _, wire = case
    assert reply_problems(wire, ask(shared.handler, wire, "192.0.2.99", tcp), tcp) == []


# --- property 2 ------------------------------------------------------------------------------


def is_random(labels: tuple[bytes, ...]) -> bool:
    text = b".".join(label.lower() for label in labels).decode("latin-1") + "."
    return text in RANDOM_NAMES


@st.composite
def plain_queries(draw: st.DrawFn) -> gen.Built:
    """Queries the fast route reads: class IN, one question, at most an OPT with ECS."""
    labels = draw(gen.query_labels().filter(lambda x: not is_random(x)))
    qtype = draw(gen.qtypes.filter(lambda t: t not in fastpath.SLOW_QTYPES))
    edns = draw(gen.edns_shapes())
    if edns is not None:
        ecs = tuple((c, d) for c, d in edns.options if c == 8)[:1]
        edns = gen.Edns(0, edns.payload, edns.flags, ecs, edns.ecs if ecs else "none")
    flags = draw(st.sampled_from([0, dns.flags.RD, dns.flags.CD | dns.flags.RD, dns.flags.AD]))
    return gen.build(labels, qtype, 1, edns, ident=draw(st.integers(0, 65535)), flags=flags)


@settings(max_examples=examples(800))
@given(
    query=st.one_of(plain_queries(), plain_queries(), gen.queries(opcodes=False)),
    tcp=st.booleans(),
    source=st.sampled_from(SOURCES),
)
def test_fast_and_general_routes_give_identical_bytes(world, query, tcp, source):
    """handle() (fast route when it can) and _general() agree, fresh and from the cache."""
    if is_random(query.labels):
        return  # a weighted or multivalue draw: the routes may draw differently
    wire = query.wire
    fast, general = world.handler(), world.handler()
    with error_log() as errors:
        by_fast = fast.handle(wire, source, tcp)
        by_general = general._general(wire, source, tcp)
        # Each route again, now with the answer cached by the other one.
        fast_after_general = general.handle(wire, source, tcp)
        general_after_fast = fast._general(wire, source, tcp)
        memo = fast.handle(wire, source, tcp)
    assert not errors.messages, errors.messages[0]
    routed = "fast" if fastpath.parse_query(wire) is not None else "general"
    assert by_fast == by_general, f"{routed} route differs from the general route"
    assert fast_after_general == by_general, "fast route on a cache the general route filled"
    assert general_after_fast == by_general, "general route on a cache the fast route filled"
    assert memo == by_general, "the repeated query's memo"


# --- property 3 ------------------------------------------------------------------------------

PROBES = [
    ("prop.test", 65, None),
    ("prop.test", 97, None),
    ("PROP.test", 65, gen.Edns(0, 1232, 0x8000, (), "none")),
    ("prop.test", 15, None),
    ("prop.test", 16, None),
    ("prop.test", 257, None),
    ("_dns.prop.test", 64, None),
    ("_dns.prop.test", 96, None),
    ("sip.prop.test", 35, None),
    ("any.wild.prop.test", 65, None),
    ("any.wild.prop.test", 97, None),
    ("any.wild.prop.test", 1, None),
    ("www.prop.test", 1, None),
    ("child.prop.test", 43, None),
    ("x.child.prop.test", 1, None),
    ("www.example.com", 1, None),
    ("www.example.com", 33, None),
    ("WWW.example.com", 28, gen.Edns(0, 512, 0, (), "none")),
    ("example.com", 15, None),
    ("example.com", 47, None),
    ("blog.example.com", 1, None),
    ("nope.example.com", 1, None),
    ("example.net", 65, None),
    ("example.net", 0x4101, None),
    ("_sip._udp.example.net", 33, None),
    ("long.example.net", 16, None),
    (
        "geo.steer.example",
        1,
        gen.Edns(0, 1232, 0, ((8, b"\x00\x01\x18\x00\x0a\x01\x02"),), "valid"),
    ),
    ("outside.invalid", 1, None),
]


def probe(index: int, ident: int) -> gen.Built:
    name, qtype, edns = PROBES[index]
    labels = tuple(x.encode() for x in name.split("."))
    return gen.build(labels, qtype, 1, edns, ident=ident)


@st.composite
def other_questions(draw: st.DrawFn) -> gen.Built:
    """Any question: a zone name in random case, a type or its 0x20 twin, EDNS variants."""
    if draw(st.booleans()):
        return draw(st.one_of(plain_queries(), gen.queries(opcodes=False)))
    # The twin of a probe: the same name in another case, a type differing by 0x20 only.
    name, qtype, edns = PROBES[draw(st.integers(0, len(PROBES) - 1))]
    labels = tuple(draw(gen.random_case(x.encode())) for x in name.split("."))
    qtype = draw(st.sampled_from([qtype, qtype ^ 0x20, qtype ^ 0x2000, qtype | 0x20]))
    return gen.build(labels, qtype, 1, draw(st.sampled_from([edns, None])))


@settings(max_examples=examples(300))
@given(
    steps=st.lists(
        st.one_of(st.integers(0, len(PROBES) - 1), other_questions()), min_size=1, max_size=25
    ),
    cache_size=st.sampled_from([100000, 100000, 6]),
    tcp=st.booleans(),
    ident=st.integers(0, 65535),
)
def test_no_question_changes_the_answer_to_another(world, steps, cache_size, tcp, ident):
    """Probes (and every other static answer) on a used handler equal a fresh handler's."""
    fresh: dict[bytes, bytes | None] = {}

    def alone(wire: bytes) -> bytes | None:
        if wire not in fresh:
            fresh[wire] = world.handler().handle(wire, "192.0.2.99", tcp)
        return fresh[wire]

    used = world.handler()
    used.cache.max_entries = cache_size
    asked: list[str] = []
    for step in [*steps, *range(len(PROBES))]:
        query = probe(step, ident) if isinstance(step, int) else step
        reply = ask(used, query.wire, "192.0.2.99", tcp)
        asked.append(f"{gen.name_of(query.labels)} type {query.qtype} ({query.wire.hex()})")
        if is_random(query.labels) or reply is None:
            continue
        assert reply == alone(query.wire), "after asking, in order:\n" + "\n".join(asked)
