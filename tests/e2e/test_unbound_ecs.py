"""A real recursive resolver in front: Debian's unbound forwards EDNS Client Subnet to us.

unbound (module `subnetcache`, `send-client-subnet`) passes the client's subnet to the
authoritative server for steer.example and caches each answer for the scope we return
(ECOSYSTEM.md section 3). So two clients in different places get different geolocation
answers through the same resolver, and a repeat is served from unbound's per-subnet cache,
even with our server stopped. Skipped when unbound is not installed (`apt-get install unbound`).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from tests.dnshelp import addresses, ask, free_port
from tests.serverproc import ZONES, ServerProcess

pytestmark = pytest.mark.timeout(60)

UNBOUND = shutil.which("unbound")
CHECKCONF = shutil.which("unbound-checkconf")

CALIFORNIA, EUROPE = "192.0.2.41", "198.51.100.43"

LOCATIONS_CONFIG = """\
locations:
  10.1.0.0/16: {continent: NA, country: US, subdivision: CA, latitude: 37.4, longitude: -122.1}
  10.2.0.0/16: {continent: EU, country: DE, latitude: 50.1, longitude: 8.7}
"""

# steer.example is not one of unbound's built-in local zones, so no `local-zone: ...
# nodefault` line is needed (a zone under test., invalid., localhost., onion. or home.arpa.
# would need one, or unbound answers NXDOMAIN itself).
UNBOUND_CONF = """\
server:
    interface: 127.0.0.1@{port}
    port: {port}
    do-ip4: yes
    do-ip6: no
    chroot: ""
    username: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    logfile: "{dir}/unbound.log"
    use-syslog: no
    do-daemonize: no
    num-threads: 1
    verbosity: 1
    module-config: "subnetcache validator iterator"
    send-client-subnet: 127.0.0.1
    client-subnet-always-forward: yes
    do-not-query-localhost: no
    domain-insecure: "steer.example"
stub-zone:
    name: "steer.example"
    stub-addr: 127.0.0.1@{upstream}
remote-control:
    control-enable: no
"""


def scope_of(reply: dns.message.Message) -> int | None:
    found = [o for o in reply.options if o.otype == dns.edns.OptionType.ECS]
    return found[0].scopelen if found else None  # type: ignore[attr-defined]


class Unbound:
    """`unbound -d -c CONF` as our own child; stopped by its PID."""

    def __init__(self, binary: str, workdir: Path, upstream: int) -> None:
        self.binary = binary
        self.dir = workdir
        self.host = "127.0.0.1"
        self.port = free_port()
        self.conf = workdir / "unbound.conf"
        self.conf.write_text(
            UNBOUND_CONF.format(port=self.port, dir=workdir, upstream=upstream), encoding="utf-8"
        )
        self.out = workdir / "unbound.out"
        self.proc: subprocess.Popen | None = None

    def logs(self) -> str:
        parts = [f"unbound.conf:\n{self.conf.read_text()}"]
        for path in (self.out, self.dir / "unbound.log"):
            if path.exists():
                parts.append(f"{path.name}:\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    def start(self, timeout: float = 15.0) -> None:
        if CHECKCONF:
            checked = subprocess.run(
                [CHECKCONF, str(self.conf)], capture_output=True, text=True, check=False
            )
            assert checked.returncode == 0, checked.stdout + checked.stderr + self.logs()
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                [self.binary, "-d", "-c", str(self.conf)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"unbound exited with {self.proc.returncode}\n{self.logs()}")
            try:
                # Any reply means it is serving; the SOA is cached with scope 0, which does
                # not touch the geo answers below.
                ask(self, "steer.example", use_edns=0, timeout=0.2)
                return
            except (dns.exception.Timeout, OSError):
                continue
        self.stop()
        raise RuntimeError(f"unbound did not answer within {timeout}s\n{self.logs()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture
def unbound_binary() -> str:
    if UNBOUND is None:
        pytest.skip("unbound is not installed (Debian package: unbound)")
    return UNBOUND


@pytest.fixture
def authoritative(unbound_binary: str, start_server, tmp_path: Path) -> ServerProcess:
    cfg = tmp_path / "policydns.yaml"
    cfg.write_text(LOCATIONS_CONFIG, encoding="utf-8")
    return start_server(
        "--config", str(cfg), "--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http"
    )


@pytest.fixture
def unbound(unbound_binary: str, authoritative: ServerProcess, tmp_path: Path) -> Iterator[Unbound]:
    workdir = tmp_path / "unbound"
    workdir.mkdir()
    resolver = Unbound(unbound_binary, workdir, authoritative.port)
    resolver.start()
    try:
        yield resolver
    finally:
        resolver.stop()


def test_unbound_forwards_client_subnet_and_caches_per_subnet(unbound, authoritative):
    west = ask(unbound, "geo.steer.example", ecs=("10.1.2.0", 24))
    east = ask(unbound, "geo.steer.example", ecs=("10.2.3.0", 24))
    context = unbound.logs() + "\npolicydns log:\n" + authoritative.log()
    assert west.rcode() == dns.rcode.NOERROR, context
    assert east.rcode() == dns.rcode.NOERROR, context
    assert addresses(west) == [CALIFORNIA], context
    assert addresses(east) == [EUROPE], context
    # unbound hands our scope (the /16 locations block) back to its client.
    assert scope_of(west) == 16, west
    assert scope_of(east) == 16, east

    # With the authoritative server gone, whatever unbound still answers comes from its
    # per-subnet cache: the same subnet again, and another /24 inside the /16 scope.
    authoritative.stop()
    for ecs, expected in [
        (("10.1.2.0", 24), CALIFORNIA),
        (("10.1.77.0", 24), CALIFORNIA),
        (("10.2.3.0", 24), EUROPE),
        (("10.2.200.0", 24), EUROPE),
    ]:
        again = ask(unbound, "geo.steer.example", ecs=ecs)
        assert again.rcode() == dns.rcode.NOERROR, (ecs, again)
        assert addresses(again) == [expected], (ecs, again)
    # Control: a subnet outside both cached scopes needs the (stopped) server, so unbound
    # has no answer for it: a timeout or SERVFAIL, never an address.
    try:
        other = ask(unbound, "geo.steer.example", ecs=("10.5.0.0", 24), timeout=1.0)
    except dns.exception.Timeout:
        return
    assert other.rcode() == dns.rcode.SERVFAIL, other
