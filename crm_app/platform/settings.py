"""Settings changed at run time by the super administrator (/admin/settings, /api/settings):
organisation, email (SMTP overrides of the environment), modules on/off, sessions, retention.

Each section is one `app_settings` row holding only what was set here; everything else falls back to
the environment (`crm_app.platform.config`) or to the defaults below. Readers use `effective()`: kept in memory,
forgotten at once when this process commits a change, and re-read after `CACHE_TTL` seconds so that a
change made through another instance shows there too. Every change is written to the security log
with its old and new values (an SMTP password only as "set"/"not set").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from crm_app.platform import cache, events, security_log
from crm_app.platform.config import Settings, get_settings
from crm_app.platform.db import get_engine, unit_of_work
from crm_app.platform.errors import Conflict, NotFound, ValidationFailed
from crm_app.platform.i18n import N_, SUPPORTED_LOCALES
from crm_app.platform.identifiers import clean_email
from crm_app.platform.models.audit import Severity
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.people import User
from crm_app.platform.models.settings import AppSetting
from crm_app.platform.permissions import Actor, authorize, can

CACHE_TTL = 10.0  # seconds before another instance's change shows here
ACTION_CHANGED = "settings.changed"
ACTION_TEST_EMAIL = "settings.test_email"
_CHANGED_KEY = "opex_settings_changed"

#: modules that can be switched off, and the first segment of their page and API paths.
MODULES: dict[str, str] = {"tasks": N_("Tasks"), "meetings": N_("Meetings"), "notes": N_("Notes"), "calls": N_("Calls")}

SMTP_FIELDS: tuple[str, ...] = ("smtp_host", "smtp_port", "smtp_secure", "smtp_user", "smtp_password", "smtp_from")
PASSWORD_SET, PASSWORD_NOT_SET = "set", "not set"

_REQUIRED = N_("This field is required.")
_TOO_LONG = N_("This text is too long.")
_WHOLE_NUMBER = N_("Enter a whole number within the allowed range.")
_INVALID_ADDRESS = N_("Enter a valid email address.")


# --- defaults and validation -------------------------------------------------------------------


def _text(value: Any, *, limit: int, required: bool = False) -> tuple[Any, str | None]:
    text = "" if value is None else str(value).strip()
    if required and not text:
        return None, _REQUIRED
    if len(text) > limit:
        return None, _TOO_LONG
    return text, None


def whole_check(low: int, high: int) -> Callable[[Any], tuple[Any, str | None]]:
    """A whole number within [low, high]."""

    def check(value: Any) -> tuple[Any, str | None]:
        try:
            number = int(str(value).strip()) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or not low <= number <= high:
            return None, _WHOLE_NUMBER
        return number, None

    return check


def flag_check(value: Any) -> tuple[Any, str | None]:
    """Yes or no (a boolean, or its usual spellings)."""
    if isinstance(value, bool):
        return value, None
    if str(value).lower() in {"true", "1", "yes", "on"}:
        return True, None
    if str(value).lower() in {"false", "0", "no", "off"}:
        return False, None
    return None, N_("Choose yes or no.")


def _language(value: Any) -> tuple[Any, str | None]:
    return (value, None) if value in SUPPORTED_LOCALES else (None, N_("Choose one of the offered languages."))


def _timezone(value: Any) -> tuple[Any, str | None]:
    name = str(value or "").strip()
    try:
        if not name or name not in available_timezones():
            raise ZoneInfoNotFoundError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None, N_("Unknown time zone (use a name such as Europe/Paris).")
    return name, None


def _host(value: Any) -> tuple[Any, str | None]:
    text, error = _text(value, limit=255)
    if error is None and any(c.isspace() for c in text):
        return None, N_("A host name has no spaces.")
    return text, error


def _sender(value: Any) -> tuple[Any, str | None]:

    text, error = _text(value, limit=320, required=True)
    if error:
        return None, error
    try:
        clean_email(parseaddr(text)[1])
    except ValueError:
        return None, _INVALID_ADDRESS
    if "\n" in text or "\r" in text:
        return None, _INVALID_ADDRESS
    return text, None


def _password(value: Any) -> tuple[Any, str | None]:
    text = "" if value is None else str(value)
    return (text, None) if len(text) <= 500 else (None, _TOO_LONG)


Check = Callable[[Any], tuple[Any, str | None]]
"""A field's check: the raw value → (the clean value, None) or (None, the error's message id)."""


@dataclass(frozen=True)
class Section:
    """A settings section as the area that owns it declares it (`crm_app.bootstrap` registers it).

    `defaults(env)` returns a fresh dict of every field's default (the environment's values where it
    has them); `checks` clean each field; `cross_check(after, errors)` adds errors that involve
    several fields, on the values as they would be after the change. With `none_resets`, a None value
    removes the stored override (the environment's value applies again)."""

    name: str
    title: str  # N_() message id
    right: str  # the right that shows and changes the section
    defaults: Callable[[Settings], dict[str, Any]]
    checks: dict[str, Check]
    cross_check: Callable[[dict[str, Any], dict[str, str]], None] | None = None
    none_resets: bool = False


_SECTIONS: dict[str, Section] = {}
_cache: cache.TimedCache[dict[str, dict[str, Any]]] = cache.register(cache.TimedCache(ttl=CACHE_TTL, max_entries=4))


def register_section(*sections: Section) -> None:
    """Make sections known, in the order of the settings page (idempotent)."""
    for declared in sections:
        _SECTIONS[declared.name] = declared
    _cache.invalidate()


def forget_cached() -> None:
    """Read the settings from the database at the next use (another process changed them)."""
    _cache.invalidate()


def timezone(session: Session | None = None) -> str:
    """The organisation's time zone (TIMEZONE until an administrator changes it): the one zone of
    the jobs' schedules, due dates and "today" alike."""
    return str(organisation(session)["timezone"])


def section_names() -> list[str]:
    return list(_SECTIONS)


def section_title(name: str) -> str:
    return _SECTIONS[name].title


def section_right(name: str) -> str:
    return _SECTIONS[name].right


def text_check(limit: int, *, required: bool = False) -> Check:
    return lambda value: _text(value, limit=limit, required=required)


def _check_sessions(after: dict[str, Any], errors: dict[str, str]) -> None:
    if "idle_timeout_minutes" not in errors and after["idle_timeout_minutes"] > after["lifetime_minutes"]:
        errors["idle_timeout_minutes"] = N_("The idle timeout cannot be longer than the session lifetime.")


#: The platform's own sections (system settings, for super administrators).
SECTIONS = (
    Section(
        "organisation",
        N_("Organisation"),
        "settings.system",
        lambda env: {"name": "OPEx CRM", "default_language": "fr", "timezone": env.timezone},
        {"name": text_check(200, required=True), "default_language": _language, "timezone": _timezone},
    ),
    Section(
        "email",
        N_("Email"),
        "settings.system",
        lambda env: {name: getattr(env, name) for name in SMTP_FIELDS},
        {
            "smtp_host": _host,
            "smtp_port": whole_check(1, 65535),
            "smtp_secure": flag_check,
            "smtp_user": text_check(255),
            "smtp_password": _password,
            "smtp_from": _sender,
        },
        none_resets=True,
    ),
    Section(
        "modules",
        N_("Modules"),
        "settings.system",
        lambda env: {name: True for name in MODULES},
        {name: flag_check for name in MODULES},
    ),
    Section(
        "sessions",
        N_("Sessions"),
        "settings.system",
        lambda env: {"lifetime_minutes": env.session_lifetime // 60, "idle_timeout_minutes": 0},
        {"lifetime_minutes": whole_check(5, 60 * 24 * 30), "idle_timeout_minutes": whole_check(0, 60 * 24 * 30)},
        _check_sessions,
    ),
)


def _defaults(env: Settings) -> dict[str, dict[str, Any]]:
    return {name: declared.defaults(env) for name, declared in _SECTIONS.items()}


def _validate(section: str, values: dict[str, Any], merged: dict[str, Any]) -> dict[str, Any]:
    """The cleaned values; ValidationFailed naming every field in error."""
    declared = _SECTIONS[section]
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if name not in declared.checks:
            errors[name] = N_("Unknown setting.")
            continue
        if value is None and declared.none_resets:
            cleaned[name] = None
            continue
        clean, error = declared.checks[name](value)
        if error:
            errors[name] = error
        else:
            cleaned[name] = clean
    if declared.cross_check is not None:
        declared.cross_check({**merged, **{k: v for k, v in cleaned.items() if v is not None}}, errors)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


# --- effective values (cached) -----------------------------------------------------------------


def _stored(session: Session) -> dict[str, AppSetting]:
    return {row.section: row for row in session.exec(select(AppSetting)).all()}


def _merge(stored: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    merged = _defaults(get_settings())
    for name, values in stored.items():
        if name in merged:
            merged[name].update({k: v for k, v in values.items() if k in merged[name]})
    return merged


def _compute(session: Session) -> dict[str, dict[str, Any]]:
    return _merge({name: dict(row.values or {}) for name, row in _stored(session).items()})


def effective(session: Session | None = None) -> dict[str, dict[str, Any]]:
    """Every section's values as the application applies them (defaults < environment < stored).

    With `session`, read through it (a unit of work that just changed settings sees its change);
    without, in a short unit of work of its own when the cache has nothing fresh. Only the stored
    values are cached: the environment is read each time (tests and the CLI change it)."""
    if session is not None and session.info.get(_CHANGED_KEY):
        return _compute(session)

    def load(reader: Session) -> dict[str, dict[str, Any]]:
        return {name: dict(row.values or {}) for name, row in _stored(reader).items()}

    def compute() -> dict[str, dict[str, Any]]:
        if session is not None:
            return load(session)
        with unit_of_work() as own:
            return load(own)

    # Keyed by the database read: a process that opens a second database (a test on SQLite, the
    # CLI pointed elsewhere) must not apply one database's company identity to another's invoices.
    bind = session.get_bind() if session is not None else get_engine()
    return _merge(_cache.get(("stored", str(bind.engine.url)), compute))


def section_values(section: str, session: Session | None = None) -> dict[str, Any]:
    return dict(effective(session)[section])


def organisation(session: Session | None = None) -> dict[str, Any]:
    """The organisation's name, default language and time zone: the language of emails to people
    who chose none, the zone of due dates, meeting times in emails and date filters."""
    return section_values("organisation", session)


def is_module_enabled(module: str, session: Session | None = None) -> bool:
    return module not in MODULES or bool(effective(session)["modules"].get(module, True))


#: The module each kind of record belongs to (timeline entries of a module that is off are hidden).
KIND_MODULES = {"task": "tasks", "note": "notes", "meeting": "meetings", "call": "calls"}


def disabled_modules(session: Session | None = None) -> frozenset[str]:
    modules = effective(session)["modules"]
    return frozenset(name for name in MODULES if not modules.get(name, True))


def module_of_path(path: str) -> str | None:
    """The module a page or API path belongs to ("/tasks/…", "/api/tasks/…" → "tasks"), if any."""
    parts = [part for part in path.split("/") if part]
    if parts and parts[0] == "api":
        parts = parts[1:]
    return parts[0] if parts and parts[0] in MODULES else None


def smtp_settings(session: Session | None = None) -> Settings:
    """The environment's settings with the SMTP values overridden here (what the mail outbox uses)."""
    return get_settings().model_copy(update=section_values("email", session))


def session_lifetime_seconds(session: Session | None = None) -> int:
    return int(section_values("sessions", session)["lifetime_minutes"]) * 60


def idle_timeout(session: Session | None = None) -> timedelta | None:
    minutes = int(section_values("sessions", session)["idle_timeout_minutes"])
    return timedelta(minutes=minutes) if minutes > 0 else None


@event.listens_for(OrmSession, "after_commit")
def _forget_after_commit(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT released (SQLAlchemy reports it as a commit): nothing is committed yet
    if session.info.pop(_CHANGED_KEY, False):
        _cache.invalidate()


@event.listens_for(OrmSession, "after_rollback")
def _forget_flag(session: OrmSession) -> None:
    if not session.in_nested_transaction():  # a SAVEPOINT rolled back leaves the transaction's changes
        session.info.pop(_CHANGED_KEY, None)


# --- the view and the changes ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SectionView:
    name: str
    values: dict[str, Any]
    version: int  # 0 while nothing was ever saved
    updated_at: datetime | None = None
    updated_by_name: str | None = None
    #: email: the environment's values, and which fields are overridden here
    environment: dict[str, Any] = field(default_factory=dict)
    overridden: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SettingsView:
    sections: dict[str, SectionView]


def _mask(values: dict[str, Any]) -> dict[str, Any]:
    if "smtp_password" in values:
        return {**values, "smtp_password": PASSWORD_SET if values["smtp_password"] else PASSWORD_NOT_SET}
    return values


def _section_view(session: Session, name: str, row: AppSetting | None, merged: dict[str, Any]) -> SectionView:
    updated_by = session.get(User, row.updated_by) if row is not None and row.updated_by else None
    environment: dict[str, Any] = {}
    overridden: tuple[str, ...] = ()
    if name == "email":
        env = get_settings()
        environment = _mask({k: getattr(env, k) for k in SMTP_FIELDS})
        overridden = tuple(k for k in SMTP_FIELDS if row is not None and k in (row.values or {}))
    return SectionView(
        name=name,
        values=_mask(dict(merged)),
        version=row.version if row else 0,
        updated_at=row.updated_at if row else None,
        updated_by_name=updated_by.full_name if updated_by else None,
        environment=environment,
        overridden=overridden,
    )


def visible_sections(actor: Actor) -> list[str]:
    return [name for name, declared in _SECTIONS.items() if can(actor, declared.right)]


def get_settings_view(session: Session, actor: Actor) -> SettingsView:
    """The sections this actor may see, with their effective values (never an SMTP password); Forbidden
    for who may see none."""
    if not visible_sections(actor):
        authorize(actor, "settings.system")
    rows = _stored(session)
    merged = _compute(session)
    return SettingsView(
        sections={name: _section_view(session, name, rows.get(name), merged[name]) for name in visible_sections(actor)}
    )


def _for_log(name: str, value: Any) -> Any:
    if name == "smtp_password":
        return PASSWORD_SET if value else PASSWORD_NOT_SET
    if name == "iban" and value:  # never a full IBAN in the logs: its country and last four characters
        return f"{str(value)[:2]}…{str(value)[-4:]}"
    return value


def update_section(
    session: Session,
    actor: Actor,
    section: str,
    values: dict[str, Any],
    *,
    expected_version: int | None = None,
    client: security_log.ClientInfo | None = None,
) -> SectionView:
    """Change some values of one section; each changed value is logged with its old and new value.

    `expected_version` is the version read (0 when never saved): a stale one raises Conflict. In the
    email section, a None value removes the override (the environment's value applies again)."""
    if section not in _SECTIONS:
        raise NotFound(N_("No such settings section."))
    authorize(actor, _SECTIONS[section].right)
    row = session.get(AppSetting, section, with_for_update=True)
    if expected_version is not None and expected_version != (row.version if row else 0):
        changed_by = session.get(User, row.updated_by) if row is not None and row.updated_by else None
        raise Conflict(changed_by=changed_by.full_name if changed_by else None)
    before = _compute(session)[section]
    cleaned = _validate(section, values, before)
    stored = dict(row.values or {}) if row is not None else {}
    for name, value in cleaned.items():
        if value is None:
            stored.pop(name, None)
        else:
            stored[name] = value
    after = {**_defaults(get_settings())[section], **stored}
    changes = {
        name: {"old": _for_log(name, before.get(name)), "new": _for_log(name, after.get(name))}
        for name in cleaned
        if before.get(name) != after.get(name) or (name in stored) != (row is not None and name in (row.values or {}))
    }
    if not changes:
        return _section_view(session, section, row, before)
    if row is None:
        row = AppSetting(section=section, values=stored, updated_by=actor.id if actor.id.int else None)
        session.add(row)
    else:
        row.values = stored
        row.updated_at = utcnow()
        row.updated_by = actor.id if actor.id.int else None
        row.version += 1
    session.flush()
    session.info[_CHANGED_KEY] = True
    events.publish(session, events.SettingsChanged(section=section, actor_id=actor.id if actor.id.int else None))
    security_log.record(
        session,
        ACTION_CHANGED,
        severity=Severity.MEDIUM,
        user_id=actor.id if actor.id.int else None,
        email=actor.email,
        client=client,
        section=section,
        changes=changes,
    )
    return _section_view(session, section, row, _compute(session)[section])
