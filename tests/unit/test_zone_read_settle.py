"""A zone file caught while it is written in place is not loaded half-written.

settle_delay decides from two stats and the clock; the file tests write real files from a
thread, the way an editor saving in place does, and read them with the real loader.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from resolver.errors import LoadFailed
from resolver.wire import names
from resolver.zones import settled
from resolver.zones.check import load_zone_set
from resolver.zones.load import read_zone_file
from resolver.zones.settled import SETTLE_SECONDS, FileStamp, settle_delay

pytestmark = pytest.mark.timeout(30)

SECOND = 1_000_000_000
NOW = 1_800_000_000 * SECOND
OLD = FileStamp(size=100, mtime_ns=NOW - 3600 * SECOND, inode=7)
HOSTS = 20


# -- the decision ----------------------------------------------------------------------------


def test_unchanged_old_file_is_trusted_at_once():
    assert settle_delay(OLD, OLD, NOW) == 0.0


def test_old_enough_by_exactly_the_settle_time_is_trusted():
    stamp = OLD._replace(mtime_ns=NOW - int(SETTLE_SECONDS * SECOND))
    assert settle_delay(stamp, stamp, NOW) == 0.0


@pytest.mark.parametrize(
    "after",
    [OLD._replace(size=50), OLD._replace(mtime_ns=OLD.mtime_ns + 1), OLD._replace(inode=8)],
    ids=["size", "mtime", "inode"],
)
def test_change_during_the_read_waits_a_settle(after: FileStamp):
    assert settle_delay(OLD, after, NOW) == SETTLE_SECONDS


@pytest.mark.parametrize("age", [0.0, 0.1, 0.29, -0.1])
def test_recent_mtime_waits_until_it_is_settle_old(age: float):
    """Written `age` s ago (negative: a little in the future, i.e. clock skew)."""
    stamp = OLD._replace(mtime_ns=NOW - int(age * SECOND))
    delay = settle_delay(stamp, stamp, NOW)
    assert SETTLE_SECONDS - age <= delay <= SETTLE_SECONDS - age + 0.02
    later = NOW + int(delay * SECOND)
    assert settle_delay(stamp, stamp, later) == 0.0  # after the wait, the same file is trusted


def test_mtime_far_in_the_future_is_not_a_writer_at_work():
    """A wrong clock must not make a file unloadable: only the read's own stats count."""
    stamp = OLD._replace(mtime_ns=NOW + 3600 * SECOND)
    assert settle_delay(stamp, stamp, NOW) == 0.0


# -- real files ------------------------------------------------------------------------------


def host_line(i: int) -> str:
    return f"  h{i}: [{{type: A, values: [192.0.2.{i + 1}]}}]\n"


HEAD = "zone: settle.test\nttl: 60\nrecords:\n"
FIRST_HALF = HEAD + "".join(host_line(i) for i in range(HOSTS // 2))
SECOND_HALF = "".join(host_line(i) for i in range(HOSTS // 2, HOSTS))


def hosts_of(path: Path) -> int:
    draft, errors = read_zone_file(path)
    assert errors == [] and draft is not None, errors
    return sum(1 for owner in draft.nodes if names.to_text(owner).startswith("h"))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every sleep the loader takes (still really slept)."""
    taken: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        taken.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(settled.time, "sleep", sleep)
    return taken


def test_old_file_loads_without_waiting(tmp_path: Path, sleeps: list[float]):
    """Files nobody is writing cost `check` and start-up no settle time."""
    path = tmp_path / "settle.yaml"
    path.write_text(FIRST_HALF + SECOND_HALF)
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    assert hosts_of(path) == HOSTS
    assert sleeps == []


def test_file_read_between_two_writes_loads_whole(tmp_path: Path):
    """An editor writing in place: the first half is there (valid YAML on its own), the rest
    follows 0.15 s later. The loader must see all of it, not the half."""
    path = tmp_path / "settle.yaml"
    path.write_text(FIRST_HALF)

    def finish() -> None:
        time.sleep(0.15)
        with path.open("a") as f:
            f.write(SECOND_HALF)

    writer = threading.Thread(target=finish)
    writer.start()
    try:
        assert hosts_of(path) == HOSTS
    finally:
        writer.join()


@pytest.fixture
def busy_file(tmp_path: Path) -> Iterator[Path]:
    """A zone file that a thread keeps appending to every 50 ms until the test ends."""
    path = tmp_path / "settle.yaml"
    path.write_text(FIRST_HALF)
    stop = threading.Event()

    def scribble() -> None:
        n = 0
        while not stop.wait(0.05):
            n += 1
            with path.open("a") as f:
                f.write(f"# still writing {n}\n")

    writer = threading.Thread(target=scribble)
    writer.start()
    yield path
    stop.set()
    writer.join()


def test_file_that_keeps_changing_is_an_error_not_a_partial_zone(busy_file: Path):
    started = time.monotonic()
    draft, errors = read_zone_file(busy_file)
    assert draft is None
    assert [(e.file, e.what) for e in errors] == [(str(busy_file), "zone")]
    assert "kept changing" in errors[0].reason and "rename" in errors[0].reason
    assert time.monotonic() - started < 5  # bounded: it gives up


def test_changing_file_fails_the_whole_load(busy_file: Path):
    """A reload that meets such a file fails as a whole, so the old zones keep serving."""
    with pytest.raises(LoadFailed) as info:
        load_zone_set([str(busy_file.parent)])
    assert any("kept changing" in e.reason for e in info.value.errors)
