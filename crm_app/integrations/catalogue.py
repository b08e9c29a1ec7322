"""The public events catalogue: what the CRM tells other systems (webhooks, plugins), with one stable
JSON body per event.

Every public event comes from a domain event (`crm_app.platform.events`); `CATALOGUE` says which, and
how its `data` is built: the record as the REST API's GET returns it (the same route function, so the
same response model). The body:

    {"id": "<uuid of this occurrence>", "event": "invoice.paid", "occurred_at": "2026-12-07T09:15:02.123Z",
     "actor": {"id": "<user uuid>", "name": "Jeanne Martin"} or null (the system, a daily job),
     "data": {...the record...}}

When a unit of work commits, just before the commit (`before_commit`), the domain events it published
become public bodies, built from the records as they are about to be committed; the consumers inside
the transaction (webhooks queue their deliveries) write in that same transaction, so a rollback leaves
nothing. Once the commit went through, and only then, each body goes once to the subscribers.

Subscribing to public events (plugins and anything else in the process)::

    from crm_app.integrations import catalogue

    def handler(body: dict) -> None:       # the same body a webhook receives (a private copy)
        ...

    remove = catalogue.subscribe(handler)               # every public event
    remove = catalogue.subscribe(handler, "invoice.paid", "payment.recorded")   # only these

A handler runs after the commit, in the committing thread (a request's worker thread, a job), once per
event, in publication order; it must return quickly (hand long work to a thread or a queue of its own);
an exception is logged and stops neither the other handlers nor the caller. `remove()` unsubscribes.
Handlers are called in the process that committed the change, never in the others.
"""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from crm_app.activities import api as activities_api
from crm_app.institutions.api import institutions as institutions_api
from crm_app.platform import events
from crm_app.platform.errors import Forbidden, NotFound
from crm_app.platform.i18n import N_, use_locale
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.people import User
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.sales.api import invoices as invoices_api
from crm_app.sales.api import opportunities as opportunities_api
from crm_app.sales.api import quotes as quotes_api

log = logging.getLogger(__name__)

Body = dict[str, Any]
#: The language of the texts inside `data` (the REST API's own when no Accept-Language is sent).
DATA_LOCALE = "en"


# --------------------------------------------------------------------------------------------
# The records as the REST API returns them


def _dump(model: type[BaseModel], value: Any) -> dict[str, Any]:
    """What FastAPI sends for `value` under `response_model=model`."""
    dumped: dict[str, Any] = model.model_validate(value, from_attributes=True).model_dump(mode="json", by_alias=True)
    return dumped


def institution_data(session: Session, institution_id: uuid.UUID) -> dict[str, Any]:
    """GET /api/institutions/{id}."""
    return _dump(
        institutions_api.InstitutionOut, institutions_api.get_institution(institution_id, session, SYSTEM_ACTOR)
    )


def contact_data(session: Session, contact_id: uuid.UUID) -> dict[str, Any]:
    """GET /api/contacts/{id}."""
    return _dump(institutions_api.ContactOut, institutions_api.get_contact(contact_id, session, SYSTEM_ACTOR))


def task_data(session: Session, task_id: uuid.UUID) -> dict[str, Any]:
    """GET /api/tasks/{id}."""
    return _dump(activities_api.TaskOut, activities_api.get_task(task_id, session, SYSTEM_ACTOR))


def meeting_data(session: Session, meeting_id: uuid.UUID) -> dict[str, Any]:
    """GET /api/meetings/{id}."""
    return _dump(activities_api.MeetingOut, activities_api.get_meeting(meeting_id, session, SYSTEM_ACTOR))


def opportunity_data(session: Session, opportunity_id: uuid.UUID) -> dict[str, Any]:
    """GET /api/opportunities/{id}."""
    return _dump(
        opportunities_api.OpportunityOut, opportunities_api.get_opportunity(opportunity_id, session, SYSTEM_ACTOR)
    )


