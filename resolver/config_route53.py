"""The config's `route53:` section (SPEC 3): the state directory and the access keys.

Each secret is read from its own file when the config loads, so a reload picks up a
rotated secret and the config itself can stay public.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from resolver.config_reader import SectionReader
from resolver.route53.settings import Route53Settings
from resolver.zones.yamlsource import SourceDict

# AWS issues access key ids of 16 to 128 word characters; shorter ones (SPEC 3 writes
# AKIAEXAMPLEKEY) are accepted, as the key id is only a name for the secret.
ACCESS_KEY_RE = re.compile(r"\w{1,128}", re.ASCII)
MIN_SECRET_LENGTH = 16


class Route53Section(SectionReader):
    def _route53(self, value: Any, line: int, out: dict) -> None:
        if value is None:
            return
        if not self._mapping(
            value,
            line,
            "route53",
            {"state_dir", "credentials"},
            "must be {state_dir: DIR, credentials: {KEY_ID: FILE}}",
        ):
            return
        where = value.line_of if isinstance(value, SourceDict) else (lambda key: line)
        state_dir = value.get("state_dir")
        ok = True
        if not isinstance(state_dir, str) or not state_dir.strip():
            self.error(where("state_dir"), "route53.state_dir", "a directory name is required")
            ok = False
        credentials = value.get("credentials")
        secrets: dict[str, str] = {}
        if not isinstance(credentials, dict) or not credentials:
            self.error(
                where("credentials"),
                "route53.credentials",
                "must map one or more access key ids to the files holding their secrets",
            )
            return
        for key_id, file in credentials.items():
            at = credentials.line_of(key_id) if isinstance(credentials, SourceDict) else line
            what = f"route53.credentials.{key_id}"
            if not isinstance(key_id, str) or not ACCESS_KEY_RE.fullmatch(key_id):
                self.error(at, what, "an access key id is 1 to 128 letters, digits or _")
                ok = False
                continue
            secret = self._secret_file(file, at, what, MIN_SECRET_LENGTH, "the secret")
            if secret is None:
                ok = False
            else:
                secrets[key_id] = secret
        if ok and isinstance(state_dir, str):
            path = Path(state_dir)
            if not path.is_absolute():
                path = self.base / path
            out["route53"] = Route53Settings(str(path), secrets)
