"""SPEC section 7 (DNS behaviour), end to end against the real server over UDP and TCP."""

from __future__ import annotations

import functools
import re
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.update
import pytest
import yaml

from tests import dnshelp
from tests.dnshelp import (
    TIMEOUT,
    assert_authority_has_soa,
    assert_rcode,
    assert_rrset_in_answer,
    assert_section,
    exchange,
    query_wire,
    recv_exactly,
    rrset,
    rrset_key,
    tcp_raw,
    udp_raw,
)
from tests.serverproc import ZONES, ServerProcess

pytestmark = pytest.mark.timeout(60)

SILENCE = 0.5  # seconds to wait before concluding that no reply comes
TRANSPORTS = ["udp", "tcp"]
MAX_CNAME_LINKS = 12  # the server's documented chain limit (README)

# --------------------------------------------------------------------------- zones

LONG_TEXT = (
    "This TXT value is longer than 255 bytes, so it is split into several character-strings"
    " on the wire and joined again by the client. It keeps going to make sure it crosses the"
    " limit. Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor"
    " incididunt ut labore et dolore magna aliqua."
)

WILD_ZONE = """\
zone: wild.test
ttl: 100
soa: {minimum: 50}
records:
  "*": [{type: A, values: [192.0.2.1]}]
  w: [{type: A, values: [192.0.2.2]}]
  "*.w": [{type: TXT, values: ["from wildcard"]}, {type: A, values: [192.0.2.3]}]
  blocker.w: [{type: A, values: [192.0.2.4]}]
  host.ent.w: [{type: A, values: [192.0.2.5]}]
  "*.c": [{type: CNAME, value: w}]
"""

ALIAS_ZONE = """\
zone: alias.test
ttl: 200
records:
  www: [{type: A, ttl: 30, values: [192.0.2.7]}, {type: AAAA, values: ["2001:db8::7"]}]
  app: [{type: A, alias: {target: www}}]
"""

CHAIN_LENGTH = 20  # c0 -> c1 -> ... -> c20 (A): more links than the server follows


def chain_zone() -> str:
    """A zone with a 20-link CNAME chain, a chain leaving our zones and a dangling CNAME."""
    lines = ["zone: chain.test", "ttl: 100", "records:"]
    lines += [f"  c{i}: [{{type: CNAME, value: c{i + 1}}}]" for i in range(CHAIN_LENGTH)]
    lines.append(f"  c{CHAIN_LENGTH}: [{{type: A, values: [192.0.2.20]}}]")
    lines.append("  away: [{type: CNAME, value: www.elsewhere.invalid.}]")
    lines.append("  dangling: [{type: CNAME, value: nothere}]")
    lines.append("  todeleg: [{type: CNAME, value: host.kid}]")  # into a delegation
    lines.append("  kid: [{type: NS, values: [ns.kid]}]")
    lines.append("  ns.kid: [{type: A, values: [192.0.2.9]}]")
    return "\n".join(lines) + "\n"


MANY = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(100)]  # ~1.6 kB: over 1232
MID = MANY[:50]  # ~0.8 kB: over 512, under 1232


def big_zone() -> str:
    """A zone with a 100-address and a 50-address A RRset, for truncation."""
    return (
        "zone: big.test\nttl: 100\nrecords:\n"
        f"  many: [{{type: A, values: [{', '.join(MANY)}]}}]\n"
        f"  mid: [{{type: A, values: [{', '.join(MID)}]}}]\n"
    )


