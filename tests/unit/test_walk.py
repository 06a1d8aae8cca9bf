"""wire.walk on any bytes: an offset, a name or IndexError/ValueError, never a hang."""

from __future__ import annotations

import dns.message
import dns.rrset
from hypothesis import given
from hypothesis import strategies as st

from resolver.wire import walk


@given(st.binary(max_size=300), st.integers(0, 300), st.integers(0, 70000))
def test_walking_any_bytes_ends_in_an_offset_or_a_caught_error(
    data: bytes, pos: int, count: int
) -> None:
    for step in (
        lambda: walk.skip_name(data, pos),
        lambda: walk.read_name(data, pos),
        lambda: walk.skip_records(data, pos, count),
        lambda: walk.question_end(data, b""),
    ):
        try:
            step()
        except (IndexError, ValueError):
            pass


def test_a_pointer_loop_is_refused() -> None:
    data = b"\x00" * 12 + b"\xc0\x0c"  # a pointer to itself
    try:
        walk.read_name(data, 12)
    except ValueError:
        return
    raise AssertionError("a compression loop was followed forever")


def test_the_authority_owner_is_read_through_pointers_in_lowercase() -> None:
    reply = dns.message.make_response(dns.message.make_query("WWW.Example.COM", "A"))
    reply.authority.append(dns.rrset.from_text("Example.COM.", 60, "IN", "SOA", ". . 1 2 3 4 5"))
    wire = reply.to_wire()
    end = walk.question_end(wire, b"")
    assert end == 12 + len(b"\x03www\x07example\x03com\x00") + 4
    owner_at = walk.skip_records(wire, end, 0)
    assert walk.read_name(wire, owner_at) == b"\x07example\x03com\x00"
    assert walk.skip_records(wire, end, 1) == len(wire)
