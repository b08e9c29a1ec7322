"""Text as the search and the sort keys see it: folded (lower case, no accents, spaces collapsed), and
LIKE patterns that take a term literally."""

from __future__ import annotations

import unicodedata


class _CombiningMarks(dict[int, int | None]):
    """For `str.translate`: combining marks deleted, other characters kept (each decided once)."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.combining(chr(code)) else code
        self[code] = value
        return value


_MARKS = _CombiningMarks()


def fold(text: str | None) -> str:
    """Lower case without accents, spaces collapsed: how the search and the sort keys see text."""
    if not text:
        return ""
    if text.isascii():  # nothing to decompose (most names, cities and identifiers)
        return " ".join(text.lower().split())
    stripped = unicodedata.normalize("NFKD", text).translate(_MARKS)
    return " ".join(stripped.lower().replace("œ", "oe").replace("æ", "ae").split())


def contains_pattern(term: str) -> str:
    """A LIKE pattern (escape character `\\`) for text containing `term` taken literally."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
