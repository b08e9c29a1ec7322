"""Reads the quote screens need beyond `services.quotes`: the reminders sent so far for one quote."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from crm_app.platform.permissions import Actor
from crm_app.sales import quotes
from crm_app.sales.models.quotes import QuoteReminder, QuoteReminderKind


@dataclass(frozen=True, slots=True)
class ReminderRow:
    kind: QuoteReminderKind
    due_on: date
    sent_at: datetime
    task_id: uuid.UUID | None


def quote_reminders(session: Session, actor: Actor, quote_id: uuid.UUID) -> list[ReminderRow]:
    """The reminders the daily job sent for this quote (to its salesperson), oldest first."""
    quotes.get_visible_quote(session, actor, quote_id)
    found = session.exec(
        select(QuoteReminder).where(QuoteReminder.quote_id == quote_id).order_by(col(QuoteReminder.sent_at))
    ).all()
    return [ReminderRow(QuoteReminderKind(r.kind), r.due_on, r.sent_at, r.task_id) for r in found]
