"""CHAOS-class TXT answers about the server itself (version.bind, id.server)."""

from __future__ import annotations

from dataclasses import dataclass

from dnslib import QTYPE, RR, TXT, DNSQuestion

from resolver.wire.codes import CH, NOERROR, REFUSED

_TXT = int(QTYPE.TXT)


@dataclass(frozen=True, slots=True)
class Chaos:
    """Answers to CHAOS TXT version.bind / id.server; None turns one off."""

    version: str | None
    identity: str | None

    def lookup(self, labels: tuple[bytes, ...] | list[bytes]) -> str | None:
        """By labels, not text: one label "version.bind" is not the name version.bind."""
        name = tuple(label.lower() for label in labels)
        if name in ((b"version", b"bind"), (b"version", b"server")):
            return self.version
        if name in ((b"id", b"server"), (b"hostname", b"bind")):
            return self.identity
        return None

    def answer(self, question: DNSQuestion) -> tuple[int, list[RR]]:
        """The rcode and records for a CHAOS question: REFUSED for anything not known."""
        if int(question.qtype) not in (_TXT, 255):
            return REFUSED, []
        text = self.lookup(question.qname.label)
        if text is None:
            return REFUSED, []
        return NOERROR, [RR(question.qname, _TXT, rclass=CH, ttl=0, rdata=TXT(text))]
