"""The naive baseline: a server written for the benchmark that parses every query with
dnslib, looks the name up and packs a reply with dnslib, on uvloop (UDP).

This is the straightforward way to write a Python DNS server, and a stronger baseline
than dnslib's own threaded DNSServer (a thread per datagram, about half the speed).
Every name of the zone (n*, w* and g*) has one fixed A record, the address the ceiling
answers too; no routing, and EDNS is echoed as dnslib's reply() does.
Run: python -m bench.naive_dnslib ZONE_NAMES_FILE PORT
(prints "listening on udp 127.0.0.1:PORT": UDP only)"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvloop
from dnslib import QTYPE, RR, A, DNSRecord

from bench.common import address_for


class Naive(asyncio.DatagramProtocol):
    def __init__(self, names: list[str]) -> None:
        self.table = {name.lower().rstrip(".") + ".": A(address_for(name)) for name in names}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        request = DNSRecord.parse(data)
        reply = request.reply()
        rdata = self.table.get(str(request.q.qname).lower())
        if rdata is not None:
            reply.add_answer(RR(request.q.qname, QTYPE.A, ttl=300, rdata=rdata))
        self.transport.sendto(reply.pack(), addr)  # type: ignore[attr-defined]


def main() -> None:
    names = Path(sys.argv[1]).read_text().split()
    port = int(sys.argv[2])

    async def run() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: Naive(names), local_addr=("127.0.0.1", port))
        print(f"listening on udp 127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    uvloop.run(run())


if __name__ == "__main__":
    main()
