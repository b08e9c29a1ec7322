"""Settings changed at run time by the super administrator (/admin/settings, /api/settings):
organisation, email (SMTP overrides of the environment), modules on/off, sessions, retention.

Each section is one `app_settings` row holding only what was set here; everything else falls back to
the environment (`crm_app.platform.config`) or to the defaults below. Readers use `effective()`: kept in memory,
forgotten at once when this process commits a change, and re-read after `CACHE_TTL` seconds so that a
change made through another instance shows there too. Every change is written to the security log
with its old and new values (an SMTP password only as "set"/"not set").
"""

from __future__ import annotations

import copy
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from crm_app.platform import cache, security_log
from crm_app.platform.config import Settings, get_settings
from crm_app.platform.errors import Conflict, NotFound, ValidationFailed
from crm_app.platform.i18n import N_, SUPPORTED_LOCALES
from crm_app.platform.models.audit import Severity
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.people import User
from crm_app.platform.models.settings import AppSetting
from crm_app.platform.permissions import Actor, authorize, can

CACHE_TTL = 10.0  # seconds before another instance's change shows here
ACTION_CHANGED = "settings.changed"
ACTION_TEST_EMAIL = "settings.test_email"
_CHANGED_KEY = "opex_settings_changed"

SECTIONS: tuple[str, ...] = ("organisation", "email", "modules", "sessions", "retention",
                              "documents", "branding", "templates", "reminders")
#: the right that shows and changes each section: the system ones for super administrators, the sales
#: documents' ones for administrators too.
SECTION_RIGHTS: dict[str, str] = {
    **{name: "settings.system" for name in ("organisation", "email", "modules", "sessions", "retention")},
    "documents": "document_template.edit", "branding": "document_template.edit",
    "templates": "document_template.edit", "reminders": "reminder_rule.edit",
}
SECTION_TITLES: dict[str, str] = {
    "organisation": N_("Organisation"), "email": N_("Email"), "modules": N_("Modules"),
    "sessions": N_("Sessions"), "retention": N_("Retention"), "documents": N_("Sales documents"),
    "branding": N_("Company identity and branding"), "templates": N_("Email templates"),
    "reminders": N_("Reminders"),
}

#: modules that can be switched off, and the first segment of their page and API paths.
MODULES: dict[str, str] = {"tasks": N_("Tasks"), "meetings": N_("Meetings"), "notes": N_("Notes"),
                           "calls": N_("Calls")}

SMTP_FIELDS: tuple[str, ...] = ("smtp_host", "smtp_port", "smtp_secure", "smtp_user", "smtp_password", "smtp_from")
PASSWORD_SET, PASSWORD_NOT_SET = "set", "not set"

_REQUIRED = N_("This field is required.")
_TOO_LONG = N_("This text is too long.")
_WHOLE_NUMBER = N_("Enter a whole number within the allowed range.")
_INVALID_ADDRESS = N_("Enter a valid email address.")


# --- defaults and validation -------------------------------------------------------------------

