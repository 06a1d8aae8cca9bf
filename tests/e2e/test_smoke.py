"""The server from zones/ answers a plain question over UDP and TCP."""

import dns.message
import dns.query
import dns.rcode
import dns.rrset


def test_udp_and_tcp_answer_the_same(server):
    query = dns.message.make_query("www.example.com", "A")
    udp = dns.query.udp(query, server.host, port=server.port, timeout=3)
    tcp = dns.query.tcp(query, server.host, port=server.port, timeout=3)
    expected = dns.rrset.from_text("www.example.com.", 300, "IN", "A", "192.0.2.10", "192.0.2.11")
    for reply in (udp, tcp):
        assert reply.rcode() == dns.rcode.NOERROR
        assert reply.flags & dns.flags.AA
        assert reply.answer == [expected]
