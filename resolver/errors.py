"""Errors of policydns, one root per concern.

LoadError                one problem in a config or zone file, with file and line
LoadFailed(errors)       every LoadError found in one load, raised together
UsageError               bad command-line use (exit code 2)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LoadError:
    """One reason a file cannot be served, printed as `FILE:LINE: WHAT: reason`."""

    file: str
    line: int
    what: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}: {self.reason}"


class LoadFailed(Exception):
    """A config or zone load found errors; nothing of it may be served."""

    def __init__(self, errors: list[LoadError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class UsageError(Exception):
    """The command line itself is wrong."""
