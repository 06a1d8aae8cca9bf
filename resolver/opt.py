"""The OPT record of a query read exactly (RFC 6891), beside dnslib's lenient parse.

dnslib drops a trailing option shorter than its header, so a malformed OPT would pass
unnoticed; the raw RDATA is walked here and every option checked.
"""

from __future__ import annotations

import struct

from dnslib.dns import DNSBuffer

OPT_TYPE = 41


class OptError(ValueError):
    """An OPT record whose options do not fit its RDATA: FORMERR."""


def opt_rdata(packet: bytes) -> bytes | None:
    """The raw RDATA of the first OPT record, or None. The packet has parsed already."""
    buffer = DNSBuffer(packet)
    _, _, qdcount, ancount, nscount, arcount = buffer.unpack("!6H")
    for _ in range(qdcount):
        buffer.decode_name()
        buffer.get(4)
    for _ in range(ancount + nscount + arcount):
        buffer.decode_name()
        rtype, _, _, length = buffer.unpack("!HHIH")
        rdata = buffer.get(length)
        if rtype == OPT_TYPE:
            return bytes(rdata)
    return None


def options(rdata: bytes) -> list[tuple[int, bytes]]:
    """Every (code, data) option; raise OptError when the RDATA is not whole options."""
    found = []
    offset = 0
    while offset < len(rdata):
        if offset + 4 > len(rdata):
            raise OptError("OPT ends inside an option header")
        code, length = struct.unpack_from("!HH", rdata, offset)
        offset += 4
        if offset + length > len(rdata):
            raise OptError(f"option {code} runs past the end of the OPT record")
        found.append((code, rdata[offset : offset + length]))
        offset += length
    return found
