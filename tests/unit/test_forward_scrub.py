"""scrub on upstream replies built with dnspython: bailiwick, poisoning, TTLs, lifetimes."""

from __future__ import annotations

import struct

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from resolver.forward.scrub import Scrubbed, ScrubError, scrub
from resolver.wire import names
from resolver.wire.reply import question_wire

ROOT: names.Name = ()


def key_of(qname: str, qtype: str = "A") -> bytes:
    return question_wire(names.from_text(qname), dns.rdatatype.from_text(qtype), 1)


def upstream(
    qname: str,
    qtype: str = "A",
    answer: tuple[str, ...] = (),
    authority: tuple[str, ...] = (),
    additional: tuple[str, ...] = (),
    rcode: int = dns.rcode.NOERROR,
    dnssec: bool = False,
) -> bytes:
    """An upstream resolver's reply: records as 'owner ttl class type rdata' lines."""
    query = dns.message.make_query(qname, qtype, want_dnssec=dnssec)
    reply = dns.message.make_response(query)
    reply.flags |= dns.flags.RA | dns.flags.AA | dns.flags.AD
    reply.set_rcode(rcode)
    for section, lines in (
        (reply.answer, answer),
        (reply.authority, authority),
        (reply.additional, additional),
    ):
        for line in lines:
            owner, ttl, rdclass, rdtype, rdata = line.split(None, 4)
            section.append(dns.rrset.from_text(owner, int(ttl), rdclass, rdtype, rdata))
    return reply.to_wire()


def run(
    wire: bytes,
    qname: str,
    qtype: str = "A",
    domain: str = ".",
    min_ttl: int = 0,
    max_ttl: int = 86400,
) -> tuple[Scrubbed, dns.message.Message]:
    out = scrub(wire, key_of(qname, qtype), names.from_text(domain), min_ttl, max_ttl)
    return out, dns.message.from_wire(out.body)


def rows(section: list[dns.rrset.RRset]) -> set[tuple[str, str, str]]:
    """(owner, type, rdata) of each record, names lowercase."""
    return {
        (rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype), rd.to_text().lower())
        for rrset in section
        for rd in rrset
    }


def test_a_positive_answer_is_kept_with_ra_and_no_aa_and_its_ttl() -> None:
    wire = upstream("www.example.com", answer=("www.example.com. 300 IN A 192.0.2.1",))
    out, message = run(wire, "www.example.com")
    assert rows(message.answer) == {("www.example.com.", "A", "192.0.2.1")}
    assert message.id == 0
    assert message.flags & dns.flags.QR and message.flags & dns.flags.RA
    for flag in (dns.flags.AA, dns.flags.TC, dns.flags.AD, dns.flags.CD, dns.flags.RD):
        assert not message.flags & flag
    assert (out.ttls, out.lifetime, out.negative, out.dropped) == ((300,), 300, False, 0)
    assert struct.unpack_from("!I", out.body, out.ttl_offsets[0])[0] == 300
    assert out.body[12 : 12 + len(key_of("www.example.com"))] == key_of("www.example.com")


def test_the_question_is_the_lowercase_key_whatever_case_upstream_echoed() -> None:
    wire = upstream("WwW.ExAmple.COM", answer=("WwW.ExAmple.COM. 60 IN A 192.0.2.1",))
    out, message = run(wire, "www.example.com")
    assert message.question[0].name.to_text() == "www.example.com."
    assert out.lifetime == 60


def test_a_cname_chain_is_followed_and_the_shortest_ttl_is_the_lifetime() -> None:
    wire = upstream(
        "www.example.com",
        answer=(
            "www.example.com. 300 IN CNAME web.example.com.",
            "web.example.com. 200 IN CNAME edge.cdn.test.",
            "edge.cdn.test. 90 IN A 192.0.2.7",
        ),
    )
    out, message = run(wire, "www.example.com")
    assert rows(message.answer) == {
        ("www.example.com.", "CNAME", "web.example.com."),
        ("web.example.com.", "CNAME", "edge.cdn.test."),
        ("edge.cdn.test.", "A", "192.0.2.7"),
    }
    assert (out.ttls, out.lifetime, out.negative, out.dropped) == ((300, 200, 90), 90, False, 0)


