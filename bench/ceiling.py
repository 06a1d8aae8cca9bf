"""The Python ceiling to compare against: uvloop answering from a dict of encoded replies.

No parsing, no packing: it looks up the bytes after the ID and patches the ID. UDP and
TCP (pipelined, every reply of one read written at once). The table holds a reply for
every distinct query of the dnsperf -B query files it is given, built beforehand with
dnslib: the query's reply() with one A answer (the fixed address of the name, as the naive
server gives) and the query's OPT record, ECS option included, sent back as it came.
Run: python -m bench.ceiling PORT QUERY_FILE...
(prints "listening on udp+tcp 127.0.0.1:PORT")
"""

from __future__ import annotations

import asyncio
import struct
import sys
from pathlib import Path

import uvloop
from dnslib import QTYPE, RR, A, DNSRecord

from bench.common import address_for, read_queries


def replies(queries: list[bytes]) -> dict[bytes, bytes]:
    """Reply after the ID, keyed by query after the ID."""
    table: dict[bytes, bytes] = {}
    for wire in queries:
        if wire[2:] in table:
            continue
        query = DNSRecord.parse(wire)
        reply = query.reply()
        rdata = A(address_for(str(query.q.qname)))
        reply.add_answer(RR(query.q.qname, QTYPE.A, ttl=300, rdata=rdata))
        for extra in query.ar:
            if extra.rtype == QTYPE.OPT:
                reply.add_ar(extra)
        table[wire[2:]] = bytes(reply.pack())[2:]
    return table


class Udp(asyncio.DatagramProtocol):
    def __init__(self, table: dict[bytes, bytes]) -> None:
        self.table = table

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        body = self.table.get(data[2:])
        if body is not None:
            self.transport.sendto(data[:2] + body, addr)  # type: ignore[attr-defined]


def main() -> None:
    port = int(sys.argv[1])
    table = replies([wire for path in sys.argv[2:] for wire in read_queries(Path(path))])

    async def tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            buffer += chunk
            out = []
            while len(buffer) >= 2:
                (length,) = struct.unpack_from("!H", buffer)
                if len(buffer) < 2 + length:
                    break
                data, buffer = buffer[2 : 2 + length], buffer[2 + length :]
                body = table.get(data[2:])
                if body is not None:
                    out.append(struct.pack("!H", len(body) + 2) + data[:2] + body)
            writer.write(b"".join(out))
        writer.close()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: Udp(table), local_addr=("127.0.0.1", port))
        await asyncio.start_server(tcp, "127.0.0.1", port)
        print(f"listening on udp+tcp 127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    uvloop.run(run())


if __name__ == "__main__":
    main()
