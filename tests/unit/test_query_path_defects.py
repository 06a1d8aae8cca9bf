"""Issue 10's query-path defects, fed to Handler.handle in-process on the repo's zones.

Each question is asked on both routes where it can take both: the fast route (a plain
query) and the general route (forced by an unknown EDNS option, as dig's cookie does).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

from healthcheck.view import AllHealthy
from resolver.config import load_config
from resolver.query import querylog
from resolver.query.chaos import Chaos
from resolver.query.engine import Resolver
from resolver.query.errorlog import ErrorLog
from resolver.query.handler import Handler
from resolver.query.location import Locator
from resolver.query.reuse import Finished, Reuse
from resolver.wire import fastpath
from resolver.zones.check import known_regions, load_zone_set
from tests.serverproc import ZONES

REPO = Path(__file__).resolve().parents[2]
CONFIG = """
locations:
  10.1.0.0/16: {continent: NA, country: US, subdivision: CA, latitude: 37.4, longitude: -122.1}
  10.2.0.0/16: {continent: EU, country: DE, latitude: 50.1, longitude: 8.7}
"""
COOKIE = dns.edns.GenericOption(10, b"\x01" * 8)  # unknown to the fast route
ROUTES = ["fast", "general"]
NXDOMAIN, REFUSED, FORMERR, NOTIMP = 3, 5, 1, 4


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    path = tmp_path_factory.mktemp("cfg") / "policydns.yaml"
    path.write_text(CONFIG)
    config = load_config(str(path))
    zone_set = load_zone_set([str(ZONES)], regions=known_regions(config.regions))
    return zone_set, Locator(config.locations, config.latency)


def make(world, **kwargs) -> Handler:
    zone_set, locator = world
    return Handler(Resolver(zone_set), AllHealthy(), Chaos("v", "id"), locator, **kwargs)


def ask(name: str, qtype: int | str, route: str = "fast", subnet=None, size: int = 1232) -> bytes:
    options = [] if subnet is None else [dns.edns.ECSOption(*subnet)]
    if route == "general":
        options.append(COOKIE)
    msg = dns.message.make_query(name, qtype, use_edns=0, options=options, payload=size)
    msg.id = 4321
    return msg.to_wire()


def raw_query(labels: list[bytes], qtype: int = 1, route: str = "fast", qclass: int = 1) -> bytes:
    """A query for a name given as raw labels (any octets), with EDNS."""
    name = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    option = b"" if route == "fast" else struct.pack("!HH", 10, 8) + b"\x01" * 8
    opt_rr = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, len(option)) + option
    return (
        struct.pack("!6H", 99, 0x0100, 1, 0, 0, 1)
        + name
        + struct.pack("!HH", qtype, qclass)
        + opt_rr
    )


def parse(reply: bytes | None) -> dns.message.Message:
    assert reply is not None
    return dns.message.from_wire(reply)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged() -> Iterator[Collect]:
    logger = logging.getLogger("policydns")
    collect, propagate, level = Collect(), logger.propagate, logger.level
    logger.addHandler(collect)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield collect
    logger.removeHandler(collect)
    logger.propagate, logger.level = propagate, level


# --- 1: type and class bytes are not letter case --------------------------------------


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(("other", "wanted"), [(97, "HTTPS"), (67, "SPF")])
def test_a_type_whose_code_is_a_capital_letter_keeps_its_own_answer(world, route, other, wanted):
    """TYPE97 is "a" where HTTPS (65) is "A"; TYPE67 is "C" where SPF (99) is "c". Asking
    the first must not leave NODATA in the cache or memo for the second."""
    h = make(world)
    for first in (other, wanted):
        # the other type first, then the real one, on this route and then the other route
        for r in (route, "general" if route == "fast" else "fast"):
            reply = parse(h.handle(ask("example.net", first, r), "127.0.0.1", False))
            if first == other:
                assert reply.answer == [] and reply.rcode() == 0
    for r in ROUTES:
        reply = parse(h.handle(ask("example.net", wanted, r), "127.0.0.1", False))
        assert [rrset.rdtype for rrset in reply.answer] == [dns.rdatatype.from_text(wanted)]


def test_cache_key_folds_only_the_name():
    key = fastpath.parse_query(ask("ExAmPlE.net", "HTTPS")).key
    assert key == b"\x07example\x03net\x00" + struct.pack("!HH", 65, 1)


# --- 4: any octet in a label ------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("labels", "rcode", "answer"),
    [
        ([b"\xff\xfe", b"example", b"com"], NXDOMAIN, None),
        ([b"caf\xe9", b"example", b"com"], NXDOMAIN, None),
        ([b"\xc3\x28", b"elsewhere", b"invalid"], REFUSED, None),
        ([b"\xff", b"apps", b"example", b"com"], 0, "192.0.2.90"),  # the *.apps wildcard
        ([b"x.apps", b"example", b"com"], NXDOMAIN, None),  # one label, not x.apps.example
        ([b"\\119ww", b"example", b"com"], NXDOMAIN, None),  # backslash, not \119 = "w"
        ([b"WWW\x00", b"example", b"com"], NXDOMAIN, None),
    ],
)
def test_names_with_any_octets_are_answered_alike_on_both_routes(
    world, route, labels, rcode, answer
):
    h = make(world)
    wire = raw_query(labels, route=route)
    reply = h.handle(wire, "127.0.0.1", False)
    assert reply is not None
    assert reply[3] & 0xF == rcode
    end = 12 + sum(len(label) + 1 for label in labels) + 1 + 4
    assert reply[12:end] == wire[12:end]  # the question comes back as sent
    if answer is not None:
        message = parse(reply)
        assert [rr.address for rrset in message.answer for rr in rrset] == [answer]


def test_both_routes_give_the_same_bytes_for_a_non_utf8_name(world):
    fast = make(world).handle(raw_query([b"\xff", b"apps", b"example", b"com"]), "1.2.3.4", True)
    general = make(world).handle(
        raw_query([b"\xff", b"apps", b"example", b"com"], route="general"), "1.2.3.4", True
    )
    assert fast == general


def test_non_ascii_octets_are_not_case_folded(world):
    """\\xc9 is not \\xe9: only ASCII letters compare case-insensitively."""
    h = make(world)
    h.handle(raw_query([b"caf\xe9", b"apps", b"example", b"com"]), "127.0.0.1", False)
    key = fastpath.parse_query(raw_query([b"CAF\xc9", b"apps", b"example", b"com"])).key
    assert key.startswith(b"\x04caf\xc9\x04apps")
    assert h.cache.answers.get(key) is None


def test_chaos_names_are_compared_by_labels(world):
    """CH TXT for the one label "version.bind" is not version.bind."""
    h = make(world)
    real = h.handle(raw_query([b"version", b"bind"], qtype=16, qclass=3), "127.0.0.1", False)
    fake = h.handle(raw_query([b"version.bind"], qtype=16, qclass=3), "127.0.0.1", False)
    assert real[3] & 0xF == 0 and fake[3] & 0xF == REFUSED


# --- 6: NOTIMP replies to other opcodes -------------------------------------------------


@pytest.mark.parametrize("opcode", [1, 2, 4, 5, 6, 15])
@pytest.mark.parametrize("qdcount", [0, 1])
def test_other_opcodes_get_notimp_without_query_flags(world, opcode, qdcount):
    flags = opcode << 11 | 0x0100 | 0x0400 | 0x0020 | 0x0010  # RD, AA, AD, CD set
    question = b"\x07example\x03com\x00\x00\x01\x00\x01" if qdcount else b""
    wire = struct.pack("!6H", 5, flags, qdcount, 0, 0, 0) + question
    reply = make(world).handle(wire, "127.0.0.1", False)
    ident, out = struct.unpack_from("!HH", reply)
    assert ident == 5 and out & 0x8000 and (out >> 11) & 0xF == opcode
    assert out & 0xF == NOTIMP
    assert out & 0x05B0 == 0  # AA, RD, RA, AD, CD


@pytest.mark.parametrize("opcode", [1, 2, 4, 5])
def test_other_opcodes_get_notimp_even_when_the_rest_is_malformed(world, opcode):
    """SPEC 7: any opcode but QUERY is NOTIMP; what follows the header is not read."""
    for rest in (b"", b"\x07example", b"\xc0\x0c\x00\x01\x00\x01"):
        wire = struct.pack("!6H", 9, opcode << 11, 1, 0, 0, 0) + rest
        reply = make(world).handle(wire, "127.0.0.1", False)
        assert struct.unpack_from("!H", reply, 2)[0] & 0x780F == opcode << 11 | NOTIMP


def test_query_formerr_still_echoes_rd(world):
    wire = struct.pack("!6H", 6, 0x0100, 2, 0, 0, 0) + b"\x00\x00\x01\x00\x01" * 2
    reply = make(world).handle(wire, "127.0.0.1", False)
    assert struct.unpack_from("!H", reply, 2)[0] & 0x010F == 0x0100 | FORMERR


# --- 8: records that lie about their length ---------------------------------------------


def lying_packet() -> bytes:
    """A question, an A record with RDLENGTH 8 and 4 octets of data, an OPT."""
    question = b"\x07example\x03com\x00\x00\x01\x00\x01"
    a_record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 8) + bytes([192, 0, 2, 1])
    opt_rr = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    return struct.pack("!6H", 8, 0x0100, 1, 1, 0, 1) + question + a_record + opt_rr


@pytest.mark.parametrize("tcp", [False, True])
def test_a_record_longer_than_its_data_is_formerr_without_a_traceback(world, logged, tcp):
    wire = lying_packet()
    reply = make(world).handle(wire, "127.0.0.1", tcp)
    assert reply is not None and reply[3] & 0xF == FORMERR
    assert [r for r in logged.records if r.levelno >= logging.WARNING] == []


def test_an_rdlength_past_the_end_is_formerr(world, logged):
    wire = lying_packet()[:-11]  # no OPT: the A record claims 4 octets more than remain
    wire = wire[:6] + b"\x00\x01\x00\x00\x00\x00" + wire[12:]
    reply = make(world).handle(wire, "127.0.0.1", False)
    assert reply is not None and reply[3] & 0xF == FORMERR
    assert logged.records == []


def test_a_record_with_empty_rdata_is_legal(world):
    """RDLENGTH 0 is legal (dnslib refuses it as "Empty RR"): the query is answered."""
    question = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
    empty = b"\x00" + struct.pack("!HHIH", 65280, 1, 0, 0)
    wire = struct.pack("!6H", 10, 0x0100, 1, 0, 0, 1) + question + empty
    reply = parse(make(world).handle(wire, "127.0.0.1", False))
    assert reply.rcode() == 0 and reply.answer


def test_error_log_gives_one_traceback_per_interval_and_counts_the_rest():
    errors = ErrorLog(interval=60.0)
    assert errors.decide(1000.0) == (True, 0)
    assert [errors.decide(1000.0 + t) for t in (1, 2, 59.9)] == [(False, 0)] * 3
    assert errors.decide(1060.0) == (True, 3)  # the count of the interval gone by
    assert errors.decide(1061.0) == (False, 0)
    assert errors.decide(5000.0) == (True, 1)
    assert errors.decide(5000.5) == (False, 0)


class BrokenResolver(Resolver):
    """An engine with a bug: what the handler's internal-error path is for."""

    def resolve(self, *args, **kwargs):
        raise RuntimeError("a bug")


