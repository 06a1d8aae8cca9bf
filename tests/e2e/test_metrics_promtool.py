"""`promtool check metrics` (the Prometheus project's own linter) accepts /metrics after
queries of several kinds: the exposition format is checked by an oracle, not by us."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from pathlib import Path

import dns.message
import dns.query
import pytest

ZONE = "zone: m.test\nrecords:\n  www: [{type: A, values: [192.0.2.1]}]\n"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus) missing")
def test_promtool_accepts_metrics(start_server, tmp_path: Path):
    (tmp_path / "m.yaml").write_text(ZONE)
    srv = start_server(
        "--zones", str(tmp_path / "m.yaml"), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"
    )
    for name, rdtype in (
        ("www.m.test", "A"),
        ("nope.m.test", "A"),
        ("www.m.test", "TXT"),
        ("out.example", "A"),
        ("www.m.test", "TYPE999"),
    ):
        query = dns.message.make_query(name, rdtype)
        dns.query.udp(query, srv.host, port=srv.port, timeout=3)
        dns.query.tcp(query, srv.host, port=srv.port, timeout=3)
    port = srv.http_port()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read()
    assert b"# TYPE" in text
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, timeout=30
    )
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
