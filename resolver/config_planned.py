"""The config's sections for features still to land (the query log):
checked for shape now, so a config written today keeps loading."""

from __future__ import annotations

from typing import Any

from resolver.config_reader import SectionReader


class PlannedSections(SectionReader):
    """Readers of the sections whose features are planned (see config.NOT_IMPLEMENTED)."""

    def _query_log(self, value: Any, line: int, out: dict) -> None:
        if not self._mapping(
            value, line, "query_log", {"format", "file"}, "must be {format: ..., file: ...}"
        ):
            return
        if value.get("format", "native") not in ("native", "route53"):
            self.error(line, "query_log.format", "must be native or route53")
        if not isinstance(value.get("file"), str | None):
            self.error(line, "query_log.file", "must be a file name or null")
