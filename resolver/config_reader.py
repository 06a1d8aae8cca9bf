"""What every section reader of the config file shares: errors at their lines, and the
shape checks most sections start with."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

from resolver.errors import LoadError
from resolver.serve.listen import ListenAddress, parse_address
from resolver.zones.yamlsource import SourceDict


class SectionReader:
    """The base of the config reader's section mixins; the reader sets these fields."""

    file: str
    base: Path  # relative file names in the config are relative to its directory
    errors: list[LoadError]

    def error(self, line: int, what: str, reason: str) -> None:
        self.errors.append(LoadError(self.file, line, what, reason))

    def _secret_file(
        self, value: Any, line: int, what: str, min_length: int, noun: str
    ) -> str | None:
        """A secret read from a file (whitespace-stripped), so the config can stay public;
        None after the error.

        A relative name is resolved against $CREDENTIALS_DIRECTORY when that is set (systemd
        LoadCredential=), else against the config file's directory.
        """
        if not isinstance(value, str) or not value.strip():
            self.error(line, what, "must be a file name")
            return None
        path = Path(value)
        if not path.is_absolute():
            credentials = os.environ.get("CREDENTIALS_DIRECTORY")
            path = (Path(credentials) if credentials else self.base) / path
        try:
            with open(path, "rb") as handle:
                raw = handle.read(4097)
            text = raw.decode("utf-8")
        except OSError as exc:
            self.error(line, what, f"cannot read {path}: {exc.strerror or exc}")
            return None
        except UnicodeDecodeError:
            self.error(line, what, f"{path}: {noun} must be UTF-8 text")
            return None
        secret = text.strip()
        if len(raw) > 4096:
            self.error(line, what, f"{path}: too long for {noun}")
        elif len(secret) < min_length:
            self.error(
                line,
                what,
                f"{path}: {noun} must be at least {min_length} characters, found {len(secret)}",
            )
        elif any(c.isspace() or not c.isprintable() for c in secret):
            self.error(
                line, what, f"{path}: one {noun.removeprefix('the ')}, without spaces inside"
            )
        else:
            return secret
        return None

    def _addresses(
        self, value: Any, line: int, what: str, default_port: int | None = None
    ) -> tuple[ListenAddress, ...]:
        """ADDR:PORT items (IPv6 as [ADDR]:PORT); with default_port, a bare ADDR too."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            self.error(line, what, "must be a list of ADDR:PORT")
            return ()
        result = []
        for item in items:
            try:
                result.append(parse_address(item))
            except ValueError as exc:
                bare = _bare_address(item) if default_port is not None else None
                if bare is None:
                    self.error(line, what, str(exc))
                else:
                    result.append(ListenAddress(bare, default_port or 0))
        return tuple(result)

    def _cidr(self, item: Any, line: int, what: str) -> str | None:
        """The CIDR block (no host bits) item names, normalized; None after the error."""
        try:
            return str(ipaddress.ip_network(str(item), strict=True))
        except ValueError as exc:
            self.error(line, what, f"bad CIDR {item!r}: {exc}")
            return None

    def _cidr_list(self, value: Any, line: int, what: str) -> tuple[str, ...]:
        """A list of CIDR blocks, as written; each bad one is an error."""
        if not isinstance(value, list):
            self.error(line, what, "must be a list of CIDR blocks")
            return ()
        for item in value:
            self._cidr(item, line, what)
        return tuple(str(item) for item in value)

    def _mapping(self, value: Any, line: int, what: str, allowed: set[str], shape: str) -> bool:
        """Is value a mapping of allowed keys? Each unknown key is an error at its own line."""
        if not isinstance(value, dict):
            self.error(line, what, shape)
            return False
        unknown = [key for key in value if key not in allowed]
        for key in unknown:
            where = value.line_of(key) if isinstance(value, SourceDict) else line
            self.error(where, f"{what}.{key}", f"unknown key {key!r}")
        return not unknown


def _bare_address(item: Any) -> str | None:
    """An IP address written without a port (IPv6 with or without brackets), else None."""
    text = str(item).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
