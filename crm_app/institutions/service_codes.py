"""Chorus Pro service codes of a public buyer (CHU, CH): where, inside the buyer identified by its
SIRET, an invoice goes (a pharmacy, a biomedical department...). Each code has an optional label.

Stored as a JSON list of `{"code", "label"}` on the institution's row (`Institution.service_codes`)
rather than in a child table: a buyer has a handful of codes, they are read only with their buyer (the
form, the invoice that chooses one), never searched across institutions, and kept on the row they are
edited, versioned and audited with that row (one write, one version, one history entry). Their rules
(1-100 characters, no duplicate) are this module's cleaner, which every writer goes through (form,
API, import).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from crm_app.platform.cleaners import Cleaner, is_blank
from crm_app.platform.i18n import N_

CODE_MAX_LENGTH = 100
LABEL_MAX_LENGTH = 200
MAX_CODES = 50

CODE_REQUIRED = N_("Each service code needs a code.")
CODE_TOO_LONG = N_("A service code has at most 100 characters.")
LABEL_TOO_LONG = N_("A service code's label has at most 200 characters.")
DUPLICATE_CODE = N_("This service code is listed twice.")
TOO_MANY_CODES = N_("Too many values.")

#: "CODE (label)" in a file's cell or the history.
_WITH_LABEL = re.compile(r"^(?P<code>[^()]+?)\s*\((?P<label>.*)\)$")


@dataclass(frozen=True, slots=True)
class ServiceCode:
    """One code (the invoice's BT-10 "buyer reference") and what it is, for the people choosing it."""

    code: str
    label: str | None = None

    def __str__(self) -> str:
        return f"{self.code} ({self.label})" if self.label else self.code


def _one_line(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _item(raw: Any) -> ServiceCode:
    code: Any
    label: Any
    if isinstance(raw, ServiceCode):
        code, label = raw.code, raw.label
    elif isinstance(raw, dict):
        code, label = raw.get("code"), raw.get("label")
    else:  # text: "CODE" or "CODE (label)"
        text = _one_line(raw) or ""
        match = _WITH_LABEL.match(text)
        code, label = (match["code"], match["label"]) if match else (text, None)
    clean_code, clean_label = _one_line(code), _one_line(label)
    if clean_code is None:
        raise ValueError(CODE_REQUIRED)
    if len(clean_code) > CODE_MAX_LENGTH:
        raise ValueError(CODE_TOO_LONG)
    if clean_label is not None and len(clean_label) > LABEL_MAX_LENGTH:
        raise ValueError(LABEL_TOO_LONG)
    return ServiceCode(clean_code, clean_label)


def clean_service_codes(value: Any) -> list[dict[str, str | None]]:
    """A list of codes (dicts with `code` and `label`, `ServiceCode`s, or text "CODE (label)"), or text
    with one code per line or separated by semicolons (a file's cell); stored as JSON dicts in the given
    order. Blank rows of a form (no code, no label) are dropped; a code listed twice is refused."""
    if is_blank(value):
        return []
    items: Iterable[Any] = value if isinstance(value, list | tuple) else re.split(r"[;\n]", str(value))
    codes: list[ServiceCode] = []
    seen: set[str] = set()
    for raw in items:
        if isinstance(raw, dict) and not _one_line(raw.get("code")) and not _one_line(raw.get("label")):
            continue
        if isinstance(raw, str) and not raw.strip():
            continue
        code = _item(raw)
        if code.code.casefold() in seen:
            raise ValueError(DUPLICATE_CODE)
        seen.add(code.code.casefold())
        codes.append(code)
    if len(codes) > MAX_CODES:
        raise ValueError(TOO_MANY_CODES)
    return [{"code": code.code, "label": code.label} for code in codes]


def cleaner() -> Cleaner:
    return clean_service_codes


def service_codes(stored: Iterable[Any] | None) -> tuple[ServiceCode, ...]:
    """The stored JSON (or any accepted input) as `ServiceCode`s."""
    return tuple(_item(raw) for raw in stored or ())


def as_words(stored: Iterable[Any] | None) -> list[str]:
    """How the codes read in the history: "CODE (label)" each."""
    return [str(code) for code in service_codes(stored)]
