"""Sending the webhook deliveries that `webhooks` queued.

- Woken, not polled: a commit that queued deliveries wakes this process's senders at once, and the
  `webhook.deliveries_queued` domain event reaches the other processes through the LISTEN/NOTIFY bridge.
  Between wake-ups a sender sleeps until the next retry falls due (at most `IDLE_WAIT`); the
  `webhook_deliveries` job sweeps every minute for what a crash left behind.
- Once, however many processes run: a sender claims a due delivery in a short transaction of its own
  (FOR UPDATE SKIP LOCKED on PostgreSQL, and a conditional UPDATE that only one claimer can win) by moving
  it to `sending` with a lease, posts it outside any transaction, then records the outcome. A sender that
  dies mid-send leaves it `sending`; it is due again when the lease runs out.
- Off the event loop: `SENDERS` threads per process, each posting with httpx (timeout `TIMEOUT`).
- Each attempt resolves the host again and refuses private addresses (`addresses`), then connects to the
  address it checked. Any 2xx is a success; anything else (or no answer) is retried with back-off
  (`backoff`: `MAX_ATTEMPTS` attempts over about 24 hours). After `DISABLE_AFTER` failed attempts in a
  row a webhook is disabled and the super administrators are told.

A request: `POST` of the body, `Content-Type: application/json`, `X-OPEx-Event`, `X-OPEx-Delivery`
(the delivery id) and `X-OPEx-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the
webhook's secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from crm_app import __version__
from crm_app.integrations import addresses, webhooks
from crm_app.integrations.webhook_models import DeliveryStatus, Webhook, WebhookDelivery
from crm_app.platform import events, notifications, security_log
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.people import Role, User
from crm_app.platform.scheduler import Job, cron

log = logging.getLogger(__name__)

TIMEOUT = 10.0
LEASE = timedelta(seconds=60)  # longer than an attempt can take (resolution + TIMEOUT)
MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(seconds=10)
MAX_BACKOFF = timedelta(hours=15)
DISABLE_AFTER = 20
RETENTION = timedelta(days=30)
SENDERS = 4
IDLE_WAIT = 60.0
SWEEP_LIMIT = 50
USER_AGENT = f"OPEx-CRM-Webhooks/{__version__}"


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 10 s, 30 s, 1.5 min... ×3 each time, at most 15 h;
    the 10 attempts span about 24 hours."""
    return min(FIRST_RETRY * 3 ** (max(attempts, 1) - 1), MAX_BACKOFF)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-OPEx-Signature header: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Claimed:
    delivery_id: uuid.UUID
    webhook_id: uuid.UUID
    url: str
    secret: str
    event: str
    body: str
    attempts: int  # this attempt's number


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    excerpt: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# --------------------------------------------------------------------------------------------
# One attempt


def _due(now: datetime) -> Any:
    return sa.and_(
        col(WebhookDelivery.status).in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
        col(WebhookDelivery.next_attempt_at) <= now,
    )


def claim_next(now: datetime | None = None) -> Claimed | None:
    """Take the next due delivery of an active webhook for this sender (`sending` until now + LEASE)."""
    now = now or utcnow()
    d = table_of(WebhookDelivery)
    with unit_of_work() as session:
        for _ in range(20):
            found = session.exec(
                select(WebhookDelivery, Webhook)
                .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
                .where(_due(now), col(Webhook.is_active))
                .order_by(col(WebhookDelivery.next_attempt_at))
                .limit(1)
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            ).first()
            if found is None:
                return None
            delivery, webhook = found
            if delivery.attempts >= MAX_ATTEMPTS:
                # Its senders kept dying on it (a lease ran out every time): stop trying.
                session.execute(
                    sa.update(d)
                    .where(d.c.id == delivery.id)
                    .values(status=DeliveryStatus.FAILED.value, error="sending was interrupted too many times")
                )
                continue
            won = (
                session.connection()
                .execute(
                    sa.update(d)
                    .where(d.c.id == delivery.id, d.c.status == delivery.status, d.c.attempts == delivery.attempts)
                    .values(
                        status=DeliveryStatus.SENDING.value, attempts=delivery.attempts + 1, next_attempt_at=now + LEASE
                    )
                )
                .rowcount
            )
            if won != 1:  # another claimer was faster (SQLite, or a row read before its lock)
                session.expire_all()
                continue
            return Claimed(
                delivery_id=delivery.id,
                webhook_id=webhook.id,
                url=webhook.url,
                secret=webhook.secret,
                event=delivery.event,
                body=delivery.body,
                attempts=delivery.attempts + 1,
            )
    return None


