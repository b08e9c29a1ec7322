"""gettext catalogs (English message ids) for fr, en, es, de, and Babel formatting helpers.

Catalogs are read from the `.po` files at first use, so no compiled `.mo` file is kept in the
repository. The active locale comes from a resolver that the web layer installs (the user's
choice stored for the browser), else from a context variable (API requests, jobs), else French.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.pofile import read_po

SUPPORTED_LOCALES: tuple[str, ...] = ("fr", "en", "es", "de")
DEFAULT_LOCALE = "fr"
LANGUAGE_NAMES = {"fr": "Français", "en": "English", "es": "Español", "de": "Deutsch"}
LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"

_locale_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("opex_locale", default=None)
_resolver: Callable[[], str | None] | None = None


def catalog_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def _messages(locale: str) -> dict[str, str | tuple[str, ...]]:
    """Message id -> translation; a plural message is keyed by its singular and has every form."""
    path = catalog_path(locale)
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    found: dict[str, str | tuple[str, ...]] = {}
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, tuple | list):
            forms = tuple(str(form) for form in (m.string or ()))
            if all(forms):
                found[str(m.id[0])] = forms
        elif m.string:
            found[_key(m.context, str(m.id))] = str(m.string)
    return found


_CONTEXT_SEPARATOR = "\x04"


def _key(context: str | None, message: str) -> str:
    """gettext's own convention: a message with a context is looked up as "context\x04message"."""
    return f"{context}{_CONTEXT_SEPARATOR}{message}" if context else message


def set_locale_resolver(resolver: Callable[[], str | None] | None) -> None:
    """Let the UI layer say which locale the current user has chosen."""
    global _resolver
    _resolver = resolver


def current_locale() -> str:
    locale = _locale_var.get()
    if locale is None and _resolver is not None:
        locale = _resolver()
    return locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE


@contextmanager
def use_locale(locale: str | None) -> Iterator[None]:
    """Run a block (an API request, a job writing an email) in one locale."""
    token = _locale_var.set(locale if locale in SUPPORTED_LOCALES else None)
    try:
        yield
    finally:
        _locale_var.reset(token)


def gettext(message: str, /, **params: Any) -> str:
    """Translate an English message id into the current locale; `{name}` fields are filled in. An id
    marked with a context (`NP_`) is translated in that context."""
    text = _messages(current_locale()).get(message) or message.rpartition(_CONTEXT_SEPARATOR)[2]
    if isinstance(text, tuple):
        text = text[0]
    return text.format(**params) if params else text


def every_translation(message: str) -> tuple[str, ...]:
    """`message` and its translation in each supported language: to recognise in a file any language's
    words of the application (an export's headers and values read back by the import)."""
    found = [message]
    for locale in SUPPORTED_LOCALES:
        text = _messages(locale).get(message)
        if isinstance(text, str) and text not in found:
            found.append(text)
    return tuple(found)


def pgettext(context: str, message: str, /, **params: Any) -> str:
    """Translate a message whose translation depends on where it is used: "Active" is "Actif" for an
    account and "Actifs" as a list filter in French (`pgettext("filter", "Active")`)."""
    text = _messages(current_locale()).get(_key(context, message), message)
    if isinstance(text, tuple):
        text = text[0]
    return text.format(**params) if params else text


def ngettext(singular: str, plural: str, n: int, /, **params: Any) -> str:
    """The form of a message for the count `n` ("1 contact", "2 contacts"; in French 0 and 1 are
    singular), `{name}` fields filled in (`n` is not passed implicitly: name it, e.g. count=n). Whole
    numbers are written as the language writes them: "97 998 établissements", "97,998 institutions"."""
    one = counts_as_one(n)
    forms = _messages(current_locale()).get(singular)
    if isinstance(forms, tuple) and len(forms) >= 2:
        text = forms[0] if one else forms[1]
    else:
        text = singular if one else plural
    if not params:
        return text
    written = {k: format_decimal(v) if type(v) is int else v for k, v in params.items()}
    return text.format(**written)


def counts_as_one(n: int | Decimal) -> bool:
    """Whether `n` takes the singular in the current language (French: 0, 1 and 1.5; English: 1).
    A stored quantity's trailing zeros are not read as written decimals ("1.000" is 1)."""
    if isinstance(n, Decimal):
        n = int(n) if n == n.to_integral_value() else n.normalize()
    return _plural_category(current_locale(), n) == "one"


@cache
def _plural_rule(locale: str) -> Callable[[int | Decimal], str]:
    return Locale.parse(locale).plural_form


def _plural_category(locale: str, n: int | Decimal) -> str:
    return str(_plural_rule(locale)(n if n >= 0 else -n))


_ = gettext


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark for extraction only"
    """Mark a message for extraction without translating it now (it is translated where shown)."""
    return message


def NP_(context: str, message: str) -> str:  # noqa: N802 - N_ with a context, as pgettext is gettext with one
    """Mark a message for extraction with its context; `gettext` later translates it in that context:
    a quote is "Annulé" and an invoice "Annulée" in French (`NP_("quote status", "Cancelled")`)."""
    return _key(context, message)


def negotiate(accept_language: str | None) -> str | None:
    """The best supported locale for an Accept-Language header, or None."""
    if not accept_language:
        return None
    weighted: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            weighted.append((quality, tag.strip()))
    for _quality, tag in sorted(weighted, key=lambda item: -item[0]):
        try:
            language = Locale.parse(tag, sep="-" if "-" in tag else "_").language
        except (ValueError, UnknownLocaleError):
            continue
        if language in SUPPORTED_LOCALES:
            return language
    return None


def format_datetime(value: datetime | None, timezone: str = "Europe/Paris", *, style: str = "medium") -> str:
    if value is None:
        return ""
    return babel_dates.format_datetime(value.astimezone(ZoneInfo(timezone)), format=style, locale=current_locale())


def format_date(value: date | None, *, style: str = "medium") -> str:
    """A calendar day in the active locale ("24 nov. 2026", "Nov 24, 2026")."""
    return babel_dates.format_date(value, format=style, locale=current_locale()) if value else ""


def format_decimal(value: Decimal | int, *, places: int | None = None) -> str:
    fmt = None if places is None else "#,##0." + "0" * places
    return babel_numbers.format_decimal(value, format=fmt, locale=current_locale())


def format_currency(value: Decimal, currency: str = "EUR") -> str:
    return babel_numbers.format_currency(value, currency, locale=current_locale())