CUSTOM_ZONES = {
    "wild.yaml": WILD_ZONE,
    "alias.yaml": ALIAS_ZONE,
    "chain.yaml": chain_zone(),
    "big.yaml": big_zone(),
}


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for this module serving the custom zones above (read-only tests share it)."""
    zone_dir = tmp_path_factory.mktemp("custom-zones")
    for name, text in CUSTOM_ZONES.items():
        (zone_dir / name).write_text(text)
    proc = ServerProcess(["--zones", str(zone_dir), "--listen", "127.0.0.1:0", "--no-http"])
    proc.start(zone_dir.parent / "custom-server.log")
    yield proc
    proc.stop()


# --------------------------------------------------------------------------- helpers

# Non-recursive, as a resolver asks an authoritative server.
ask = functools.partial(dnshelp.ask, rd=False)


def assert_negative(reply, rcode: int, zone: str, ttl: int) -> None:
    """An authoritative NXDOMAIN/NODATA: empty answer, zone SOA in authority."""
    assert_rcode(reply, rcode)
    assert reply.answer == []
    assert_authority_has_soa(reply, zone, ttl)
    assert not reply.flags & dns.flags.TC


def header(data: bytes) -> tuple[int, int, int, int, int, int]:
    """id, flags, qdcount, ancount, nscount, arcount of a raw message."""
    return struct.unpack_from("!6H", data)


def assert_still_answers(srv: ServerProcess, name: str = "www.example.com") -> None:
    """The server still answers an ordinary question."""
    reply = ask(srv, name, "A")
    assert_rcode(reply, dns.rcode.NOERROR)
    assert reply.answer


def start_with_config(start_server, tmp_path: Path, text: str) -> ServerProcess:
    """Start a server on the fixture zones with this config file text."""
    config = tmp_path / "policydns.yaml"
    config.write_text(text)
    return start_server(
        "--config", str(config), "--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http"
    )


def answer_texts(reply: dns.message.Message) -> list[bytes]:
    """The concatenated strings of every TXT rdata in the answer."""
    return [b"".join(rd.strings) for rr in reply.answer for rd in rr]


# --------------------------------------------------------------------------- AA / REFUSED


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_authoritative_answer_sets_aa(server, transport):
    """An answer from our zone data is NOERROR with AA and the exact RRset."""
    reply = ask(server, "www.example.com", "A", transport)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert_section(reply.answer, [rrset("www.example.com.", 300, "A", "192.0.2.10", "192.0.2.11")])
    assert reply.authority == []
    assert not reply.flags & dns.flags.TC


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("name", ["www.example.invalid", "com", "example.edu", "."])
def test_name_outside_every_zone_is_refused(server, name, transport):
    """A name outside every zone gets REFUSED, no AA, empty sections."""
    reply = ask(server, name, "A", transport)
    assert_rcode(reply, dns.rcode.REFUSED, aa=False)
    assert reply.answer == [] and reply.authority == [] and reply.additional == []


# --------------------------------------------------------------------------- negative answers


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "zone", "ttl"),
    [
        ("nope.example.com", "example.com.", 60),  # ttl 300, minimum 60
        ("nope.example.org", "example.org.", 120),  # ttl 120, minimum 300 (default)
        ("nope.example.net", "example.net.", 300),  # ttl 3600, minimum 300 (default)
        ("deeper.nope.example.com", "example.com.", 60),
        ("x.host.deep.lab.example.com", "example.com.", 60),
    ],
)
def test_nxdomain_has_soa_with_negative_ttl(server, name, zone, ttl, transport):
    """NXDOMAIN carries the zone SOA with TTL min(zone ttl, SOA minimum)."""
    reply = ask(server, name, "A", transport)
    assert_negative(reply, dns.rcode.NXDOMAIN, zone, ttl)


def test_negative_soa_fields(server):
    """The negative-answer SOA carries the zone's SOA fields (defaults filled in)."""
    soa = assert_authority_has_soa(ask(server, "nope.example.com", "A"), "example.com.", 60)
    assert soa.mname == dns.name.from_text("ns1.example.com.")
    assert soa.rname == dns.name.from_text("hostmaster.example.com.")
    assert (soa.refresh, soa.retry, soa.expire, soa.minimum) == (7200, 900, 1209600, 60)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("zone", "ttl", "negative_ttl"), [("example.com.", 300, 60), ("example.net.", 3600, 300)]
)
def test_apex_soa_query_answers_soa(server, zone, ttl, negative_ttl, transport):
    """An SOA question at the apex answers the SOA (zone TTL), the same one as in NXDOMAIN."""
    negative = assert_authority_has_soa(ask(server, "nope." + zone, "A"), zone, negative_ttl)
    reply = ask(server, zone, "SOA", transport)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert len(reply.answer) == 1, reply
    assert reply.answer[0].name == dns.name.from_text(zone)
    assert reply.answer[0].rdtype == dns.rdatatype.SOA
    assert reply.answer[0].ttl == ttl
    assert list(reply.answer[0]) == [negative]
    assert reply.authority == []


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("zone", "ttl", "servers"),
    [
        ("example.com.", 300, ["ns1.example.com.", "ns2.example.com."]),
        ("example.net.", 3600, ["ns1.example.net."]),
        ("example.org.", 120, ["ns1.example.org."]),
    ],
)
def test_apex_ns_query_answers_ns(server, zone, ttl, servers, transport):
    """An NS question at the apex answers the zone's NS set (zone TTL), with AA."""
    reply = ask(server, zone, "NS", transport)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert_section(reply.answer, [rrset(zone, ttl, "NS", *servers)])


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "rdtype", "zone", "ttl"),
    [
        ("www.example.com", "MX", "example.com.", 60),
        ("mail.example.com", "AAAA", "example.com.", 60),
        ("example.com", "CNAME", "example.com.", 60),
        ("www.example.org", "TXT", "example.org.", 120),
        ("mx1.example.net", "AAAA", "example.net.", 300),
    ],
)
def test_nodata_has_soa_with_negative_ttl(server, name, rdtype, zone, ttl, transport):
    """An existing name without the type is NOERROR, empty answer, zone SOA in authority."""
    reply = ask(server, name, rdtype, transport)
    assert_negative(reply, dns.rcode.NOERROR, zone, ttl)


@pytest.mark.parametrize("rdtype", ["A", "AAAA", "TXT"])
@pytest.mark.parametrize(
    "name", ["lab.example.com", "deep.lab.example.com", "www.example.net", "_tcp.www.example.net"]
)
def test_empty_non_terminal_is_nodata(server, name, rdtype):
    """An empty non-terminal is NODATA (NOERROR + SOA), never NXDOMAIN."""
    zone = "example.net." if name.endswith("example.net") else "example.com."
    ttl = 300 if zone == "example.net." else 60
    assert_negative(ask(server, name, rdtype), dns.rcode.NOERROR, zone, ttl)


def test_name_below_empty_non_terminal_is_nxdomain(server):
    """A missing name below an empty non-terminal is NXDOMAIN."""
    reply = ask(server, "other.lab.example.com", "A")
    assert_negative(reply, dns.rcode.NXDOMAIN, "example.com.", 60)


def test_existing_leaf_below_empty_non_terminals(server):
    """The name that creates the empty non-terminals answers normally."""
    reply = ask(server, "host.deep.lab.example.com", "A")
    assert_rcode(reply, dns.rcode.NOERROR)
    assert_section(reply.answer, [rrset("host.deep.lab.example.com.", 300, "A", "192.0.2.30")])


# --------------------------------------------------------------------------- wildcards


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "rdtype", "value"),
    [
        ("x.apps.example.com", "A", "192.0.2.90"),
        ("x.apps.example.com", "TXT", '"wildcard"'),
        ("a.b.apps.example.com", "A", "192.0.2.90"),
        ("a.b.apps.example.com", "TXT", '"wildcard"'),
        ("*.apps.example.com", "A", "192.0.2.90"),
    ],
)
def test_wildcard_synthesizes_with_query_name(server, name, rdtype, value, transport):
    """A wildcard match answers with owner = the query name, AA and the wildcard's data."""
    reply = ask(server, name, rdtype, transport)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert_section(reply.answer, [rrset(name + ".", 300, rdtype, value)])
    assert reply.authority == []


def test_wildcard_owner_name_in_answer_is_query_name(server):
    """The synthesized owner is literally the query name, not '*.apps'."""
    reply = ask(server, "something.apps.example.com", "A")
    assert reply.answer[0].name == dns.name.from_text("something.apps.example.com.")


def test_wildcard_parent_itself_is_nodata(server):
    """apps.example.com (an empty non-terminal) is not matched by *.apps: NODATA."""
    assert_negative(ask(server, "apps.example.com", "A"), dns.rcode.NOERROR, "example.com.", 60)


@pytest.mark.parametrize("rdtype", ["MX", "AAAA"])
def test_wildcard_nodata_for_missing_type(server, rdtype):
    """A wildcard match for a type the wildcard lacks is NOERROR, empty, with the SOA."""
    reply = ask(server, "x.apps.example.com", rdtype)
    assert_negative(reply, dns.rcode.NOERROR, "example.com.", 60)


