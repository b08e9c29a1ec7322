"""Sending the outbox over SMTP (`crm_app.platform.outbox` queues): the `mail_outbox` job claims each
due message, sends it with `emails`, and marks it sent or schedules a retry with back-off.

SMTP settings follow the original deployment guide: `SMTP_SECURE=true` is TLS from the first byte
(SMTPS, port 465); otherwise the connection is upgraded with STARTTLS whenever the server offers it
(port 587 or 25). Certificates are verified, and a password is only ever sent over TLS. The settings
are the environment's, or those overridden in /admin/settings (`settings.smtp_settings`).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, getaddresses
from typing import Any

import emails
from apscheduler.triggers.interval import IntervalTrigger
from emails.backend.smtp import SMTPBackend
from emails.backend.smtp.client import SMTPClientWithResponse, SMTPClientWithResponse_SSL
from sqlalchemy import update
from sqlmodel import Session, col, select

from crm_app.platform import outbox, security_log
from crm_app.platform.config import Settings
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.identifiers import clean_email
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.outbox import MailStatus, OutboxAttachment, OutboxMessage
from crm_app.platform.outbox import DUE_STATUSES, JOB_NAME, MAX_ATTEMPTS, MAX_BACKOFF
from crm_app.platform.permissions import Actor, authorize
from crm_app.platform.scheduler import Job, JobFailed
from crm_app.platform.settings import ACTION_TEST_EMAIL, section_values, smtp_settings

log = logging.getLogger(__name__)

#: Longer than any send can take (each socket operation times out after SMTP_TIMEOUT seconds).
LEASE = timedelta(minutes=10)
SMTP_TIMEOUT = 30
BATCH_LIMIT = 200
_INVALID_ADDRESS = N_("Enter a valid email address.")


@dataclass
class _Claimed:
    message: OutboxMessage
    attachments: list[OutboxAttachment]


def send_pending(
    now: datetime | None = None, *, limit: int = BATCH_LIMIT, errors: list[str] | None = None
) -> dict[str, int]:
    """Send the due messages, one claim at a time; returns how many were sent, put back, given up
    (and adds what went wrong with each message not sent to `errors`, when given).

    Blocking (SMTP): runs in the scheduler's thread, never on the event loop. Stops at the first
    message the server could not take because it is unreachable: the others wait for the next run.
    """
    counts = {"sent": 0, "retry": 0, "failed": 0}
    settings = smtp_settings()  # the environment's SMTP values, or those overridden in /admin/settings
    if not settings.smtp_host:
        if _has_due(now or utcnow()):
            log.warning("mail is waiting: SMTP_HOST is not set")
        return counts
    with _smtp_backend(settings) as backend:
        for _ in range(limit):
            claimed = _claim_next(now or utcnow())
            if claimed is None:
                break
            error = _deliver(backend, claimed, settings)
            if error is None:
                counts["sent"] += 1
                continue
            backend.close()  # a fresh connection for the next message
            if errors is not None:
                errors.append(f"{', '.join(claimed.message.to_addresses)}: {_describe(error)}")
            gave_up = _record_failure(claimed.message, error, now or utcnow())
            counts["failed" if gave_up else "retry"] += 1
            if _server_unavailable(error):
                break
    return counts


def _has_due(now: datetime) -> bool:
    with unit_of_work() as session:
        return (
            session.exec(
                select(OutboxMessage.id)
                .where(col(OutboxMessage.status).in_(DUE_STATUSES), OutboxMessage.next_attempt_at <= now)
                .limit(1)
            ).first()
            is not None
        )


def _claim_next(now: datetime) -> _Claimed | None:
    """Take the next due message for this sender: `sending` until now + LEASE, one more attempt."""
    with unit_of_work() as session:
        while True:
            message = session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.status).in_(DUE_STATUSES), OutboxMessage.next_attempt_at <= now)
                .order_by(col(OutboxMessage.next_attempt_at))
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if message is None:
                return None
            if message.attempts >= MAX_ATTEMPTS:
                # Its senders kept dying on it (a lease ran out every time): stop trying.
                message.status = MailStatus.FAILED
                message.last_error = message.last_error or "sending was interrupted too many times"
                log.error("mail given up", extra=_log_fields(message))
                session.flush()
                continue
            message.status = MailStatus.SENDING
            message.attempts += 1
            message.next_attempt_at = now + LEASE
            attachments = list(
                session.exec(
                    select(OutboxAttachment)
                    .where(OutboxAttachment.outbox_id == message.id)
                    .order_by(col(OutboxAttachment.position))
                ).all()
            )
            return _Claimed(message, attachments)


def _deliver(backend: SMTPBackend, claimed: _Claimed, settings: Settings) -> Exception | None:
    """Hand one message to the SMTP server; mark it sent as soon as the server accepted it."""
    message = claimed.message
    try:
        response = _build(claimed, settings).send(smtp=backend)
        if response is None:
            raise ValueError("the message has no recipient")
        if not response.success:
            raise response.error or smtplib.SMTPResponseException(
                response.status_code or 0, response.status_text or b""
            )
    except Exception as exc:  # every failure is recorded on the message and retried
        return exc
    refused = ", ".join(
        f"{address} ({code} {reply.decode(errors='replace')})"
        for address, (code, reply) in (response.refused_recipients or {}).items()
    )
    with unit_of_work() as session:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message.id, col(OutboxMessage.status) == MailStatus.SENDING)
            .values(
                status=MailStatus.SENT,
                sent_at=utcnow(),
                last_error=f"refused recipients: {refused}" if refused else None,
            )
        )
    if refused:
        log.warning("mail sent, some recipients refused", extra={**_log_fields(message), "refused": refused})
    else:
        log.info("mail sent", extra=_log_fields(message))
    return None


def _record_failure(message: OutboxMessage, error: Exception, now: datetime) -> bool:
    """Put the message back with a back-off, or give up; True when given up."""
    gave_up = _is_permanent(error) or message.attempts >= MAX_ATTEMPTS
    with unit_of_work() as session:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message.id, col(OutboxMessage.status) == MailStatus.SENDING)
            .values(
                status=MailStatus.FAILED if gave_up else MailStatus.PENDING,
                next_attempt_at=now + backoff(message.attempts),
                last_error=_describe(error),
            )
        )
    fields = {**_log_fields(message), "error": _describe(error)}
    if gave_up:
        log.error("mail given up", extra=fields)
    else:
        log.warning("mail not sent, will retry", extra=fields)
    return gave_up


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt: 1, 2, 4, 8... minutes after the 1st, 2nd, 3rd, 4th... failure, at most 1 h."""
    return min(timedelta(minutes=2 ** (max(attempts, 1) - 1)), MAX_BACKOFF)