def quote_data(session: Session, quote_id: uuid.UUID) -> dict[str, Any]:
    """GET /api/quotes/{id}."""
    return _dump(quotes_api.QuoteOut, quotes_api.get_quote(quote_id, session, SYSTEM_ACTOR))


def invoice_data(session: Session, invoice_id: uuid.UUID) -> dict[str, Any]:
    """GET /api/invoices/{id} (invoices and credit notes)."""
    return _dump(invoices_api.InvoiceDetailOut, invoices_api.get_invoice(invoice_id, session, SYSTEM_ACTOR))


def payment_data(session: Session, event: events.PaymentRecorded) -> dict[str, Any] | None:
    """The payment as GET /api/invoices/{invoice_id}/payments lists it."""
    for payment in invoices_api.list_payments(event.invoice_id, session, SYSTEM_ACTOR):
        if payment.id == event.payment_id:
            return _dump(invoices_api.PaymentOut, payment)
    return None


# --------------------------------------------------------------------------------------------
# The catalogue


@dataclass(frozen=True)
class PublicEvent:
    """One public event: from which domain events (`sources`, narrowed by `matches`) and how its data
    is built (`data(session, domain_event)`, None to leave this occurrence out)."""

    name: str
    group: str  # the record kind, for grouping (message id)
    description: str  # message id
    sources: tuple[type[events.Event], ...]
    built_from: str  # the domain event(s), in words, for the catalogue endpoint and the README
    schema: str  # the name of `data`'s model in /api/openapi.json
    matches: Callable[[Any], bool]
    record_id: Callable[[Any], uuid.UUID]
    data: Callable[[Session, Any], dict[str, Any] | None]


def _by_id(build: Callable[[Session, uuid.UUID], dict[str, Any]], record_id: Callable[[Any], uuid.UUID]) -> Any:
    return lambda session, event: build(session, record_id(event))


def _kind(build: Callable[[Session, uuid.UUID], dict[str, Any]], kind: str) -> Any:
    """An invoice-or-credit-note builder keeping only documents of `kind`."""

    def data(session: Session, event: events.InvoiceChanged) -> dict[str, Any] | None:
        built = build(session, event.invoice_id)
        return built if built.get("kind") == kind else None

    return data


def _institution(name: str, action: tuple[str, ...], description: str) -> PublicEvent:
    return PublicEvent(
        name=name,
        group=N_("Institutions"),
        description=description,
        sources=(events.InstitutionChanged,),
        built_from=f"institution.changed (no contact, action {' or '.join(action)})",
        schema="InstitutionOut",
        matches=lambda e: e.contact_id is None and e.action in action,
        record_id=lambda e: e.institution_id,
        data=_by_id(institution_data, lambda e: e.institution_id),
    )


def _contact(name: str, action: tuple[str, ...], description: str) -> PublicEvent:
    return PublicEvent(
        name=name,
        group=N_("Contacts"),
        description=description,
        sources=(events.InstitutionChanged,),
        built_from=f"institution.changed (with a contact, action {' or '.join(action)})",
        schema="ContactOut",
        matches=lambda e: e.contact_id is not None and e.action in action,
        record_id=lambda e: e.contact_id,
        data=_by_id(contact_data, lambda e: e.contact_id),
    )


def _opportunity(name: str, action: str, stages: tuple[str, ...] | None, description: str) -> PublicEvent:
    words = f"action {action}" + (f", stage {' or '.join(stages)}" if stages else "")
    return PublicEvent(
        name=name,
        group=N_("Opportunities"),
        description=description,
        sources=(events.OpportunityChanged,),
        built_from=f"opportunity.changed ({words})",
        schema="OpportunityOut",
        matches=lambda e: e.action == action and (stages is None or e.stage in stages),
        record_id=lambda e: e.opportunity_id,
        data=_by_id(opportunity_data, lambda e: e.opportunity_id),
    )