@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        # *.w synthesizes for names with no closer existing ancestor than w.
        ("x.w.wild.test", "TXT", '"from wildcard"'),
        ("x.w.wild.test", "A", "192.0.2.3"),
        ("a.b.w.wild.test", "A", "192.0.2.3"),
        # An existing name is answered from its own data, never from the wildcard.
        ("blocker.w.wild.test", "A", "192.0.2.4"),
        ("blocker.w.wild.test", "TXT", "NODATA"),
        # Below an existing name the closest encloser is that name: no *.blocker.w -> NXDOMAIN.
        ("y.blocker.w.wild.test", "A", "NXDOMAIN"),
        ("y.blocker.w.wild.test", "TXT", "NXDOMAIN"),
        # An empty non-terminal blocks the wildcard too (RFC 4592 2.2.2).
        ("ent.w.wild.test", "TXT", "NODATA"),
        ("z.ent.w.wild.test", "TXT", "NXDOMAIN"),
        # A wildcard does not match its own parent (the closest encloser itself).
        ("w.wild.test", "TXT", "NODATA"),
        ("w.wild.test", "A", "192.0.2.2"),
        # The apex wildcard covers any name whose closest encloser is the apex ...
        ("q.wild.test", "A", "192.0.2.1"),
        ("a.b.wild.test", "A", "192.0.2.1"),
        ("q.wild.test", "TXT", "NODATA"),
        # ... but not the apex itself.
        ("wild.test", "A", "NODATA"),
    ],
)
def test_wildcard_closest_encloser_rules(custom, name, rdtype, expected):
    """RFC 4592: existing names and empty non-terminals block wildcards; no match at the parent."""
    reply = ask(custom, name, rdtype)
    if expected in ("NODATA", "NXDOMAIN"):
        rcode = dns.rcode.NXDOMAIN if expected == "NXDOMAIN" else dns.rcode.NOERROR
        assert_negative(reply, rcode, "wild.test.", 50)
    else:
        assert_rcode(reply, dns.rcode.NOERROR)
        assert_section(reply.answer, [rrset(name + ".", 100, rdtype, expected)])


def test_wildcard_cname_is_synthesized_and_followed(custom):
    """A wildcard CNAME is synthesized at the query name and then followed."""
    reply = ask(custom, "x.c.wild.test", "A")
    assert_rcode(reply, dns.rcode.NOERROR)
    assert_section(
        reply.answer,
        [
            rrset("x.c.wild.test.", 100, "CNAME", "w.wild.test."),
            rrset("w.wild.test.", 100, "A", "192.0.2.2"),
        ],
    )


# --------------------------------------------------------------------------- CNAME

WWW_COM_A = rrset("www.example.com.", 300, "A", "192.0.2.10", "192.0.2.11")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        (
            "docs.example.com",
            "A",
            [rrset("docs.example.com.", 300, "CNAME", "www.example.com."), WWW_COM_A],
        ),
        (
            "docs.example.com",
            "AAAA",
            [
                rrset("docs.example.com.", 300, "CNAME", "www.example.com."),
                rrset("www.example.com.", 300, "AAAA", "2001:db8::10"),
            ],
        ),
        (
            "blog.example.com",
            "A",
            [
                rrset("blog.example.com.", 300, "CNAME", "docs.example.com."),
                rrset("docs.example.com.", 300, "CNAME", "www.example.com."),
                WWW_COM_A,
            ],
        ),
        (
            "cdn.example.com",
            "A",
            [
                rrset("cdn.example.com.", 300, "CNAME", "www.example.org."),
                rrset("www.example.org.", 120, "A", "198.51.100.10"),
            ],
        ),
        (
            "cdn.example.com",
            "AAAA",
            [
                rrset("cdn.example.com.", 300, "CNAME", "www.example.org."),
                rrset("www.example.org.", 120, "AAAA", "2001:db8:1::10"),
            ],
        ),
    ],
)
def test_cname_chain_in_answer(server, name, rdtype, expected, transport):
    """CNAMEs inside our zones are followed and the whole chain is in the answer, in order."""
    reply = ask(server, name, rdtype, transport)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert_section(reply.answer, expected)
    assert reply.authority == []


@pytest.mark.parametrize(
    ("name", "target"),
    [("docs.example.com", "www.example.com."), ("blog.example.com", "docs.example.com.")],
)
def test_cname_query_gets_cname_alone(server, name, target):
    """A CNAME-type question gets the CNAME alone, not the chain."""
    reply = ask(server, name, "CNAME")
    assert_rcode(reply, dns.rcode.NOERROR)
    assert_section(reply.answer, [rrset(name + ".", 300, "CNAME", target)])


def test_cname_target_without_type_is_nodata(server):
    """A chain ending at a name without the type: CNAME in answer, target zone SOA."""
    reply = ask(server, "docs.example.com", "MX")
    assert_rcode(reply, dns.rcode.NOERROR)
    assert_section(reply.answer, [rrset("docs.example.com.", 300, "CNAME", "www.example.com.")])
    assert_authority_has_soa(reply, "example.com.", 60)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cname_to_nxdomain_in_other_zone(server, transport):
    """gone -> gone.example.net: example.net is served here and lacks it, so NXDOMAIN."""
    reply = ask(server, "gone.example.com", "A", transport)
    assert_rcode(reply, dns.rcode.NXDOMAIN)
    assert_section(reply.answer, [rrset("gone.example.com.", 300, "CNAME", "gone.example.net.")])
    assert_authority_has_soa(reply, "example.net.", 300)


def test_cname_to_nxdomain_in_same_zone(custom):
    """A dangling CNAME inside the zone gives NXDOMAIN with the chain and the SOA."""
    reply = ask(custom, "dangling.chain.test", "A")
    assert_rcode(reply, dns.rcode.NXDOMAIN)
    assert_section(
        reply.answer, [rrset("dangling.chain.test.", 100, "CNAME", "nothere.chain.test.")]
    )
    assert_authority_has_soa(reply, "chain.test.", 100)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cname_leaving_our_zones_stops(custom, transport):
    """A chain that leaves our zones ends with the CNAME alone and NOERROR."""
    reply = ask(custom, "away.chain.test", "A", transport)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert_section(
        reply.answer, [rrset("away.chain.test.", 100, "CNAME", "www.elsewhere.invalid.")]
    )
    assert reply.authority == []


