"""policydns: an authoritative DNS server with Route 53-style routing policies."""

__version__ = "0.1.0"