def _quote(name: str, source: type[events.Event], action: str | None, description: str) -> PublicEvent:
    return PublicEvent(
        name=name,
        group=N_("Quotes"),
        description=description,
        sources=(source,),
        built_from=source.name + (f" (action {action})" if action else ""),
        schema="QuoteOut",
        matches=lambda e: action is None or e.action == action,
        record_id=lambda e: e.quote_id,
        data=_by_id(quote_data, lambda e: e.quote_id),
    )


def _invoice_id(event: Any) -> uuid.UUID:
    invoice_id: uuid.UUID = event.invoice_id
    return invoice_id


CATALOGUE: tuple[PublicEvent, ...] = (
    _institution("institution.created", ("created",), N_("An institution was created (not by an import).")),
    _institution("institution.updated", ("updated", "restored"), N_("An institution was changed or restored.")),
    _institution("institution.archived", ("archived",), N_("An institution was archived.")),
    _contact("contact.created", ("created",), N_("A contact was added to an institution.")),
    _contact("contact.updated", ("updated", "restored"), N_("A contact was changed or restored.")),
    _contact("contact.archived", ("archived",), N_("A contact was archived.")),
    PublicEvent(
        name="task.created",
        group=N_("Tasks"),
        description=N_("A task was created."),
        sources=(events.TaskChanged,),
        built_from="task.changed (action created)",
        schema="TaskOut",
        matches=lambda e: e.action == "created",
        record_id=lambda e: e.task_id,
        data=_by_id(task_data, lambda e: e.task_id),
    ),
    PublicEvent(
        name="task.completed",
        group=N_("Tasks"),
        description=N_("A task was marked done."),
        sources=(events.TaskStatusChanged,),
        built_from="task.status_changed (new status done)",
        schema="TaskOut",
        matches=lambda e: e.new_status == "done",
        record_id=lambda e: e.task_id,
        data=_by_id(task_data, lambda e: e.task_id),
    ),
    PublicEvent(
        name="meeting.scheduled",
        group=N_("Meetings"),
        description=N_("A meeting was planned."),
        sources=(events.MeetingScheduled,),
        built_from="meeting.scheduled (status scheduled)",
        schema="MeetingOut",
        matches=lambda e: e.status == "scheduled",
        record_id=lambda e: e.meeting_id,
        data=_by_id(meeting_data, lambda e: e.meeting_id),
    ),
    _opportunity("opportunity.created", "create", None, N_("An opportunity was created.")),
    _opportunity("opportunity.stage_changed", "stage", None, N_("An opportunity moved to another stage.")),
    _opportunity("opportunity.won", "stage", ("won",), N_("An opportunity was won.")),
    _opportunity("opportunity.lost", "stage", ("lost",), N_("An opportunity was lost.")),
    _quote("quote.sent", events.QuoteChanged, "send", N_("A quote was sent to the client.")),
    _quote("quote.accepted", events.QuoteAccepted, None, N_("The client accepted a quote.")),
    _quote("quote.rejected", events.QuoteRejected, None, N_("The client rejected a quote.")),
    _quote("quote.expired", events.QuoteChanged, "expire", N_("A sent quote passed its validity date.")),
    PublicEvent(
        name="invoice.issued",
        group=N_("Invoices"),
        description=N_("An invoice was issued (numbered)."),
        sources=(events.InvoiceChanged,),
        built_from="invoice.changed (action issue, kind invoice)",
        schema="InvoiceDetailOut",
        matches=lambda e: e.action == "issue",
        record_id=_invoice_id,
        data=_kind(invoice_data, "invoice"),
    ),
    PublicEvent(
        name="invoice.paid",
        group=N_("Invoices"),
        description=N_("An invoice became fully paid."),
        sources=(events.InvoicePaid,),
        built_from="invoice.paid",
        schema="InvoiceDetailOut",
        matches=lambda e: True,
        record_id=_invoice_id,
        data=_by_id(invoice_data, _invoice_id),
    ),
    PublicEvent(
        name="invoice.overdue",
        group=N_("Invoices"),
        description=N_("An issued invoice passed its due date unpaid (daily job)."),
        sources=(events.InvoiceChanged,),
        built_from="invoice.changed (action overdue)",
        schema="InvoiceDetailOut",
        matches=lambda e: e.action == "overdue",
        record_id=_invoice_id,
        data=_by_id(invoice_data, _invoice_id),
    ),
    PublicEvent(
        name="credit_note.issued",
        group=N_("Invoices"),
        description=N_("A credit note was issued on an invoice."),
        sources=(events.InvoiceChanged,),
        built_from="invoice.changed (action issue, kind credit_note)",
        schema="InvoiceDetailOut",
        matches=lambda e: e.action == "issue",
        record_id=_invoice_id,
        data=_kind(invoice_data, "credit_note"),
    ),
    PublicEvent(
        name="payment.recorded",
        group=N_("Invoices"),
        description=N_("A payment was recorded on an invoice."),
        sources=(events.PaymentRecorded,),
        built_from="payment.recorded",
        schema="PaymentOut",
        matches=lambda e: True,
        record_id=lambda e: e.payment_id,
        data=payment_data,
    ),
)