def post(claimed: Claimed) -> Outcome:
    """POST the body to the checked address; never raises (the failure is the outcome)."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = addresses.resolve_public(claimed.url)
    except addresses.AddressRefused as refused:
        return Outcome(None, elapsed(), None, f"refused: {refused.detail or refused.message}"[:500])
    raw = claimed.body.encode()
    headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-OPEx-Event": claimed.event,
        "X-OPEx-Delivery": str(claimed.delivery_id),
        "X-OPEx-Signature": sign(claimed.secret, int(time.time()), raw),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:
            request = client.build_request(
                "POST", target.pinned_url, content=raw, headers=headers, extensions=extensions
            )
            response = client.send(request, stream=True)
            try:
                excerpt = _read_excerpt(response, started)
            finally:
                response.close()
    except httpx.HTTPError as exc:
        return Outcome(None, elapsed(), None, f"{type(exc).__name__}: {exc}"[:500])
    return Outcome(response.status_code, elapsed(), excerpt, None)


def _read_excerpt(response: httpx.Response, started: float) -> str:
    """The first kilobyte of the answer (the rest is not read)."""
    kept = b""
    for chunk in response.iter_raw():
        kept += chunk
        if len(kept) >= webhooks.EXCERPT_BYTES or time.monotonic() - started > TIMEOUT:
            break
    return kept[: webhooks.EXCERPT_BYTES].decode("utf-8", errors="replace")


def record(claimed: Claimed, outcome: Outcome, now: datetime | None = None) -> None:
    """Keep the attempt's outcome; on a failure, schedule a retry or give up, and count it against the
    webhook (disabled after DISABLE_AFTER in a row, the super administrators told)."""
    now = now or utcnow()
    d, w = table_of(WebhookDelivery), table_of(Webhook)
    attempt = {
        "last_attempt_at": now,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "response_excerpt": outcome.excerpt,
        "error": outcome.error,
    }
    mine = sa.and_(d.c.id == claimed.delivery_id, d.c.status == DeliveryStatus.SENDING.value)
    with unit_of_work() as session:
        if outcome.ok:
            session.execute(
                sa.update(d).where(mine).values(status=DeliveryStatus.DELIVERED.value, delivered_at=now, **attempt)
            )
            session.execute(
                sa.update(w)
                .where(w.c.id == claimed.webhook_id, w.c.consecutive_failures != 0)
                .values(consecutive_failures=0)
            )
            log.info("webhook delivered", extra=_fields(claimed, outcome))
            return
        gave_up = claimed.attempts >= MAX_ATTEMPTS
        session.execute(
            sa.update(d)
            .where(mine)
            .values(
                status=(DeliveryStatus.FAILED if gave_up else DeliveryStatus.PENDING).value,
                next_attempt_at=now + backoff(claimed.attempts),
                **attempt,
            )
        )
        failures = session.execute(
            sa.update(w)
            .where(w.c.id == claimed.webhook_id)
            .values(consecutive_failures=w.c.consecutive_failures + 1)
            .returning(w.c.consecutive_failures, w.c.is_active)
        ).first()
        log.warning("webhook delivery failed", extra={**_fields(claimed, outcome), "gave_up": gave_up})
        if failures is not None and failures.is_active and failures.consecutive_failures >= DISABLE_AFTER:
            _disable(session, claimed, failures.consecutive_failures)


def _disable(session: Session, claimed: Claimed, failures: int) -> None:
    webhook = session.get(Webhook, claimed.webhook_id, populate_existing=True)
    if webhook is None:
        return
    webhooks.disable_after_failures(session, webhook, failures)
    admins = session.exec(select(User.id).where(User.role == Role.SUPER_ADMIN, col(User.is_active))).all()
    notifications.notify(
        session,
        admins,
        kind="webhook.disabled",
        params={"url": webhook.url, "count": failures},
        record_kind="webhook",
        record_id=webhook.id,
    )
    security_log.record(session, "webhook.disabled", webhook=webhook.url, failures=failures)
    log.error("webhook disabled after failures in a row", extra={"webhook_id": str(webhook.id), "failures": failures})


def _fields(claimed: Claimed, outcome: Outcome) -> dict[str, Any]:
    return {
        "webhook_id": str(claimed.webhook_id),
        "delivery_id": str(claimed.delivery_id),
        "event": claimed.event,
        "attempt": claimed.attempts,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "error": outcome.error,
    }


def send_one(now: datetime | None = None) -> bool:
    """Claim, post and record one due delivery; False when none was due."""
    claimed = claim_next(now)
    if claimed is None:
        return False
    record(claimed, post(claimed))
    return True


def send_due(limit: int = SWEEP_LIMIT) -> int:
    """Send due deliveries one after the other (at most `limit`); returns how many were attempted."""
    sent = 0
    while sent < limit and send_one():
        sent += 1
    return sent


def seconds_until_due(now: datetime | None = None) -> float | None:
    """How long until the next waiting delivery of an active webhook falls due (None: nothing waits)."""
    now = now or utcnow()
    with unit_of_work() as session:
        earliest = session.exec(
            select(sa.func.min(WebhookDelivery.next_attempt_at))
            .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
            .where(
                col(WebhookDelivery.status).in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
                col(Webhook.is_active),
            )
        ).one()
    if earliest is None:
        return None
    return max((earliest - now).total_seconds(), 0.0)


# --------------------------------------------------------------------------------------------
# The senders of this process


class _Senders:
    """`SENDERS` threads taking due deliveries; `wake()` makes the sleeping ones look at once."""

    def __init__(self, count: int) -> None:
        self.condition = threading.Condition()
        self.wakes = 0
        self.stopping = False
        self.threads = [
            threading.Thread(target=self._run, name=f"opex-webhooks-{n}", daemon=True) for n in range(count)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def wake(self) -> None:
        with self.condition:
            self.wakes += 1
            self.condition.notify_all()

    def stop(self) -> None:
        with self.condition:
            self.stopping = True
            self.condition.notify_all()
        for thread in self.threads:
            thread.join(timeout=TIMEOUT + 5)

    def _run(self) -> None:
        while not self.stopping:
            with self.condition:
                seen = self.wakes
            try:
                if send_one():
                    continue
                wait = seconds_until_due()
            except Exception:
                log.exception("webhook sender failed; trying again shortly")
                wait = 5.0
            wait = IDLE_WAIT if wait is None else min(max(wait, 0.05), IDLE_WAIT)
            with self.condition:
                if self.wakes == seen and not self.stopping:
                    self.condition.wait(wait)


_senders: _Senders | None = None
_senders_lock = threading.Lock()


def start(count: int = SENDERS) -> None:
    """Start this process's senders (idempotent): at application start-up, where jobs run."""
    global _senders
    with _senders_lock:
        if _senders is None:
            _senders = _Senders(count)
            _senders.start()