def test_cname_into_delegation_keeps_aa(custom):
    """A CNAME into a delegated child: AA for the CNAME (RFC 1035 4.1.1) plus the referral."""
    reply = ask(custom, "todeleg.chain.test", "A")
    assert_rcode(reply, dns.rcode.NOERROR, aa=True)
    assert_section(
        reply.answer, [rrset("todeleg.chain.test.", 100, "CNAME", "host.kid.chain.test.")]
    )
    assert_section(reply.authority, [rrset("kid.chain.test.", 100, "NS", "ns.kid.chain.test.")])
    assert_section(reply.additional, [rrset("ns.kid.chain.test.", 100, "A", "192.0.2.9")])


def chain_links(first: int, count: int) -> list[dns.rrset.RRset]:
    """The CNAME RRsets c{first} -> ... for count links."""
    return [
        rrset(f"c{i}.chain.test.", 100, "CNAME", f"c{i + 1}.chain.test.")
        for i in range(first, first + count)
    ]


def test_cname_chain_at_the_limit_is_fully_followed(custom):
    """A chain of exactly 12 links (the documented limit) is followed to the address."""
    first = CHAIN_LENGTH - MAX_CNAME_LINKS
    reply = ask(custom, f"c{first}.chain.test", "A")
    assert_rcode(reply, dns.rcode.NOERROR)
    expected = [
        *chain_links(first, MAX_CNAME_LINKS),
        rrset(f"c{CHAIN_LENGTH}.chain.test.", 100, "A", "192.0.2.20"),
    ]
    assert_section(reply.answer, expected)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_long_cname_chain_is_bounded(custom, transport):
    """A 20-link chain is answered promptly with a bounded prefix of the chain."""
    started = time.monotonic()
    reply = ask(custom, "c0.chain.test", "A", transport)
    assert time.monotonic() - started < TIMEOUT
    assert reply.rcode() in (dns.rcode.NOERROR, dns.rcode.SERVFAIL)
    assert MAX_CNAME_LINKS <= len(reply.answer) <= MAX_CNAME_LINKS + 1
    assert_section(reply.answer, chain_links(0, len(reply.answer)))
    assert_still_answers(custom, f"c{CHAIN_LENGTH}.chain.test")


# --------------------------------------------------------------------------- delegation

SUB_NS = rrset("sub.example.com.", 300, "NS", "ns1.sub.example.com.", "ns.example.net.")
SUB_GLUE = rrset("ns1.sub.example.com.", 300, "A", "192.0.2.53")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "rdtype"),
    [
        ("a.sub.example.com", "A"),
        ("sub.example.com", "NS"),
        ("sub.example.com", "A"),
        ("deep.a.sub.example.com", "MX"),
        ("ns1.sub.example.com", "A"),  # the glue itself is below the cut: still a referral
    ],
)
def test_delegation_gives_referral_with_glue(server, name, rdtype, transport):
    """At or below a delegation: NOERROR, no AA, NS in authority, glue in additional."""
    reply = ask(server, name, rdtype, transport)
    assert_rcode(reply, dns.rcode.NOERROR, aa=False)
    assert reply.answer == []
    assert_section(reply.authority, [SUB_NS])
    assert rrset_key(SUB_GLUE) in [rrset_key(r) for r in reply.additional]


def test_referral_for_delegation_to_in_zone_server(server):
    """A name below secure.example.net gets a referral to ns.example.net."""
    reply = ask(server, "www.secure.example.net", "A")
    assert_rcode(reply, dns.rcode.NOERROR, aa=False)
    assert reply.answer == []
    assert_section(reply.authority, [rrset("secure.example.net.", 3600, "NS", "ns.example.net.")])


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ds_at_cut_answered_by_parent(server, transport):
    """DS at the cut is the parent's data: authoritative answer with AA."""
    reply = ask(server, "secure.example.net", "DS", transport)
    assert_rcode(reply, dns.rcode.NOERROR)
    expected = rrset(
        "secure.example.net.",
        3600,
        "DS",
        "12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE3C8C8C2E2E2E2E2E2E2E2E2E",
    )
    assert_section(reply.answer, [expected])
    assert reply.answer[0] == expected


def test_ds_below_cut_is_referral(server):
    """A DS question below the cut belongs to the child: a referral."""
    reply = ask(server, "a.sub.example.com", "DS")
    assert_rcode(reply, dns.rcode.NOERROR, aa=False)
    assert_section(reply.authority, [SUB_NS])


# --------------------------------------------------------------------------- aliases


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        ("example.com", "A", rrset("example.com.", 300, "A", "192.0.2.10", "192.0.2.11")),
        ("example.com", "AAAA", rrset("example.com.", 300, "AAAA", "2001:db8::10")),
        ("example.org", "A", rrset("example.org.", 120, "A", "198.51.100.10")),
        ("app.example.org", "A", rrset("app.example.org.", 120, "A", "198.51.100.10")),
        ("app2.example.org", "A", rrset("app2.example.org.", 120, "A", "198.51.100.10")),
        (
            "legacy.example.org",
            "A",
            rrset("legacy.example.org.", 300, "A", "192.0.2.10", "192.0.2.11"),
        ),
        ("app.alias.test", "A", rrset("app.alias.test.", 30, "A", "192.0.2.7")),
    ],
)
def test_alias_answers_with_own_name_and_target_data(
    server, custom, name, rdtype, expected, transport
):
    """An alias answers with its own owner name and the target's values and TTL."""
    srv = custom if name.endswith(".test") else server
    reply = ask(srv, name, rdtype, transport)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert_section(reply.answer, [expected])
    assert reply.authority == []


def test_alias_does_not_affect_other_types(server):
    """The apex alias does not hide the apex MX."""
    reply = ask(server, "example.com", "MX")
    assert_rcode(reply, dns.rcode.NOERROR)
    assert_section(
        reply.answer,
        [rrset("example.com.", 300, "MX", "10 mail.example.com.", "20 mail2.example.com.")],
    )


@pytest.mark.parametrize(
    ("srv_name", "name", "zone", "ttl"),
    [
        ("custom", "app.alias.test", "alias.test.", 200),  # target has AAAA, alias only A
        ("server", "app.example.org", "example.org.", 120),
        ("server", "legacy.example.org", "example.org.", 120),
    ],
)
def test_alias_answers_only_its_type(request, srv_name, name, zone, ttl):
    """An A alias whose target also has AAAA answers AAAA with NODATA."""
    srv = request.getfixturevalue(srv_name)
    assert_negative(ask(srv, name, "AAAA"), dns.rcode.NOERROR, zone, ttl)


