"""Domain events and the in-process bus.

Two moments, two kinds of listeners:

* **Subscribers** run inside the unit of work, at `publish(session, event)`: they write in the same
  transaction (notifications), so a rollback leaves no trace of the event either.
* **After-commit listeners** run once the unit of work has committed, with the events it published,
  in publication order: live pushes to open tabs, the PostgreSQL LISTEN/NOTIFY bridge, caches. They
  run in the committing thread (often a worker thread or a job), must return quickly and must not
  touch a UI directly (hand over to the event loop). A failing listener is logged and does not
  stop the others; the data is already committed.

Events are frozen dataclasses with a dotted `name`; `to_payload` / `from_payload` turn them into
JSON-able dicts and back, for carrying them between processes.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar, get_type_hints

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

log = logging.getLogger(__name__)

_PENDING = "pending_events"
_SAVEPOINTS = "pending_events_at_savepoints"


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event: `actor_id` is who caused it (None for the system and jobs)."""

    name: ClassVar[str] = "event"
    actor_id: uuid.UUID | None = None


E = TypeVar("E", bound=Event)
Subscriber = Callable[[Session, Any], None]
AfterCommitListener = Callable[[Event], None]

_EVENT_TYPES: dict[str, type[Event]] = {}
_subscribers: dict[type[Event], list[Subscriber]] = {}
#: Called with each committed event, in order. Append (or use `on_commit`) to push live, to NOTIFY
#: other processes, ...; remove what you added when you stop (tests, shutdown).
after_commit_listeners: list[AfterCommitListener] = []
_lock = threading.Lock()


def event_type(cls: type[E]) -> type[E]:
    """Register an event class by its name (needed to rebuild it from a payload)."""
    if cls.name in _EVENT_TYPES and _EVENT_TYPES[cls.name] is not cls:
        raise ValueError(f"two event types named {cls.name!r}")
    _EVENT_TYPES[cls.name] = cls
    return cls


def subscribe(kind: type[E], handler: Callable[[Session, E], None]) -> Callable[[Session, E], None]:
    """Run `handler(session, event)` inside the publishing unit of work for each `kind` event."""
    with _lock:
        handlers = _subscribers.setdefault(kind, [])
        if handler not in handlers:
            handlers.append(handler)
    return handler


@dataclass(frozen=True)
class Subscription:
    """A subscriber as an area declares it (`SUBSCRIBERS`); `crm_app.bootstrap` subscribes it."""

    kind: type[Event]
    handler: Callable[[Session, Any], None]


def unsubscribe(kind: type[Event], handler: Subscriber) -> None:
    with _lock:
        handlers = _subscribers.get(kind, [])
        if handler in handlers:
            handlers.remove(handler)


def on_commit(listener: AfterCommitListener) -> Callable[[], None]:
    """Add an after-commit listener; returns the function that removes it."""
    with _lock:
        after_commit_listeners.append(listener)

    def remove() -> None:
        with _lock:
            if listener in after_commit_listeners:
                after_commit_listeners.remove(listener)

    return remove


def publish(session: Session, event: Event) -> None:
    """Hand `event` to its subscribers now (same transaction) and to the after-commit listeners
    once `session` commits (never when it rolls back)."""
    with _lock:
        handlers = [h for kind, hs in _subscribers.items() if isinstance(event, kind) for h in hs]
    for handler in handlers:
        handler(session, event)
    session.info.setdefault(_PENDING, []).append(event)


def pending(session: Session) -> Sequence[Event]:
    """The events published in this unit of work and not yet delivered after a commit."""
    return tuple(session.info.get(_PENDING, ()))


@sa_event.listens_for(OrmSession, "after_transaction_create")
def _mark_savepoint(session: OrmSession, transaction: SessionTransaction) -> None:
    """A savepoint remembers how many events were pending when it began: rolled back, it takes back
    only those published inside it."""
    if transaction.nested:
        session.info.setdefault(_SAVEPOINTS, {})[transaction] = len(session.info.get(_PENDING, ()))


