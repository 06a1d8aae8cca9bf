"""Shared helpers for the benchmarks: start policydns pinned to a core, read its CPU time,
run dnsperf and parse what it prints, build query files in dnsperf's binary (-B) format.
Only public tools: dnsperf (Debian) and taskset."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dnslib import EDNS0, QTYPE, RCODE, DNSRecord, EDNSOption

REPO = Path(__file__).resolve().parent.parent
LISTEN = re.compile(r"listening on udp(?:\+tcp)? 127\.0\.0\.1:(\d+)")
TICKS = os.sysconf("SC_CLK_TCK")


def ensure_dnsperf() -> str:
    """dnsperf from Debian, installed on first use."""
    path = shutil.which("dnsperf")
    if path is None:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "dnsperf"], check=True)
        path = shutil.which("dnsperf")
    assert path is not None
    return path


def address_for(name: str) -> str:
    """The fixed address the baselines answer for NAME (n17.bench.test -> 192.0.2.18): the
    first value policydns serves for it in the generated zone."""
    digits = re.match(r"[a-z]+(\d+)", name.lower())
    return f"192.0.2.{int(digits.group(1)) % 250 + 1 if digits else 254}"


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (DNS servers bind both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")


def wire_query(name: str, subnet: str | None = None, qtype: str = "A") -> bytes:
    """NAME QTYPE as dnslib builds it (RD set, ID 0: dnsperf writes its own), and with SUBNET
    (e.g. "10.1.2.0/24") an EDNS0 OPT record carrying that EDNS Client Subnet (option 8,
    family 1, scope 0, the address cut to the source prefix)."""
    query = DNSRecord.question(name, qtype)
    query.header.id = 0
    if subnet is not None:
        network = ipaddress.ip_network(subnet)
        length = network.prefixlen
        data = struct.pack("!HBB", 1, length, 0) + network.network_address.packed[: -(-length // 8)]
        query.add_ar(EDNS0(udp_len=1232, opts=[EDNSOption(8, data)]))
    return bytes(query.pack())


def write_queries(path: Path, queries: Iterable[bytes]) -> int:
    """A dnsperf -B file: every message preceded by its 2-byte big-endian length."""
    count = 0
    with open(path, "wb") as out:
        for wire in queries:
            out.write(struct.pack("!H", len(wire)) + wire)
            count += 1
    return count


def read_queries(path: Path) -> list[bytes]:
    """The messages of a dnsperf -B file."""
    data = Path(path).read_bytes()
    out, at = [], 0
    while at + 2 <= len(data):
        (length,) = struct.unpack_from("!H", data, at)
        out.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    return out


def ask(port: int, name: str, subnet: str | None = None, timeout: float = 1) -> DNSRecord:
    """One UDP query to 127.0.0.1:PORT (for readiness and sanity checks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(timeout)
        udp.sendto(wire_query(name, subnet), ("127.0.0.1", port))
        return DNSRecord.parse(udp.recv(65535))


def answers(reply: DNSRecord) -> str:
    """RCODE and A addresses of a reply, e.g. "NOERROR 192.0.2.1"."""
    found = [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]
    return " ".join([RCODE.get(reply.header.rcode), *found])


def find_program(name: str) -> str | None:
    """NAME on PATH, or in the sbin directories a non-root PATH may lack."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and all its descendants so far."""
        return sum(self.cpu_by_process().values())

    def context_switches(self) -> int:
        """Voluntary and involuntary context switches of the server's processes so far."""
        return sum(
            int(line.split()[1])
            for status in statuses(process_tree(self.proc.pid))
            for line in status.splitlines()
            if "ctxt_switches" in line
        )

    def cpu_by_process(self) -> dict[int, float]:
        """CPU seconds of the server and each descendant (worker processes; NSD forks
        grandchildren), from /proc; stat covers every thread of a process."""
        seconds = {}
        for pid in process_tree(self.proc.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # exited meanwhile
                continue
            seconds[pid] = (int(fields[11]) + int(fields[12])) / TICKS
        return seconds

    def rss_kib(self) -> int:
        """Resident memory (VmRSS, KiB) of the server and all its descendants now; 0 once
        they have exited."""
        return rss_kib(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def process_tree(pid: int) -> list[int]:
    """pid and every descendant still running (worker processes; NSD forks
    grandchildren), breadth first, from /proc."""
    pids = [pid]
    for each in pids:  # grows as it goes
        try:
            tasks = list(Path(f"/proc/{each}/task").iterdir())
        except OSError:  # exited meanwhile
            continue
        for task in tasks:
            try:
                pids += map(int, (task / "children").read_text().split())
            except OSError:
                pass
    return pids


def statuses(pids: Iterable[int]) -> list[str]:
    """/proc/PID/status of each process still running."""
    out = []
    for pid in pids:
        try:
            out.append(Path(f"/proc/{pid}/status").read_text())
        except OSError:
            continue
    return out


def rss_kib(pid: int) -> int:
    """Resident memory (VmRSS, KiB) of pid and all its descendants now; 0 once exited."""
    found = (re.search(r"^VmRSS:\s+(\d+)", status, re.M) for status in statuses(process_tree(pid)))
    return sum(int(match.group(1)) for match in found if match)


def start_server(
    args: list[str],
    log: Path,
    core: int | str | None = 1,
    timeout: float = 60,
    cmd: list[str] | None = None,
    probe: tuple[int, str] | None = None,
    checkout: Path | None = None,
) -> Server:
    """policydns serve ARGS (or another server's command line), pinned to `core`.

    Ready when the log says "listening on udp+tcp 127.0.0.1:PORT", or, for a server that
    does not say so, when `probe` (port, name) answers a query for the name with NOERROR.
    `checkout`: run policydns from that source tree (another commit, for a baseline)."""
    if cmd is None:
        cmd = [sys.executable, "-m", "resolver", "serve", "--listen", "127.0.0.1:0", "--no-http"]
        cmd += args
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    out = open(log, "wb")  # noqa: SIM115 - lives as long as the server
    env = None
    if checkout is not None:
        env = {**os.environ, "PYTHONPATH": str(checkout)}
    proc = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, cwd=checkout or REPO, env=env
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe is not None:
            try:
                if ask(probe[0], probe[1], timeout=0.2).header.rcode == 0:
                    return Server(proc, probe[0], log)
            except OSError:  # refused or timed out: not up yet
                pass
        else:
            found = LISTEN.search(log.read_text(errors="replace"))
            if found:
                return Server(proc, int(found.group(1)), log)
        if proc.poll() is not None:
            raise RuntimeError(log.read_text())
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


@dataclass
class PerfResult:
    sent: int
    completed: int
    lost: int
    qps: float
    latencies_ms: list[float]
    rcodes: dict[str, int] = field(default_factory=dict)  # "Response codes:" of dnsperf

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99_ms(self) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def dnsperf(
    port: int,
    queries: Path,
    seconds: float,
    rate: int | None = None,
    core: int | None = 0,
    extra: list[str] | None = None,
    verbose: bool = True,
    binary: bool = False,
    passes: int | None = None,
) -> PerfResult:
    """dnsperf against 127.0.0.1:PORT for SECONDS (at most `passes` times through the
    file if given); `binary`: QUERIES is a -B file of wire messages, not "name type" lines."""
    cmd = [
        ensure_dnsperf(),
        "-s",
        "127.0.0.1",
        "-p",
        str(port),
        "-d",
        str(queries),
        "-l",
        str(seconds),
        "-c",
        "1",
        "-q",
        "200",
        "-t",
        "2",
        *(extra or []),
    ]
    if rate:
        cmd += ["-Q", str(rate)]
    if binary:
        cmd.append("-B")
    if passes is not None:
        cmd += ["-n", str(passes)]
    if verbose:
        cmd.append("-v")
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    latencies = [float(m) * 1000 for m in re.findall(r"^> \S+ .* (\d+\.\d+)$", out, re.M)]

    def number(label: str) -> float:
        found = re.search(rf"{label}:\s+([\d.]+)", out)
        return float(found.group(1)) if found else 0.0

    codes = re.search(r"^\s*Response codes:(.*)$", out, re.M)
    rcodes = {
        code: int(count)
        for code, count in re.findall(r"([A-Z]+) (\d+) \(", codes.group(1) if codes else "")
    }
    return PerfResult(
        int(number("Queries sent")),
        int(number("Queries completed")),
        int(number("Queries lost")),
        number("Queries per second"),
        latencies,
        rcodes,
    )