def stop() -> None:
    global _senders
    with _senders_lock:
        senders, _senders = _senders, None
    if senders is not None:
        senders.stop()


def is_running() -> bool:
    return _senders is not None


def wake() -> None:
    """Look for due deliveries now (no-op when this process runs no sender)."""
    senders = _senders
    if senders is not None:
        senders.wake()


def follow_queue(event: events.Event) -> None:
    """Bridge listener: deliveries were queued by some process."""
    if isinstance(event, webhooks.WebhookDeliveriesQueued):
        wake()


@sa_event.listens_for(OrmSession, "after_commit")
def _wake_after_commit(session: OrmSession) -> None:
    if not session.in_nested_transaction() and webhooks.take_wake_flag(session):
        wake()


# --------------------------------------------------------------------------------------------
# Jobs


def sweep(session: Session) -> dict[str, int]:
    """Send what is due and nobody sent (a crashed process's leases, missed wake-ups)."""
    return {"attempted": send_due()}


def purge(session: Session) -> dict[str, int]:
    """Forget finished deliveries older than RETENTION."""
    d = table_of(WebhookDelivery)
    result = session.connection().execute(
        sa.delete(d).where(
            d.c.created_at < utcnow() - RETENTION,
            d.c.status.in_([DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value]),
        )
    )
    return {"deleted": int(result.rowcount or 0)}


JOBS = (
    Job("webhook_deliveries", IntervalTrigger(minutes=1), sweep, "Send the webhook deliveries nobody sent yet."),
    Job("webhook_purge", cron(hour=3, minute=40), purge, "Forget webhook deliveries older than 30 days."),
)