def test_a_chain_leaving_the_domain_keeps_only_its_part_inside() -> None:
    wire = upstream(
        "www.corp.test",
        answer=(
            "www.corp.test. 300 IN CNAME host.elsewhere.test.",
            "host.elsewhere.test. 300 IN A 192.0.2.8",
        ),
    )
    out, message = run(wire, "www.corp.test", domain="corp.test")
    assert rows(message.answer) == {("www.corp.test.", "CNAME", "host.elsewhere.test.")}
    assert out.dropped == 1
    # The data asked for is outside the route: nothing to cache for it (no SOA either).
    assert out.negative and out.lifetime == 0


def test_a_chain_coming_back_into_the_domain_through_an_outside_name_stops_outside() -> None:
    wire = upstream(
        "a.corp.test",
        answer=(
            "a.corp.test. 300 IN CNAME x.other.test.",
            "x.other.test. 300 IN CNAME b.corp.test.",
            "b.corp.test. 300 IN A 192.0.2.9",
        ),
    )
    out, message = run(wire, "a.corp.test", domain="corp.test")
    assert rows(message.answer) == {("a.corp.test.", "CNAME", "x.other.test.")}
    assert out.dropped == 2


def test_a_dname_and_its_synthesized_cname_are_kept() -> None:
    wire = upstream(
        "www.old.test",
        answer=(
            "old.test. 300 IN DNAME new.test.",
            "www.old.test. 300 IN CNAME www.new.test.",
            "www.new.test. 300 IN A 192.0.2.10",
        ),
    )
    out, message = run(wire, "www.old.test")
    assert rows(message.answer) == {
        ("old.test.", "DNAME", "new.test."),
        ("www.old.test.", "CNAME", "www.new.test."),
        ("www.new.test.", "A", "192.0.2.10"),
    }
    assert out.dropped == 0 and out.lifetime == 300


def test_a_dname_not_above_the_chain_is_dropped() -> None:
    wire = upstream(
        "www.example.com",
        answer=("evil.test. 300 IN DNAME example.net.", "www.example.com. 300 IN A 192.0.2.1"),
    )
    out, message = run(wire, "www.example.com")
    assert rows(message.answer) == {("www.example.com.", "A", "192.0.2.1")}
    assert out.dropped == 1


def test_a_cname_loop_ends_after_sixteen_hops() -> None:
    wire = upstream(
        "a.loop.test",
        answer=("a.loop.test. 60 IN CNAME b.loop.test.", "b.loop.test. 60 IN CNAME a.loop.test."),
    )
    out, message = run(wire, "a.loop.test")
    assert len(rows(message.answer)) == 2
    assert out.negative and out.lifetime == 0


def test_poisoning_attempts_are_dropped_and_counted() -> None:
    wire = upstream(
        "www.example.com",
        answer=(
            "www.example.com. 300 IN A 192.0.2.1",
            "www.bank.test. 300 IN A 203.0.113.66",  # another name
            'www.example.com. 300 IN TXT "not asked"',  # another type at the name
        ),
        authority=(
            "example.com. 300 IN NS ns1.example.com.",
            "bank.test. 300 IN NS ns.attacker.test.",  # an unrelated zone
            "attacker.test. 300 IN SOA ns.attacker.test. h.attacker.test. 1 2 3 4 5",
            "www.example.com. 300 IN A 192.0.2.99",  # a type authority never holds
        ),
        additional=(
            "ns1.example.com. 300 IN A 192.0.2.53",  # glue for the kept NS
            "ns.attacker.test. 300 IN A 203.0.113.53",  # glue named by the dropped NS
            "mail.example.com. 300 IN A 192.0.2.25",  # not named by any NS
            'ns1.example.com. 300 IN TXT "glue is A or AAAA"',
        ),
    )
    out, message = run(wire, "www.example.com")
    assert rows(message.answer) == {("www.example.com.", "A", "192.0.2.1")}
    assert rows(message.authority) == {("example.com.", "NS", "ns1.example.com.")}
    assert rows(message.additional) == {("ns1.example.com.", "A", "192.0.2.53")}
    assert out.dropped == 8
    assert out.lifetime == 300 and not out.negative


def test_an_ns_record_for_an_unrelated_zone_does_not_become_the_zone() -> None:
    wire = upstream(
        "www.example.com",
        answer=("www.example.com. 300 IN A 192.0.2.1",),
        authority=("evil.test. 300 IN NS ns.evil.test.",),
        additional=("ns.evil.test. 300 IN A 203.0.113.1",),
    )
    out, message = run(wire, "www.example.com")
    assert not message.authority and not message.additional
    assert out.dropped == 2