@sa_event.listens_for(OrmSession, "after_transaction_end")
def _forget_savepoint(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.get(_SAVEPOINTS, {}).pop(transaction, None)


@sa_event.listens_for(OrmSession, "after_commit")
def _deliver_after_commit(session: OrmSession) -> None:
    # SQLAlchemy also calls this when a savepoint is released: nothing is committed yet then.
    if session.in_nested_transaction():
        return
    events = session.info.pop(_PENDING, None)
    if not events:
        return
    with _lock:
        listeners = list(after_commit_listeners)
    for published in events:
        for listener in listeners:
            try:
                listener(published)
            except Exception:
                log.exception("after-commit listener failed", extra={"event": published.name})


@sa_event.listens_for(OrmSession, "after_rollback")
def _forget_after_rollback(session: OrmSession) -> None:
    transaction = session.get_nested_transaction() if session.in_nested_transaction() else None
    if transaction is None:
        session.info.pop(_PENDING, None)
        return
    mark = session.info.get(_SAVEPOINTS, {}).get(transaction)  # a savepoint rolled back: its events go
    if mark is not None and _PENDING in session.info:
        del session.info[_PENDING][mark:]


# --------------------------------------------------------------------------------------------
# Payloads (between processes)


def to_payload(event: Event) -> dict[str, Any]:
    """The event as a JSON-able dict: `{"name": ..., "data": {...}}` (UUIDs and datetimes as text)."""

    def plain(value: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    return {"name": event.name, "data": {f.name: plain(getattr(event, f.name)) for f in dataclasses.fields(event)}}


def from_payload(payload: dict[str, Any]) -> Event:
    """Rebuild an event from `to_payload`'s dict (ValueError for an unknown name)."""
    cls = _EVENT_TYPES.get(payload.get("name", ""))
    if cls is None:
        raise ValueError(f"unknown event {payload.get('name')!r}")
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, value in payload.get("data", {}).items():
        hint = str(hints.get(name, ""))
        if value is None:
            values[name] = None
        elif "tuple" in hint and "UUID" in hint:
            values[name] = tuple(uuid.UUID(v) for v in value)
        elif "UUID" in hint:
            values[name] = uuid.UUID(value)
        elif "datetime" in hint:
            values[name] = datetime.fromisoformat(value)
        elif "tuple" in hint:
            values[name] = tuple(value)
        else:
            values[name] = value
    return cls(**values)


# --------------------------------------------------------------------------------------------
# The events of the activities area (other areas declare theirs the same way)


@event_type
@dataclass(frozen=True, kw_only=True)
class TaskAssigned(Event):
    name: ClassVar[str] = "task.assigned"
    task_id: uuid.UUID
    title: str
    assignee_id: uuid.UUID


@event_type
@dataclass(frozen=True, kw_only=True)
class TaskStatusChanged(Event):
    name: ClassVar[str] = "task.status_changed"
    task_id: uuid.UUID
    title: str
    old_status: str
    new_status: str
    creator_id: uuid.UUID | None
    assignee_id: uuid.UUID


@event_type
@dataclass(frozen=True, kw_only=True)
class TaskChanged(Event):
    """Any saved change to a task (live lists and boards refresh on it)."""

    name: ClassVar[str] = "task.changed"
    task_id: uuid.UUID
    assignee_id: uuid.UUID
    team_id: uuid.UUID | None
    deleted: bool = False
    institution_id: uuid.UUID | None = None  # the account's health score follows its tasks
    action: str = ""  # "created" when the task is new (the public `task.created` follows it)


@event_type
@dataclass(frozen=True, kw_only=True)
class TaskAlertDue(Event):
    name: ClassVar[str] = "task.alert"
    task_id: uuid.UUID
    title: str
    assignee_id: uuid.UUID
    kind: str  # TaskAlertKind
    due_at: datetime


@event_type
@dataclass(frozen=True, kw_only=True)
class InstitutionAssigned(Event):
    name: ClassVar[str] = "institution.assigned"
    institution_id: uuid.UUID
    institution_name: str
    assignee_id: uuid.UUID


@event_type
@dataclass(frozen=True, kw_only=True)
class MeetingInvited(Event):
    name: ClassVar[str] = "meeting.invited"
    meeting_id: uuid.UUID
    title: str
    starts_at: datetime
    user_ids: tuple[uuid.UUID, ...] = field(default_factory=tuple)
    contact_ids: tuple[uuid.UUID, ...] = field(default_factory=tuple)


@event_type
@dataclass(frozen=True, kw_only=True)
class MeetingAnswered(Event):
    name: ClassVar[str] = "meeting.answered"
    meeting_id: uuid.UUID
    title: str
    organizer_id: uuid.UUID
    participant_id: uuid.UUID  # the answering user
    response: str  # ParticipantResponse


@event_type
@dataclass(frozen=True, kw_only=True)
class MeetingChanged(Event):
    """Any saved change to a meeting, an answer or its deletion (open lists and calendars of its
    organiser and participants refresh on it)."""

    name: ClassVar[str] = "meeting.changed"
    meeting_id: uuid.UUID
    organizer_id: uuid.UUID
    participant_user_ids: tuple[uuid.UUID, ...] = field(default_factory=tuple)
    deleted: bool = False
    institution_id: uuid.UUID | None = None  # the account's health score follows its meetings


@event_type
@dataclass(frozen=True, kw_only=True)
class MeetingScheduled(Event):
    """A meeting was created (planned, or logged as held: `status`)."""

    name: ClassVar[str] = "meeting.scheduled"
    meeting_id: uuid.UUID
    status: str  # MeetingStatus


@event_type
@dataclass(frozen=True, kw_only=True)
class CommentMentioned(Event):
    name: ClassVar[str] = "comment.mentioned"
    comment_id: uuid.UUID
    target_kind: str
    target_id: uuid.UUID
    excerpt: str = ""
    user_ids: tuple[uuid.UUID, ...] = field(default_factory=tuple)


@event_type
@dataclass(frozen=True, kw_only=True)
class NotificationCreated(Event):
    """A notification stored for `recipient_id` (the live bell listens to this one)."""

    name: ClassVar[str] = "notification.created"
    notification_id: uuid.UUID
    recipient_id: uuid.UUID
    kind: str


@event_type
@dataclass(frozen=True, kw_only=True)
class SettingsChanged(Event):
    """A settings section changed: every process forgets its cached settings (and, for the
    organisation's time zone, the scheduler moves its jobs to it)."""

    name: ClassVar[str] = "settings.changed"
    section: str


@event_type
@dataclass(frozen=True, kw_only=True)
class NotificationsRead(Event):
    """Some of `recipient_id`'s notifications were marked read (other tabs update their bell)."""

    name: ClassVar[str] = "notification.read"
    recipient_id: uuid.UUID


@event_type
@dataclass(frozen=True, kw_only=True)
class InvoicePaid(Event):
    """An invoice became fully paid (its owner is told)."""

    name: ClassVar[str] = "invoice.paid"
    invoice_id: uuid.UUID
    number: str
    owner_id: uuid.UUID


@event_type
@dataclass(frozen=True, kw_only=True)
class RefundRecorded(Event):
    """Money was paid back to a client on a credit note (`amount` and `paid_on` as text: JSON)."""

    name: ClassVar[str] = "refund.recorded"
    refund_id: uuid.UUID
    credit_note_id: uuid.UUID
    credit_note_number: str
    invoice_id: uuid.UUID
    amount: str
    paid_on: str
    owner_id: uuid.UUID


# --------------------------------------------------------------------------------------------
# Sales documents


@event_type
@dataclass(frozen=True, kw_only=True)
class QuoteAccepted(Event):
    """A sent quote was accepted by the client (recorded by `actor_id`)."""

    name: ClassVar[str] = "quote.accepted"
    quote_id: uuid.UUID
    number: str
    owner_id: uuid.UUID
    institution_name: str = ""
    client_comment: str | None = None


@event_type
@dataclass(frozen=True, kw_only=True)
class QuoteRejected(Event):
    """A sent quote was rejected by the client (recorded by `actor_id`)."""

    name: ClassVar[str] = "quote.rejected"
    quote_id: uuid.UUID
    number: str
    owner_id: uuid.UUID
    institution_name: str = ""
    client_comment: str | None = None


@dataclass(frozen=True, kw_only=True)
class SalesDocumentChanged(Event):
    """Any saved change to a quote or an invoice: created, edited, moved in its workflow by a person
    or a daily job, paid, credited (live lists refresh on it). What a cheap visibility test needs."""

    institution_id: uuid.UUID
    owner_id: uuid.UUID
    team_id: uuid.UUID | None
    #: What happened, as the audit names it ("create", "send", "issue", "payment", ...) or as a daily job
    #: does ("expire", "overdue"); "" when unsaid. The public events catalogue reads it.
    action: str = ""


@event_type
@dataclass(frozen=True, kw_only=True)
class QuoteChanged(SalesDocumentChanged):
    name: ClassVar[str] = "quote.changed"
    quote_id: uuid.UUID


@event_type
@dataclass(frozen=True, kw_only=True)
class InvoiceChanged(SalesDocumentChanged):
    """Invoices and credit notes alike."""

    name: ClassVar[str] = "invoice.changed"
    invoice_id: uuid.UUID


@event_type
@dataclass(frozen=True, kw_only=True)
class PaymentRecorded(Event):
    """A payment was recorded on an invoice."""

    name: ClassVar[str] = "payment.recorded"
    payment_id: uuid.UUID
    invoice_id: uuid.UUID


# --------------------------------------------------------------------------------------------
# Calls and institutions (open pages, lists and forms follow them)


@event_type
@dataclass(frozen=True, kw_only=True)
class CallChanged(Event):
    """A call logged, corrected or deleted (the call log and an open call follow it)."""

    name: ClassVar[str] = "call.changed"
    call_id: uuid.UUID
    user_id: uuid.UUID
    team_id: uuid.UUID | None
    deleted: bool = False
    institution_id: uuid.UUID | None = None  # the account's health score follows its calls


@event_type
@dataclass(frozen=True, kw_only=True)
class InstitutionChanged(Event):
    """An institution's own fields, its archiving or one of its contacts changed (its open page and
    forms follow it). `contact_id` names the contact when the change was to one."""

    name: ClassVar[str] = "institution.changed"
    institution_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    #: What happened to the institution, or to the contact when `contact_id` is set: "created",
    #: "updated", "archived", "restored"; "" for a change made as a side effect (the public events
    #: catalogue follows only the named ones).
    action: str = ""


@event_type
@dataclass(frozen=True, kw_only=True)
class NoteChanged(Event):
    """A note written, edited, shared or unshared, or deleted (the notes list, an open note and its form
    follow it). What a cheap test of who may read it needs: its author, visibility, institution and the
    users it is shared with by name."""

    name: ClassVar[str] = "note.changed"
    note_id: uuid.UUID
    author_id: uuid.UUID | None
    team_id: uuid.UUID | None
    visibility: str
    institution_id: uuid.UUID | None = None
    reader_ids: tuple[uuid.UUID, ...] = field(default_factory=tuple)
    deleted: bool = False


# --------------------------------------------------------------------------------------------
# Opportunities


@event_type
@dataclass(frozen=True, kw_only=True)
class OpportunityChanged(Event):
    """An opportunity created, updated, moved to another stage or deleted (`action`: create, update,
    stage, delete): the board, the lists and its open page follow it. What a cheap visibility test needs."""

    name: ClassVar[str] = "opportunity.changed"
    opportunity_id: uuid.UUID
    institution_id: uuid.UUID
    owner_id: uuid.UUID
    team_id: uuid.UUID | None
    stage: str  # OpportunityStage
    action: str


@event_type
@dataclass(frozen=True, kw_only=True)
class OpportunityAssigned(Event):
    """Someone else made `assignee_id` the owner of an opportunity (they are told)."""

    name: ClassVar[str] = "opportunity.assigned"
    opportunity_id: uuid.UUID
    title: str  # the opportunity's name
    assignee_id: uuid.UUID
