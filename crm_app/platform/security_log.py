"""Writing to the security log (who did what security-relevant thing, from where)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from crm_app.platform import audit
from crm_app.platform.config import get_settings
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_, NP_, gettext
from crm_app.platform.models.audit import SecurityAction, SecurityEvent, Severity
from crm_app.platform.models.people import Role, User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import RIGHT_LABELS, ROLE_LABELS, SYSTEM_ACTOR, Actor, authorize
from crm_app.platform.tabular import to_csv


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from, for the security log and the session list."""

    ip: str | None = None
    user_agent: str | None = None


def record(
    session: Session,
    action: SecurityAction | str,
    *,
    severity: Severity = Severity.LOW,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
    client: ClientInfo | None = None,
    **details: Any,
) -> SecurityEvent:
    """Add one entry; it is committed with the surrounding unit of work."""
    client = client or ClientInfo()
    event = SecurityEvent(
        action=str(action),
        severity=severity,
        user_id=user_id,
        email=email,
        ip=client.ip,
        user_agent=(client.user_agent or "")[:300] or None,
        details={k: v for k, v in details.items() if v is not None},
    )
    session.add(event)
    return event


def log_refusal(actor: Actor | None, action: str, client: ClientInfo | None = None, **details: Any) -> None:
    """Record a refused action in its own unit of work (the refused one was rolled back). A request
    made with a personal API token names the token."""

    with unit_of_work() as session:
        record(
            session,
            SecurityAction.ACTION_REFUSED,
            severity=Severity.MEDIUM,
            user_id=actor.id if actor and actor.id.int else None,
            email=actor.email if actor else None,
            client=client,
            refused=action,
            api_token_id=str(actor.token_id) if actor and actor.token_id else None,
            **details,
        )


# --- Reading the log (admins: "security_log.view") ---------------------------------------------

ACTION_LABELS: dict[str, str] = {
    SecurityAction.LOGIN_SUCCEEDED.value: N_("Login"),
    SecurityAction.LOGIN_FAILED.value: N_("Failed login"),
    SecurityAction.LOGIN_LOCKED.value: N_("Login locked"),
    SecurityAction.LOGOUT.value: N_("Logout"),
    SecurityAction.TOKEN_REUSE.value: N_("Token reuse detected"),
    SecurityAction.ACTION_REFUSED.value: N_("Refused action"),
    SecurityAction.USER_CREATED.value: N_("User created"),
    SecurityAction.USER_UPDATED.value: N_("User updated"),
    SecurityAction.EXPORT.value: N_("Export"),
    SecurityAction.IMPORT.value: N_("Import"),
    SecurityAction.TEAM_CREATED.value: N_("Team created"),
    SecurityAction.TEAM_RENAMED.value: N_("Team renamed"),
    SecurityAction.TEAM_ARCHIVED.value: N_("Team archived"),
    SecurityAction.TEAM_RESTORED.value: N_("Team restored"),
    SecurityAction.TEAM_MEMBER_ADDED.value: N_("Team member added"),
    SecurityAction.TEAM_MEMBER_REMOVED.value: N_("Team member removed"),
    SecurityAction.TEAM_MANAGER_CHANGED.value: N_("Team manager changed"),
    SecurityAction.PASSWORD_CHANGED.value: N_("Password changed"),
    SecurityAction.SESSIONS_ENDED.value: N_("Other sessions signed out"),
    # Account administration (crm_app.accounts.models.AccountAction) and settings.
    "user.invited": N_("User invited"),
    "user.invitation_resent": N_("Invitation sent again"),
    "user.invitation_revoked": N_("Invitation revoked"),
    "user.invitation_accepted": N_("Invitation accepted"),
    "user.role_changed": N_("Role or team changed"),
    "user.deactivated": N_("User deactivated"),
    "user.reactivated": N_("User reactivated"),
    "password.reset_requested": N_("Password reset requested"),
    "password.reset_link_sent": N_("Password reset link sent"),
    "account.link_shown": N_("Account link shown to an administrator"),
    "password.reset": N_("Password reset"),
    "account_token.refused": N_("Invalid or expired link refused"),
    "api_token.created": N_("API token created"),
    "api_token.revoked": N_("API token revoked"),
    "api_token.refused": N_("API token refused"),
    "settings.changed": N_("Settings changed"),
    "settings.test_email": N_("Test email sent"),
    "plugin.enabled": N_("Plugin enabled"),
    "plugin.disabled": N_("Plugin disabled"),
    "plugin.settings_changed": N_("Plugin settings changed"),
    "webhook.created": N_("Webhook created"),
    "webhook.updated": N_("Webhook changed"),
    "webhook.deleted": N_("Webhook deleted"),
    "webhook.secret_rotated": N_("Webhook secret rotated"),
    "webhook.disabled": N_("Webhook disabled after failures"),
}

