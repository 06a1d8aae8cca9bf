"""The Python ceiling to compare against: uvloop answering from a dict of encoded replies.

No parsing beyond finding the question, no packing: it looks the question up and patches
the ID. UDP and TCP (pipelined, every reply of one read written at once).
Run: python bench/ceiling.py ZONE_NAMES_FILE PORT   (prints "ready PORT")
"""

from __future__ import annotations

import asyncio
import struct
import sys
from pathlib import Path

import uvloop
from dnslib import QTYPE, RR, A, DNSRecord


def replies(names: list[str]) -> dict[bytes, bytes]:
    table = {}
    for i, name in enumerate(names):
        query = DNSRecord.question(name, "A")
        reply = query.reply()
        reply.add_answer(RR(name, QTYPE.A, ttl=300, rdata=A(f"192.0.2.{i % 250 + 1}")))
        wire = bytes(reply.pack())
        table[bytes(query.pack())[12:]] = wire[2:]
    return table


class Udp(asyncio.DatagramProtocol):
    def __init__(self, table: dict[bytes, bytes]) -> None:
        self.table = table

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        body = self.table.get(data[12:])
        if body is not None:
            self.transport.sendto(data[:2] + body, addr)  # type: ignore[attr-defined]


def main() -> None:
    names = Path(sys.argv[1]).read_text().split()
    port = int(sys.argv[2])
    table = replies(names)

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
                body = table.get(data[12:])
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
