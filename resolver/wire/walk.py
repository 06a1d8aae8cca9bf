"""Walking the sections of a reply we built, by offsets: no parse, no objects.

For the after-answer modules (rate limiting reads the authority section's owner and
keeps a reply's OPT): our replies are well formed, but a module must still not loop or
read past the end on any bytes, so names follow at most MAX_POINTERS pointers and an
overrun raises IndexError or ValueError for the caller to handle.
"""

from __future__ import annotations

MAX_POINTERS = 64  # compression pointers followed in one name before giving up


def skip_name(data: bytes, pos: int) -> int:
    """The offset after the (possibly compressed) name at pos."""
    while True:
        length = data[pos]
        if length >= 0xC0:
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length


def read_name(data: bytes, pos: int) -> bytes:
    """The name at pos in lowercase wire form, compression pointers followed."""
    out = []
    for _ in range(MAX_POINTERS):
        length = data[pos]
        while length and length < 0xC0:
            out.append(data[pos : pos + 1 + length])
            pos += 1 + length
            length = data[pos]
        if not length:
            return b"".join(out).lower() + b"\x00"
        pos = (length & 0x3F) << 8 | data[pos + 1]
    raise ValueError("compression loop")


def skip_records(reply: bytes, pos: int, count: int) -> int:
    """The offset after count records from pos."""
    for _ in range(count):
        pos = pos + 2 if reply[pos] >= 0xC0 else skip_name(reply, pos)
        pos += 10 + (reply[pos + 8] << 8 | reply[pos + 9])
    return pos


def question_end(reply: bytes, question: bytes) -> int:
    """The offset after the reply's question: `question` is its lowercase copy."""
    if question and reply[4:6] == b"\x00\x01":
        return 12 + len(question)
    pos = 12
    for _ in range(reply[4] << 8 | reply[5]):
        pos = skip_name(reply, pos) + 4
    return pos
