"""Reading a file that an editor may be writing in place, only once it holds still."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import NamedTuple

# A zone file written in place (not renamed over) can be read half-written, and cut at a
# line boundary it is still valid YAML. So a read is trusted only if the file did not change
# while it was read and had not changed for SETTLE_SECONDS before; else it is read again.
SETTLE_SECONDS = 0.3
SETTLE_READS = 6  # reads of one file before it counts as still being written


class FileStamp(NamedTuple):
    """What changes when a file is written or replaced."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileStamp:
        return cls(stat.st_size, stat.st_mtime_ns, stat.st_ino)


def settle_delay(before: FileStamp, after: FileStamp, now_ns: int) -> float:
    """Seconds to wait before reading a file again; 0.0 when the text read can be trusted.

    `before` and `after` are stamps taken around the read, `now_ns` the wall clock just
    after it. A change during the read, or an mtime less than SETTLE_SECONDS from now
    (either way: a little in the future is clock skew, not an old file), means a writer
    may be at work. The wait lasts until the mtime is SETTLE_SECONDS old, so files written
    together cost one wait, and files not written lately none.
    """
    if before != after:
        return SETTLE_SECONDS
    age = (now_ns - after.mtime_ns) / 1e9
    if -SETTLE_SECONDS < age < SETTLE_SECONDS:
        return SETTLE_SECONDS - age + 0.01
    return 0.0


class StillChanging(Exception):
    """The file kept changing over every settle read."""


def read(path: Path) -> tuple[str, os.stat_result]:
    """The file's text once it holds still, and its stat (see settle_delay).

    Decoded only then: a file cut inside a UTF-8 sequence is half-written, not broken.
    """
    for _ in range(SETTLE_READS):
        before = os.stat(path)
        data = path.read_bytes()
        after = os.stat(path)
        delay = settle_delay(FileStamp.of(before), FileStamp.of(after), time.time_ns())
        if delay == 0.0:
            text = data.decode("utf-8")  # newlines translated as read_text does
            return text.replace("\r\n", "\n").replace("\r", "\n"), after
        time.sleep(delay)
    raise StillChanging
