"""Field cleaning shared by forms, the API and the import: each cleaner turns raw input (text from a
form or a file, JSON values from the API) into the stored value, or raises ValueError(message id)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_, every_translation
from crm_app.platform.settings import organisation
from crm_app.platform.text import fold

Cleaner = Callable[[Any], Any]


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def text(max_length: int, *, required: bool = False) -> Cleaner:
    def clean(value: Any) -> str | None:
        if is_blank(value):
            if required:
                raise ValueError(N_("This field is required."))
            return None
        result = " ".join(str(value).split())
        if len(result) > max_length:
            raise ValueError(N_("Too long."))
        return result

    return clean


def choice(
    enum: type[StrEnum], *, required: bool = False, aliases: Callable[[], Mapping[str, StrEnum]] | None = None
) -> Cleaner:
    """One of `enum`'s values, or one of the `aliases()` (folded text -> value; asked for when needed)."""

    def clean(value: Any) -> StrEnum | None:
        if is_blank(value):
            if required:
                raise ValueError(N_("This field is required."))
            return None
        raw = str(value).strip()
        try:
            return enum(raw)
        except ValueError:
            pass
        if aliases:
            found = aliases().get(fold(raw))
            if found is not None:
                return found
        raise ValueError(N_("Unknown value."))

    return clean


def whole_number(*, minimum: int = 0, maximum: int = 1_000_000) -> Cleaner:
    def clean(value: Any) -> int | None:
        if is_blank(value):
            return None
        if isinstance(value, bool):
            raise ValueError(N_("Enter a whole number."))
        if isinstance(value, int | float | Decimal):
            number = Decimal(str(value))
        else:
            try:
                number = Decimal(str(value).strip().replace("\u202f", "").replace(" ", "").replace(",", "."))
            except InvalidOperation:
                raise ValueError(N_("Enter a whole number.")) from None
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError(N_("Enter a whole number."))
        if not minimum <= number <= maximum:
            raise ValueError(N_("Out of range."))
        return int(number)

    return clean


def amount(*, maximum: Decimal = Decimal("999999999999.99")) -> Cleaner:
    """Money: decimal comma or point, spaces as thousands separators; never a float."""

    def clean(value: Any) -> Decimal | None:
        if is_blank(value):
            return None
        if isinstance(value, float):
            value = repr(value)
        raw = str(value).strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace("€", "")
        if raw.count(",") == 1 and "." not in raw:
            raw = raw.replace(",", ".")
        elif "," in raw and "." in raw:
            raw = raw.replace(",", "")  # "1,234.56"
        try:
            number = Decimal(raw)
        except InvalidOperation:
            raise ValueError(N_("Enter an amount.")) from None
        if not number.is_finite() or number < 0 or number > maximum:
            raise ValueError(N_("Out of range."))
        return number.quantize(Decimal("0.01"))

    return clean


#: The days any date of the CRM may fall on: far enough from Python's and PostgreSQL's limits that
#: date arithmetic (a day's end, a validity or a payment term added, a time zone's offset) never
#: overflows (year 1 or 9999 gave a 500).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9000, 12, 31)
OUT_OF_RANGE_DAY = N_("Enter a date between 1900 and 9000.")


def _within_range(value: date) -> date:
    if not FIRST_DAY <= (value.date() if isinstance(value, datetime) else value) <= LAST_DAY:
        raise ValueError(OUT_OF_RANGE_DAY)
    return value


def day() -> Cleaner:
    def clean(value: Any) -> date | None:
        if is_blank(value):
            return None
        if isinstance(value, date):
            return _within_range(value)
        raw = str(value).strip()
        for parse in (date.fromisoformat, _french_date):
            try:
                parsed = parse(raw)
            except ValueError:
                continue
            return _within_range(parsed)
        raise ValueError(N_("Enter a date."))

    return clean


def _french_date(raw: str) -> date:
    day_part, month_part, year_part = raw.replace(".", "/").replace("-", "/").split("/")
    return date(int(year_part), int(month_part), int(day_part))


def identifier() -> Cleaner:
    def clean(value: Any) -> uuid.UUID | None:
        if is_blank(value):
            return None
        if isinstance(value, uuid.UUID):
            return value
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise ValueError(N_("Unknown value.")) from None

    return clean


