"""A whole query message read with dnslib, exactly and for any octets in a name.

`DNSRecord.parse` is used as it is, section by section, with two corrections:

- Names: dnslib's `DNSBuffer.decode_name` raises "Invalid label" for a label that is not
  UTF-8, yet any octet is legal in a label (RFC 2181 section 11). `_Buffer` overrides it:
  labels are kept as the bytes they are (a `DNSLabel` built from a tuple of bytes, which
  dnslib packs as is, a '.' or '\\' octet inside a label included), and compression
  pointers must point before the name part that holds them, so every name ends.
- Record lengths: dnslib's RDATA parsers read what their type needs, not RDLENGTH, so an
  A record claiming 8 octets with 4 behind it would misalign every record after it. Each
  record must end exactly where its RDLENGTH says, else `MessageError` (FORMERR). And
  an empty RDATA, which dnslib refuses ("Empty RR"), is kept as an empty `RD`.

The first OPT record's raw RDATA is returned beside the parsed message, for `opt.options`
to check option by option (dnslib silently drops a truncated trailing option).
"""

from __future__ import annotations

from dnslib import RD, RR, DNSHeader, DNSLabel, DNSQuestion, DNSRecord
from dnslib.dns import DNSBuffer

from resolver.wire.codes import OPT


class MessageError(ValueError):
    """Bytes that are not a well-formed DNS message: FORMERR."""


class _Buffer(DNSBuffer):
    """dnslib's buffer, reading names as octets (see the module docstring)."""

    data: bytes
    offset: int

    def decode_name(self, last: int = -1) -> DNSLabel:
        labels: list[bytes] = []
        limit = self.offset  # a pointer must go below where this part of the name began
        jumped_from = -1
        while True:
            if self.offset >= len(self.data):
                raise MessageError("name runs past the end of the message")
            length = self.data[self.offset]
            if length & 0xC0 == 0xC0:
                if self.offset + 2 > len(self.data):
                    raise MessageError("compression pointer cut short")
                target = (length & 0x3F) << 8 | self.data[self.offset + 1]
                if jumped_from < 0:
                    jumped_from = self.offset + 2
                if target >= limit:
                    raise MessageError("compression pointer does not point backwards")
                self.offset = limit = target
                continue
            if length & 0xC0:
                raise MessageError(f"label type {length >> 6} unknown")
            end = self.offset + 1 + length
            if end > len(self.data):
                raise MessageError("label runs past the end of the message")
            if length == 0:
                self.offset = end
                break
            labels.append(bytes(self.data[self.offset + 1 : end]))
            self.offset = end
        if jumped_from >= 0:
            self.offset = jumped_from
        return DNSLabel(labels)


def parse(data: bytes) -> tuple[DNSRecord, bytes | None]:
    """The message and its first OPT record's RDATA (None without one).

    Raises MessageError or dnslib's DNSError (or worse, on hostile RDATA): all FORMERR.
    """
    buffer = _Buffer(data)
    header = DNSHeader.parse(buffer)
    questions = [DNSQuestion.parse(buffer) for _ in range(header.q)]
    sections: tuple[list[RR], list[RR], list[RR]] = ([], [], [])
    opt_rdata = None
    for section, count in zip(sections, (header.a, header.auth, header.ar), strict=True):
        for _ in range(count):
            start = buffer.offset
            owner = buffer.decode_name()
            if buffer.offset + 10 > len(data):
                raise MessageError("record header runs past the end of the message")
            rtype, rclass, ttl, rdlength = buffer.unpack("!HHIH")
            end = buffer.offset + rdlength
            if end > len(data):
                raise MessageError("RDATA runs past the end of the message")
            if rtype == OPT and opt_rdata is None:
                opt_rdata = bytes(data[buffer.offset : end])
            if rdlength == 0 and rtype != OPT:  # dnslib refuses it ("Empty RR"); it is legal
                section.append(RR(owner, rtype, rclass, ttl, RD(b"")))
                continue
            buffer.offset = start
            section.append(RR.parse(buffer))
            if buffer.offset != end:
                raise MessageError(f"a type {rtype} record's RDATA is not its RDLENGTH long")
    answer, authority, additional = sections
    record = DNSRecord(header, questions, answer, auth=authority, ar=additional)
    return record, opt_rdata
