"""Webhooks (super administrators, "webhook.administer"): endpoints told of public events.

A webhook has a URL (http or https, never a private address unless allowed: `addresses`), the public
events it takes (a list, or all), an active flag, a description and a secret shown once, at creation
and at each rotation. When a unit of work publishes public events (`catalogue`), one delivery row per
interested active webhook is written in that same transaction (`queue_bodies`): a rollback leaves none.
`deliveries` sends them. The delivery log, a test event ("ping") and redelivery are here too.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, func, select

from crm_app.integrations import addresses, catalogue
from crm_app.integrations.webhook_models import DeliveryStatus, Webhook, WebhookDelivery
from crm_app.platform import events, security_log
from crm_app.platform.errors import Conflict, NotFound, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import Actor, authorize
from crm_app.platform.records import actor_id, changed_by_name

RIGHT = "webhook.administer"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
DESCRIPTION_MAX = 500
URL_MAX = 2000
#: The first kilobyte of an answer is kept in the log.
EXCERPT_BYTES = 1024

NOTIFICATION_KINDS: dict[str, str] = {
    "webhook.disabled": N_("The webhook {url} was disabled after {count} failed deliveries in a row"),
}
RECORD_LINKS: dict[str, str] = {"webhook": "/admin/webhooks"}

_WAKE_KEY = "opex_webhooks_wake"


@events.event_type
@dataclass(frozen=True, kw_only=True)
class WebhookDeliveriesQueued(events.Event):
    """Deliveries were queued (committed): every process's sender looks for due work (LISTEN/NOTIFY)."""

    name: ClassVar[str] = "webhook.deliveries_queued"
    count: int


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class WebhookRow:
    id: uuid.UUID
    url: str
    events: list[str]
    all_events: bool
    description: str
    is_active: bool
    consecutive_failures: int
    disabled_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    last_delivery_at: datetime | None
    last_delivery_status: str | None
    last_status_code: int | None


@dataclass(frozen=True)
class DeliveryRow:
    id: uuid.UUID
    webhook_id: uuid.UUID
    event: str
    event_id: uuid.UUID
    created_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    status_code: int | None
    duration_ms: int | None
    response_excerpt: str | None
    error: str | None
    redelivery_of: uuid.UUID | None
    body: str


def _get(session: Session, webhook_id: uuid.UUID, *, for_update: bool = False) -> Webhook:
    webhook = session.get(Webhook, webhook_id, with_for_update=for_update or None, populate_existing=for_update)
    if webhook is None:
        raise NotFound(N_("This webhook does not exist."))
    return webhook


def _row(webhook: Webhook, last: Any) -> WebhookRow:
    return WebhookRow(
        id=webhook.id,
        url=webhook.url,
        events=list(webhook.events),
        all_events=webhook.all_events,
        description=webhook.description,
        is_active=webhook.is_active,
        consecutive_failures=webhook.consecutive_failures,
        disabled_reason=webhook.disabled_reason,
        version=webhook.version,
        created_at=webhook.created_at,
        updated_at=webhook.updated_at,
        last_delivery_at=last.last_attempt_at if last is not None else None,
        last_delivery_status=last.status if last is not None else None,
        last_status_code=last.status_code if last is not None else None,
    )