# --------------------------------------------------------------------------- EDNS(0)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("payload", [512, 1232, 4096])
def test_edns_reply_has_opt_with_1232(server, payload, transport):
    """A query with EDNS gets an OPT advertising 1232 bytes, version 0."""
    reply = ask(server, "www.example.com", "A", transport, use_edns=0, payload=payload)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert reply.opt is not None
    assert reply.edns == 0
    assert reply.payload == 1232
    assert_section(reply.answer, [WWW_COM_A])


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_no_edns_no_opt(server, transport):
    """A query without EDNS gets no OPT record."""
    reply = ask(server, "www.example.com", "A", transport)
    assert reply.opt is None
    assert reply.edns == -1
    assert reply.additional == []


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("version", [1, 255])
def test_edns_version_above_zero_gets_badvers(server, version, transport):
    """EDNS version > 0 gets BADVERS (extended rcode 16) with an OPT of version 0."""
    reply = ask(server, "www.example.com", "A", transport, use_edns=version)
    assert reply.rcode() == dns.rcode.BADVERS
    assert reply.opt is not None
    assert reply.edns == 0
    assert reply.answer == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_edns_unknown_options_ignored(server, transport):
    """Unknown EDNS options do not change the answer."""
    options = [dns.edns.GenericOption(65001, b"\x01\x02\x03"), dns.edns.GenericOption(65500, b"")]
    reply = ask(server, "www.example.com", "A", transport, use_edns=0, options=options)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert reply.edns == 0
    assert_section(reply.answer, [WWW_COM_A])


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("do", [True, False])
def test_edns_do_bit_echoed(server, do, transport):
    """The DO bit of the query is copied to the reply's OPT."""
    reply = ask(server, "www.example.com", "A", transport, use_edns=0, want_dnssec=do)
    assert reply.edns == 0
    assert bool(reply.ednsflags & dns.flags.DO) == do


def test_edns_on_negative_answer(server):
    """NXDOMAIN replies also carry the OPT."""
    reply = ask(server, "nope.example.com", "A", use_edns=0)
    assert_negative(reply, dns.rcode.NXDOMAIN, "example.com.", 60)
    assert reply.edns == 0 and reply.payload == 1232


def with_extra_opt(owner: bytes) -> bytes:
    """An EDNS query with one more OPT record (owned by `owner`) appended."""
    wire = query_wire("www.example.com", "A", ident=0xBEEF, use_edns=0)
    ident, flags, qd, an, ns, ar = header(wire)
    opt = owner + struct.pack("!HHIH", 41, 1232, 0, 0)
    return struct.pack("!6H", ident, flags, qd, an, ns, ar + 1) + wire[12:] + opt


def with_non_root_opt() -> bytes:
    """A query whose only OPT is owned by 'a.' instead of the root."""
    wire = query_wire("www.example.com", "A", ident=0xBEEF)
    ident, flags, qd, an, ns, ar = header(wire)
    opt = b"\x01a\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    return struct.pack("!6H", ident, flags, qd, an, ns, ar + 1) + wire[12:] + opt


@pytest.mark.parametrize(
    "packet", [with_extra_opt(b"\x00"), with_non_root_opt()], ids=["two-opts", "non-root-opt"]
)
def test_malformed_opt_is_formerr(server, packet):
    """Two OPT records, or an OPT not owned by the root, get FORMERR (RFC 6891 6.1.1)."""
    reply = udp_raw(server, packet)
    assert reply is not None
    ident, flags, *_ = header(reply)
    assert ident == 0xBEEF and flags & 0x8000
    assert flags & 0xF == dns.rcode.FORMERR


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("rdtype", ["AXFR", "IXFR"])
def test_zone_transfer_refused(server, rdtype, transport):
    """AXFR and IXFR are refused (README choice)."""
    reply = ask(server, "example.com", rdtype, transport)
    assert_rcode(reply, dns.rcode.REFUSED, aa=None)
    assert reply.answer == []


@pytest.mark.parametrize("rdclass", ["HS", "CLASS42"])
def test_other_classes_refused(server, rdclass):
    """Classes other than IN, CH and ANY are refused (README choice)."""
    reply = ask(server, "www.example.com", "A", rdclass=rdclass)
    assert_rcode(reply, dns.rcode.REFUSED, aa=False)
    assert reply.answer == []


# --------------------------------------------------------------------------- truncation


def assert_truncated(reply: dns.message.Message) -> None:
    """TC set and nothing but the question (and OPT) in the reply."""
    assert reply.flags & dns.flags.TC
    assert reply.answer == [] and reply.authority == [] and reply.additional == []
    assert reply.rcode() == dns.rcode.NOERROR


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("mid.big.test", {}),  # ~850 bytes, no EDNS: limit 512
        ("many.big.test", {}),
        ("mid.big.test", {"use_edns": 0, "payload": 600}),  # client limit 600
        ("many.big.test", {"use_edns": 0, "payload": 1232}),  # ~1.6 kB > 1232
        ("many.big.test", {"use_edns": 0, "payload": 4096}),  # our limit is still 1232
        ("many.big.test", {"use_edns": 0, "payload": 100}),  # below 512 counts as 512
    ],
)
def test_udp_reply_over_limit_is_truncated(custom, name, kwargs):
    """A UDP reply bigger than the client's limit is header + question (+ OPT) with TC."""
    reply = ask(custom, name, "A", **kwargs)
    assert_truncated(reply)
    assert reply.question[0].name == dns.name.from_text(name)
    assert (reply.opt is not None) == ("use_edns" in kwargs)
    if "use_edns" in kwargs:
        assert reply.payload == 1232


def test_fixture_answer_over_512_octets_is_truncated_on_udp_and_whole_on_tcp(server):
    """big.example.net TXT (tests/fixtures/zones) is over 512 octets: without EDNS the UDP
    reply is header and question with TC, and the TCP reply carries the whole answer."""
    zone = yaml.safe_load((ZONES / "records.example.net.yaml").read_text())
    values = sorted(v.encode() for v in zone["records"]["big"][0]["values"])
    udp_wire = exchange(server, query_wire("big.example.net", "TXT"), "udp")
    assert udp_wire is not None and len(udp_wire) <= 512
    udp = dns.message.from_wire(udp_wire)
    assert_truncated(udp)
    assert udp.opt is None
    tcp_wire = exchange(server, query_wire("big.example.net", "TXT"), "tcp")
    assert tcp_wire is not None and len(tcp_wire) > 512
    tcp = dns.message.from_wire(tcp_wire)
    assert_rcode(tcp, dns.rcode.NOERROR)
    assert not tcp.flags & dns.flags.TC
    assert sorted(answer_texts(tcp)) == values


