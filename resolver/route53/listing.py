"""ListResourceRecordSets: Route 53's order and its pagination.

Route 53 sorts by DNS name with the labels reversed and a trailing dot, compared as ASCII
text (`com.example.www.`), then by type (ASCII: `A` < `AAAA` < `CNAME`). Choices where its
documentation is silent:

- Labels are compared by their characters, not by their escapes: `*` (`\\052`) sorts as
  the character 42, before `.` and letters, as the documentation's list of characters
  that sort before `.` (it names `*`) implies. A `.` or `\\` inside a label is kept
  escaped in the key, so two names never share one.
- Sets of one name and type (weighted, failover, ...) are ordered by SetIdentifier (ASCII,
  case-sensitive); a simple set has none and comes first.
- MaxItems: default 300; above 300 Route 53 returns 300 (and echoes MaxItems 300), which
  `parse_max_items` reproduces; 0, a negative number or non-digits are InvalidInput.
- A start position is the first set whose (name, type, SetIdentifier) is at or after the
  one given, whether or not a set there exists.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Any

from resolver.route53.batch import name_labels, normalise_name
from resolver.route53.changeshape import RR_TYPES, validation_error
from resolver.route53.errors import Route53Error

RRSet = dict[str, Any]
SortKey = tuple[str, ...]

MAX_ITEMS = 300


def reversed_name(name: str) -> str:
    """The text Route 53 sorts names by: `www.Example.com` -> `com.example.www.`."""
    labels = name_labels(name)
    escaped = (label.replace("\\", "\\\\").replace(".", "\\.") for label in reversed(labels))
    return "".join(label + "." for label in escaped) or "."


def sort_key(rrset: RRSet) -> tuple[str, str, str]:
    """Where a set stands in a listing: (reversed name, type, SetIdentifier or "")."""
    return (reversed_name(rrset["Name"]), rrset["Type"], rrset.get("SetIdentifier") or "")


def parse_max_items(value: str | int | None) -> int:
    """MaxItems as Route 53 applies it: default 300, at most 300."""
    if value is None or value == "":
        return MAX_ITEMS
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise Route53Error.invalid_input(
            f"Invalid request: MaxItems must be a positive integer, not '{value}'"
        )
    return min(int(text), MAX_ITEMS)


def start_key(
    start_name: str | None, start_type: str | None, start_identifier: str | None
) -> SortKey:
    """The key a listing starts at, with Route 53's rules on which parameters go together."""
    if start_type and not start_name:
        raise Route53Error.invalid_input(
            "Invalid request: StartRecordType requires StartRecordName"
        )
    if start_identifier and not (start_name and start_type):
        raise Route53Error.invalid_input(
            "Invalid request: StartRecordIdentifier requires StartRecordName and StartRecordType"
        )
    if start_type and start_type not in RR_TYPES:
        rule = f"Member must satisfy enum value set: [{', '.join(RR_TYPES)}]"
        raise Route53Error.invalid_input(validation_error("type", start_type, rule))
    if not start_name:
        return ()
    key: SortKey = (reversed_name(normalise_name(start_name)),)
    if start_type:
        key += (start_type,)
        if start_identifier:
            key += (start_identifier,)
    return key


def next_fields(rrset: RRSet) -> dict[str, str]:
    """The Next* fields that point at `rrset` as the first set of the next page."""
    out = {"NextRecordName": rrset["Name"], "NextRecordType": rrset["Type"]}
    if rrset.get("SetIdentifier"):
        out["NextRecordIdentifier"] = rrset["SetIdentifier"]
    return out


def page(
    rrsets_sorted: list[RRSet],
    start_name: str | None = None,
    start_type: str | None = None,
    start_identifier: str | None = None,
    max_items: str | int | None = None,
) -> tuple[list[RRSet], dict[str, str] | None]:
    """One page of a list sorted by `sort_key`, and the Next* fields (None on the last
    page). O(log n + page): keys are computed only for the probes of the binary search."""
    size = parse_max_items(max_items)
    first = bisect.bisect_left(
        rrsets_sorted, start_key(start_name, start_type, start_identifier), key=sort_key
    )
    items = rrsets_sorted[first : first + size]
    follows = first + size
    return items, (next_fields(rrsets_sorted[follows]) if follows < len(rrsets_sorted) else None)


class Listing:
    """A zone's sets in listing order with their keys precomputed, for fast pages and
    updates of a few names (a change batch) without re-sorting everything."""

    def __init__(self, rrsets: Iterable[RRSet] = ()) -> None:
        pairs = sorted(((sort_key(s), s) for s in rrsets), key=lambda pair: pair[0])
        self._keys: list[SortKey] = [key for key, _ in pairs]
        self._sets: list[RRSet] = [s for _, s in pairs]

    def __len__(self) -> int:
        return len(self._sets)

    def __iter__(self) -> Any:
        return iter(self._sets)

    def page(
        self,
        start_name: str | None = None,
        start_type: str | None = None,
        start_identifier: str | None = None,
        max_items: str | int | None = None,
    ) -> tuple[list[RRSet], dict[str, str] | None]:
        """Like `page`, in O(log n + page)."""
        size = parse_max_items(max_items)
        first = bisect.bisect_left(self._keys, start_key(start_name, start_type, start_identifier))
        follows = first + size
        items = self._sets[first:follows]
        return items, (next_fields(self._sets[follows]) if follows < len(self._sets) else None)

    def replace_name(self, name: str, rrsets: Iterable[RRSet]) -> None:
        """Make `rrsets` the sets at `name` (all types; empty removes the name)."""
        prefix = reversed_name(name)
        low = bisect.bisect_left(self._keys, (prefix,))
        high = bisect.bisect_left(self._keys, (prefix, "\U0010ffff"), lo=low)
        pairs = sorted(((sort_key(s), s) for s in rrsets), key=lambda pair: pair[0])
        if any(key[0] != prefix for key, _ in pairs):
            raise ValueError(f"a set given for {name} has another name")
        self._keys[low:high] = [key for key, _ in pairs]
        self._sets[low:high] = [s for _, s in pairs]

    def update(self, names: dict[str, list[RRSet]]) -> None:
        """Apply `apply_changes`' result: the new sets of every touched name."""
        for name, rrsets in names.items():
            self.replace_name(name, rrsets)