def _last_attempts(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The latest attempted delivery of each webhook (one query)."""
    if not ids:
        return {}
    d = table_of(WebhookDelivery)
    latest = (
        sa.select(d.c.webhook_id, func.max(d.c.last_attempt_at).label("at"))
        .where(d.c.webhook_id.in_(list(ids)), d.c.last_attempt_at.is_not(None))
        .group_by(d.c.webhook_id)
        .subquery()
    )
    rows = session.connection().execute(
        sa.select(d.c.webhook_id, d.c.status, d.c.status_code, d.c.last_attempt_at).join(
            latest, sa.and_(latest.c.webhook_id == d.c.webhook_id, latest.c.at == d.c.last_attempt_at)
        )
    )
    return {row.webhook_id: row for row in rows}


def list_webhooks(session: Session, actor: Actor, request: PageRequest | None = None) -> Page[WebhookRow]:
    """Every webhook, oldest first, with the outcome of its latest delivery attempt."""
    authorize(actor, RIGHT)
    request = request or PageRequest(1, 100)
    total = session.exec(select(func.count()).select_from(Webhook)).one()
    found = session.exec(
        select(Webhook)
        .order_by(col(Webhook.created_at), col(Webhook.id))
        .offset(request.offset)
        .limit(request.page_size)
    ).all()
    last = _last_attempts(session, [w.id for w in found])
    return Page([_row(w, last.get(w.id)) for w in found], total, request.page, request.page_size)


def get_webhook(session: Session, actor: Actor, webhook_id: uuid.UUID) -> WebhookRow:
    authorize(actor, RIGHT)
    webhook = _get(session, webhook_id)
    return _row(webhook, _last_attempts(session, [webhook.id]).get(webhook.id))


# --------------------------------------------------------------------------------------------
# Changing


def validate_url(url: Any) -> str:
    """The URL as stored: http(s), a host, no credentials; ValidationFailed on `url` otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationFailed({"url": N_("This field is required.")})
    url = url.strip()
    if len(url) > URL_MAX:
        raise ValidationFailed({"url": N_("This address is too long.")})
    try:
        addresses.split_url(url)
    except addresses.AddressRefused as refused:
        raise ValidationFailed({"url": refused.message}) from None
    return url


def _check_reachable(url: str) -> None:
    """At creation and when the URL changes: refuse what no attempt could reach."""
    try:
        addresses.resolve_public(url)
    except addresses.AddressRefused as refused:
        raise ValidationFailed({"url": refused.message}) from None


def _clean(raw: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "url" in raw or not partial:
        values["url"] = validate_url(raw.get("url"))
    if "description" in raw or not partial:
        description = raw.get("description") or ""
        if not isinstance(description, str):
            raise ValidationFailed({"description": N_("Unknown value.")})
        if len(description.strip()) > DESCRIPTION_MAX:
            raise ValidationFailed({"description": N_("This description is too long.")})
        values["description"] = description.strip()
    if "all_events" in raw or not partial:
        values["all_events"] = bool(raw.get("all_events", False))
    if "events" in raw or not partial:
        chosen = raw.get("events") or []
        if not isinstance(chosen, list | tuple) or not all(isinstance(n, str) for n in chosen):
            raise ValidationFailed({"events": N_("Unknown value.")})
        unknown = [name for name in chosen if name not in catalogue.BY_NAME]
        if unknown:
            raise ValidationFailed({"events": N_("Unknown event.")})
        values["events"] = [name for name in catalogue.NAMES if name in chosen]  # catalogue order, no repeats
    if "is_active" in raw and raw["is_active"] is not None:
        values["is_active"] = bool(raw["is_active"])
    return values


def _check_events(all_events: bool, chosen: list[str]) -> None:
    if not all_events and not chosen:
        raise ValidationFailed({"events": N_("Choose at least one event, or all events.")})


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def create_webhook(session: Session, actor: Actor, raw: Mapping[str, Any]) -> tuple[WebhookRow, str]:
    """Create a webhook; returns it with its secret (shown once: it is never returned again)."""
    authorize(actor, RIGHT)
    values = _clean(raw, partial=False)
    _check_events(values["all_events"], values["events"])
    _check_reachable(values["url"])
    secret = new_secret()
    values["events"] = [] if values["all_events"] else values["events"]
    webhook = Webhook(**values, secret=secret, created_by=actor_id(actor), updated_by=actor_id(actor))
    session.add(webhook)
    session.flush()
    _log(session, actor, "webhook.created", webhook)
    return _row(webhook, None), secret


def update_webhook(
    session: Session, actor: Actor, webhook_id: uuid.UUID, raw: Mapping[str, Any], *, expected_version: int | None
) -> WebhookRow:
    """Change the URL, events, description or active flag (ValidationFailed, Conflict on a stale version)."""
    authorize(actor, RIGHT)
    webhook = _get(session, webhook_id, for_update=True)
    if expected_version is not None and webhook.version != expected_version:
        raise Conflict(changed_by=changed_by_name(session, webhook.updated_by))
    values = _clean(raw, partial=True)
    all_events = values.get("all_events", webhook.all_events)
    chosen = values.get("events", webhook.events)
    _check_events(all_events, chosen)
    if "url" in values and values["url"] != webhook.url:
        _check_reachable(values["url"])
    active = values.pop("is_active", None)
    for name, value in values.items():
        setattr(webhook, name, value)
    webhook.events = [] if all_events else list(chosen)
    if active is not None and active != webhook.is_active:
        _set_active(session, webhook, active, reason=None)
    webhook.updated_by = actor_id(actor)
    webhook.touch()
    session.add(webhook)
    session.flush()
    _log(session, actor, "webhook.updated", webhook)
    return get_webhook(session, actor, webhook.id)


def set_active(session: Session, actor: Actor, webhook_id: uuid.UUID, active: bool) -> WebhookRow:
    """Enable (its failure count starts again) or disable (its waiting deliveries are given up)."""
    authorize(actor, RIGHT)
    webhook = _get(session, webhook_id, for_update=True)
    if webhook.is_active != active:
        _set_active(session, webhook, active, reason=None)
        webhook.updated_by = actor_id(actor)
        webhook.touch()
        session.add(webhook)
        session.flush()
        _log(session, actor, "webhook.updated", webhook)
    return get_webhook(session, actor, webhook.id)


def _set_active(session: Session, webhook: Webhook, active: bool, *, reason: str | None) -> None:
    webhook.is_active = active
    webhook.disabled_reason = None if active else reason
    if active:
        webhook.consecutive_failures = 0
        return
    give_up_waiting(session, webhook.id, "the webhook was disabled")


DISABLED_AFTER_FAILURES = N_("Disabled after too many failed deliveries in a row.")


def disable_after_failures(session: Session, webhook: Webhook, failures: int) -> None:
    """The senders give up on a webhook that failed `failures` times in a row (no actor: the system)."""
    _set_active(session, webhook, False, reason=DISABLED_AFTER_FAILURES)
    webhook.touch()
    session.add(webhook)
    session.flush()


def give_up_waiting(session: Session, webhook_id: uuid.UUID, why: str) -> None:
    """The deliveries of a disabled webhook that wait for an attempt are given up."""
    session.flush()
    session.connection().execute(
        sa.update(table_of(WebhookDelivery))
        .where(
            table_of(WebhookDelivery).c.webhook_id == webhook_id,
            table_of(WebhookDelivery).c.status == DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.FAILED.value, error=why)
    )


def rotate_secret(session: Session, actor: Actor, webhook_id: uuid.UUID) -> str:
    """A new secret, returned once; the old one stops signing at once."""
    authorize(actor, RIGHT)
    webhook = _get(session, webhook_id, for_update=True)
    webhook.secret = new_secret()
    webhook.updated_by = actor_id(actor)
    webhook.touch()
    session.add(webhook)
    session.flush()
    _log(session, actor, "webhook.secret_rotated", webhook)
    return webhook.secret


def delete_webhook(session: Session, actor: Actor, webhook_id: uuid.UUID) -> None:
    """Delete a webhook with its delivery log."""
    authorize(actor, RIGHT)
    webhook = _get(session, webhook_id, for_update=True)
    session.connection().execute(
        sa.delete(table_of(WebhookDelivery)).where(table_of(WebhookDelivery).c.webhook_id == webhook.id)
    )
    _log(session, actor, "webhook.deleted", webhook)
    session.delete(webhook)
    session.flush()


def _log(session: Session, actor: Actor, action: str, webhook: Webhook) -> None:
    security_log.record(session, action, user_id=actor_id(actor), email=actor.email, webhook=webhook.url)


# --------------------------------------------------------------------------------------------
# Delivery log, test event, redelivery


def _delivery_row(delivery: WebhookDelivery) -> DeliveryRow:
    waiting = delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    return DeliveryRow(
        id=delivery.id,
        webhook_id=delivery.webhook_id,
        event=delivery.event,
        event_id=delivery.event_id,
        created_at=delivery.created_at,
        status=DeliveryStatus(delivery.status).value,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if waiting else None,
        last_attempt_at=delivery.last_attempt_at,
        status_code=delivery.status_code,
        duration_ms=delivery.duration_ms,
        response_excerpt=delivery.response_excerpt,
        error=delivery.error,
        redelivery_of=delivery.redelivery_of,
        body=delivery.body,
    )


def list_deliveries(
    session: Session, actor: Actor, webhook_id: uuid.UUID, request: PageRequest | None = None
) -> Page[DeliveryRow]:
    """A webhook's deliveries, newest first."""
    authorize(actor, RIGHT)
    _get(session, webhook_id)
    request = request or PageRequest()
    total = session.exec(
        select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    ).one()
    found = session.exec(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id))
        .offset(request.offset)
        .limit(request.page_size)
    ).all()
    return Page([_delivery_row(d) for d in found], total, request.page, request.page_size)


