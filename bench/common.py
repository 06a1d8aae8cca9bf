"""Shared helpers for the benchmarks: start policydns pinned to a core, read its CPU time,
run dnsperf and parse what it prints. Only public tools: dnsperf (Debian) and taskset."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LISTEN = re.compile(r"listening on udp\+tcp 127\.0\.0\.1:(\d+)")
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


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and its worker processes so far (from /proc)."""
        pid = self.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0
        for each in (pid, *map(int, children)):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / TICKS

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(
    args: list[str],
    log: Path,
    core: int | None = 1,
    timeout: float = 60,
    cmd: list[str] | None = None,
) -> Server:
    """policydns serve ARGS (or another server's command line), pinned to `core`."""
    if cmd is None:
        cmd = [sys.executable, "-m", "resolver", "serve", "--listen", "127.0.0.1:0", "--no-http"]
        cmd += args
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    out = open(log, "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
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
) -> PerfResult:
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
    if verbose:
        cmd.append("-v")
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    latencies = [float(m) * 1000 for m in re.findall(r"^> \S+ .* (\d+\.\d+)$", out, re.M)]

    def number(label: str) -> float:
        found = re.search(rf"{label}:\s+([\d.]+)", out)
        return float(found.group(1)) if found else 0.0

    return PerfResult(
        int(number("Queries sent")),
        int(number("Queries completed")),
        int(number("Queries lost")),
        number("Queries per second"),
        latencies,
    )