BY_NAME: dict[str, PublicEvent] = {entry.name: entry for entry in CATALOGUE}
NAMES: tuple[str, ...] = tuple(BY_NAME)

#: The test event ("send a test event"): to one webhook, whatever events it takes.
PING = "ping"


def make_body(name: str, data: dict[str, Any], *, actor: dict[str, str] | None, at: datetime | None = None) -> Body:
    """A public event body: a new occurrence id, the time in ISO 8601 UTC."""
    when = (at or utcnow()).astimezone(UTC)
    return {
        "id": str(uuid.uuid4()),
        "event": name,
        "occurred_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "actor": actor,
        "data": data,
    }


def actor_of(session: Session, user_id: uuid.UUID | None) -> dict[str, str] | None:
    """`{"id", "name"}` of a user; None for the system (no user, or the system actor)."""
    if user_id is None or not user_id.int:
        return None
    user = session.get(User, user_id)
    return {"id": str(user_id), "name": user.full_name if user is not None else ""}


# --------------------------------------------------------------------------------------------
# Consumers


@dataclass(frozen=True)
class Consumer:
    """A consumer inside the publishing transaction (webhooks): `wanted(session, names)` says which
    of these event names it takes; `receive(session, bodies)` gets their bodies, in the transaction."""

    wanted: Callable[[Session, frozenset[str]], frozenset[str]]
    receive: Callable[[Session, Sequence[Body]], None]


Handler = Callable[[Body], None]
_consumers: list[Consumer] = []
_handlers: list[tuple[Handler, Callable[[], Collection[str] | None]]] = []
_lock = threading.Lock()
_BODIES = "public_event_bodies"


def add_consumer(consumer: Consumer) -> None:
    """Register an in-transaction consumer (`crm_app.bootstrap` does, for webhooks)."""
    with _lock:
        if consumer not in _consumers:
            _consumers.append(consumer)


def subscribe(
    handler: Handler, *names: str, wanted: Callable[[], Collection[str] | None] | None = None
) -> Callable[[], None]:
    """Call `handler(body)` after each commit that published one of `names` (every public event when
    none is given). `wanted`, instead of `names`, is asked at each commit which events the handler takes
    now (None: all of them): the plugins' list changes while the process runs, and a body nobody takes
    is never built. Returns the function that unsubscribes. See the module docstring."""
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown public events: {', '.join(unknown)}")
    fixed = frozenset(names) if names else None
    entry = (handler, wanted if wanted is not None else (lambda: fixed))
    with _lock:
        _handlers.append(entry)

    def remove() -> None:
        with _lock:
            if entry in _handlers:
                _handlers.remove(entry)

    return remove


