"""The OPT record of a query read exactly (RFC 6891), beside dnslib's lenient parse.

dnslib drops a trailing option shorter than its header, so a malformed OPT would pass
unnoticed; the raw RDATA (from `message.parse`, which checked every record's RDLENGTH)
is walked here and every option checked.
"""

from __future__ import annotations

import struct


class OptError(ValueError):
    """An OPT record whose options do not fit its RDATA: FORMERR."""


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
