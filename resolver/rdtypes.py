"""Record types dnslib lacks: SVCB (RFC 9460) and SPF (RFC 4408), registered with dnslib."""

from __future__ import annotations

from dnslib import HTTPS, QTYPE, RDMAP, TXT


class SVCB(HTTPS):
    """SVCB shares HTTPS's wire and presentation format (RFC 9460 section 2)."""


class SPF(TXT):
    """SPF has TXT's format under type code 99."""


def register() -> None:
    """Make dnslib parse and print SVCB and SPF by their own names."""
    RDMAP.setdefault("SVCB", SVCB)
    RDMAP.setdefault("SPF", SPF)
    assert QTYPE.reverse["SVCB"] == 64 and QTYPE.reverse["SPF"] == 99


register()
