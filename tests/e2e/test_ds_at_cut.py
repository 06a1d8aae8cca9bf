"""DS at a zone cut is the parent's data (RFC 4035 section 3.1.4.1), end to end.

The parent answers even when the child zone is served by the same server (SPEC section 7);
a zone whose parent is not served, or does not delegate to it, still answers for itself.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from tests import dnshelp
from tests.serverproc import ServerProcess

pytestmark = pytest.mark.timeout(60)

TRANSPORTS = ["udp", "tcp"]
DS_TEXT = "12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE3C8C8C2E2E2E2E2E2E2E2E2E"
AWAY_DS = "54321 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"

# The parent delegates signed (with DS), unsigned (no DS) and away (child not served here);
# orphan is served as a zone but the parent does not delegate it.
PARENT_ZONE = f"""\
zone: parent.test
ttl: 600
soa: {{minimum: 60}}
records:
  signed: [{{type: NS, values: [ns.parent.test.]}}, {{type: DS, values: ["{DS_TEXT}"]}}]
  unsigned: [{{type: NS, values: [ns.parent.test.]}}]
  away: [{{type: NS, values: [ns.elsewhere.invalid.]}}, {{type: DS, values: ["{AWAY_DS}"]}}]
  ns: [{{type: A, values: [192.0.2.53]}}]
"""


def child_zone(origin: str, minimum: int) -> str:
    """A child zone with its own SOA minimum, so whose SOA came back is visible."""
    return (
        f"zone: {origin}\nttl: 300\nsoa: {{minimum: {minimum}}}\n"
        "records:\n  '@': [{type: A, values: [192.0.2.1]}]\n"
        "  www: [{type: A, values: [192.0.2.2]}]\n"
    )


ZONES = {
    "parent.yaml": PARENT_ZONE,
    "signed.yaml": child_zone("signed.parent.test", 31),
    "unsigned.yaml": child_zone("unsigned.parent.test", 32),
    "orphan.yaml": child_zone("orphan.parent.test", 33),
    "deep.yaml": child_zone("deep.away.parent.test", 34),
    "lone.yaml": child_zone("lone.test", 35),
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module, serving the parent and its children."""
    zone_dir = tmp_path_factory.mktemp("ds-zones")
    for name, text in ZONES.items():
        (zone_dir / name).write_text(text)
    proc = ServerProcess(["--zones", str(zone_dir), "--listen", "127.0.0.1:0", "--no-http"])
    proc.start(zone_dir.parent / "ds-server.log")
    yield proc
    proc.stop()


# Non-recursive, as a resolver asks an authoritative server.
ask = functools.partial(dnshelp.ask, rd=False)


def key(rr: dns.rrset.RRset) -> tuple:
    """An RRset's name, type, TTL and values (dnspython's == skips the TTL)."""
    return (rr.name.to_text().lower(), rr.rdtype, rr.ttl, sorted(rd.to_text() for rd in rr))


def negative_soa(reply: dns.message.Message) -> tuple[str, int]:
    """The owner and TTL of the one SOA in authority (whose zone answered, and with which
    negative TTL)."""
    assert len(reply.authority) == 1, reply.authority
    soa = reply.authority[0]
    assert soa.rdtype == dns.rdatatype.SOA
    return soa.name.to_text().lower(), soa.ttl


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ds_at_cut_to_served_child_comes_from_parent(srv, transport):
    """The parent's DS, with AA, though the child zone is served here too."""
    reply = ask(srv, "signed.parent.test", "DS", transport)
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    expected = dns.rrset.from_text("signed.parent.test.", 600, "IN", "DS", DS_TEXT)
    assert [key(r) for r in reply.answer] == [key(expected)]
    assert reply.authority == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ds_at_unsigned_cut_to_served_child_is_parent_nodata(srv, transport):
    """No DS in the parent: NODATA with the parent's SOA (not the child's)."""
    reply = ask(srv, "unsigned.parent.test", "DS", transport)
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert reply.answer == []
    assert negative_soa(reply) == ("parent.test.", 60)


def test_ds_at_cut_to_child_not_served_still_from_parent(srv):
    """The child is elsewhere: the parent's DS with AA, not a referral."""
    reply = ask(srv, "away.parent.test", "DS")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    expected = dns.rrset.from_text("away.parent.test.", 600, "IN", "DS", AWAY_DS)
    assert [key(r) for r in reply.answer] == [key(expected)]


def test_ds_at_served_zone_below_foreign_cut_is_referral(srv):
    """deep.away.parent.test's parent zone is away.parent.test, served elsewhere: the
    served grandparent refers there, as for any name below its cut."""
    reply = ask(srv, "deep.away.parent.test", "DS")
    assert reply.rcode() == dns.rcode.NOERROR
    assert not reply.flags & dns.flags.AA
    assert reply.answer == []
    assert [r.name.to_text() for r in reply.authority] == ["away.parent.test."]
    assert reply.authority[0].rdtype == dns.rdatatype.NS


def test_ds_at_apex_not_delegated_by_parent_is_child_nodata(srv):
    """A parent that does not delegate knows nothing there; the child answers NODATA
    rather than the parent denying a name that exists (RFC 8020)."""
    reply = ask(srv, "orphan.parent.test", "DS")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert reply.answer == []
    assert negative_soa(reply) == ("orphan.parent.test.", 33)


def test_ds_at_apex_without_served_parent_is_own_nodata(srv):
    """No parent zone here: the zone itself answers NODATA with its SOA."""
    reply = ask(srv, "lone.test", "DS")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert reply.answer == []
    assert negative_soa(reply) == ("lone.test.", 35)


def test_ds_below_child_apex_and_other_types_stay_with_child(srv):
    """Only DS at the apex moves to the parent: the child answers the rest."""
    reply = ask(srv, "www.signed.parent.test", "DS")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.answer == []
    assert negative_soa(reply) == ("signed.parent.test.", 31)
    reply = ask(srv, "signed.parent.test", "A")
    assert reply.flags & dns.flags.AA
    expected = dns.rrset.from_text("signed.parent.test.", 300, "IN", "A", "192.0.2.1")
    assert [key(r) for r in reply.answer] == [key(expected)]
    reply = ask(srv, "nothere.signed.parent.test", "DS")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert negative_soa(reply) == ("signed.parent.test.", 31)
