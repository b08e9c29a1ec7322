"""Text as the search and the sort keys see it: folded (lower case, no accents, spaces collapsed), and
LIKE patterns that take a term literally."""

from __future__ import annotations

import re
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


#: What separates the words of a name, typed one way or another: "sainte marie", "Sainte-Marie" and
#: "Sainte‑Marie" are one name, "l'Hôpital" and "l’Hôpital" too.
_SEPARATORS = re.compile(r"[\s'’‘ʼ\-‐‑‒–—]+")


def contains_pattern(term: str) -> str:
    """A LIKE pattern (escape character `\\`) for text containing `term` taken literally, except that
    a space, a hyphen or an apostrophe matches any one of them."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%" + _SEPARATORS.sub("_", escaped) + "%"


def prefix_end(prefix: str) -> str:
    """The first text after every text that starts with `prefix` (not empty): `value >= prefix AND value <
    prefix_end(prefix)` finds them through a plain index, on both databases."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def leading_word(term: str) -> str:
    """What `term` holds before its first space, hyphen or apostrophe ("" when it starts with one)."""
    return _SEPARATORS.split(term, maxsplit=1)[0]


def words(term: str) -> list[str]:
    """The words of `term`, split at spaces, hyphens and apostrophes."""
    return [word for word in _SEPARATORS.split(term) if word]


def word_patterns(term: str) -> list[str]:
    """One LIKE pattern (escape character `\\`) per word of `term`: a text matching them all holds every
    word, in any order ("dupont jean" and "Jean-Dupont" both find "jean | dupont")."""
    return [contains_pattern(word) for word in words(term)]
