"""The zone loader's fast paths give the answers of what they shortcut (issue 14, item 9).

A/AAAA values in inet_ntop's form skip ipaddress, and fields without quotes or escapes
skip shlex: the oracles are ipaddress and shlex themselves, on addresses in every
spelling and on text mixing spaces, tabs, quotes, escapes and non-ASCII whitespace.
"""

from __future__ import annotations

import ipaddress
import shlex
import socket

from dnslib import AAAA, A
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.wire import rdata
from resolver.wire.presentation import RdataError, split_fields


def _by_ipaddress(text: str, six: bool) -> object:
    try:
        if six:
            return AAAA(str(ipaddress.IPv6Address(text.strip()))).data
        return A(str(ipaddress.IPv4Address(text.strip()))).data
    except ValueError:
        return "error"


def _by_loader(text: str, six: bool) -> object:
    try:
        return rdata.parse("AAAA" if six else "A", text, ()).data
    except RdataError:
        return "error"


_PACKED6 = st.binary(min_size=16, max_size=16) | st.lists(
    st.sampled_from([0, 0, 0, 1, 255, 0xFF]), min_size=16, max_size=16
).map(bytes)
_SPELLINGS6 = _PACKED6.flatmap(
    lambda b: st.sampled_from(
        [
            str(ipaddress.IPv6Address(b)),
            ipaddress.IPv6Address(b).exploded,
            socket.inet_ntop(socket.AF_INET6, b),
            socket.inet_ntop(socket.AF_INET6, b).upper(),
            f" {socket.inet_ntop(socket.AF_INET6, b)}\t",
            socket.inet_ntop(socket.AF_INET6, b) + "%eth0",
        ]
    )
)
_SPELLINGS4 = st.binary(min_size=4, max_size=4).flatmap(
    lambda b: st.sampled_from(
        [
            socket.inet_ntop(socket.AF_INET, b),
            ".".join(f"{x:03d}" for x in b),
            " " + socket.inet_ntop(socket.AF_INET, b),
            socket.inet_ntop(socket.AF_INET, b) + ".",
            socket.inet_ntop(socket.AF_INET, b)[:-2],
        ]
    )
)
_ODD = st.text(st.sampled_from("0123456789abcdefABCDEF:.% \t"), max_size=45)


@settings(max_examples=1500)
@given(text=_SPELLINGS4 | _SPELLINGS6 | _ODD, six=st.booleans())
def test_addresses_parse_as_ipaddress_parses_them(text: str, six: bool) -> None:
    assert _by_loader(text, six) == _by_ipaddress(text, six)


def _by_shlex(text: str) -> object:
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        return "error"


def _split(text: str) -> object:
    try:
        return split_fields(text, None, "X")
    except RdataError:
        return "error"


@settings(max_examples=1500)
@given(text=st.text(st.sampled_from(" \t\n\r\x0b\x0c\xa0\u2003ab1.;#()\"'\\é"), max_size=14))
def test_fields_split_as_shlex_splits_them(text: str) -> None:
    assert _split(text) == _by_shlex(text)
