"""Where and how the DNS listeners listen: addresses and TCP settings (SPEC 3)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_address(text: str) -> ListenAddress:
    """`ADDR:PORT`, IPv6 in brackets: `[::1]:5353`. Raises ValueError with the reason."""
    text = str(text).strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"{text!r}: write IPv6 as [ADDR]:PORT")
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            raise ValueError(f"{text!r}: expected ADDR:PORT (IPv6 as [ADDR]:PORT)")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r}: {host!r} is not an IP address") from None
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r}: port must be 0..65535")
    return ListenAddress(str(address), int(port))


@dataclass(frozen=True, slots=True)
class TcpSettings:
    idle_timeout: float = 10.0  # RFC 7766 suggests seconds, not minutes, under load
    max_connections: int = 256
    max_per_client: int = 32  # per client address (SPEC 3)
