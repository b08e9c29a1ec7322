"""Query parameters of a list (the page's URL or the API's query string), read leniently: an
unknown or malformed value is left out, so that an old bookmark still opens its list. The API's
query (`StrictQuery`) is read strictly where a value cannot be read at all: a malformed number is
refused, naming its parameter, since a client (unlike a bookmark) can be told."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from enum import Enum
from typing import TypeVar

from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_

E = TypeVar("E", bound=Enum)

#: The largest whole number a filter takes: PostgreSQL's `integer`.
MAX_NUMBER = 2_147_483_647
NOT_A_NUMBER = N_("Enter a whole number (digits 0 to 9).")
NUMBER_TOO_LARGE = N_("This number is too large.")
NOT_AN_ID = N_("This value is not valid.")


class StrictQuery(dict[str, list[str]]):
    """The query parameters of an API request: read as `Params` reads any, except that a malformed
    number or id is refused (`ValidationFailed` naming the parameter) rather than left out. Choices
    outside their list are still left out, and each service reads its own dates and amounts."""


class Params:
    def __init__(self, params: Mapping[str, str | Sequence[str]]) -> None:
        self.params = params
        self.strict = isinstance(params, StrictQuery)

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

    def number(self, name: str, *, maximum: int = MAX_NUMBER) -> int | None:
        """A whole number from 0 to `maximum`, in ASCII digits (`isdigit()` also takes "²", which
        `int()` refuses)."""
        value = self.one(name)
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()):
            self._refuse(name, NOT_A_NUMBER)
            return None
        if len(value) > len(str(maximum)) or int(value) > maximum:
            self._refuse(name, NUMBER_TOO_LARGE)
            return None
        return int(value)

    def _refuse(self, name: str, message: str) -> None:
        """Strict: raise; lenient: nothing (the caller leaves the value out)."""
        if self.strict:
            raise ValidationFailed({name: message})

    def ident(self, name: str) -> uuid.UUID | None:
        """A record's id; a value that is none is refused in an API request (an unfiltered list is
        not what its caller asked for) and left out of a bookmark."""
        value = self.one(name)
        if value is None:
            return None
        try:
            return uuid.UUID(value)
        except ValueError:
            self._refuse(name, NOT_AN_ID)
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