def word_list(*, max_items: int = 50, max_length: int = 80) -> Cleaner:
    """A list from a list, or from text separated by commas or semicolons; trimmed, deduplicated."""

    def clean(value: Any) -> list[str]:
        if is_blank(value):
            return []
        items = value if isinstance(value, list | tuple | set) else str(value).replace(";", ",").split(",")
        seen: dict[str, str] = {}
        for item in items:
            word = " ".join(str(item).split())
            if word:
                if len(word) > max_length:
                    raise ValueError(N_("Too long."))
                seen.setdefault(word.lower(), word)
        if len(seen) > max_items:
            raise ValueError(N_("Too many values."))
        return list(seen.values())

    return clean


_TRUE_WORDS = {"1", "true", "yes", "oui", "vrai", "x", "on"}
_FALSE_WORDS = {"0", "false", "no", "non", "faux", "off"}


@functools.cache
def _yes_no_words() -> tuple[frozenset[str], frozenset[str]]:
    """The words for yes and no, with the application's own in every language (an export read back)."""
    return (
        frozenset(_TRUE_WORDS | {fold(word) for word in every_translation(N_("Yes"))}),
        frozenset(_FALSE_WORDS | {fold(word) for word in every_translation(N_("No"))}),
    )


def boolean() -> Cleaner:
    def clean(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if is_blank(value):
            return False
        raw = fold(str(value).strip())
        yes, no = _yes_no_words()
        if raw in yes:
            return True
        if raw in no:
            return False
        raise ValueError(N_("Enter yes or no."))

    return clean


def wrap(check: Callable[[str], str]) -> Cleaner:
    """Make a `clean_*` identifier check (which takes text) a cleaner that accepts blanks."""

    def clean(value: Any) -> str | None:
        return None if is_blank(value) else check(str(value))

    return clean


def clean_all(raw: Mapping[str, Any], cleaners: Mapping[str, Cleaner], *, partial: bool) -> dict[str, Any]:
    """Clean every known field of `raw`; unknown fields and all failures raise one ValidationFailed."""
    cleaned, errors = clean_fields(raw, cleaners, partial=partial)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def clean_fields(
    raw: Mapping[str, Any], cleaners: Mapping[str, Cleaner], *, partial: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """The cleaned values and the field errors (callers add checks across fields, then raise once)."""
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name, value in raw.items():
        cleaner = cleaners.get(name)
        if cleaner is None:
            errors[name] = N_("Unknown field.")
            continue
        try:
            cleaned[name] = cleaner(value)
        except ValueError as exc:
            errors[name] = str(exc)
    if not partial:
        for name, cleaner in cleaners.items():
            if name not in raw:
                try:
                    cleaned[name] = cleaner(None)
                except ValueError as exc:
                    errors[name] = str(exc)
    return cleaned, errors


def _zone() -> ZoneInfo:

    return ZoneInfo(organisation()["timezone"])


def moment(*, required: bool = False, end_of_day: bool = False) -> Cleaner:
    """A date and time: an aware datetime, ISO text with or without offset (without: the configured
    time zone), or a date alone (its start, or its last second with `end_of_day`). Stored in UTC,
    to the second."""
    day_time = time(23, 59, 59) if end_of_day else time.min

    def clean(value: Any) -> datetime | None:
        if is_blank(value):
            if required:
                raise ValueError(N_("This field is required."))
            return None
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime.combine(value, day_time)
        else:
            raw = str(value).strip()
            try:
                parsed = datetime.fromisoformat(raw)
                if len(raw) <= 10:  # a date alone
                    parsed = datetime.combine(parsed.date(), day_time)
            except ValueError:
                try:
                    on_day = day()(raw)
                except ValueError:
                    raise ValueError(N_("Enter a date and time.")) from None
                parsed = datetime.combine(on_day, day_time)
        _within_range(parsed)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_zone())
        return parsed.astimezone(UTC).replace(microsecond=0)

    return clean


def long_text(max_length: int, *, required: bool = False) -> Cleaner:
    """Free text on several lines (descriptions, notes, comments): trimmed, line breaks kept."""

    def clean(value: Any) -> str | None:
        if is_blank(value):
            if required:
                raise ValueError(N_("This field is required."))
            return None
        result = "\n".join(line.rstrip() for line in str(value).replace("\r\n", "\n").split("\n")).strip()
        if len(result) > max_length:
            raise ValueError(N_("Too long."))
        return result

    return clean


def positive_duration(*, maximum: int = 24 * 3600) -> Cleaner:
    return whole_number(minimum=0, maximum=maximum)


# --------------------------------------------------------------------------------------------
# Links to an institution, a contact, users