def test_records_outside_the_route_domain_are_dropped_even_for_the_zone() -> None:
    """Routed for corp.test, an upstream cannot vouch for test. or the root."""
    wire = upstream(
        "x.corp.test",
        rcode=dns.rcode.NXDOMAIN,
        authority=("test. 900 IN SOA ns.test. h.test. 1 2 3 4 300",),
    )
    out, message = run(wire, "x.corp.test", domain="corp.test")
    assert not message.authority
    assert out.negative and out.lifetime == 0 and out.dropped == 1


def test_nxdomain_is_cached_for_the_soa_minimum_capped_by_its_ttl() -> None:
    soa = "example.com. 3600 IN SOA ns1.example.com. host.example.com. 1 7200 900 1209600 60"
    wire = upstream("nope.example.com", rcode=dns.rcode.NXDOMAIN, authority=(soa,))
    out, message = run(wire, "nope.example.com")
    assert message.rcode() == dns.rcode.NXDOMAIN
    assert out.negative and out.lifetime == 60 and out.ttls == (60,)
    assert message.authority[0].ttl == 60


def test_the_negative_ttl_is_the_soa_ttl_when_that_is_lower() -> None:
    soa = "example.com. 30 IN SOA ns1.example.com. host.example.com. 1 7200 900 1209600 600"
    wire = upstream("nope.example.com", rcode=dns.rcode.NXDOMAIN, authority=(soa,))
    out, _ = run(wire, "nope.example.com")
    assert out.lifetime == 30


def test_nodata_is_negative_and_cached_for_the_soa_minimum() -> None:
    soa = "example.com. 3600 IN SOA ns1.example.com. host.example.com. 1 7200 900 1209600 120"
    wire = upstream("www.example.com", "AAAA", authority=(soa,))
    out, message = run(wire, "www.example.com", "AAAA")
    assert message.rcode() == dns.rcode.NOERROR and not message.answer
    assert out.negative and out.lifetime == 120


def test_nodata_after_a_cname_keeps_the_chain_and_counts_its_ttl() -> None:
    soa = "cdn.test. 3600 IN SOA ns.cdn.test. h.cdn.test. 1 2 3 4 600"
    wire = upstream(
        "www.example.com",
        "AAAA",
        answer=("www.example.com. 100 IN CNAME edge.cdn.test.",),
        authority=(soa,),
    )
    out, message = run(wire, "www.example.com", "AAAA")
    assert rows(message.answer) == {("www.example.com.", "CNAME", "edge.cdn.test.")}
    assert rows(message.authority) == {("cdn.test.", "SOA", soa.split(None, 4)[4])}
    assert out.negative and out.lifetime == 100


def test_a_negative_answer_without_soa_is_not_cached() -> None:
    for rcode in (dns.rcode.NXDOMAIN, dns.rcode.NOERROR):
        out, _ = run(upstream("nope.example.com", rcode=rcode), "nope.example.com")
        assert out.negative and out.lifetime == 0


def test_ttls_are_clamped_to_min_and_max() -> None:
    wire = upstream(
        "www.example.com",
        answer=("www.example.com. 5 IN A 192.0.2.1", "www.example.com. 5 IN A 192.0.2.2"),
        authority=("example.com. 999999 IN NS ns1.example.com.",),
    )
    out, message = run(wire, "www.example.com", min_ttl=30, max_ttl=3600)
    assert out.ttls == (30, 30, 3600) and out.lifetime == 30
    assert [rrset.ttl for rrset in message.answer + message.authority] == [30, 3600]
    soa = "example.com. 3600 IN SOA ns1.example.com. host.example.com. 1 7200 900 1209600 5"
    negative = upstream("nope.example.com", rcode=dns.rcode.NXDOMAIN, authority=(soa,))
    out, _ = run(negative, "nope.example.com", min_ttl=45)
    assert out.lifetime == 45 and out.ttls == (45,)


def test_a_zero_ttl_is_not_cached_and_a_large_one_is_kept() -> None:
    out, _ = run(upstream("a.test", answer=("a.test. 0 IN A 192.0.2.1",)), "a.test")
    assert out.lifetime == 0
    big = upstream("a.test", answer=("a.test. 2147483647 IN A 192.0.2.1",))
    out, _ = run(big, "a.test", max_ttl=2**31 - 1)
    assert out.lifetime == 2**31 - 1


