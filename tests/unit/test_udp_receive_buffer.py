"""The UDP socket asks for a large receive buffer: a short stall of the event loop at
10,000 q/s must not make the kernel drop queries (bench/soak.py measured the loss)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from resolver.serve.listen import ListenAddress, TcpSettings
from resolver.serve.transport import UDP_RECEIVE_BUFFER, DnsServer


def _rmem_max() -> int:
    try:
        return int(Path("/proc/sys/net/core/rmem_max").read_text())
    except OSError:
        return 0


@pytest.mark.skipif(_rmem_max() <= 212992, reason="net.core.rmem_max allows no larger buffer")
def test_udp_socket_gets_the_largest_receive_buffer_the_kernel_allows() -> None:
    async def run() -> int:
        server = DnsServer(lambda data, peer, tcp: None, TcpSettings(), announce=False)
        await server.start((ListenAddress("127.0.0.1", 0),))
        try:
            sock = server._transports[0].get_extra_info("socket")
            return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        finally:
            await server.stop(grace=0.1)

    # Linux reports twice what it granted; granted = min(asked, rmem_max).
    assert asyncio.run(run()) >= min(UDP_RECEIVE_BUFFER, _rmem_max())