def _defaults(env: Settings) -> dict[str, dict[str, Any]]:
    from crm_app.activities.alerts import SECURITY_LOG_RETENTION
    from crm_app.platform.notifications import RETENTION
    from crm_app.sales.document_settings import (
        BRANDING_DEFAULTS,
        DOCUMENT_DEFAULTS,
        REMINDER_DEFAULTS,
        TEMPLATE_DEFAULTS,
    )

    return {
        "organisation": {"name": "OPEx CRM", "default_language": "fr", "timezone": env.timezone},
        "email": {name: getattr(env, name) for name in SMTP_FIELDS},
        "modules": {name: True for name in MODULES},
        "sessions": {"lifetime_minutes": env.session_lifetime // 60, "idle_timeout_minutes": 0},
        "retention": {"security_log_low_days": SECURITY_LOG_RETENTION[Severity.LOW].days,
                      "security_log_high_days": SECURITY_LOG_RETENTION[Severity.HIGH].days,
                      "notifications_days": RETENTION.days},
        # copies: the merge updates these dicts, and some values are lists
        "documents": copy.deepcopy(DOCUMENT_DEFAULTS), "branding": copy.deepcopy(BRANDING_DEFAULTS),
        "templates": copy.deepcopy(TEMPLATE_DEFAULTS), "reminders": copy.deepcopy(REMINDER_DEFAULTS),
    }


def _text(value: Any, *, limit: int, required: bool = False) -> tuple[Any, str | None]:
    text = "" if value is None else str(value).strip()
    if required and not text:
        return None, _REQUIRED
    if len(text) > limit:
        return None, _TOO_LONG
    return text, None


def _whole(low: int, high: int) -> Callable[[Any], tuple[Any, str | None]]:
    def check(value: Any) -> tuple[Any, str | None]:
        try:
            number = int(str(value).strip()) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or not low <= number <= high:
            return None, _WHOLE_NUMBER
        return number, None
    return check


def _flag(value: Any) -> tuple[Any, str | None]:
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
    from crm_app.platform.identifiers import clean_email

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


_FIELDS: dict[str, dict[str, Callable[[Any], tuple[Any, str | None]]]] = {
    "organisation": {"name": lambda v: _text(v, limit=200, required=True), "default_language": _language,
                     "timezone": _timezone},
    "email": {"smtp_host": _host, "smtp_port": _whole(1, 65535), "smtp_secure": _flag,
              "smtp_user": lambda v: _text(v, limit=255), "smtp_password": _password, "smtp_from": _sender},
    "modules": {name: _flag for name in MODULES},
    "sessions": {"lifetime_minutes": _whole(5, 60 * 24 * 30), "idle_timeout_minutes": _whole(0, 60 * 24 * 30)},
    "retention": {"security_log_low_days": _whole(1, 3650), "security_log_high_days": _whole(1, 3650),
                  "notifications_days": _whole(1, 3650)},
}


def _sales_fields() -> None:
    """The checks of the sales documents' sections (crm_app.sales.document_settings holds them)."""
    from crm_app.sales import document_settings

    _FIELDS.update(document_settings.FIELD_CHECKS)


_sales_fields_loaded = False

def _validate(section: str, values: dict[str, Any], merged: dict[str, Any]) -> dict[str, Any]:
    """The cleaned values; ValidationFailed naming every field in error. In the email section a None
    value means "back to the environment"."""
    global _sales_fields_loaded
    if not _sales_fields_loaded:
        _sales_fields()
        _sales_fields_loaded = True
    checks = _FIELDS[section]
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if name not in checks:
            errors[name] = N_("Unknown setting.")
            continue
        if value is None and section == "email":
            cleaned[name] = None
            continue
        clean, error = checks[name](value)
        if error:
            errors[name] = error
        else:
            cleaned[name] = clean
    after = {**merged, **{k: v for k, v in cleaned.items() if v is not None}}
    if section == "sessions" and "idle_timeout_minutes" not in errors \
            and after["idle_timeout_minutes"] > after["lifetime_minutes"]:
        errors["idle_timeout_minutes"] = N_("The idle timeout cannot be longer than the session lifetime.")
    if section == "retention" and "security_log_high_days" not in errors \
            and after["security_log_high_days"] < after["security_log_low_days"]:
        errors["security_log_high_days"] = N_("Keep important entries at least as long as the others.")
    if section == "documents" and "default_vat_rate" not in errors and "vat_rates" not in errors:
        from decimal import Decimal

        if Decimal(str(after["default_vat_rate"])) not in {Decimal(str(rate)) for rate in after["vat_rates"]}:
            errors["default_vat_rate"] = N_("The default VAT rate must be one of the VAT rates.")
    if errors:
        raise ValidationFailed(errors)
    return cleaned


# --- effective values (cached) -----------------------------------------------------------------

_cache: cache.TimedCache[dict[str, dict[str, Any]]] = cache.register(cache.TimedCache(ttl=CACHE_TTL, max_entries=4))


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
        from crm_app.platform.db import unit_of_work

        with unit_of_work() as own:
            return load(own)

    return _merge(_cache.get("stored", compute))


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


def retention_days(session: Session | None = None) -> dict[str, int]:
    return {k: int(v) for k, v in section_values("retention", session).items()}


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
    return SectionView(name=name, values=_mask(dict(merged)), version=row.version if row else 0,
                       updated_at=row.updated_at if row else None,
                       updated_by_name=updated_by.full_name if updated_by else None,
                       environment=environment, overridden=overridden)


def visible_sections(actor: Actor) -> list[str]:
    return [name for name in SECTIONS if can(actor, SECTION_RIGHTS[name])]


def get_settings_view(session: Session, actor: Actor) -> SettingsView:
    """The sections this actor may see, with their effective values (never an SMTP password); Forbidden
    for who may see none."""
    if not visible_sections(actor):
        authorize(actor, "settings.system")
    rows = _stored(session)
    merged = _compute(session)
    return SettingsView(sections={name: _section_view(session, name, rows.get(name), merged[name])
                                  for name in visible_sections(actor)})


def _for_log(name: str, value: Any) -> Any:
    if name == "smtp_password":
        return PASSWORD_SET if value else PASSWORD_NOT_SET
    if name == "iban" and value:  # never a full IBAN in the logs: its country and last four characters
        return f"{str(value)[:2]}…{str(value)[-4:]}"
    return value


def update_section(session: Session, actor: Actor, section: str, values: dict[str, Any], *,
                   expected_version: int | None = None, client: security_log.ClientInfo | None = None
                   ) -> SectionView:
    """Change some values of one section; each changed value is logged with its old and new value.

    `expected_version` is the version read (0 when never saved): a stale one raises Conflict. In the
    email section, a None value removes the override (the environment's value applies again)."""
    if section not in SECTIONS:
        raise NotFound(N_("No such settings section."))
    authorize(actor, SECTION_RIGHTS[section])
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
    changes = {name: {"old": _for_log(name, before.get(name)), "new": _for_log(name, after.get(name))}
               for name in cleaned if before.get(name) != after.get(name)
               or (name in stored) != (row is not None and name in (row.values or {}))}
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
    security_log.record(session, ACTION_CHANGED, severity=Severity.MEDIUM,
                        user_id=actor.id if actor.id.int else None, email=actor.email, client=client,
                        section=section, changes=changes)
    return _section_view(session, section, row, _compute(session)[section])


# --- test email ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TestEmailResult:
    __test__ = False  # not a pytest class

    ok: bool
    answer: str  # the server's reply ("250 …") or the error, as the server or the network gave it


def send_test_email(session: Session, actor: Actor, to: str) -> TestEmailResult:
    """Send one message now, with the effective SMTP settings, and report the server's real answer.

    Blocking (SMTP, up to the mail timeout): call it off the event loop."""
    import emails

    from crm_app.platform import outbox as mail
    from crm_app.platform.identifiers import clean_email

    authorize(actor, "settings.system")
    try:
        address = clean_email(to)
    except ValueError:
        raise ValidationFailed({"to": _INVALID_ADDRESS}) from None
    settings = smtp_settings(session)
    if not settings.smtp_host:
        raise ValidationFailed({"smtp_host": N_("No SMTP server is set (SMTP_HOST or the value here).")})
    organisation = section_values("organisation", session)["name"]
    message = emails.Message(subject=f"{organisation}: test email", mail_from=settings.smtp_from, mail_to=[address],
                             text=f"This test message was sent by {actor.full_name} from the settings of "
                                  f"{organisation}. If you can read it, the SMTP settings work.")
    try:
        with mail._smtp_backend(settings) as backend:
            response = message.send(smtp=backend)
        if response is None:
            raise ValueError("the message has no recipient")
        if response.error is not None:
            raise response.error
        refused = response.refused_recipients or {}
        if refused:
            answer = "; ".join(f"{addr}: {code} {reply.decode(errors='replace')}"
                               for addr, (code, reply) in refused.items())
            result = TestEmailResult(False, answer)
        elif not response.success:
            raise smtplib.SMTPResponseException(response.status_code or 0, response.status_text or b"")
        else:
            text = response.status_text.decode(errors="replace") if isinstance(response.status_text, bytes) \
                else str(response.status_text or "")
            result = TestEmailResult(True, f"{response.status_code} {text}".strip())
    except Exception as exc:  # every failure is reported as the server or the network said it
        result = TestEmailResult(False, f"{type(exc).__name__}: {exc}"[:2000])
    security_log.record(session, ACTION_TEST_EMAIL, user_id=actor.id if actor.id.int else None, email=actor.email,
                        to=address, host=settings.smtp_host, ok=result.ok, answer=result.answer[:500])
    return result