def test_internal_errors_are_logged_rate_limited(world, logged):
    zone_set, locator = world
    h = Handler(BrokenResolver(zone_set), AllHealthy(), Chaos("v", "id"), locator)
    for n in range(200):
        reply = h.handle(ask(f"n{n}.example.com", "A"), "127.0.0.1", False)
        assert reply is not None and reply[3] & 0xF == 2  # SERVFAIL
    errors = [r for r in logged.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None


# --- 10: metric labels are bounded ------------------------------------------------------


def test_unknown_types_are_other_for_metrics_but_typennn_in_the_log(world, logged):
    h = make(world, log_queries=True)
    before = len(querylog._QTYPE_NAMES)
    for qtype in range(65280, 65300):
        h.handle(ask("www.example.com", qtype), "127.0.0.1", False)
        assert h.facts.qtype == "OTHER"
    h.handle(ask("www.example.com", "HTTPS"), "127.0.0.1", False)
    assert h.facts.qtype == "HTTPS"
    assert len(querylog._QTYPE_NAMES) == before
    lines = [r.getMessage() for r in logged.records if r.name == "policydns.query"]
    assert "type=TYPE65280 " in lines[0] and "type=HTTPS " in lines[-1]


# --- 13: the memo's bound, in replies and in bytes --------------------------------------


def memo_entries(h: Handler) -> list[Finished]:
    return [m for t in (*h.cache.exact.values(), *h.cache.by_source.values()) for m in t.values()]


def test_udp_size_variants_share_one_reply(world):
    """65,536 UDP sizes are 65,536 memo keys, but not 65,536 copies of the reply."""
    h = make(world)
    for size in range(1232, 1232 + 300):
        h.handle(ask("long.example.net", "TXT", size=size), "127.0.0.1", False)
    for size in range(512, 812):
        h.handle(ask("long.example.net", "TXT", size=size), "127.0.0.1", False)
    held = memo_entries(h)
    assert len(held) > 100
    assert len({id(m[0]) for m in held}) <= 3  # full, truncated, and nothing else


def test_memo_and_cache_share_one_bound(world):
    h = make(world)
    h.cache = Reuse(20)
    for n in range(200):
        h.handle(ask(f"n{n}.apps.example.com", "A"), "127.0.0.1", False)
        h.handle(ask(f"n{n}.apps.example.com", "A", size=1400 + n), "127.0.0.1", False)
        held = sum(1 if m[3] is None else len(m[3][0]) for m in memo_entries(h))
        assert held + len(h.cache.answers) <= len(h.cache) <= 20
        assert held == h.cache.memo_size
    # both still work: a repeat is a memo hit, a new question fills the cache
    assert memo_entries(h) and len(h.cache.answers)


# --- 18: the query log ------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
def test_query_log_escapes_octets_that_could_forge_a_line(world, logged, route):
    h = make(world, log_queries=True)
    labels = [b"x\ninjected line", b"a.b\\", b"\xff", b"example", b"com"]
    h.handle(raw_query(labels, route=route), "127.0.0.1", False)
    (line,) = [r.getMessage() for r in logged.records if r.name == "policydns.query"]
    assert "\n" not in line
    assert r" name=x\010injected\032line.a\046b\092.\255.example.com. " in line


def test_query_log_names_agree_across_routes(world, logged):
    h = make(world, log_queries=True)
    for route in ROUTES:
        h.handle(raw_query([b"WwW", b"Example", b"COM"], route=route), "127.0.0.1", False)
    lines = [r.getMessage() for r in logged.records if r.name == "policydns.query"]
    names = [line.split(" name=")[1].split(" ")[0] for line in lines]
    assert names == ["www.example.com.", "www.example.com."]


def reply_scope(reply: bytes) -> int:
    (option,) = [o for o in parse(reply).options if o.otype == 8]
    return option.scopelen


@pytest.mark.parametrize("route", ROUTES)
def test_query_log_shows_the_scope_sent_on_a_cache_hit(world, logged, route):
    h = make(world, log_queries=True)
    wire = ask("geo.steer.example", "A", route, subnet=("10.1.2.0", 24))
    scopes = [reply_scope(h.handle(wire, "127.0.0.1", False)) for _ in range(3)]
    lines = [r.getMessage() for r in logged.records if r.name == "policydns.query"]
    assert h.cache.hits >= 2 and scopes[0] > 0
    assert [int(line.split(" scope=")[1].split(" ")[0]) for line in lines] == scopes