@pytest.mark.parametrize("payload", [1232, 4096])
def test_udp_reply_within_edns_limit_is_whole(custom, payload):
    """A reply over 512 bytes but within the EDNS limit is sent whole over UDP."""
    reply = ask(custom, "mid.big.test", "A", use_edns=0, payload=payload)
    assert not reply.flags & dns.flags.TC
    assert_section(reply.answer, [rrset("mid.big.test.", 100, "A", *MID)])
    assert len(reply.to_wire()) > 512


@pytest.mark.parametrize("name", ["many.big.test", "mid.big.test"])
@pytest.mark.parametrize("kwargs", [{}, {"use_edns": 0}])
def test_tcp_reply_is_whole(custom, name, kwargs):
    """Over TCP the big RRsets come whole, without TC."""
    values = MANY if name.startswith("many") else MID
    reply = ask(custom, name, "A", "tcp", **kwargs)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert not reply.flags & dns.flags.TC
    assert_section(reply.answer, [rrset(name + ".", 100, "A", *values)])


def test_client_retries_over_tcp_after_tc(custom):
    """dnspython's UDP-with-fallback gets TC, retries over TCP and gets the whole answer."""
    query = dns.message.make_query("many.big.test", "A", use_edns=0)
    reply, used_tcp = dns.query.udp_with_fallback(
        query, custom.host, port=custom.port, timeout=TIMEOUT
    )
    assert used_tcp
    assert_section(reply.answer, [rrset("many.big.test.", 100, "A", *MANY)])


def test_edns_payload_below_512_counts_as_512(server):
    """An advertised size below 512 is treated as 512 (RFC 6891): a 350-byte reply is whole."""
    reply = ask(server, "long.example.net", "TXT", use_edns=0, payload=100)
    assert not reply.flags & dns.flags.TC
    assert len(reply.to_wire()) > 100
    assert answer_texts(reply) == [LONG_TEXT.encode()]


def test_udp_reply_without_edns_fits_512(server):
    """Ordinary answers without EDNS are not truncated."""
    reply = ask(server, "example.net", "TXT")
    assert not reply.flags & dns.flags.TC
    expected = rrset(
        "example.net.",
        3600,
        "TXT",
        '"v=spf1 include:_spf.example.net -all"',
        '"a text value with spaces"',
    )
    assert_rrset_in_answer(reply, expected)


# --------------------------------------------------------------------------- question case


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "rdtype"),
    [("wWw.ExAmPlE.cOm", "A"), ("NOPE.Example.COM", "A"), ("X.APPS.example.com", "TXT")],
)
def test_question_case_is_echoed(server, name, rdtype, transport):
    """The reply's question has the client's letter case, byte for byte."""
    wire = query_wire(name, rdtype)
    reply_wire = exchange(server, wire, transport)
    assert reply_wire is not None
    qlen = len(dns.name.from_text(name).to_wire()) + 4
    assert header(reply_wire)[2] == 1
    assert reply_wire[12 : 12 + qlen] == wire[12 : 12 + qlen]
    reply = dns.message.from_wire(reply_wire)
    assert reply.question[0].name.to_text() == name + "."


def test_answer_owner_keeps_question_case(server):
    """An answer owner equal to the question carries the question's case (README choice)."""
    reply = ask(server, "wWw.ExAmPlE.cOm", "A")
    assert_section(reply.answer, [WWW_COM_A])
    assert reply.answer[0].name.to_text() == "wWw.ExAmPlE.cOm."


# --------------------------------------------------------------------------- malformed input

HEADER_ONLY = struct.pack("!6H", 0xBEEF, 0x0100, 0, 0, 0, 0)


def two_question_query() -> bytes:
    """A query with QDCOUNT 2 (two real questions)."""
    first = query_wire("www.example.com", "A", ident=0xBEEF)
    second = query_wire("mail.example.com", "A")
    ident, flags, _, an, ns, ar = header(first)
    return struct.pack("!6H", ident, flags, 2, an, ns, ar) + first[12:] + second[12:]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("packet", [HEADER_ONLY, two_question_query()], ids=["qd0", "qd2"])
def test_qdcount_not_one_is_formerr(server, packet, transport):
    """QDCOUNT 0 or 2 gets FORMERR with the query's id."""
    reply = exchange(server, packet, transport)
    assert reply is not None
    ident, flags, *_ = header(reply)
    assert ident == 0xBEEF
    assert flags & 0x8000  # QR
    assert flags & 0xF == dns.rcode.FORMERR
    assert (flags >> 11) & 0xF == dns.opcode.QUERY


def notify_query() -> bytes:
    """A NOTIFY (opcode 4) for example.com SOA."""
    query = dns.message.make_query("example.com", "SOA")
    query.set_opcode(dns.opcode.NOTIFY)
    query.flags |= dns.flags.AA
    query.id = 0xBEEF
    return query.to_wire()


def update_query() -> bytes:
    """A dynamic UPDATE (opcode 5) adding an A record."""
    update = dns.update.UpdateMessage("example.com")
    update.add("new", 300, "A", "192.0.2.99")
    update.id = 0xBEEF
    return update.to_wire()


def iquery_query() -> bytes:
    """An inverse query (opcode 1, obsolete)."""
    query = dns.message.make_query("www.example.com", "A")
    query.set_opcode(dns.opcode.IQUERY)
    query.id = 0xBEEF
    return query.to_wire()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("make", "opcode"),
    [
        (notify_query, dns.opcode.NOTIFY),
        (update_query, dns.opcode.UPDATE),
        (iquery_query, dns.opcode.IQUERY),
    ],
    ids=["notify", "update", "iquery"],
)
def test_other_opcodes_get_notimp(server, make, opcode, transport):
    """Opcodes other than QUERY get NOTIMP, with the opcode echoed."""
    reply = exchange(server, make(), transport)
    assert reply is not None
    ident, flags, *_ = header(reply)
    assert ident == 0xBEEF
    assert flags & 0x8000
    assert (flags >> 11) & 0xF == opcode
    assert flags & 0xF == dns.rcode.NOTIMP
    assert not flags & 0x0400  # no AA