SEVERITY_LABELS: dict[Severity, str] = {
    Severity.LOW: N_("Low"),
    Severity.MEDIUM: N_("Medium"),
    Severity.HIGH: N_("High"),
}

EXPORT_COLUMNS = (
    N_("Date"),
    N_("User"),
    N_("Email"),
    N_("Action"),
    N_("Severity"),
    N_("IP address"),
    N_("User agent"),
    N_("Details"),
)


def action_label(action: str) -> str:
    """The message id naming an action (actions added later by other areas show their code)."""
    return ACTION_LABELS.get(action, action)


@dataclass(frozen=True, slots=True)
class SecurityLogQuery:
    """The filters of the security log. Dates are whole days in `timezone`; `date_to` is included."""

    user: str = ""  # part of the email or of the user's name
    user_id: uuid.UUID | None = None
    action: str | None = None
    severity: Severity | None = None
    date_from: date | None = None
    date_to: date | None = None
    timezone: str | None = None

    def to_params(self) -> dict[str, str]:
        params = {
            "user": self.user.strip(),
            "user_id": str(self.user_id) if self.user_id else "",
            "action": self.action or "",
            "severity": self.severity.value if self.severity else "",
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
        }
        return {k: v for k, v in params.items() if v}


@dataclass(frozen=True, slots=True)
class SecurityEventRow:
    id: uuid.UUID
    at: datetime
    user_id: uuid.UUID | None
    user_name: str | None
    email: str | None
    action: str
    severity: Severity
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]
    details_text: str = ""  # the details in words, in the reader's language (`describe_details`)


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def _filtered(query: SecurityLogQuery) -> Any:

    zone = ZoneInfo(query.timezone or get_settings().timezone)
    columns: tuple[Any, ...] = (
        SecurityEvent.id,
        SecurityEvent.at,
        SecurityEvent.user_id,
        User.full_name,
        SecurityEvent.email,
        SecurityEvent.action,
        SecurityEvent.severity,
        SecurityEvent.ip,
        SecurityEvent.user_agent,
        SecurityEvent.details,
    )
    statement: Any = sa.select(*columns).outerjoin(User, col(User.id) == SecurityEvent.user_id)
    if query.user.strip():
        needle = query.user.strip().lower()
        statement = statement.where(
            func.lower(func.coalesce(SecurityEvent.email, "")).contains(needle, autoescape=True)
            | func.lower(func.coalesce(User.full_name, "")).contains(needle, autoescape=True)
        )
    if query.user_id is not None:
        statement = statement.where(SecurityEvent.user_id == query.user_id)
    if query.action:
        statement = statement.where(SecurityEvent.action == query.action)
    if query.severity is not None:
        statement = statement.where(SecurityEvent.severity == Severity(query.severity).value)
    if query.date_from is not None:
        statement = statement.where(SecurityEvent.at >= _day_start(query.date_from, zone))
    if query.date_to is not None:
        statement = statement.where(SecurityEvent.at < _day_start(query.date_to + timedelta(days=1), zone))
    return statement


def _row(values: Any) -> SecurityEventRow:
    by_system = values[2] is None and values[4] == SYSTEM_ACTOR.email  # the CLI, a job, the set-up
    return SecurityEventRow(
        id=values[0],
        at=values[1],
        user_id=values[2],
        user_name=SYSTEM_ACTOR.full_name if by_system else values[3],
        email=values[4],
        action=values[5],
        severity=Severity(values[6]),
        ip=values[7],
        user_agent=values[8],
        details=dict(values[9] or {}),
    )


#: The words of the details' keys (message ids); a key not named here is shown as it is.
DETAIL_LABELS: dict[str, str] = {
    "target": N_("Account"),
    "role": N_("Role"),
    "team": N_("Team"),
    "team_id": N_("Team"),
    "section": N_("Section"),
    "changes": N_("Changes"),
    "list": N_("List"),
    "rows": N_("Rows"),
    "format": N_("Format"),
    "filters": N_("Filters"),
    "channel": N_("Channel"),
    "refused": N_("Refused action"),
    "sessions_ended": N_("Sessions ended"),
    "new_email": N_("New email"),
    "to": N_("To"),
    "host": N_("Server"),
    "ok": N_("Succeeded"),
    "answer": N_("Answer"),
    "file": N_("File"),
    "purpose": N_("Link"),
    "plugin": N_("Plugin"),
    "failures": N_("Failures in a row"),
    "created": NP_("import report", "Created"),
    "merged": NP_("import report", "Merged"),
    "skipped": NP_("import report", "Skipped"),
    "rejected": NP_("import report", "Rejected"),
    "api_token": N_("API token"),
    "api_token_id": N_("API token"),
    "scopes": N_("Scopes"),
    "scope": N_("Missing scope"),
    "expires_at": N_("Expires"),
    "reason": N_("Reason"),
    "api_tokens_revoked": N_("API tokens revoked"),
}

