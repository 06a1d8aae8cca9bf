"""policydns as the resolver of a test network made of Linux network namespaces.

Three namespaces joined by two veth pairs (docs/test-network.md builds the same by hand):

    client 10.53.1.2 --- 10.53.1.1 resolver 10.53.2.1 --- 10.53.2.2 upstream

The resolver namespace runs policydns on port 53 (tests/fixtures/forward/netns-resolver.yaml,
its own zone lab.test with a failover name); the upstream namespace runs a second policydns
(upstream.test) and the HTTP server the failover's health check probes. The client's
/etc/netns/NAME/resolv.conf names the resolver, so getent and dig there resolve through it.
The client has no route to the upstream: every answer it gets came through policydns.

Needs root and `ip netns`; skipped otherwise. Everything the test made (namespaces, their
veth pairs, /etc/netns/NAME) is removed at the end, also on failure; the processes it
started are stopped by PID.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.dnshelp import wait_until
from tests.serverproc import LISTEN_RE, REPO

pytestmark = pytest.mark.timeout(120)

FIXTURES = REPO / "tests" / "fixtures" / "forward"
IP = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin")
DIG = shutil.which("dig")
GETENT = shutil.which("getent")
RESOLVER, UPSTREAM, CLIENT = "10.53.1.1", "10.53.2.2", "10.53.1.2"


def run(*args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=timeout)


def why_not() -> str | None:
    """Why this machine cannot build the network, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, port 53)"
    if IP is None:
        return "`ip` (Debian package iproute2) is not installed"
    if DIG is None or GETENT is None:
        return "needs dig (bind9-dnsutils) and getent (libc-bin)"
    probe = f"pdprobe{os.getpid()}"
    made = run(IP, "netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` fails here: {made.stderr.strip()}"
    run(IP, "netns", "del", probe, check=False)
    return None


@dataclass
class Network:
    """The namespaces, links and processes one test run made, to be undone in reverse."""

    tag: str
    logdir: Path
    namespaces: list[str] = field(default_factory=list)
    etc: list[Path] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)

    def name(self, role: str) -> str:
        return f"pd{role}{self.tag}"

    def add_namespace(self, role: str) -> str:
        name = self.name(role)
        run(IP, "netns", "add", name)
        self.namespaces.append(name)
        run(IP, "-n", name, "link", "set", "lo", "up")
        return name

    def link(self, left: str, left_address: str, right: str, right_address: str) -> None:
        """A veth pair between two namespaces, a /24 address on each end, both up."""
        # made in the root namespace, then moved: names unique there (IFNAMSIZ: 15)
        a, b = f"v{self.tag}{left[2]}{right[2]}a", f"v{self.tag}{left[2]}{right[2]}b"
        run(IP, "link", "add", a, "type", "veth", "peer", "name", b)
        run(IP, "link", "set", a, "netns", left)
        run(IP, "link", "set", b, "netns", right)
        for namespace, device, address in ((left, a, left_address), (right, b, right_address)):
            run(IP, "-n", namespace, "addr", "add", f"{address}/24", "dev", device)
            run(IP, "-n", namespace, "link", "set", device, "up")

    def resolv_conf(self, namespace: str, nameserver: str) -> None:
        """/etc/netns/NAME/: what `ip netns exec NAME` mounts over /etc/resolv.conf, hosts
        and nsswitch.conf, so ordinary programs there use our resolver and nothing else."""
        base = Path("/etc/netns")
        if not base.exists():
            base.mkdir()
            self.etc.append(base)  # removed last, once empty
        etc = base / namespace
        etc.mkdir()
        self.etc.insert(0, etc)
        (etc / "resolv.conf").write_text(f"nameserver {nameserver}\noptions timeout:5 attempts:1\n")
        (etc / "hosts").write_text("127.0.0.1 localhost\n")
        (etc / "nsswitch.conf").write_text("hosts: files dns\n")

    def spawn(self, namespace: str, role: str, *args: str) -> subprocess.Popen:
        log = self.logdir / f"{role}.log"
        self.logs[role] = log
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [IP, "netns", "exec", namespace, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)},
            )
        self.procs.append(proc)
        return proc

    def policydns(self, namespace: str, role: str, address: str, *args: str) -> subprocess.Popen:
        """policydns serve in namespace, ready once it logs `listening on` its address."""
        proc = self.spawn(
            namespace, role, sys.executable, "-m", "resolver", "serve", "--no-http",
            "--listen", f"{address}:53", *args,
        )  # fmt: skip
        wait_until(
            lambda: proc.poll() is not None or LISTEN_RE.search(self.logs[role].read_text()),
            f"policydns ({role}) to listen on {address}:53",
            timeout=20,
        )
        assert proc.poll() is None, self.logs[role].read_text()
        return proc

    def exec(self, namespace: str, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
        return run(IP, "netns", "exec", namespace, *args, check=False, timeout=timeout)

    def stop(self, proc: subprocess.Popen) -> None:
        """SIGTERM one of our processes by PID (`ip netns exec` exec()s it: same PID)."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def remove(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)
        for namespace in reversed(self.namespaces):  # its veth ends go with it
            run(IP, "netns", "del", namespace, check=False)
        for etc in self.etc:
            if etc.name == "netns":  # /etc/netns itself, made by us: only if still empty
                try:
                    etc.rmdir()
                except OSError:
                    pass
            else:
                shutil.rmtree(etc, ignore_errors=True)

    def show_logs(self) -> str:
        return "\n".join(
            f"--- {role}:\n{path.read_text(errors='replace')[-3000:]}"
            for role, path in self.logs.items()
            if path.exists()
        )


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    reason = why_not()
    if reason is not None:
        pytest.skip(f"the test network: {reason}")
    net = Network(str(os.getpid()), tmp_path)
    try:
        client = net.add_namespace("c")
        resolver = net.add_namespace("r")
        upstream = net.add_namespace("u")
        net.link(client, CLIENT, resolver, RESOLVER)
        net.link(resolver, "10.53.2.1", upstream, UPSTREAM)
        net.resolv_conf(client, RESOLVER)

        health = tmp_path / "health-root"
        health.mkdir()
        (health / "health").write_text("ok\n")
        net.spawn(
            upstream, "health", sys.executable, "-m", "http.server", "8080",
            "--bind", UPSTREAM, "--directory", str(health),
        )  # fmt: skip
        net.policydns(upstream, "upstream", UPSTREAM, "--zones", str(FIXTURES / "upstream"))
        net.policydns(
            resolver, "resolver", RESOLVER, "--config", str(FIXTURES / "netns-resolver.yaml"),
            "--zones", str(FIXTURES / "netns"), "--log-queries",
        )  # fmt: skip
        yield net
    finally:
        logs = net.show_logs()
        net.remove()
        if logs:
            print(logs)  # shown by pytest when the test failed
    for namespace in net.namespaces:
        assert not Path(f"/run/netns/{namespace}").exists(), f"{namespace} was not removed"


def getent(net: Network, name: str) -> subprocess.CompletedProcess:
    return net.exec(net.name("c"), GETENT or "getent", "hosts", name)


def dig(net: Network, name: str) -> tuple[list[str], int]:
    """dig in the client namespace (its resolv.conf): the header flags and the first TTL."""
    out = net.exec(
        net.name("c"), DIG or "dig", name, "A", "+tries=1", "+time=5",
        "+noall", "+comments", "+answer", "+stats",
    ).stdout  # fmt: skip
    flags = re.search(r"^;; flags: ([a-z ]+);", out, re.M)
    ttl = re.search(rf"^{re.escape(name)}\.\s+(\d+)\s+IN\s+A\s", out, re.M)
    assert flags and ttl and "status: NOERROR" in out and f"SERVER: {RESOLVER}#53" in out, out
    return flags.group(1).split(), int(ttl.group(1))


def test_names_only_the_upstream_knows_resolve_through_policydns(network: Network):
    net = network
    # The client reaches the upstream only through the resolver: no route of its own.
    direct = net.exec(net.name("c"), DIG or "dig", f"@{UPSTREAM}", "www.upstream.test", "+time=1")
    assert "NOERROR" not in direct.stdout, direct.stdout

    # A name only the upstream knows, forwarded; a missing one: getent's exit 2 (not found).
    forwarded = getent(net, "client.fresh.upstream.test")
    assert forwarded.returncode == 0, forwarded.stderr
    assert forwarded.stdout.split()[0] == "203.0.113.20", forwarded.stdout
    assert getent(net, "nope.upstream.test").returncode == 2

    # dig shows RA on a forwarded answer and a TTL that falls on a repeat (the cache).
    flags, ttl = dig(net, "www.upstream.test")
    assert "ra" in flags and "aa" not in flags, flags
    time.sleep(1.2)
    flags, later = dig(net, "www.upstream.test")
    assert "ra" in flags and later < ttl, (flags, ttl, later)
    log = net.logs["resolver"].read_text()
    assert re.search(rf"client={CLIENT} name=www\.upstream\.test\. .*policy=forward", log), log


def test_the_failover_name_flips_when_its_health_target_dies(network: Network):
    """policydns's own zone, with its policy: app.lab.test is the primary while the HTTP
    server in the upstream namespace answers, the secondary once it is gone."""
    net = network
    found = getent(net, "app.lab.test")
    assert found.returncode == 0, found.stderr
    assert found.stdout.split()[0] == "10.53.9.1", found.stdout
    assert getent(net, "nope.lab.test").returncode == 2
    own, _ = dig(net, "gw.lab.test")
    assert "aa" in own and "ra" not in own, own

    net.stop(net.procs[0])  # the health target
    wait_until(
        lambda: getent(net, "app.lab.test").stdout.split()[:1],
        "app.lab.test to fail over to 10.53.9.2",
        timeout=15,
        holds=lambda first: first == ["10.53.9.2"],
        interval=0.3,
    )