def qr_set_packet() -> bytes:
    """A query with the QR (response) bit set."""
    wire = bytearray(query_wire("www.example.com", "A"))
    wire[2] |= 0x80
    return bytes(wire)


@pytest.mark.parametrize(
    "packet",
    [qr_set_packet(), b"\x12\x34\x01\x00\x00", b"", b"\x00" * 11],
    ids=["qr-set", "5-bytes", "empty", "11-bytes"],
)
def test_no_reply_to_responses_and_short_packets(server, packet):
    """A packet with QR set, or shorter than a header, gets no reply at all."""
    assert udp_raw(server, packet, timeout=SILENCE) is None
    assert_still_answers(server)


def test_qr_set_over_tcp_gets_no_reply(server):
    """Over TCP a QR-set message is skipped and the next pipelined query is answered."""
    normal = query_wire("www.example.com", "A", ident=0x4242)
    (reply,) = tcp_raw(server, [qr_set_packet(), normal], replies=1)  # none to QR=1
    assert header(reply)[0] == 0x4242


@pytest.mark.parametrize(
    "packet",
    [
        struct.pack("!6H", 1, 0x0100, 1, 0, 0, 0) + b"\x3fabc",  # label runs off the end
        struct.pack("!6H", 2, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",  # pointer loop
        query_wire("www.example.com", "A")[:-3],  # question cut short
        bytes(range(256)) * 2,
    ],
    ids=["bad-label", "pointer-loop", "cut-question", "garbage"],
)
def test_garbage_never_stops_the_server(server, packet):
    """Malformed queries get FORMERR or nothing, never a crash."""
    reply = udp_raw(server, packet, timeout=SILENCE)
    if reply is not None:
        assert header(reply)[1] & 0x8000
        assert header(reply)[1] & 0xF in (dns.rcode.FORMERR, dns.rcode.NOTIMP)
    assert_still_answers(server)


# --------------------------------------------------------------------------- TCP


def test_tcp_pipelined_queries_answered_in_order(server):
    """Several queries on one TCP connection are all answered, in order."""
    names = ["www.example.com", "nope.example.com", "mail.example.com", "x.apps.example.com"]
    wires = [query_wire(n, "A", ident=100 + i) for i, n in enumerate(names)]
    replies = [dns.message.from_wire(r) for r in tcp_raw(server, wires)]
    assert [r.id for r in replies] == [100, 101, 102, 103]
    assert [r.rcode() for r in replies] == [
        dns.rcode.NOERROR,
        dns.rcode.NXDOMAIN,
        dns.rcode.NOERROR,
        dns.rcode.NOERROR,
    ]
    assert_section(replies[2].answer, [rrset("mail.example.com.", 3600, "A", "192.0.2.25")])


def test_tcp_idle_connection_is_closed(start_server, tmp_path):
    """An idle TCP connection is closed after the configured idle timeout."""
    config = "tcp: {idle_timeout: 0.5, max_connections: 256}\n"
    srv = start_with_config(start_server, tmp_path, config)
    with socket.create_connection((srv.host, srv.port), timeout=5) as sock:
        wire = query_wire("www.example.com", "A")
        sock.sendall(struct.pack("!H", len(wire)) + wire)
        (length,) = struct.unpack("!H", recv_exactly(sock, 2))
        assert len(recv_exactly(sock, length)) == length
        started = time.monotonic()
        assert sock.recv(1) == b""  # EOF: the server closed the idle connection
        assert time.monotonic() - started < 4


def test_tcp_config_idle_timeout_alone(start_server, tmp_path):
    """`tcp: {idle_timeout: N}` alone is a valid config (max_connections keeps its default)."""
    srv = start_with_config(start_server, tmp_path, "tcp: {idle_timeout: 5}\n")
    assert_still_answers(srv)


# --------------------------------------------------------------------------- ANY


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    "name",
    ["example.com", "www.example.com", "example.net", "docs.example.com", "x.apps.example.com"],
)
def test_any_gets_minimal_reply(server, name, transport):
    """ANY gets NOERROR with at most one RRset, owned by the query name (RFC 8482)."""
    reply = ask(server, name, "ANY", transport)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert len(reply.answer) <= 1
    for rr in reply.answer:
        assert rr.name == dns.name.from_text(name)
    assert not reply.flags & dns.flags.TC


@pytest.mark.parametrize(
    ("name", "rcode"),
    [("lab.example.com", dns.rcode.NOERROR), ("nope.example.com", dns.rcode.NXDOMAIN)],
)
def test_any_negative(server, name, rcode):
    """ANY at an empty non-terminal is NODATA and at a missing name NXDOMAIN, with the SOA."""
    assert_negative(ask(server, name, "ANY"), rcode, "example.com.", 60)


def test_any_at_cname_gives_the_cname(server):
    """ANY at a CNAME name gives the CNAME (README choice)."""
    reply = ask(server, "docs.example.com", "ANY")
    assert_section(reply.answer, [rrset("docs.example.com.", 300, "CNAME", "www.example.com.")])


# --------------------------------------------------------------------------- CHAOS


def chaos_text(srv: ServerProcess, name: str, transport: str = "udp") -> dns.message.Message:
    """Ask a CHAOS-class TXT question."""
    return ask(srv, name, "TXT", transport, rdclass="CH")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("name", ["version.bind", "version.server"])
def test_chaos_version(server, name, transport):
    """version.bind CH TXT answers the program name and version."""
    reply = chaos_text(server, name, transport)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert len(reply.answer) == 1 and reply.answer[0].rdclass == dns.rdataclass.CH
    assert reply.answer[0].rdtype == dns.rdatatype.TXT
    (text,) = answer_texts(reply)
    assert text.startswith(b"policydns ")


@pytest.mark.parametrize("name", ["id.server", "hostname.bind"])
def test_chaos_id(server, name):
    """id.server CH TXT answers the host name."""
    reply = chaos_text(server, name)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert reply.answer[0].rdclass == dns.rdataclass.CH
    assert answer_texts(reply) == [socket.gethostname().encode()]


def test_chaos_unknown_name_refused(server):
    """Other CHAOS names get REFUSED."""
    reply = chaos_text(server, "authors.bind")
    assert reply.rcode() == dns.rcode.REFUSED
    assert reply.answer == []