#: Why an API token was refused (`api_token.refused`), in words.
REFUSAL_REASONS: dict[str, str] = {
    "unknown": N_("unknown token"),
    "revoked": N_("revoked"),
    "expired": N_("expired"),
    "owner_deactivated": N_("owner deactivated"),
}


def _value_text(key: str, value: Any, names: dict[str, str]) -> str:
    if isinstance(value, bool):
        return gettext(N_("Yes")) if value else gettext(N_("No"))
    if key == "reason" and isinstance(value, str) and value in REFUSAL_REASONS:
        return gettext(REFUSAL_REASONS[value])
    if key == "refused" and isinstance(value, str):
        return gettext(RIGHT_LABELS[value]) if value in RIGHT_LABELS else value
    if key == "role" and value in {role.value for role in Role}:
        return gettext(ROLE_LABELS[Role(value)])
    if isinstance(value, dict) and key == "changes":  # {field: {"old": …, "new": …}}
        return ", ".join(
            f"{field} {_plain(change.get('old'))} → {_plain(change.get('new'))}"
            if isinstance(change, dict)
            else f"{field} {_plain(change)}"
            for field, change in value.items()
        )
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    text = _plain(value)
    return names.get(text, text)


def _plain(value: Any) -> str:
    if value is None or value == "":
        return "∅"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def describe_details(details: dict[str, Any], names: dict[str, str]) -> str:
    """The details in words: "Team: Ouest; Role: Manager" rather than JSON with ids. `names` maps
    the ids the details hold to their names (`audit.referenced_names`)."""
    shown = {k: v for k, v in details.items() if not (k == "team_id" and "team" in details)}
    return "; ".join(
        gettext(
            N_("{label}: {value}"),
            label=gettext(DETAIL_LABELS[key]) if key in DETAIL_LABELS else key,
            value=_value_text(key, value, names),
        )
        for key, value in shown.items()
    )


def _in_words(session: Session, rows: list[SecurityEventRow]) -> list[SecurityEventRow]:
    """The rows with their details in words, the ids they name resolved in one query per kind."""
    names = audit.referenced_names(
        session, ((key, str(value)) for row in rows for key, value in row.details.items() if isinstance(value, str))
    )
    return [dataclasses.replace(row, details_text=describe_details(row.details, names)) for row in rows]


def _check_dates(query: SecurityLogQuery) -> None:
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise ValidationFailed({"date_to": N_("The end date is before the start date.")})


def list_events(
    session: Session, actor: Actor, query: SecurityLogQuery, request: PageRequest | None = None
) -> Page[SecurityEventRow]:
    """One page of the log, newest first, filtered and paged in SQL."""
    authorize(actor, "security_log.view")
    _check_dates(query)
    request = request or PageRequest()
    statement = _filtered(query)
    total = int(session.exec(select(func.count()).select_from(statement.subquery())).one())
    rows = session.execute(
        statement.order_by(col(SecurityEvent.at).desc(), col(SecurityEvent.id))
        .offset(request.offset)
        .limit(request.page_size)
    ).all()
    items = _in_words(session, [_row(r) for r in rows])
    return Page(items=items, total=total, page=request.page, page_size=request.page_size)


def list_actions(session: Session, actor: Actor) -> list[str]:
    """Every action code known: the named ones and any other found in the log."""
    authorize(actor, "security_log.view")
    found = session.exec(select(SecurityEvent.action).distinct()).all()
    return sorted(set(ACTION_LABELS) | set(found))


def iter_events(session: Session, actor: Actor, query: SecurityLogQuery) -> Iterator[SecurityEventRow]:
    """Every filtered entry, newest first, read in batches (for the export)."""
    authorize(actor, "security_log.view")
    _check_dates(query)
    statement = (
        _filtered(query).order_by(col(SecurityEvent.at).desc(), col(SecurityEvent.id)).execution_options(yield_per=1000)
    )
    batch: list[SecurityEventRow] = []
    for values in session.execute(statement):
        batch.append(_row(values))
        if len(batch) == 1000:
            yield from _in_words(session, batch)
            batch = []
    yield from _in_words(session, batch)


def export_events(session: Session, actor: Actor, query: SecurityLogQuery) -> bytes:
    """The filtered log as CSV (cells neutralised against spreadsheet formulas); the export itself
    is written to the log."""

    zone = ZoneInfo(query.timezone or get_settings().timezone)
    rows = [
        [
            row.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            row.user_name,
            row.email,
            gettext(action_label(row.action)),
            gettext(SEVERITY_LABELS[row.severity]),
            row.ip,
            row.user_agent,
            row.details_text,
        ]
        for row in iter_events(session, actor, query)
    ]
    record(
        session,
        SecurityAction.EXPORT,
        severity=Severity.MEDIUM,
        user_id=actor.id if actor.id.int else None,
        email=actor.email,
        list="security_log",
        rows=len(rows),
        format="csv",
        filters=query.to_params(),
    )
    return to_csv([gettext(column) for column in EXPORT_COLUMNS], rows)