def _is_permanent(error: Exception) -> bool:
    """A 5xx reply to the message itself (sender, recipients or content refused) will not change."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _reply in error.recipients.values())
    return isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPDataError) and error.smtp_code >= 500


def _server_unavailable(error: Exception) -> bool:
    """The server is down or refuses us as a client: the next message would fail the same way."""
    if isinstance(error, smtplib.SMTPRecipientsRefused | smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return False
    return isinstance(error, OSError)  # network errors, and smtplib's connect, TLS and login errors


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def _log_fields(message: OutboxMessage) -> dict[str, Any]:
    return {
        "outbox_id": str(message.id),
        "message_id": message.message_id,
        "attempts": message.attempts,
        "related": f"{message.related_kind}:{message.related_id}" if message.related_kind else None,
    }


def _build(claimed: _Claimed, settings: Settings) -> emails.Message:
    message = claimed.message
    mail = emails.Message(
        subject=message.subject,
        text=message.text_body,
        html=message.html_body,
        mail_from=settings.smtp_from,
        mail_to=_pairs(message.to_addresses),
        cc=_pairs(message.cc_addresses),
        reply_to=_pairs([message.reply_to]) if message.reply_to else None,
        message_id=message.message_id,
        date=format_datetime(message.created_at),
    )
    for attachment in claimed.attachments:
        mail.attach(data=attachment.content, filename=attachment.filename, mime_type=attachment.content_type)
    return mail


def _pairs(addresses: list[str]) -> list[str | tuple[str | None, str]]:
    return [(name or None, address) for name, address in getaddresses(addresses)]


# --- SMTP connection ---------------------------------------------------------------------------------


class _ClientSetup:
    """STARTTLS whenever offered, certificates verified, credentials only over TLS."""

    def initialize(self: Any) -> None:
        if self._initialized:
            return
        encrypted = isinstance(self, smtplib.SMTP_SSL)
        self.ehlo_or_helo_if_needed()
        if not encrypted and self.has_extn("starttls"):
            self.starttls(context=ssl.create_default_context())
            self.ehlo()
            encrypted = True
        if self.user:
            if not encrypted:
                raise smtplib.SMTPNotSupportedError("the SMTP server offers no TLS: the password is not sent in clear")
            self.login(user=self.user, password=self.password)
        self._initialized = True


class _Client(_ClientSetup, SMTPClientWithResponse):
    pass


class _TLSClient(_ClientSetup, SMTPClientWithResponse_SSL):
    def __init__(self, **kwargs: Any) -> None:
        # smtplib's default context verifies nothing: give it the system's, before the connection opens.
        smtplib.SMTP_SSL.__init__(
            self,
            local_hostname=kwargs.get("local_hostname"),
            timeout=kwargs.get("timeout", SMTP_TIMEOUT),
            context=ssl.create_default_context(),
        )
        SMTPClientWithResponse.__init__(self, **kwargs)


class _Backend(SMTPBackend):
    connection_cls = _Client
    connection_ssl_cls = _TLSClient


def _smtp_backend(settings: Settings) -> _Backend:
    return _Backend(
        ssl=settings.smtp_secure,
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user or None,
        password=settings.smtp_password or None,
        timeout=SMTP_TIMEOUT,
    )


def mail_outbox(session: Session) -> dict[str, int]:
    """Send due mail. Each step commits on its own (claim, then mark), so the job's session stays unused.
    A run that leaves mail unsent fails (JobFailed), saying why: `opex-crm jobs run mail_outbox` is
    how an operator checks the mail after a change of SMTP settings."""
    errors: list[str] = []
    counts = send_pending(errors=errors)
    if not smtp_settings().smtp_host and (waiting := outbox.status_counts(session)["pending"]):
        raise JobFailed(f"SMTP_HOST is not set: {waiting} message(s) wait in the outbox")
    if counts["retry"] or counts["failed"]:
        raise JobFailed(
            f"{counts['sent']} sent, {counts['retry']} to retry later, {counts['failed']} given up; "
            + "; ".join(errors[:3])
        )
    return counts


JOBS = (Job(JOB_NAME, IntervalTrigger(minutes=1), mail_outbox, "Send the due messages of the mail outbox."),)


# --- test email ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestEmailResult:
    __test__ = False  # not a pytest class

    ok: bool
    answer: str  # the server's reply ("250 …") or the error, as the server or the network gave it


def send_test_email(session: Session, actor: Actor, to: str) -> TestEmailResult:
    """Send one message now, with the effective SMTP settings, and report the server's real answer.

    Blocking (SMTP, up to the mail timeout): call it off the event loop."""
    authorize(actor, "settings.system")
    try:
        address = clean_email(to)
    except ValueError:
        raise ValidationFailed({"to": _INVALID_ADDRESS}) from None
    settings = smtp_settings(session)
    if not settings.smtp_host:
        raise ValidationFailed({"smtp_host": N_("No SMTP server is set (SMTP_HOST or the value here).")})
    organisation = section_values("organisation", session)["name"]
    message = emails.Message(
        subject=f"{organisation}: test email",
        mail_from=settings.smtp_from,
        mail_to=[address],
        text=f"This test message was sent by {actor.full_name} from the settings of "
        f"{organisation}. If you can read it, the SMTP settings work.",
    )
    try:
        with _smtp_backend(settings) as backend:
            response = message.send(smtp=backend)
        if response is None:
            raise ValueError("the message has no recipient")
        if response.error is not None:
            raise response.error
        refused = response.refused_recipients or {}
        if refused:
            answer = "; ".join(
                f"{addr}: {code} {reply.decode(errors='replace')}" for addr, (code, reply) in refused.items()
            )
            result = TestEmailResult(False, answer)
        elif not response.success:
            raise smtplib.SMTPResponseException(response.status_code or 0, response.status_text or b"")
        else:
            text = (
                response.status_text.decode(errors="replace")
                if isinstance(response.status_text, bytes)
                else str(response.status_text or "")
            )
            result = TestEmailResult(True, f"{response.status_code} {text}".strip())
    except Exception as exc:  # every failure is reported as the server or the network said it
        result = TestEmailResult(False, f"{type(exc).__name__}: {exc}"[:2000])
    security_log.record(
        session,
        ACTION_TEST_EMAIL,
        user_id=actor.id if actor.id.int else None,
        email=actor.email,
        to=address,
        host=settings.smtp_host,
        ok=result.ok,
        answer=result.answer[:500],
    )
    return result
