"""Start the real `policydns serve` as a child process on an ephemeral loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.dnshelp import wait_until

LISTEN_RE = re.compile(r"listening on udp\+tcp (\[[0-9a-f:]+\]|[0-9.]+):(\d+)")
HTTP_RE = re.compile(r"http api on (\[[0-9a-f:]+\]|[0-9.]+):(\d+)")
REPO = Path(__file__).resolve().parent.parent
# The zones the tests serve: copies, so that editing an example in zones/ changes no test.
ZONES = REPO / "tests" / "fixtures" / "zones"
EXAMPLES = REPO / "zones"  # the shipped examples; one test checks that they serve


def run_cli(*args: str, cwd: Path = REPO, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m resolver ARGS` (this tree's, from any cwd) and capture its output."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "resolver", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class ServerProcess:
    """A running server; `port`/`host` come from its own `listening on` log lines."""

    args: list[str]
    proc: subprocess.Popen | None = None
    host: str = "127.0.0.1"
    port: int = 0
    addresses: list[tuple[str, int]] = field(default_factory=list)
    log_path: Path | None = None

    def start(self, log_path: Path, timeout: float = 15.0) -> ServerProcess:
        self.log_path = log_path
        log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "resolver", "serve", *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            found = LISTEN_RE.findall(text)
            wanted = sum(1 for a in self.args if a == "--listen") or 1
            if len(found) >= wanted:
                self.addresses = [(h.strip("[]"), int(p)) for h, p in found]
                self.host, self.port = self.addresses[0]
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log()}")

    def http_port(self, timeout: float = 10.0) -> int:
        """The HTTP API's port, from the `http api on` log line (logged after the DNS ones)."""
        found = wait_until(
            lambda: HTTP_RE.search(self.log()), "the `http api on` log line", timeout
        )
        return int(found.group(2))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> int | None:
        """SIGTERM our own child by PID; kill it if it does not exit."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=5)
