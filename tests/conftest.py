"""Shared fixtures: the real server on 127.0.0.1 port 0, serving tests/fixtures/zones/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serverproc import ZONES, ServerProcess


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the session, serving the fixture zones (read-only tests share it)."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    proc = ServerProcess(["--zones", str(ZONES), "--listen", "127.0.0.1:0", "--no-http"])
    proc.start(log)
    yield proc
    proc.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    """Start a server with custom arguments; stopped after the test."""
    started: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        proc = ServerProcess(list(args))
        proc.start(tmp_path / f"server{len(started)}.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