def test_chaos_disabled_by_config(start_server, tmp_path):
    """Config `chaos: false` makes version.bind and id.server REFUSED."""
    srv = start_with_config(start_server, tmp_path, "chaos: false\n")
    for name in ("version.bind", "id.server"):
        reply = chaos_text(srv, name)
        assert reply.rcode() == dns.rcode.REFUSED
        assert reply.answer == []
    assert_still_answers(srv)


def test_chaos_custom_version(start_server, tmp_path):
    """Config `chaos: {version: custom}` answers that text; id.server is unchanged."""
    srv = start_with_config(start_server, tmp_path, 'chaos: {version: "custom"}\n')
    assert answer_texts(chaos_text(srv, "version.bind")) == [b"custom"]
    assert answer_texts(chaos_text(srv, "id.server")) == [socket.gethostname().encode()]


# --------------------------------------------------------------------------- record types

RECORDS = [
    ("example.net", "MX", ["10 mx1.example.net.", "20 mx2.example.net."]),
    (
        "example.net",
        "TXT",
        ['"v=spf1 include:_spf.example.net -all"', '"a text value with spaces"'],
    ),
    ("example.net", "SPF", ['"v=spf1 -all"']),
    ("example.net", "CAA", ['0 issue "letsencrypt.org"', '0 iodef "mailto:security@example.net"']),
    ("example.net", "HTTPS", ["1 . alpn=h2,h3 ipv4hint=192.0.2.80"]),
    ("example.net", "NS", ["ns1.example.net."]),
    ("mx1.example.net", "A", ["192.0.2.81"]),
    ("mx2.example.net", "A", ["192.0.2.82"]),
    ("mx2.example.net", "AAAA", ["2001:db8:2::82"]),
    ("ns.example.net", "A", ["192.0.2.83"]),
    ("_sip._udp.example.net", "SRV", ["10 60 5060 sip.example.net."]),
    ("sip.example.net", "A", ["192.0.2.84"]),
    ("sip.example.net", "NAPTR", ['100 10 "S" "SIP+D2U" "" _sip._udp.example.net.']),
    ("ssh.example.net", "SSHFP", ["4 2 " + "0123456789abcdef" * 4]),
    ("_443._tcp.www.example.net", "TLSA", ["3 1 1 " + "0123456789abcdef" * 4]),
    ("_svc.example.net", "SVCB", ["1 svc.example.net. alpn=h2 port=8443"]),
    ("svc.example.net", "A", ["192.0.2.85"]),
    ("10.2.0.192.in-addr.example.net", "PTR", ["host.example.net."]),
]


@pytest.mark.parametrize(
    ("name", "rdtype", "values"), RECORDS, ids=[f"{n}-{t}" for n, t, _ in RECORDS]
)
def test_record_type_rdata(server, name, rdtype, values):
    """Every record type of records.example.net.yaml answers the right rdata and TTL."""
    reply = ask(server, name, rdtype, use_edns=0)
    assert_rcode(reply, dns.rcode.NOERROR)
    expected = rrset(name + ".", 3600, rdtype, *values)
    assert_section(reply.answer, [expected])
    assert reply.answer[0] == expected  # rdata objects equal, not just their text


def test_long_txt_split_into_255_byte_strings(server):
    """A TXT value longer than 255 bytes is sent as 255-byte character-strings."""
    reply = ask(server, "long.example.net", "TXT", use_edns=0)
    assert_rcode(reply, dns.rcode.NOERROR)
    assert len(reply.answer) == 1 and len(reply.answer[0]) == 1
    strings = reply.answer[0][0].strings
    data = LONG_TEXT.encode()
    assert len(data) > 255
    assert strings == tuple(data[i : i + 255] for i in range(0, len(data), 255))
    assert reply.answer[0].ttl == 3600


def test_long_txt_matches_zone_file(server):
    """The long TXT text in the test matches the zone file (guards the constant above)."""
    text = (ZONES / "records.example.net.yaml").read_text()
    assert LONG_TEXT in text


def test_multi_string_txt_values_are_one_string_each(server):
    """Short TXT values with spaces are one character-string each."""
    reply = ask(server, "example.net", "TXT")
    strings = sorted(rd.strings for rd in reply.answer[0])
    assert strings == [(b"a text value with spaces",), (b"v=spf1 include:_spf.example.net -all",)]


# --------------------------------------------------------------------------- dig

DIG = shutil.which("dig")
needs_dig = pytest.mark.skipif(DIG is None, reason="dig is not installed")


def dig(srv: ServerProcess, *args: str) -> tuple[str, str, list[list[str]]]:
    """Run dig; return (status, flags, answer lines split on whitespace)."""
    out = subprocess.run(
        [DIG, f"@{srv.host}", "-p", str(srv.port), *args, "+norec", "+time=2", "+tries=1"],
        capture_output=True,
        text=True,
        timeout=15,
        check=True,
    ).stdout
    status = re.search(r"status: (\w+)", out)
    flags = re.search(r";; flags: ([a-z ]*);", out)
    assert status and flags, out
    answer: list[list[str]] = []
    section = None
    for line in out.splitlines():
        if line.startswith(";; ") and line.endswith("SECTION:"):
            section = line[3:].split()[0]
            continue
        if section == "ANSWER" and line and not line.startswith(";"):
            answer.append(line.split())
    return status.group(1), flags.group(1), answer


@needs_dig
@pytest.mark.parametrize("extra", [[], ["+tcp"], ["+noedns"]])
def test_dig_answer(server, extra):
    """dig sees NOERROR, the aa flag and the A records of www.example.com."""
    status, flags, answer = dig(server, "www.example.com", "A", *extra)
    assert status == "NOERROR"
    assert "aa" in flags.split() and "qr" in flags.split()
    assert sorted(answer) == [
        ["www.example.com.", "300", "IN", "A", "192.0.2.10"],
        ["www.example.com.", "300", "IN", "A", "192.0.2.11"],
    ]


@needs_dig
@pytest.mark.parametrize("extra", [[], ["+tcp"]])
def test_dig_nxdomain(server, extra):
    """dig sees NXDOMAIN with aa for a missing name."""
    status, flags, answer = dig(server, "missing.example.com", "A", *extra)
    assert status == "NXDOMAIN"
    assert "aa" in flags.split()
    assert answer == []


@needs_dig
def test_dig_refused(server):
    """dig sees REFUSED without aa outside our zones."""
    status, flags, _ = dig(server, "www.example.invalid", "A")
    assert status == "REFUSED"
    assert "aa" not in flags.split()
