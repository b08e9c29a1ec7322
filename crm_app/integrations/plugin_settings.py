"""The settings form a plugin declares (`crm.settings(...)`): typed fields with a label, a help text,
a default and their validation. The values are stored per plugin in the database
(`crm_app.integrations.models.PluginState.settings`) and read back with `crm.setting(name)`.

A plugin cannot add to the CRM's translation catalogs: its labels, help texts and messages are
`Words`, either one text or one text per language (`{"en": "Journal", "fr": "Journal"}`), shown in
the reader's language (English, else the first given, when theirs is missing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_, current_locale

Words = str | Mapping[str, str]
"""A text a plugin shows: one string, or one per language code ("en", "fr", "es", "de")."""

#: A field's own extra check: the clean value → None when fine, else the message (Words).
Validator = Callable[[Any], "Words | None"]

_REQUIRED = N_("This field is required.")
_TOO_LONG = N_("This text is too long.")
_WHOLE_NUMBER = N_("Enter a whole number within the allowed range.")
_YES_OR_NO = N_("Choose yes or no.")
_NOT_OFFERED = N_("Choose one of the offered values.")
_WRONG_FORMAT = N_("This value does not have the expected format.")
_UNKNOWN = N_("Unknown setting.")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def words(text: Words, locale: str | None = None) -> str:
    """`text` in the reader's language (the current one unless `locale` is given)."""
    if isinstance(text, str):
        return text
    if not text:
        return ""
    wanted = locale or current_locale()
    return text.get(wanted) or text.get("en") or next(iter(text.values()))


@dataclass(frozen=True, kw_only=True)
class SettingField:
    """What every field has. `validate` adds a check of the plugin's own on the cleaned value."""

    name: str
    label: Words
    help: Words = ""
    required: bool = False
    validate: Validator | None = None
    kind: str = field(init=False, default="")

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"setting name {self.name!r}: lower-case letters, digits and _, starting with a letter")

    @property
    def default_value(self) -> Any:
        return getattr(self, "default", None)

    def convert(self, raw: Any) -> tuple[Any, str | None]:
        """The raw value (from a form or JSON) → (clean value, None) or (None, error message id)."""
        raise NotImplementedError

    def clean(self, raw: Any) -> tuple[Any, str | None]:
        """Convert, then the plugin's own check. The error is a message id of the CRM's catalogs (translated
        where shown), or the plugin's own message already in the reader's language."""
        value, error = self.convert(raw)
        if error is not None:
            return None, error
        if self.validate is not None:
            problem = self.validate(value)
            if problem:
                return None, words(problem)
        return value, None

    def describe(self) -> dict[str, Any]:
        """The field as the API and the form read it (labels in the reader's language)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "label": words(self.label),
            "help": words(self.help),
            "required": self.required,
            "default": self.default_value,
        }


@dataclass(frozen=True, kw_only=True)
class Text(SettingField):
    """One line of text, at most `max_length` characters; `pattern` (a regular expression the whole
    value must match) when given and the value is not empty."""

    default: str = ""
    max_length: int = 200
    pattern: str | None = None
    kind: str = field(init=False, default="text")

    def convert(self, raw: Any) -> tuple[Any, str | None]:
        text = "" if raw is None else str(raw).strip()
        if not text:
            return (None, _REQUIRED) if self.required else ("", None)
        if len(text) > self.max_length or "\n" in text:
            return None, _TOO_LONG
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            return None, _WRONG_FORMAT
        return text, None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "max_length": self.max_length, "pattern": self.pattern}


@dataclass(frozen=True, kw_only=True)
class Integer(SettingField):
    """A whole number within [minimum, maximum] (each bound optional)."""

    default: int = 0
    minimum: int | None = None
    maximum: int | None = None
    kind: str = field(init=False, default="integer")

    def convert(self, raw: Any) -> tuple[Any, str | None]:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return (None, _REQUIRED) if self.required else (self.default, None)
        if isinstance(raw, bool):
            return None, _WHOLE_NUMBER
        try:
            number = int(raw) if isinstance(raw, int) else int(str(raw).strip())
        except ValueError:
            return None, _WHOLE_NUMBER
        if isinstance(raw, float) and raw != number:
            return None, _WHOLE_NUMBER
        if (self.minimum is not None and number < self.minimum) or (self.maximum is not None and number > self.maximum):
            return None, _WHOLE_NUMBER
        return number, None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "minimum": self.minimum, "maximum": self.maximum}


@dataclass(frozen=True, kw_only=True)
class Choice(SettingField):
    """One of `options` (value → its label)."""

    options: Mapping[str, Words]
    default: str = ""
    kind: str = field(init=False, default="choice")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.options:
            raise ValueError(f"setting {self.name!r}: a choice needs options")
        if self.default and self.default not in self.options:
            raise ValueError(f"setting {self.name!r}: the default {self.default!r} is not an option")

    @property
    def default_value(self) -> Any:
        return self.default or next(iter(self.options))

    def convert(self, raw: Any) -> tuple[Any, str | None]:
        value = "" if raw is None else str(raw)
        if not value:
            return (None, _REQUIRED) if self.required else (self.default_value, None)
        return (value, None) if value in self.options else (None, _NOT_OFFERED)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "options": {value: words(label) for value, label in self.options.items()}}


@dataclass(frozen=True, kw_only=True)
class Boolean(SettingField):
    """Yes or no."""

    default: bool = False
    kind: str = field(init=False, default="boolean")

    def convert(self, raw: Any) -> tuple[Any, str | None]:
        if isinstance(raw, bool):
            return raw, None
        text = str(raw).strip().lower()
        if text in {"true", "1", "yes", "on"}:
            return True, None
        if text in {"false", "0", "no", "off"}:
            return False, None
        return None, _YES_OR_NO


@dataclass(frozen=True)
class SettingsSchema:
    """The fields of one plugin's settings, in the order of its form."""

    fields: tuple[SettingField, ...]

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError("two settings share a name")

    def field(self, name: str) -> SettingField:
        for declared in self.fields:
            if declared.name == name:
                return declared
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default_value for f in self.fields}

    def effective(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults, overridden by what was stored (a field since removed is left out)."""
        return {**self.defaults(), **{k: v for k, v in stored.items() if any(f.name == k for f in self.fields)}}

    def clean(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The cleaned values of the fields given; ValidationFailed naming every field in error."""
        errors: dict[str, str] = {}
        cleaned: dict[str, Any] = {}
        for name, raw in values.items():
            try:
                declared = self.field(name)
            except KeyError:
                errors[name] = _UNKNOWN
                continue
            value, error = declared.clean(raw)
            if error is not None:
                errors[name] = error
            else:
                cleaned[name] = value
        if errors:
            raise ValidationFailed(errors)
        return cleaned
