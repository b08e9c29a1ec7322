"""Query parameters of a list (the page's URL or the API's query string), read leniently: an
unknown or malformed value is left out, so that an old bookmark still opens its list."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)


class Params:
    def __init__(self, params: Mapping[str, str | Sequence[str]]) -> None:
        self.params = params

    def many(self, name: str) -> list[str]:
        """Every value: the parameter repeated, or values separated by commas."""
        value = self.params.get(name)
        items = [] if value is None else [value] if isinstance(value, str) else list(value)
        return [part.strip() for item in items for part in item.split(",") if part.strip()]

    def one(self, name: str) -> str | None:
        """The first value, whole (a search text may hold commas)."""
        value = self.params.get(name)
        first = value if isinstance(value, str) or value is None else next(iter(value), None)
        return (first.strip() or None) if first is not None else None

    def number(self, name: str) -> int | None:
        value = self.one(name)
        return int(value) if value is not None and value.isdigit() else None

    def ident(self, name: str) -> uuid.UUID | None:
        try:
            return uuid.UUID(self.one(name) or "")
        except ValueError:
            return None

    def flag(self, name: str) -> bool:
        return self.one(name) in {"1", "true"}

    def choices(self, name: str, kind: type[E]) -> tuple[E, ...]:
        """The values that are members of `kind`, in the order given."""
        known = {member.value: member for member in kind}
        return tuple(known[value] for value in self.many(name) if value in known)

    def sort(self, allowed: Collection[str], default: str) -> tuple[str, bool]:
        """(`sort` when allowed, else `default`; descending when it starts with `-`)."""
        value = self.one("sort") or default
        name = value.lstrip("-")
        return (name, value.startswith("-")) if name in allowed else (default, False)