def test_a_ttl_with_the_top_bit_set_counts_as_zero_and_is_not_cached() -> None:
    wire = bytearray(upstream("a.test", answer=("a.test. 300 IN A 192.0.2.1",)))
    ttl_at = wire.rindex(struct.pack("!I", 300))
    struct.pack_into("!I", wire, ttl_at, 2**31)
    out, _ = run(bytes(wire), "a.test", min_ttl=0)
    assert out.ttls == (0,) and out.lifetime == 0
    out, _ = run(bytes(wire), "a.test", min_ttl=60)
    assert out.ttls == (60,) and out.lifetime == 0


@pytest.mark.parametrize("rcode", [dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.FORMERR])
def test_error_rcodes_are_passed_on_but_not_cached(rcode: int) -> None:
    soa = "example.com. 3600 IN SOA ns1.example.com. host.example.com. 1 7200 900 1209600 60"
    out, message = run(upstream("a.example.com", rcode=rcode, authority=(soa,)), "a.example.com")
    assert message.rcode() == rcode and out.lifetime == 0


def test_a_truncated_reply_is_not_cached_and_tc_is_not_passed_on() -> None:
    wire = bytearray(upstream("a.test", answer=("a.test. 300 IN A 192.0.2.1",)))
    wire[2] |= 0x02  # TC
    out, message = run(bytes(wire), "a.test")
    assert out.lifetime == 0 and not message.flags & dns.flags.TC


def test_an_extended_rcode_in_the_opt_record_makes_it_uncacheable() -> None:
    query = dns.message.make_query("a.test", "A", use_edns=0)
    reply = dns.message.make_response(query)
    reply.set_rcode(dns.rcode.BADVERS)
    reply.answer.append(dns.rrset.from_text("a.test.", 300, "IN", "A", "192.0.2.1"))
    out, message = run(reply.to_wire(), "a.test")
    assert out.lifetime == 0 and message.opt is None


def test_opt_in_the_reply_is_dropped_and_not_counted() -> None:
    query = dns.message.make_query("a.test", "A", use_edns=0, payload=4096)
    reply = dns.message.make_response(query)
    reply.use_edns(0, payload=4096, options=[dns.edns.GenericOption(65001, b"upstream")])
    reply.answer.append(dns.rrset.from_text("a.test.", 300, "IN", "A", "192.0.2.1"))
    out, message = run(reply.to_wire(), "a.test")
    assert message.opt is None and out.body[10:12] == b"\x00\x00"
    assert out.dropped == 0 and out.lifetime == 300


def test_dnssec_records_are_kept_with_what_they_sign() -> None:
    sig = "A 13 3 300 20300101000000 20200101000000 12345 example.com. AAAA"
    soa_sig = "SOA 13 2 3600 20300101000000 20200101000000 12345 example.com. AAAA"
    wire = upstream(
        "www.example.com",
        answer=(
            "www.example.com. 300 IN A 192.0.2.1",
            f"www.example.com. 300 IN RRSIG {sig}",
            f"other.example.com. 300 IN RRSIG {sig}",  # signs nothing kept
        ),
        dnssec=True,
    )
    out, message = run(wire, "www.example.com")
    assert {row[:2] for row in rows(message.answer)} == {
        ("www.example.com.", "A"),
        ("www.example.com.", "RRSIG"),
    }
    assert out.dropped == 1
    soa = "example.com. 3600 IN SOA ns1.example.com. host.example.com. 1 7200 900 1209600 60"
    negative = upstream(
        "nope.example.com",
        rcode=dns.rcode.NXDOMAIN,
        authority=(
            soa,
            f"example.com. 3600 IN RRSIG {soa_sig}",
            "example.com. 3600 IN NSEC zz.example.com. A NS SOA RRSIG NSEC",
            "nonce.example.com. 3600 IN NSEC zz.example.com. A RRSIG NSEC",
            "example.com. 3600 IN DS 12345 13 2 " + "ab" * 32,
        ),
        dnssec=True,
    )
    out, message = run(negative, "nope.example.com")
    assert {row[:2] for row in rows(message.authority)} == {
        ("example.com.", "SOA"),
        ("example.com.", "RRSIG"),
        ("example.com.", "NSEC"),
        ("nonce.example.com.", "NSEC"),
        ("example.com.", "DS"),
    }
    assert out.lifetime == 60 and out.dropped == 0


