"""rdtext writes every supported type so that our parser and dnspython both read it back
to the same wire bytes (dnspython is the oracle we did not write)."""

from __future__ import annotations

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from resolver.wire import rdata, rdtext

ORIGIN = (b"example", b"com")

VALUES = [
    ("A", "192.0.2.1"),
    ("AAAA", "2001:db8::1"),
    ("CNAME", "www"),
    ("NS", "ns1.example.net."),
    ("PTR", "host.example.com."),
    ("MX", "10 mail"),
    ("TXT", 'say "hi" \\ back'),
    ("TXT", "x" * 600),
    ("TXT", "caf\u00e9 \u20ac"),
    ("TXT", ""),
    ("SPF", "v=spf1 -all"),
    ("SRV", "10 60 5060 sip"),
    ("CAA", '0 issue "letsencrypt.org"'),
    ("CAA", '128 iodef "mailto:a\\"b@example.com"'),
    ("NAPTR", '100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .'),
    ("NAPTR", '100 10 "S" "SIP+D2U" "" _sip._udp'),
    ("SSHFP", "1 1 " + "ab" * 20),
    ("TLSA", "3 1 1 " + "cd" * 32),
    ("DS", "12345 8 2 " + "ef" * 32),
    ("HTTPS", '1 . alpn="h2,h3" port=8443 ipv4hint=192.0.2.1'),
    ("HTTPS", "0 cdn.example.net."),
    ("SVCB", '1 svc mandatory=alpn alpn="h2" key65000="a\\010b"'),
]


@pytest.mark.parametrize(("type_name", "value"), VALUES)
def test_text_reads_back_to_the_same_wire(type_name: str, value: str) -> None:
    rd = rdata.parse(type_name, value, ORIGIN)
    wire = rdata.packed(rd)
    zone_value = rdtext.text(type_name, rd, zone_value=True)
    assert rdata.packed(rdata.parse(type_name, zone_value, ())) == wire
    master = rdtext.text(type_name, rd)
    theirs = dns.rdata.from_text(
        dns.rdataclass.IN,
        dns.rdatatype.from_text(type_name),
        master,
        origin=dns.name.root,
        relativize=False,
    )
    assert theirs.to_wire() == wire, master


def test_names_in_values_are_absolute() -> None:
    rd = rdata.parse("MX", "10 mail", ORIGIN)
    assert rdtext.text("MX", rd) == "10 mail.example.com."


def test_txt_that_is_not_utf8_is_refused_as_a_zone_value() -> None:
    from dnslib import TXT

    rd = TXT([b"\xff\xfe"])
    assert rdtext.text("TXT", rd) == '"\\255\\254"'
    with pytest.raises(rdtext.NotText):
        rdtext.text("TXT", rd, zone_value=True)
