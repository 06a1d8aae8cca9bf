"""The shipped examples in zones/ (what the README's first command serves) load and answer.

The only test that reads zones/: every other test serves its own copies in tests/fixtures/,
so editing an example changes what this test sees and nothing else.
"""

import dns.flags
import dns.rcode
import dns.rdatatype
import dns.rrset
import yaml

from tests.dnshelp import ask, assert_rcode
from tests.serverproc import EXAMPLES


def test_shipped_examples_load_and_answer(start_server):
    server = start_server("--zones", str(EXAMPLES), "--listen", "127.0.0.1:0", "--no-http")
    origins = [yaml.safe_load(p.read_text())["zone"] for p in sorted(EXAMPLES.glob("*.y*ml"))]
    assert origins
    for origin in origins:
        reply = ask(server, origin, "SOA")
        assert_rcode(reply, dns.rcode.NOERROR)
        assert [r.rdtype for r in reply.answer] == [dns.rdatatype.SOA]
    expected = dns.rrset.from_text("www.example.com.", 300, "IN", "A", "192.0.2.10", "192.0.2.11")
    for transport in ("udp", "tcp"):
        reply = ask(server, "www.example.com", "A", transport)
        assert reply.rcode() == dns.rcode.NOERROR
        assert reply.flags & dns.flags.AA
        assert reply.answer == [expected]
