"""Keep the `.po` catalogs in step with the source: extract the message ids, add the new ones,
drop the obsolete ones, and report what is missing (`opex-crm i18n update` / `i18n check`)."""

from __future__ import annotations

import ast
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from crm_app.platform.i18n import SUPPORTED_LOCALES, catalog_path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SOURCE_DIRS = ("crm_app", "pages", "components")
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "NP_": ((1, "c"), 2)}
#: A message id: its text, or (singular, plural) for a message with a count.
MessageId = str | tuple[str, str]
#: What identifies a catalog entry: its context (None for most) and its id.
EntryKey = tuple[str | None, MessageId]


def extract_messages() -> dict[EntryKey, list[tuple[str, int]]]:
    """Every message id in the source, with its context and where it appears."""
    found: dict[EntryKey, list[tuple[str, int]]] = {}
    for directory in SOURCE_DIRS:
        root = PROJECT_ROOT / directory
        for filename, lineno, message, _comments, context in extract_from_dir(
            root, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=()
        ):
            key: MessageId | None = None
            if isinstance(message, str) and message:
                key = message
            elif isinstance(message, tuple) and len(message) == 2 and all(message):
                key = (str(message[0]), str(message[1]))
            if key is not None:
                found.setdefault((context or None, key), []).append((f"{directory}/{filename}", lineno))
        for path in sorted(root.rglob("*.py")):
            for lineno, message in _in_f_strings(path.read_text(encoding="utf-8")):
                locations = found.setdefault((None, message), [])
                if (where := (f"{directory}/{path.relative_to(root)}", lineno)) not in locations:
                    locations.append(where)  # Babel finds them too from Python 3.12 on
    return found


def _in_f_strings(source: str) -> list[tuple[int, str]]:
    """`_("...")` and `gettext("...")` inside f-strings, which Babel's tokenizer does not look into
    before Python 3.12 (`f'aria-label="{_("Move up")}"'`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id in ("_", "gettext", "N_")
                    and call.args
                    and isinstance(call.args[0], ast.Constant)
                    and isinstance(call.args[0].value, str)
                ):
                    found.append((call.lineno, call.args[0].value))
    return found


def _lookup_key(message_id: MessageId) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def _sort_key(entry: EntryKey) -> tuple[str, str]:
    return _lookup_key(entry[1]), entry[0] or ""


def _translated(string: str | tuple[str, ...] | list[str] | None) -> bool:
    return all(string) if isinstance(string, tuple | list) else bool(string)


def read_catalog(locale: str) -> Catalog:
    path = catalog_path(locale)
    if not path.exists():
        return Catalog(locale=locale, project="OPEx CRM")
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def problems(locale: str) -> list[str]:
    """Message ids that are missing, untranslated or fuzzy in a locale's catalog."""
    catalog = read_catalog(locale)
    issues = []
    for context, message_id in sorted(extract_messages(), key=_sort_key):
        entry = catalog.get(_lookup_key(message_id), context=context)
        if entry is None or isinstance(message_id, tuple) != isinstance(entry.id, tuple | list):
            issues.append(f"{locale}: missing {message_id!r}")
        elif not _translated(entry.string):
            issues.append(f"{locale}: untranslated {message_id!r}")
        elif entry.fuzzy:
            issues.append(f"{locale}: fuzzy {message_id!r}")
    return issues


def update_catalogs() -> dict[str, int]:
    """Add new message ids (English gets its own text), drop obsolete ones; returns new-entry counts."""
    messages = extract_messages()
    added: dict[str, int] = {}
    for locale in SUPPORTED_LOCALES:
        old = read_catalog(locale)
        new = Catalog(locale=locale, project="OPEx CRM", fuzzy=False)
        count = 0
        for (context, message_id), locations in sorted(messages.items(), key=lambda item: _sort_key(item[0])):
            previous = old.get(_lookup_key(message_id), context=context)
            if previous is not None and isinstance(message_id, tuple) != isinstance(previous.id, tuple | list):
                previous = None  # a message that gained or lost its plural is translated again
            string: str | tuple[str, ...] | list[str] = (
                (previous.string or "") if previous is not None else (("", "") if isinstance(message_id, tuple) else "")
            )
            if not _translated(string) and locale == "en":
                string = message_id
            count += previous is None
            flags = previous.flags if previous is not None else ()
            new.add(message_id, string, locations=locations, flags=flags, context=context)
        path = catalog_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, new, width=100, omit_header=False, sort_output=True, include_lineno=False)
        added[locale] = count
    return added
