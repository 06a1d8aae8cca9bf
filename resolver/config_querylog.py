"""The config's `query_log:` section (SPEC 3): the line format and where lines go.

A `query_log:` section turns the query log on; `--log-queries` turns it on with the
section's settings, or the defaults (native lines on stderr) when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resolver.config_reader import SectionReader

FORMATS = ("native", "route53")


@dataclass(frozen=True, slots=True)
class QueryLogSettings:
    """The query log's format and file (None: stderr)."""

    format: str = "native"
    file: str | None = None


class QueryLogSection(SectionReader):
    def _query_log(self, value: Any, line: int, out: dict) -> None:
        if value is None:
            value = {}
        if not self._mapping(
            value, line, "query_log", {"format", "file"}, "must be {format: ..., file: ...}"
        ):
            return
        fmt = value.get("format", "native")
        file = value.get("file")
        ok = True
        if fmt not in FORMATS:
            self.error(line, "query_log.format", "must be native or route53")
            ok = False
        if not isinstance(file, str | None) or file == "":
            self.error(line, "query_log.file", "must be a file name or null")
            ok = False
        elif file is not None:
            path = Path(file) if Path(file).is_absolute() else self.base / file
            try:  # a file that cannot be opened at start is a config error with its line
                with open(path, "a", encoding="utf-8"):
                    pass
            except OSError as exc:
                self.error(line, "query_log.file", f"cannot open {path}: {exc.strerror}")
                ok = False
            file = str(path)
        if ok:
            out["query_log"] = QueryLogSettings(fmt, file)
