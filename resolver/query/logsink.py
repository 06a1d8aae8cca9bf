"""Where query-log lines go: a file opened for append (reopened on SIGUSR1, for log
rotation) or stderr.

Lines are written to a bounded in-memory batch and flushed by the event loop soon after,
so a slow disk never blocks the query path; when the batch is full, lines are dropped and
counted (`dropped`, and the metric DROPPED_FAMILY by reason) rather than growing memory.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger("policydns")

MAX_PENDING = 10000  # lines held before a flush; beyond it lines are dropped and counted
# metrics.EVENT_FAMILIES: label reason, "full" (the batch) or "write_error" (the file).
DROPPED_FAMILY = "policydns_query_log_dropped_lines"


class LogSink:
    """One process's query-log output."""

    def __init__(
        self, file: str | None, count: Callable[[str, str, int], None] | None = None
    ) -> None:
        self.file = file
        self._count = count  # Metrics.count, for the dropped lines
        self.stream: TextIO = self._open() if file is not None else sys.stderr
        self.pending: list[str] = []
        self.dropped = 0
        self._scheduled = False

    def _open(self) -> TextIO:
        assert self.file is not None
        return open(self.file, "a", encoding="utf-8", buffering=1 << 16)

    def write(self, line: str) -> None:
        """Queue one line; the loop flushes the batch once this query's work is done."""
        if len(self.pending) >= MAX_PENDING:
            self._drop("full", 1)
            return
        self.pending.append(line)
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (tests, check): write now
                self.flush()

    def flush(self) -> None:
        """Write and flush the batch: a crash loses at most the lines of one loop pass."""
        self._scheduled = False
        if not self.pending:
            return
        lines, self.pending = self.pending, []
        try:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        except (OSError, ValueError) as exc:
            self._drop("write_error", len(lines))
            log.error("query log: cannot write %s: %s", self.file or "stderr", exc)

    def _drop(self, reason: str, n: int) -> None:
        self.dropped += n
        if self._count is not None:
            self._count(DROPPED_FAMILY, reason, n)

    def reopen(self) -> None:
        """Open the file again (SIGUSR1 after rotation); on failure keep the old handle."""
        if self.file is None:
            return
        self.flush()
        try:
            stream = self._open()
        except OSError as exc:
            log.error("query log: cannot reopen %s: %s; keeping the old file", self.file, exc)
            return
        old, self.stream = self.stream, stream
        old.close()
        log.info("query log: reopened %s", self.file)

    def close(self) -> None:
        self.flush()
        if self.file is not None:
            self.stream.close()