def _handler_names() -> frozenset[str]:
    with _lock:
        handlers = list(_handlers)
    found: set[str] = set()
    for _handler, wanted in handlers:
        names = wanted()
        if names is None:
            return frozenset(NAMES)
        found |= set(names)
    return frozenset(found)


_SOURCES: dict[type[events.Event], list[PublicEvent]] = {}
for _entry in CATALOGUE:
    for _source in _entry.sources:
        _SOURCES.setdefault(_source, []).append(_entry)


def occurrences(published: Sequence[events.Event]) -> list[tuple[PublicEvent, events.Event]]:
    """The public events these domain events make, in order, each (event, record) once."""
    found: list[tuple[PublicEvent, events.Event]] = []
    seen: set[tuple[str, uuid.UUID]] = set()
    for domain_event in published:
        for entry in _SOURCES.get(type(domain_event), ()):
            if not entry.matches(domain_event):
                continue
            key = (entry.name, entry.record_id(domain_event))
            if key not in seen:
                seen.add(key)
                found.append((entry, domain_event))
    return found


def build_bodies(session: Session, published: Sequence[events.Event]) -> list[Body]:
    """The public bodies of the domain events published in this unit of work that someone wants."""
    candidates = occurrences(published)
    if not candidates:
        return []
    names = frozenset(entry.name for entry, _event in candidates)
    with _lock:
        consumers = list(_consumers)
    wanted = set(_handler_names() & names)
    for consumer in consumers:
        wanted |= consumer.wanted(session, names)
    bodies: list[Body] = []
    actors: dict[uuid.UUID | None, dict[str, str] | None] = {}
    with use_locale(DATA_LOCALE):
        for entry, domain_event in candidates:
            if entry.name not in wanted:
                continue
            try:
                data = entry.data(session, domain_event)
            except (NotFound, Forbidden):  # created and deleted in the same transaction
                continue
            if data is None:
                continue
            if domain_event.actor_id not in actors:
                actors[domain_event.actor_id] = actor_of(session, domain_event.actor_id)
            bodies.append(make_body(entry.name, data, actor=actors[domain_event.actor_id]))
    return bodies


def _before_commit(session: OrmSession) -> None:
    if session.in_nested_transaction() or not isinstance(session, Session):
        return
    published = events.pending(session)
    if not published:
        return
    bodies = build_bodies(session, published)
    if not bodies:
        return
    with _lock:
        consumers = list(_consumers)
    for consumer in consumers:
        consumer.receive(session, bodies)
    session.info.setdefault(_BODIES, []).extend(bodies)


def _after_commit(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return
    bodies = session.info.pop(_BODIES, None)
    if not bodies:
        return
    with _lock:
        handlers = list(_handlers)
    takes = [(handler, wanted()) for handler, wanted in handlers]
    for body in bodies:
        for handler, names in takes:
            if names is not None and body["event"] not in names:
                continue
            try:
                handler(copy.deepcopy(body))
            except Exception:
                log.exception("public event handler failed", extra={"event": body["event"]})


def _after_rollback(session: OrmSession) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_BODIES, None)


def install() -> None:
    """Turn committed domain events into public events from now on (idempotent; `crm_app.bootstrap`)."""
    for name, listener in (
        ("before_commit", _before_commit),
        ("after_commit", _after_commit),
        ("after_rollback", _after_rollback),
    ):
        if not sa_event.contains(OrmSession, name, listener):
            sa_event.listen(OrmSession, name, listener)


def describe() -> list[dict[str, Any]]:
    """The catalogue as GET /api/events/catalogue serves it (descriptions as message ids)."""
    return [
        {
            "name": entry.name,
            "group": entry.group,
            "description": entry.description,
            "built_from": entry.built_from,
            "data_schema": entry.schema,
        }
        for entry in CATALOGUE
    ]
