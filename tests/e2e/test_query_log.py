"""The query log in Route 53's format (SPEC 3 query_log), written to a file and reopened
on SIGUSR1: every field checked against real dnspython queries over UDP and TCP."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import dns.edns
import dns.message
import dns.query
import pytest

from resolver.route53.mapping import zone_id_for
from tests.dnshelp import wait_until

ZONE = "zone: q.test\nrecords:\n  www: [{type: A, values: [192.0.2.1]}]\n"
LINE_RE = re.compile(
    r"1\.0 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<zone>\S+) (?P<name>\S+) "
    r"(?P<type>\S+) (?P<rcode>[A-Z]+) (?P<proto>UDP|TCP) (?P<edge>[A-Z0-9]+) "
    r"(?P<ip>\S+) (?P<ecs>\S+)"
)


def serve(start_server, tmp_path: Path, *extra: str):
    (tmp_path / "q.yaml").write_text(ZONE)
    log = tmp_path / "query.log"
    config = tmp_path / "policydns.yaml"
    config.write_text(
        f"zones: [{tmp_path / 'q.yaml'}]\nquery_log: {{format: route53, file: {log}}}\n"
    )
    srv = start_server("--config", str(config), "--listen", "127.0.0.1:0", "--no-http", *extra)
    return srv, log


def lines(path: Path, count: int) -> list[re.Match]:
    text = wait_until(
        lambda: (t := path.read_text()) and t.count("\n") >= count and t, f"{count} lines"
    )
    out = text.splitlines()
    return [m for m in (LINE_RE.fullmatch(line) for line in out) if m] if len(out) else []


def ask(srv, name: str, tcp: bool = False, ecs: str | None = None) -> dns.message.Message:
    options = [dns.edns.ECSOption(ecs, 24)] if ecs else []
    query = dns.message.make_query(name, "A", use_edns=0 if ecs else None, options=options)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, srv.host, port=srv.port, timeout=3)


def test_every_field_of_the_route53_line(start_server, tmp_path: Path):
    srv, log = serve(start_server, tmp_path)
    before = time.time()
    ask(srv, "www.q.test")
    ask(srv, "www.q.test", tcp=True, ecs="198.51.100.7")
    ask(srv, "nope.q.test")
    ask(srv, "elsewhere.example")
    found = lines(log, 4)
    assert len(found) == 4, log.read_text()
    zone = zone_id_for("q.test")
    got = [
        (m["zone"], m["name"], m["type"], m["rcode"], m["proto"], m["ip"], m["ecs"]) for m in found
    ]
    assert got == [
        (zone, "www.q.test", "A", "NOERROR", "UDP", "127.0.0.1", "-"),
        (zone, "www.q.test", "A", "NOERROR", "TCP", "127.0.0.1", "198.51.100.0/24"),
        (zone, "nope.q.test", "A", "NXDOMAIN", "UDP", "127.0.0.1", "-"),
        ("-", "elsewhere.example", "A", "REFUSED", "UDP", "127.0.0.1", "-"),
    ]
    stamp = time.mktime(time.strptime(found[0]["ts"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert before - 2 <= stamp <= time.time() + 2
    assert len({m["edge"] for m in found}) == 1


def test_hostile_names_cannot_split_or_forge_a_line(start_server, tmp_path: Path):
    srv, log = serve(start_server, tmp_path)
    for label in (b"a b", b"x\n1.0 forged", b"\xff\xfe", b"tab\there"):
        name = dns.name.Name([label, b"q", b"test", b""])
        query = dns.message.make_query(name, "A")
        dns.query.udp(query, srv.host, port=srv.port, timeout=3)
    text = wait_until(lambda: (t := log.read_text()).count("\n") >= 4 and t, "4 lines")
    rows = text.splitlines()
    assert len(rows) == 4, text
    assert all(LINE_RE.fullmatch(row) for row in rows), text


@pytest.mark.parametrize("workers", [1, 2])
def test_sigusr1_reopens_after_rotation_and_no_line_is_lost(start_server, tmp_path, workers):
    srv, log = serve(start_server, tmp_path, "--workers", str(workers))
    total = 60
    for _ in range(total // 2):
        ask(srv, "www.q.test")
    wait_until(lambda: log.read_text().count("\n") >= total // 2, "the first half")
    rotated = tmp_path / "query.log.1"
    os.rename(log, rotated)
    srv.signal(signal.SIGUSR1)
    wait_until(lambda: srv.log().count("query log: reopened") >= workers, "every reopen")
    for _ in range(total // 2):
        ask(srv, "www.q.test")
    wait_until(lambda: log.exists() and log.read_text().count("\n") >= total // 2, "new file")
    old, new = rotated.read_text().splitlines(), log.read_text().splitlines()
    assert len(old) + len(new) == total, (len(old), len(new))
    assert len(new) == total // 2
