"""The daily jobs of sales documents (DOMAIN.md "Reminders and scheduled jobs"): quote expiry (00:05),
quote reminders (08:00), invoice follow-up (08:00) and invoice overdue (00:10). They run on
PostgreSQL and on SQLite (the embedded default).

Every run is set-based: a fixed number of SQL statements whatever the number of documents. The
reminder jobs read the documents due today with their details in one SELECT (those already reminded
left out), then write each kind of row in one statement (`crm_app.platform.db.insert_rows`: on PostgreSQL one
INSERT ... SELECT FROM json_populate_recordset, the rows as one JSON parameter): follow-up tasks,
reminders, notifications (`notifications.notify_many`), outbox messages (`mail.enqueue_many`). The
status jobs lock their documents (SELECT ... FOR UPDATE), update them in one UPDATE and write one
INSERT of audit entries and one of notifications.

Every run is idempotent and safe to run twice at once or on two servers: reminders are recorded
with INSERT ... ON CONFLICT DO NOTHING RETURNING on their primary keys (quote + kind, invoice +
level), and only the rows a run really inserted are notified and emailed; a concurrent run waits on
the uncommitted rows of the other and then gives way. A quote reminder's follow-up task is written
*before* its reminder, under an id chosen in Python, so that the reminder row carries its task_id
from the start (the foreign key needs the task first; no UPDATE afterwards); the tasks of the
reminders a concurrent run took first are deleted again (one DELETE, only then). Whether the client
is emailed about an invoice is known before its reminder is written (`emailed_client` set at once).
Status changes lock their rows first, so a second run finds nothing left to change.

"Today" is the date in the organisation's time zone (settings "organisation"), from the shared clock.

Catch-up rule (a day missed while the server was down): the reminders of a document are ordered
(quote: j-7, j-3, j0, j+7 — only the kinds switched on; invoice: the levels, in days from the due
date). Each one is *due* from its day until the next one's day (exclusive): a run sends, for each
document, the one reminder whose window contains today, if it was never sent. So j-7 missed on its
day is still sent at j-6, j-5, j-4, but not once j-3 is due (then only j-3); an invoice whose −7 and
+1 levels were both missed gets +1 only. Lower levels skipped that way are never sent and leave no
row. Two bounds: a reminder before expiry (j-7, j-3, j0) is only due while the quote is still valid
(valid_until ≥ today, status sent), and the last reminder of a series (j+7, the highest invoice
level) stays due for CATCH_UP_DAYS after its day, so that switching the jobs on does not remind
about documents long past.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from sqlmodel import Session

from crm_app.activities.models import Task, TaskPriority, TaskStatus
from crm_app.institutions.models import Contact, Institution
from crm_app.platform import audit, cache, events, notifications, storage
from crm_app.platform import outbox as mail
from crm_app.platform.config import get_settings
from crm_app.platform.db import insert_rows
from crm_app.platform.i18n import N_, gettext, use_locale
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.people import User
from crm_app.platform.notifications import NewNotification
from crm_app.platform.outbox import Outgoing
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.platform.scheduler import Job, cron
from crm_app.platform.settings import organisation
from crm_app.sales import documents, templates
from crm_app.sales.document_settings import ReminderRules, branding, reminder_rules
from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceReminder, InvoiceStatus
from crm_app.sales.models.opportunities import Opportunity
from crm_app.sales.models.quotes import (
    DocumentKind,
    Quote,
    QuoteReminder,
    QuoteReminderKind,
    QuoteStatus,
    StoredDocument,
)
from crm_app.sales.reminder_kinds import QUOTE_REMINDER_SPECS, QUOTE_REMINDERS

log = logging.getLogger(__name__)

#: how long the last reminder of a series (j+7, the highest invoice level) stays due after its day.
CATCH_UP_DAYS = 7

_Q, _QR, _I, _IR = table_of(Quote), table_of(QuoteReminder), table_of(Invoice), table_of(InvoiceReminder)
_INST, _C, _U = table_of(Institution), table_of(Contact), table_of(User)
_T, _A = table_of(Task), table_of(AuditEntry)
_SD = table_of(StoredDocument)
_OPP = table_of(Opportunity)
_SAFE = re.compile(r"[^A-Za-z0-9._-]")

#: The notification kinds of these jobs (titles translated when shown, in the recipient's language).
NOTIFICATION_KINDS: dict[str, str] = {
    "quote.expired": N_("The quote {number} for {institution} has expired"),
    "quote.expiring": N_("Quote {number} for {institution}: {stage_label}"),
    "invoice.followup": N_("Invoice {number} for {institution}: {stage_label}"),
    "invoice.overdue": N_("The invoice {number} for {institution} is overdue"),
}


def _invoice_stage(level: int) -> str:
    if level < 0:
        return N_("payment due soon")
    return N_("payment due today") if level == 0 else N_("payment overdue")


# --------------------------------------------------------------------------------------------
# Time and windows


def organisation_today(session: Session | None = None, now: datetime | None = None) -> date:
    """Today's date in the organisation's time zone."""
    zone = ZoneInfo(str(organisation(session)["timezone"]))
    return (now or utcnow()).astimezone(zone).date()


@dataclass(frozen=True, slots=True)
class Window:
    """A reminder (`key`: quote kind or invoice level) is due today for the documents whose anchor date
    (validity date, due date) lies in [first, last]; `offset` is its day relative to the anchor."""

    key: Any
    offset: int
    first: date
    last: date


def reminder_windows(offsets: Sequence[tuple[Any, int]], today: date, *, valid_until_expiry: bool) -> list[Window]:
    """The windows of the catch-up rule (module docstring): each reminder is due from its day until
    the next one's day; the last for CATCH_UP_DAYS; with `valid_until_expiry`, those on or before the
    anchor day only while the document is still valid (anchor ≥ today)."""
    ordered = sorted(offsets, key=lambda item: item[1])
    windows = []
    for index, (key, offset) in enumerate(ordered):
        end = ordered[index + 1][1] if index + 1 < len(ordered) else offset + CATCH_UP_DAYS
        if valid_until_expiry and offset <= 0:
            end = min(end, 1)
        # due on anchor + offset <= today < anchor + end  ⇔  today - end < anchor <= today - offset
        windows.append(Window(key, offset, today - timedelta(days=end - 1), today - timedelta(days=offset)))
    return windows


def _in_windows(column: Any, windows: Sequence[Window]) -> list[Any]:
    return [sa.and_(column >= w.first, column <= w.last) for w in windows]


def _local_end_of_day(session: Session, day: date) -> datetime:
    zone = ZoneInfo(str(organisation(session)["timezone"]))
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone).astimezone(UTC)


def _base_url() -> str:
    settings = get_settings()
    return (settings.base_url or f"http://localhost:{settings.port}").rstrip("/")


def _language(owner_language: str | None, org: dict[str, Any]) -> str:
    return owner_language or str(org["default_language"])


@functools.lru_cache(maxsize=256)
def _translated(language: str, message: str) -> str:
    """A message id in `language`, its `{name}` fields left for str.format (gettext's own rule)."""
    with use_locale(language):
        return gettext(message)


def _audit_status_changes(
    session: Session, entity_type: str, changes: Sequence[tuple[uuid.UUID, uuid.UUID, str]], new_status: str
) -> None:
    """One audit entry per document (id, institution id, old status) → new_status, by the system."""
    if not changes:
        return
    cache.mark_changed(session)
    rows = [
        {
            "id": uuid.uuid4(),
            **audit.entry_values(
                SYSTEM_ACTOR,
                entity_type=entity_type,
                entity_id=entity_id,
                institution_id=institution_id,
                action="update",
            ),
            "field": "status",
            "old_value": old_status,
            "new_value": new_status,
        }
        for entity_id, institution_id, old_status in changes
    ]
    insert_rows(session, _A, rows)


# --------------------------------------------------------------------------------------------
# Quote expiry (00:05)


def expire_quotes(session: Session, *, now: datetime | None = None) -> int:
    """Sent quotes past their validity date → `expired` (audit entry, the owner notified, and the owner
    of the opportunity it was made for when another person). Returns how many."""
    now = now or utcnow()
    today = organisation_today(session, now)
    session.flush()
    due = sa.and_(_Q.c.status == QuoteStatus.SENT.value, _Q.c.valid_until < today)
    locked = (
        session.connection()
        .execute(
            sa.select(
                _Q.c.id,
                _Q.c.number,
                _Q.c.owner_id,
                _Q.c.team_id,
                _Q.c.institution_id,
                _INST.c.name,
                _OPP.c.id.label("opportunity_id"),
                _OPP.c.owner_id.label("opportunity_owner_id"),
                _OPP.c.name.label("opportunity_name"),
            )
            .join(_INST, _INST.c.id == _Q.c.institution_id)
            .outerjoin(_OPP, _OPP.c.id == _Q.c.opportunity_id)
            .where(due)
            .with_for_update(of=_Q)
        )
        .all()
    )
    if not locked:
        return 0
    expired = set(
        session.connection()
        .execute(
            sa.update(_Q)
            .where(due)
            .values(status=QuoteStatus.EXPIRED.value, version=_Q.c.version + 1, updated_at=now, updated_by=None)
            .returning(_Q.c.id)
        )
        .scalars()
    )
    rows = [row for row in locked if row.id in expired]
    _audit_status_changes(
        session,
        "quote",
        [(row.id, row.institution_id, QuoteStatus.SENT.value) for row in rows],
        QuoteStatus.EXPIRED.value,
    )
    notifications.notify_many(
        session,
        [
            NewNotification(
                recipient_id=row.owner_id,
                kind="quote.expired",
                record_kind="quote",
                record_id=row.id,
                params={"number": row.number, "institution": row.name},
            )
            for row in rows
            if row.owner_id is not None
        ]
        + [
            NewNotification(
                recipient_id=row.opportunity_owner_id,
                kind="opportunity.quote_expired",
                record_kind="opportunity",
                record_id=row.opportunity_id,
                params={"number": row.number, "institution": row.name, "name": row.opportunity_name},
            )
            for row in rows
            if row.opportunity_id is not None and row.opportunity_owner_id != row.owner_id
        ],
        now=now,
    )
    for row in rows:
        events.publish(
            session,
            events.QuoteChanged(
                quote_id=row.id,
                institution_id=row.institution_id,
                owner_id=row.owner_id,
                team_id=row.team_id,
                action="expire",
            ),
        )
    session.expire_all()
    return len(rows)


# --------------------------------------------------------------------------------------------
# Quote reminders (08:00)


def _quote_windows(rules: ReminderRules, today: date) -> list[Window]:
    offsets = [(spec.kind, spec.offset) for spec in QUOTE_REMINDERS if spec.kind.value in rules.quote_reminders]
    return reminder_windows(offsets, today, valid_until_expiry=True)


def send_quote_reminders(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Remind salespeople of their sent quotes at j-7, j-3, j0 and j+7 (the kinds switched on in the
    reminder rules), once per quote and kind, with the catch-up rule of the module docstring: an
    in-app notification, an email in their language and, when the rules say so, a follow-up task."""

    now = now or utcnow()
    rules = reminder_rules(session)
    today = organisation_today(session, now)
    counts = {"reminders": 0, "notifications": 0, "emails": 0, "tasks": 0}
    windows = _quote_windows(rules, today)
    if not windows:
        return counts
    session.flush()
    in_window = _in_windows(_Q.c.valid_until, windows)
    conditions = []
    if before_expiry := [w for w in windows if w.offset <= 0]:
        conditions.append(
            sa.and_(_Q.c.status == QuoteStatus.SENT.value, sa.or_(*_in_windows(_Q.c.valid_until, before_expiry)))
        )
    if after_expiry := [w for w in windows if w.offset > 0]:
        conditions.append(
            sa.and_(
                _Q.c.status.in_([QuoteStatus.SENT.value, QuoteStatus.EXPIRED.value]),
                sa.or_(*_in_windows(_Q.c.valid_until, after_expiry)),
            )
        )
    kind = sa.case(*((condition, sa.literal(w.key.value)) for condition, w in zip(in_window, windows, strict=True)))
    already = sa.exists().where(_QR.c.quote_id == _Q.c.id, _QR.c.kind == kind)
    # The quotes due a reminder today and never sent it, with what the notification, email and task need.
    due = (
        session.connection()
        .execute(
            sa.select(
                _Q.c.id.label("quote_id"),
                kind.label("kind"),
                _Q.c.number,
                _Q.c.title,
                _Q.c.issue_date,
                _Q.c.valid_until,
                _Q.c.total_excl_vat,
                _Q.c.total_incl_vat,
                _Q.c.currency,
                _Q.c.owner_id,
                _Q.c.institution_id,
                _Q.c.contact_id,
                _INST.c.name.label("institution"),
                _C.c.first_name.label("contact_first"),
                _C.c.last_name.label("contact_last"),
                _U.c.email,
                _U.c.full_name,
                _U.c.language,
                _U.c.team_id,
                _U.c.is_active,
            )
            .join(_INST, _INST.c.id == _Q.c.institution_id)
            .outerjoin(_U, _U.c.id == _Q.c.owner_id)
            .outerjoin(_C, _C.c.id == _Q.c.contact_id)
            .where(_Q.c.superseded_by_id.is_(None), sa.or_(*conditions), sa.not_(already))
            .order_by(_Q.c.valid_until, _Q.c.number)
        )
        .all()
    )
    if not due:
        return counts
    org = organisation(session)
    offsets = {w.key.value: w.offset for w in windows}
    tasks = (
        _quote_tasks(session, [row for row in due if row.is_active], org, today) if rules.quote_followup_task else {}
    )
    insert_rows(session, _T, [{**task, "created_at": now, "updated_at": now} for task in tasks.values()])
    inserted = {
        (row.quote_id, row.kind)
        for row in insert_rows(
            session,
            _QR,
            [
                {
                    "quote_id": row.quote_id,
                    "kind": row.kind,
                    "due_on": row.valid_until + timedelta(days=offsets[row.kind]),
                    "sent_at": now,
                    "task_id": tasks[row.quote_id, row.kind]["id"] if (row.quote_id, row.kind) in tasks else None,
                }
                for row in due
            ],
            on_conflict=["quote_id", "kind"],
            returning=["quote_id", "kind"],
        )
    }
    if lost := [task["id"] for key, task in tasks.items() if key not in inserted]:
        # a concurrent run reminded these quotes first: its tasks stand, ours go
        session.connection().execute(sa.delete(_T).where(_T.c.id.in_(lost)))
    counts["reminders"] = len(inserted)
    active = [row for row in due if row.is_active and (row.quote_id, row.kind) in inserted]
    counts["notifications"] = notifications.notify_many(
        session,
        [
            NewNotification(
                recipient_id=row.owner_id,
                kind="quote.expiring",
                record_kind="quote",
                record_id=row.quote_id,
                params={
                    "number": row.number,
                    "institution": row.institution,
                    "reminder": row.kind,
                    "valid_until": row.valid_until.isoformat(),
                    "stage_label": QUOTE_REMINDER_SPECS[QuoteReminderKind(row.kind)].stage,
                },
            )
            for row in active
        ],
        now=now,
    )
    company = branding(session).legal_name or str(org["name"])
    render, base_url = _templates(session, "quote_reminder_owner"), _base_url()
    queued = mail.enqueue_many(
        session,
        [_quote_owner_mail(row, org, company, today, render=render, base_url=base_url) for row in active],
        skip_invalid=True,
        now=now,
    )
    counts["emails"] = sum(row_id is not None for row_id in queued)
    first_of: dict[uuid.UUID, dict[str, Any]] = {}
    for row in active:
        if (task := tasks.get((row.quote_id, row.kind))) is not None:
            counts["tasks"] += 1
            first_of.setdefault(task["assignee_id"], task)
    for assignee_id, task in sorted(first_of.items()):
        events.publish(
            session, events.TaskChanged(task_id=task["id"], assignee_id=assignee_id, team_id=task["team_id"])
        )
    session.expire_all()
    return counts


def _quote_tasks(
    session: Session, rows: Sequence[Any], org: dict[str, Any], today: date
) -> dict[tuple[uuid.UUID, str], dict[str, Any]]:
    """(quote id, reminder kind) → the columns of its follow-up task (made by the system, due tonight),
    in the owner's language."""
    due_at = _local_end_of_day(session, today)
    tasks = {}
    for row in rows:
        language = _language(row.language, org)
        stage = _translated(language, QUOTE_REMINDER_SPECS[QuoteReminderKind(row.kind)].stage)
        tasks[row.quote_id, row.kind] = {
            "id": uuid.uuid4(),
            "title": _translated(language, N_("Follow up quote {number}")).format(number=row.number)[:200],
            "description": _translated(language, N_("{institution}: the quote {stage}.")).format(
                institution=row.institution, stage=stage
            ),
            "status": TaskStatus.TODO.value,
            "priority": TaskPriority.NORMAL.value,
            "due_at": due_at,
            "completed_at": None,
            "assignee_id": row.owner_id,
            "team_id": row.team_id,
            "institution_id": row.institution_id,
            "contact_id": row.contact_id,
            "updated_by": None,
            "created_by": None,
            "version": 1,
        }
    return tasks


def _quote_owner_mail(
    row: Any, org: dict[str, Any], company: str, today: date, *, render: _Render, base_url: str
) -> Outgoing:
    """The salesperson's email, from the "quote_reminder_owner" template in their language."""

    language = _language(row.language, org)
    fields = {
        "number": row.number,
        "title": row.title or "",
        "institution": row.institution,
        "contact": _person(row.contact_first, row.contact_last),
        "total": _money(row.total_incl_vat, row, language),
        "total_excl_vat": _money(row.total_excl_vat, row, language),
        "amount_due": "",
        "issue_date": _day(row.issue_date, language),
        "due_date": "",
        "valid_until": _day(row.valid_until, language),
        "days": str((today - row.valid_until).days),
        "salesperson": row.full_name,
        "company": company,
    }
    subject, body = render(language, fields)
    return mail.Outgoing(
        to=[(row.full_name, row.email)],
        subject=subject,
        text=f"{body}\n\n{base_url}/quotes/{row.quote_id}",
        dedupe_key=f"quote-reminder:{row.quote_id}:{row.kind}",
        related=("quote", row.quote_id),
    )


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_Render = Callable[[str, dict[str, str]], tuple[str, str]]


def _templates(session: Session, kind: str) -> _Render:
    """`render(language, fields)` for one documents template kind, as documents.render_template would:
    the admin's or default text is read once per language (placeholders kept) and split at its
    placeholders, then each document only joins the parts with its fields."""

    compiled: dict[str, tuple[list[str], list[str]]] = {}

    def render(language: str, fields: dict[str, str]) -> tuple[str, str]:
        if language not in compiled:
            texts = templates.render_template(
                kind, {name: f"{{{name}}}" for name in templates.PLACEHOLDERS}, language, session=session
            )
            compiled[language] = (_PLACEHOLDER.split(texts[0]), _PLACEHOLDER.split(texts[1]))
        subject, body = compiled[language]

        def fill(parts: list[str]) -> str:  # literal, name, literal, name, ..., literal
            return "".join(
                part if index % 2 == 0 else str(fields.get(part, f"{{{part}}}")) for index, part in enumerate(parts)
            )

        return " ".join(fill(subject).split()), fill(body)

    return render


def _person(first: str | None, last: str | None) -> str:
    return f"{first} {last}" if first and last else first or last or ""


def _money(value: Any, row: Any, language: str) -> str:
    return _format_money(Decimal(value), row.currency or "EUR", language)


@functools.lru_cache(maxsize=4096)
def _format_money(value: Decimal, currency: str, language: str) -> str:
    return babel_numbers.format_currency(value, currency, locale=language)


@functools.lru_cache(maxsize=1024)
def _day(value: date | None, language: str) -> str:
    return babel_dates.format_date(value, format="long", locale=language) if value else ""


# --------------------------------------------------------------------------------------------
# Invoice overdue (00:10)


_OVERDUE_FROM = (InvoiceStatus.ISSUED.value, InvoiceStatus.PARTIALLY_PAID.value)
_FOLLOWED_UP = (InvoiceStatus.ISSUED.value, InvoiceStatus.PARTIALLY_PAID.value, InvoiceStatus.OVERDUE.value)


def mark_invoices_overdue(session: Session, *, now: datetime | None = None) -> int:
    """Issued or partially paid invoices past their due date → `overdue` (audit entry, the owner
    notified). Returns how many."""
    now = now or utcnow()
    today = organisation_today(session, now)
    session.flush()
    due = sa.and_(_I.c.kind == InvoiceKind.INVOICE.value, _I.c.status.in_(_OVERDUE_FROM), _I.c.due_date < today)
    locked = (
        session.connection()
        .execute(
            sa.select(_I.c.id, _I.c.number, _I.c.status, _I.c.owner_id, _I.c.team_id, _I.c.institution_id, _INST.c.name)
            .join(_INST, _INST.c.id == _I.c.institution_id)
            .where(due)
            .with_for_update(of=_I)
        )
        .all()
    )
    if not locked:
        return 0
    overdue = set(
        session.connection()
        .execute(
            sa.update(_I)
            .where(due)
            .values(status=InvoiceStatus.OVERDUE.value, version=_I.c.version + 1, updated_at=now, updated_by=None)
            .returning(_I.c.id)
        )
        .scalars()
    )
    rows = [row for row in locked if row.id in overdue]
    _audit_status_changes(
        session, "invoice", [(row.id, row.institution_id, row.status) for row in rows], InvoiceStatus.OVERDUE.value
    )
    notifications.notify_many(
        session,
        [
            NewNotification(
                recipient_id=row.owner_id,
                kind="invoice.overdue",
                record_kind="invoice",
                record_id=row.id,
                params={"number": row.number, "institution": row.name},
            )
            for row in rows
            if row.owner_id is not None
        ],
        now=now,
    )
    for row in rows:
        events.publish(
            session,
            events.InvoiceChanged(
                invoice_id=row.id,
                institution_id=row.institution_id,
                owner_id=row.owner_id,
                team_id=row.team_id,
                action="overdue",
            ),
        )
    session.expire_all()
    return len(rows)


# --------------------------------------------------------------------------------------------
# Invoice follow-up (08:00)


def send_invoice_followups(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Follow up unpaid invoices at the levels of the reminder rules (days from the due date), once
    per invoice and level, with the catch-up rule of the module docstring: the owner is notified in
    the app and by email; with `invoice_email_client`, the client's billing contact is emailed too
    (the invoice's contact, else the institution's primary one, with an address and not opted out)."""

    now = now or utcnow()
    rules = reminder_rules(session)
    today = organisation_today(session, now)
    counts = {"reminders": 0, "notifications": 0, "emails": 0, "client_emails": 0}
    windows = reminder_windows([(level, level) for level in rules.invoice_levels], today, valid_until_expiry=False)
    if not windows:
        return counts
    session.flush()
    in_window = _in_windows(_I.c.due_date, windows)
    level = sa.case(*((condition, sa.literal(w.key)) for condition, w in zip(in_window, windows, strict=True)))
    already = sa.exists().where(_IR.c.invoice_id == _I.c.id, _IR.c.level == level)
    own = _C.alias("own_contact")
    primary = _C.alias("primary_contact")
    reachable = [
        sa.and_(
            contact.c.email.is_not(None),
            contact.c.email != "",
            sa.not_(contact.c.email_opt_out),
            sa.not_(contact.c.is_archived),
        )
        for contact in (own, primary)
    ]
    due: dict[tuple[uuid.UUID, int], Any] = {}
    for row in session.connection().execute(
        sa.select(
            _I.c.id.label("invoice_id"),
            level.label("level"),
            _I.c.number,
            _I.c.title,
            _I.c.issue_date,
            _I.c.due_date,
            _I.c.total_excl_vat,
            _I.c.total_incl_vat,
            _I.c.buyer,
            _I.c.amount_paid,
            _I.c.amount_credited,
            _I.c.amount_refunded,
            _I.c.currency,
            _I.c.owner_id,
            _I.c.institution_id,
            _INST.c.name.label("institution"),
            _U.c.email,
            _U.c.full_name,
            _U.c.language,
            _U.c.is_active,
            own.c.id.label("own_id"),
            own.c.first_name.label("own_first"),
            own.c.last_name.label("own_last"),
            own.c.email.label("own_email"),
            primary.c.id.label("primary_id"),
            primary.c.first_name.label("primary_first"),
            primary.c.last_name.label("primary_last"),
            primary.c.email.label("primary_email"),
        )
        .join(_INST, _INST.c.id == _I.c.institution_id)
        .outerjoin(_U, _U.c.id == _I.c.owner_id)
        .outerjoin(own, sa.and_(own.c.id == _I.c.contact_id, reachable[0]))
        .outerjoin(
            primary, sa.and_(primary.c.institution_id == _I.c.institution_id, primary.c.is_primary, reachable[1])
        )
        .where(
            _I.c.kind == InvoiceKind.INVOICE.value, _I.c.status.in_(_FOLLOWED_UP), sa.or_(*in_window), sa.not_(already)
        )
        .order_by(_I.c.due_date, _I.c.number, primary.c.id)
    ):
        due.setdefault((row.invoice_id, row.level), row)  # one primary contact per institution, normally
    if not due:
        return counts
    valid: dict[tuple[str, str], bool] = {}
    clients: dict[tuple[uuid.UUID, int], tuple[str, str]] = {}
    if rules.invoice_email_client:
        for key, row in due.items():
            if (contact := _billing_contact(row)) is not None:
                if contact not in valid:
                    valid[contact] = mail.is_valid_recipient(contact)
                if valid[contact]:
                    clients[key] = contact
    inserted = {
        (row.invoice_id, row.level)
        for row in insert_rows(
            session,
            _IR,
            [
                {
                    "invoice_id": invoice_id,
                    "level": level_,
                    "due_on": row.due_date + timedelta(days=level_),
                    "sent_at": now,
                    "emailed_client": (invoice_id, level_) in clients,
                }
                for (invoice_id, level_), row in due.items()
            ],
            on_conflict=["invoice_id", "level"],
            returning=["invoice_id", "level"],
        )
    }
    counts["reminders"] = len(inserted)
    rows = [row for key, row in due.items() if key in inserted]
    active = [row for row in rows if row.is_active]
    counts["notifications"] = notifications.notify_many(
        session,
        [
            NewNotification(
                recipient_id=row.owner_id,
                kind="invoice.followup",
                record_kind="invoice",
                record_id=row.invoice_id,
                params={
                    "number": row.number,
                    "institution": row.institution,
                    "level": row.level,
                    "due_date": row.due_date.isoformat(),
                    "stage_label": _invoice_stage(row.level),
                },
            )
            for row in active
        ],
        now=now,
    )
    org = organisation(session)
    company = branding(session).legal_name or str(org["name"])
    render, base_url = _templates(session, "invoice_reminder_owner"), _base_url()
    mails = [_invoice_owner_mail(row, org, company, today, render=render, base_url=base_url) for row in active]
    to_clients = [(row, clients[(row.invoice_id, row.level)]) for row in rows if (row.invoice_id, row.level) in clients]
    if to_clients:
        pdfs = invoice_pdfs(session, [row.invoice_id for row, _contact in to_clients])
        language = str(org["default_language"])
        render_client = _templates(session, "invoice_reminder")
        mails += [
            _client_mail(row, contact, language, company, today, render=render_client, pdf=pdfs.get(row.invoice_id))
            for row, contact in to_clients
        ]
    queued = mail.enqueue_many(session, mails, skip_invalid=True, now=now)
    counts["emails"] = sum(row_id is not None for row_id in queued[: len(active)])
    counts["client_emails"] = sum(row_id is not None for row_id in queued[len(active) :])
    session.expire_all()
    return counts


def _invoice_fields(row: Any, language: str, company: str, today: date) -> dict[str, str]:
    """The template placeholders of an invoice (templates.PLACEHOLDERS), formatted in `language`."""
    buyer_name = (row.buyer or {}).get("name") if isinstance(row.buyer, dict) else None
    remaining = (
        Decimal(row.total_incl_vat)
        - Decimal(row.amount_paid)
        - Decimal(row.amount_credited)
        + Decimal(row.amount_refunded)
    )
    return {
        "number": row.number or "",
        "title": row.title or "",
        "institution": str(buyer_name or row.institution),
        "contact": _person(row.own_first, row.own_last),
        "total": _money(row.total_incl_vat, row, language),
        "total_excl_vat": _money(row.total_excl_vat, row, language),
        "amount_due": _money(remaining, row, language),
        "issue_date": _day(row.issue_date, language),
        "due_date": _day(row.due_date, language),
        "valid_until": "",
        "days": str((today - row.due_date).days),
        "salesperson": row.full_name or "",
        "company": company,
    }


def _invoice_owner_mail(
    row: Any, org: dict[str, Any], company: str, today: date, *, render: _Render, base_url: str
) -> Outgoing:
    """The salesperson's email, from the "invoice_reminder_owner" template in their language."""

    language = _language(row.language, org)
    subject, body = render(language, _invoice_fields(row, language, company, today))
    return mail.Outgoing(
        to=[(row.full_name, row.email)],
        subject=subject,
        text=f"{body}\n\n{base_url}/invoices/{row.invoice_id}",
        dedupe_key=f"invoice-followup:{row.invoice_id}:{row.level}:owner",
        related=("invoice", row.invoice_id),
    )


def _billing_contact(row: Any) -> tuple[str, str] | None:
    """(name, address) of the invoice's contact, else of the institution's primary contact."""
    if row.own_id is not None:
        return _person(row.own_first, row.own_last), row.own_email
    if row.primary_id is not None:
        return _person(row.primary_first, row.primary_last), row.primary_email
    return None


def _client_mail(
    row: Any,
    contact: tuple[str, str],
    language: str,
    company: str,
    today: date,
    *,
    render: _Render,
    pdf: tuple[str, bytes] | None,
) -> Outgoing:
    """From the "invoice_reminder" template once the invoice is due; a courtesy notice before (that
    template says the invoice "was due")."""

    name, address = contact
    fields = {**_invoice_fields(row, language, company, today), "contact": name}
    if row.level >= 0:
        subject, text = render(language, fields)
    else:
        subject = _translated(language, N_("Invoice {number}: due on {due_date}")).format(**fields)
        text = _translated(
            language,
            N_(
                "Hello,\n\nAs a courtesy, our invoice {number} of {issue_date} for {institution} "
                "({amount_due} still due) is due on {due_date}. If your payment is already on its way, "
                "please disregard this message.\n\nBest regards,\n{salesperson}\n{company}"
            ),
        ).format(**fields)
    return mail.Outgoing(
        to=[(name, address)],
        subject=subject,
        text=text,
        reply_to=(row.full_name, row.email) if row.email else None,
        dedupe_key=f"invoice-followup:{row.invoice_id}:{row.level}:client",
        related=("invoice", row.invoice_id),
        attachments=[mail.Attachment(pdf[0], "application/pdf", pdf[1])] if pdf else [],
    )


def invoice_pdfs(session: Session, invoice_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[str, bytes]]:
    """The PDF ("<number>.pdf", bytes) of each issued invoice: the stored files in one query; an invoice
    whose PDF was never stored (nor sent, nor downloaded) is rendered and stored by the documents
    service, one at a time (the only per-document work of these jobs, and only the first time)."""

    found: dict[uuid.UUID, tuple[str, bytes]] = {}
    stored = (
        session.connection()
        .execute(
            sa.select(_SD.c.document_id, _SD.c.number, _SD.c.path, _SD.c.sha256)
            .join(_I, sa.and_(_I.c.id == _SD.c.document_id, _I.c.number == _SD.c.number))
            .where(_SD.c.kind == DocumentKind.INVOICE.value, _SD.c.document_id.in_(list(invoice_ids)))
        )
        .all()
    )
    for row in stored:
        try:
            content = storage.read_file(row.path)
        except OSError:
            continue
        if hashlib.sha256(content).hexdigest() == row.sha256:
            found[row.document_id] = (f"{_SAFE.sub('_', row.number)}.pdf", content)
    for invoice_id in invoice_ids:
        if invoice_id not in found:
            content, filename = documents.document_pdf(session, SYSTEM_ACTOR, DocumentKind.INVOICE, invoice_id)
            found[invoice_id] = (filename, content)
    return found


JOBS = (
    Job("quote_expiry", cron(hour=0, minute=5), expire_quotes, "Sent quotes past their validity date → expired."),
    Job(
        "invoice_overdue",
        cron(hour=0, minute=10),
        mark_invoices_overdue,
        "Issued or partially paid invoices past their due date → overdue.",
    ),
    Job(
        "quote_reminders",
        cron(hour=8, minute=0),
        send_quote_reminders,
        "Remind salespeople of their quotes at j-7, j-3, j0 and j+7 (once per quote and kind).",
    ),
    Job(
        "invoice_followup",
        cron(hour=8, minute=0),
        send_invoice_followups,
        "Follow up unpaid invoices at the levels of the reminder rules (once per invoice and level).",
    ),
)
