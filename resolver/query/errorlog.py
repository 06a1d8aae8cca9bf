"""Internal errors on the query path, logged rate-limited: a client could trigger one at will."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("policydns.handler")


class ErrorLog:
    """When to log an internal error: the first of each interval with its traceback, the
    rest only counted, the count reported with the next one logged after the interval.

    `decide` is pure (the caller passes the clock) so it can be tested without logging or
    time. A packet that triggers a bug can be sent at line rate; a traceback for each would
    cost more than the answer and flood the log.
    """

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._since: float | None = None  # when the current interval began
        self._missed = 0

    def decide(self, now: float) -> tuple[bool, int]:
        """(log this one in full?, errors suppressed since the last one logged in full)."""
        if self._since is not None and now - self._since < self.interval:
            self._missed += 1
            return False, 0
        missed, self._missed, self._since = self._missed, 0, now
        return True, missed

    def report(self, source: str) -> None:
        """Log the exception being handled, answering a query from `source`, if its turn."""
        full, missed = self.decide(time.monotonic())
        if missed:
            log.error(
                "%d more internal errors in the %.0f s after the last one logged in full",
                missed,
                self.interval,
            )
        if full:
            log.exception("internal error answering a query from %s", source)