def test_ttl_offsets_point_at_every_record_ttl() -> None:
    wire = upstream(
        "www.example.com",
        answer=(
            "www.example.com. 300 IN CNAME web.example.com.",
            "web.example.com. 77 IN A 1.2.3.4",
        ),
        authority=("example.com. 500 IN NS ns1.example.com.",),
        additional=("ns1.example.com. 400 IN AAAA 2001:db8::53",),
    )
    out, _ = run(wire, "www.example.com")
    assert out.ttls == (300, 77, 500, 400)
    assert tuple(struct.unpack_from("!I", out.body, at)[0] for at in out.ttl_offsets) == out.ttls


def test_the_any_question_keeps_every_type_at_the_name() -> None:
    wire = upstream(
        "a.test",
        "ANY",
        answer=("a.test. 300 IN A 192.0.2.1", 'a.test. 200 IN TXT "x"', "b.test. 1 IN A 1.1.1.1"),
    )
    out, message = run(wire, "a.test", "ANY")
    assert {row[1] for row in rows(message.answer)} == {"A", "TXT"}
    assert out.lifetime == 200 and out.dropped == 1 and not out.negative


def test_a_cname_question_gets_the_cname_without_following_it() -> None:
    wire = upstream(
        "www.example.com",
        "CNAME",
        answer=(
            "www.example.com. 300 IN CNAME web.example.com.",
            "web.example.com. 1 IN A 1.2.3.4",
        ),
    )
    out, message = run(wire, "www.example.com", "CNAME")
    assert rows(message.answer) == {("www.example.com.", "CNAME", "web.example.com.")}
    assert out.lifetime == 300 and out.dropped == 1


def test_another_class_is_dropped() -> None:
    wire = upstream("a.test", answer=("a.test. 300 IN A 192.0.2.1", 'a.test. 300 CH TXT "chaos"'))
    out, message = run(wire, "a.test")
    assert rows(message.answer) == {("a.test.", "A", "192.0.2.1")}
    assert out.dropped == 1


def test_unusable_replies_raise_scrub_error() -> None:
    good = upstream("a.test", answer=("a.test. 300 IN A 192.0.2.1",))
    query = dns.message.make_query("a.test", "A").to_wire()
    other = upstream("b.test", answer=("b.test. 300 IN A 192.0.2.1",))
    for bad in (b"", b"\x00" * 11, good[:-2], query, other, good[:12] + b"\xff" * 40):
        with pytest.raises(ScrubError):
            scrub(bad, key_of("a.test"), ROOT, 0, 86400)
    with pytest.raises(ScrubError):
        scrub(good, key_of("a.test", "AAAA"), ROOT, 0, 86400)


def test_a_compressed_dname_target_is_dropped_not_copied() -> None:
    """A pointer inside a DNAME's RDATA points into the upstream's message, not ours."""
    wire = bytearray(upstream("www.old.test", answer=("old.test. 300 IN DNAME x.",)))
    # The DNAME's RDATA is the 3 octets "\x01x\x00" at the end; make it a pointer to 12.
    assert wire[-5:] == b"\x00\x03\x01x\x00"
    wire[-5:] = b"\x00\x02\xc0\x0c"
    out, message = run(bytes(wire), "www.old.test")
    assert not message.answer and out.dropped == 1


def test_a_reply_with_more_records_than_any_answer_needs_is_refused_before_parsing():
    """A hostile upstream's 64 KiB of records would cost the event loop ~100 ms to parse."""
    from resolver.forward.scrub import MAX_RECORDS

    query = dns.message.make_query("big.example.org", "TXT")
    reply = dns.message.make_response(query)
    rrset = reply.find_rrset(
        reply.answer, query.question[0].name, dns.rdataclass.IN, dns.rdatatype.TXT, create=True
    )
    for i in range(MAX_RECORDS + 1):
        rrset.add(dns.rdata.from_text("IN", "TXT", f'"{i}"'), 300)
    with pytest.raises(ScrubError, match="records"):
        scrub(reply.to_wire(), key_of("big.example.org", "TXT"), (), 0, 86400)
    rrset.discard(next(iter(rrset)))  # MAX_RECORDS exactly: served
    assert scrub(reply.to_wire(), key_of("big.example.org", "TXT"), (), 0, 86400).lifetime == 300