def get_delivery(session: Session, actor: Actor, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryRow:
    authorize(actor, RIGHT)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != webhook_id:
        raise NotFound(N_("This delivery does not exist."))
    return _delivery_row(delivery)


def _require_active(webhook: Webhook) -> None:
    if not webhook.is_active:
        raise ValidationFailed({"is_active": N_("Enable the webhook first.")}, message=N_("Enable the webhook first."))


def send_test(session: Session, actor: Actor, webhook_id: uuid.UUID) -> DeliveryRow:
    """Queue a `ping` event to this webhook alone (whatever events it takes); sent after the commit."""
    authorize(actor, RIGHT)
    webhook = _get(session, webhook_id)
    _require_active(webhook)
    body = catalogue.make_body(
        catalogue.PING,
        {"webhook_id": str(webhook.id), "url": webhook.url, "message": "A test event sent from OPEx CRM."},
        actor=catalogue.actor_of(session, actor_id(actor)),
    )
    delivery = _queue_one(session, webhook.id, body)
    return _delivery_row(delivery)


def redeliver(session: Session, actor: Actor, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryRow:
    """Send a delivery's body again, as a new delivery (a new X-OPEx-Delivery id, the same event id)."""
    authorize(actor, RIGHT)
    webhook = _get(session, webhook_id)
    _require_active(webhook)
    original = session.get(WebhookDelivery, delivery_id)
    if original is None or original.webhook_id != webhook.id:
        raise NotFound(N_("This delivery does not exist."))
    delivery = WebhookDelivery(
        webhook_id=webhook.id,
        event=original.event,
        event_id=original.event_id,
        body=original.body,
        redelivery_of=original.id,
    )
    session.add(delivery)
    session.flush()
    _announce(session, 1)
    return _delivery_row(delivery)


def _queue_one(session: Session, webhook_id: uuid.UUID, body: catalogue.Body) -> WebhookDelivery:
    delivery = WebhookDelivery(
        webhook_id=webhook_id, event=body["event"], event_id=uuid.UUID(body["id"]), body=encode(body)
    )
    session.add(delivery)
    session.flush()
    _announce(session, 1)
    return delivery


def encode(body: catalogue.Body) -> str:
    """The bytes sent (as text): compact UTF-8 JSON."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------------------------
# Queueing the public events (inside the publishing transaction)


def _active(session: Session) -> list[tuple[uuid.UUID, bool, list[str]]]:
    rows = session.exec(select(Webhook.id, Webhook.all_events, Webhook.events).where(col(Webhook.is_active))).all()
    return [(row[0], bool(row[1]), list(row[2] or [])) for row in rows]


def wanted_names(session: Session, names: frozenset[str]) -> frozenset[str]:
    """Which of these public events an active webhook takes."""
    wanted: set[str] = set()
    for _id, all_events, chosen in _active(session):
        wanted |= names if all_events else names & set(chosen)
        if wanted == names:
            break
    return frozenset(wanted)


def queue_bodies(session: Session, bodies: Sequence[catalogue.Body]) -> None:
    """One delivery per (body, active webhook taking its event), in one INSERT, in this transaction."""
    hooks = _active(session)
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "webhook_id": hook_id,
            "created_at": now,
            "event": body["event"],
            "event_id": uuid.UUID(body["id"]),
            "body": encode(body),
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
        }
        for body in bodies
        for hook_id, all_events, chosen in hooks
        if all_events or body["event"] in chosen
    ]
    if not rows:
        return
    session.flush()
    session.connection().execute(sa.insert(table_of(WebhookDelivery)), rows)
    _announce(session, len(rows))


CONSUMER = catalogue.Consumer(wanted=wanted_names, receive=queue_bodies)


def _announce(session: Session, count: int) -> None:
    """Wake the senders once this commits: this process's at once, the others' through NOTIFY."""
    session.info[_WAKE_KEY] = True
    events.publish(session, WebhookDeliveriesQueued(count=count))


def take_wake_flag(session: OrmSession) -> bool:
    return bool(session.info.pop(_WAKE_KEY, False))


@sa_event.listens_for(OrmSession, "after_rollback")
def _forget_wake(session: OrmSession) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_WAKE_KEY, None)
