"""RFC 1035 escapes, read the same in names and in character-strings (names.unescape_at)."""

from __future__ import annotations

import pytest

from resolver.wire import names
from resolver.wire.presentation import RdataError, char_string


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("a\\.b.example.", (b"a.b", b"example")),
        ("\\065pple.", (b"apple",)),
        ("x\\032y.", (b"x y",)),
        ("back\\\\.", (b"back\\",)),
        ("rel\\.", (b"rel.", b"zone")),  # an escaped dot does not make a name absolute
    ],
)
def test_escapes_in_names(text: str, labels: tuple[bytes, ...]) -> None:
    name = names.from_text(text, (b"zone",))
    assert name == labels
    assert names.from_text(names.to_text(name)) == name


@pytest.mark.parametrize("text", ["a\\25", "a\\256.", "a\\", "a\\1x2."])
def test_bad_escapes_in_names_are_refused(text: str) -> None:
    with pytest.raises(names.NameError_):
        names.from_text(text)


def test_the_same_escape_reads_the_same_in_a_string() -> None:
    assert char_string('"\\065\\"\\\\x"', "t") == b'A"\\x'
    for bad in ('"\\256"', "a\\"):
        with pytest.raises(RdataError):
            char_string(bad, "t")
