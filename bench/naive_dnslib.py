"""The naive baseline: dnslib's own threaded DNSServer (UDP) answering the same names.

Parse, look up, pack: every name of the zone (n*, w* and g*) has one fixed A record, the
address the ceiling answers too; no routing, no EDNS in the reply.
Run: python -m bench.naive_dnslib ZONE_NAMES_FILE PORT
(prints "listening on udp 127.0.0.1:PORT": UDP only)"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from bench.common import address_for


class TableResolver(BaseResolver):
    def __init__(self, names: list[str]) -> None:
        self.table = {name.lower().rstrip(".") + ".": A(address_for(name)) for name in names}

    def resolve(self, request, handler):
        reply = request.reply()
        rdata = self.table.get(str(request.q.qname).lower())
        if rdata is not None:
            reply.add_answer(RR(request.q.qname, QTYPE.A, ttl=300, rdata=rdata))
        return reply


def main() -> None:
    names = Path(sys.argv[1]).read_text().split()
    port = int(sys.argv[2])
    server = DNSServer(
        TableResolver(names),
        port=port,
        address="127.0.0.1",
        logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data"),
    )
    server.start_thread()
    print(f"listening on udp 127.0.0.1:{port}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
