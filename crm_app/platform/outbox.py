"""The mail outbox: `enqueue` writes a message in the caller's unit of work; the `mail_outbox` job sends
it over SMTP with `emails`, retrying with back-off while the server is down.

- A message exists if and only if the business change that queued it commits (same transaction).
- One sender per message: a sender claims a due row in a short transaction of its own (FOR UPDATE SKIP
  LOCKED on PostgreSQL, SQLite's single writer otherwise) by moving it to `sending` with a lease, sends
  it outside any transaction, then marks it `sent` in another short transaction. A sender that dies
  mid-send leaves the row `sending`; it is due again when the lease runs out.
- The one window for a duplicate is a crash between the server's acceptance and the `sent` mark: the
  retry then carries the same Message-ID, which mail clients use to recognise it.

SMTP settings follow the original deployment guide: `SMTP_SECURE=true` is TLS from the first byte
(SMTPS, port 465); otherwise the connection is upgraded with STARTTLS whenever the server offers it
(port 587 or 25). Certificates are verified, and a password is only ever sent over TLS.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from typing import Any

import emails
from apscheduler.triggers.interval import IntervalTrigger
from emails.backend.smtp import SMTPBackend
from emails.backend.smtp.client import SMTPClientWithResponse, SMTPClientWithResponse_SSL
from sqlalchemy import event, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from crm_app.platform import scheduler as jobs
from crm_app.platform.config import Settings, get_settings
from crm_app.platform.db import insert_rows, unit_of_work
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.identifiers import clean_email
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.outbox import MailStatus, OutboxAttachment, OutboxMessage

log = logging.getLogger(__name__)

JOB_NAME = "mail_outbox"
MAX_ATTEMPTS = 10
MAX_BACKOFF = timedelta(hours=1)
#: Longer than any send can take (each socket operation times out after SMTP_TIMEOUT seconds).
LEASE = timedelta(minutes=10)
SMTP_TIMEOUT = 30
BATCH_LIMIT = 200
_DUE_STATUSES = (MailStatus.PENDING, MailStatus.SENDING)
_WAKE_KEY = "opex_mail_wake"
_INVALID_ADDRESS = N_("Enter a valid email address.")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


#: A recipient: "name@example.org" or ("Display Name", "name@example.org").
Recipient = str | tuple[str, str]


# --- queueing ----------------------------------------------------------------------------------------

def enqueue(session: Session, *, to: str | Sequence[Recipient], subject: str, text: str,
            html: str | None = None, cc: Sequence[Recipient] = (), reply_to: Recipient | None = None,
            attachments: Iterable[Attachment] = (), dedupe_key: str | None = None,
            related: tuple[str, uuid.UUID] | None = None) -> OutboxMessage:
    """Queue an email in the caller's unit of work; it is sent after the commit, never before.

    `to` is one address or a list of recipients, each an address or a (display name, address) pair.
    With a `dedupe_key` already used (by this transaction or a committed one), nothing is queued and
    the existing message is returned. `related` names the record the mail is about, for display:
    ("invoice", invoice.id). Raises ValidationFailed on an invalid address.
    """
    if "\n" in subject or "\r" in subject:
        raise ValueError("an email subject is one line")
    if dedupe_key is not None and (existing := _by_dedupe_key(session, dedupe_key)) is not None:
        return existing
    recipients = _clean_addresses("to", [to] if isinstance(to, str) else to)
    if not recipients:
        raise ValidationFailed({"to": _INVALID_ADDRESS})
    message = OutboxMessage(
        to_addresses=recipients, cc_addresses=_clean_addresses("cc", cc),
        reply_to=_clean_addresses("reply_to", [reply_to])[0] if reply_to else None,
        subject=subject, text_body=text, html_body=html, message_id=make_msgid(domain=_sender_domain()),
        dedupe_key=dedupe_key, related_kind=related[0] if related else None,
        related_id=related[1] if related else None)
    files = [OutboxAttachment(outbox_id=message.id, position=position, filename=attachment.filename,
                              content_type=attachment.content_type, content=attachment.content)
             for position, attachment in enumerate(attachments)]
    try:
        # A savepoint: a concurrent enqueue of the same key fails alone, not the caller's whole transaction.
        with session.begin_nested():
            session.add(message)
            session.flush()
            session.add_all(files)
            session.flush()
    except IntegrityError:
        if dedupe_key is None or (existing := _by_dedupe_key(session, dedupe_key)) is None:
            raise
        return existing
    session.info[_WAKE_KEY] = True
    return message


@dataclass(frozen=True)
class Outgoing:
    """One message for `enqueue_many`: the arguments of `enqueue`."""

    to: str | Sequence[Recipient]
    subject: str
    text: str
    html: str | None = None
    cc: Sequence[Recipient] = ()
    reply_to: Recipient | None = None
    attachments: Sequence[Attachment] = ()
    dedupe_key: str | None = None
    related: tuple[str, uuid.UUID] | None = None


def enqueue_many(session: Session, messages: Sequence[Outgoing], *, skip_invalid: bool = False,
                 now: datetime | None = None) -> list[uuid.UUID | None]:
    """Queue many emails in the caller's unit of work, each as `enqueue` would, in a fixed number of
    statements whatever their number (one INSERT for the messages, one for their attachments).

    A message whose dedupe key is already used (committed, earlier in this transaction, or by an
    earlier message of `messages`) queues nothing. An invalid address raises ValidationFailed before
    anything is written; with `skip_invalid`, that message is logged and left out instead. Returns,
    for each message in order, the id of its outbox row, or None when it was not queued.
    """
    now = now or utcnow()
    domain = _sender_domain()
    cleaned: dict[tuple[str, Any], list[str]] = {}  # the same recipients recur (a salesperson's address)

    def clean(field: str, values: Sequence[Recipient]) -> list[str]:
        key = (field, tuple(values))
        if key not in cleaned:
            cleaned[key] = _clean_addresses(field, values)
        return cleaned[key]

    rows: list[dict[str, Any]] = []
    ids: list[uuid.UUID | None] = []
    for message in messages:
        if "\n" in message.subject or "\r" in message.subject:
            raise ValueError("an email subject is one line")
        try:
            recipients = clean("to", [message.to] if isinstance(message.to, str) else message.to)
            if not recipients:
                raise ValidationFailed({"to": _INVALID_ADDRESS})
            cc = clean("cc", message.cc)
            reply_to = clean("reply_to", [message.reply_to])[0] if message.reply_to else None
        except ValidationFailed:
            if not skip_invalid:
                raise
            log.warning("mail not queued: invalid address", extra={"dedupe_key": message.dedupe_key})
            ids.append(None)
            continue
        row_id = uuid.uuid4()
        ids.append(row_id)
        rows.append({"id": row_id, "created_at": now, "status": MailStatus.PENDING.value, "to_addresses": recipients,
                     "cc_addresses": cc, "reply_to": reply_to, "subject": message.subject,
                     "text_body": message.text, "html_body": message.html,
                     "message_id": make_msgid(domain=domain), "dedupe_key": message.dedupe_key,
                     "related_kind": message.related[0] if message.related else None,
                     "related_id": message.related[1] if message.related else None, "attempts": 0,
                     "next_attempt_at": now, "last_error": None, "sent_at": None})
    queued = {row.id for row in insert_rows(session, table_of(OutboxMessage), rows, on_conflict=["dedupe_key"],
                                            returning=["id"])}
    ids = [row_id if row_id in queued else None for row_id in ids]
    files = [{"id": uuid.uuid4(), "outbox_id": row_id, "position": position, "filename": attachment.filename,
              "content_type": attachment.content_type, "content": attachment.content}
             for row_id, message in zip(ids, messages, strict=True) if row_id is not None
             for position, attachment in enumerate(message.attachments)]
    if files:
        session.connection().execute(insert(table_of(OutboxAttachment)), files)
    if queued:
        session.info[_WAKE_KEY] = True
    return ids


def is_valid_recipient(recipient: Recipient) -> bool:
    """Whether `enqueue` would take this recipient (an address, or a (display name, address) pair)."""
    try:
        _clean_addresses("to", [recipient])
    except ValidationFailed:
        return False
    return True


def status_counts(session: Session) -> dict[str, int]:
    """Messages waiting to be sent (pending or being sent) and messages given up, for /api/health."""
    rows = session.exec(select(OutboxMessage.status, func.count())
                        .where(col(OutboxMessage.status).in_([*_DUE_STATUSES, MailStatus.FAILED]))
                        .group_by(OutboxMessage.status)).all()
    counts = {MailStatus(status): int(count) for status, count in rows}
    return {"pending": counts.get(MailStatus.PENDING, 0) + counts.get(MailStatus.SENDING, 0),
            "failed": counts.get(MailStatus.FAILED, 0)}


def _by_dedupe_key(session: Session, dedupe_key: str) -> OutboxMessage | None:
    return session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)).first()


def _clean_addresses(field: str, values: Iterable[Recipient]) -> list[str]:
    """Each recipient as one header-safe "Name <address>" string (a bare address when unnamed)."""
    cleaned = []
    for value in values:
        name, raw = value if isinstance(value, tuple) else ("", value)
        try:
            if "\n" in name or "\r" in name:
                raise ValueError(name)
            cleaned.append(str(Address(display_name=name.strip(), addr_spec=clean_email(raw))))
        except (ValueError, HeaderParseError):
            raise ValidationFailed({field: _INVALID_ADDRESS}) from None
    return cleaned


def _sender_domain() -> str:
    domain = parseaddr(get_settings().smtp_from)[1].rpartition("@")[2]
    return domain or "opex-crm.invalid"


@event.listens_for(OrmSession, "after_commit")
def _wake_after_commit(session: OrmSession) -> None:
    if session.info.pop(_WAKE_KEY, False):
        wake()


@event.listens_for(OrmSession, "after_rollback")
def _forget_wake(session: OrmSession) -> None:
    session.info.pop(_WAKE_KEY, None)


def wake() -> None:
    """Send queued mail now rather than at the next minute (called after a commit that queued mail).

    Only when the scheduler runs in this process; a run already in progress makes this one a no-op
    (the message then waits for the next run, at most a minute).
    """
    if jobs.status()["state"] != "running":
        return
    threading.Thread(target=jobs.run_job, args=(JOB_NAME,), name="mail-wake", daemon=True).start()


# --- sending -----------------------------------------------------------------------------------------

@dataclass
class _Claimed:
    message: OutboxMessage
    attachments: list[OutboxAttachment]


def send_pending(now: datetime | None = None, *, limit: int = BATCH_LIMIT) -> dict[str, int]:
    """Send the due messages, one claim at a time; returns how many were sent, put back, given up.

    Blocking (SMTP): runs in the scheduler's thread, never on the event loop. Stops at the first
    message the server could not take because it is unreachable: the others wait for the next run.
    """
    from crm_app.platform.settings import smtp_settings

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
            gave_up = _record_failure(claimed.message, error, now or utcnow())
            counts["failed" if gave_up else "retry"] += 1
            if _server_unavailable(error):
                break
    return counts


def _has_due(now: datetime) -> bool:
    with unit_of_work() as session:
        return session.exec(select(OutboxMessage.id).where(col(OutboxMessage.status).in_(_DUE_STATUSES),
                                                            OutboxMessage.next_attempt_at <= now).limit(1)).first() \
            is not None


def _claim_next(now: datetime) -> _Claimed | None:
    """Take the next due message for this sender: `sending` until now + LEASE, one more attempt."""
    with unit_of_work() as session:
        while True:
            message = session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.status).in_(_DUE_STATUSES), OutboxMessage.next_attempt_at <= now)
                .order_by(col(OutboxMessage.next_attempt_at))
                .limit(1)
                .with_for_update(skip_locked=True)).first()
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
            attachments = list(session.exec(select(OutboxAttachment)
                                            .where(OutboxAttachment.outbox_id == message.id)
                                            .order_by(col(OutboxAttachment.position))).all())
            return _Claimed(message, attachments)


def _deliver(backend: SMTPBackend, claimed: _Claimed, settings: Settings) -> Exception | None:
    """Hand one message to the SMTP server; mark it sent as soon as the server accepted it."""
    message = claimed.message
    try:
        response = _build(claimed, settings).send(smtp=backend)
        if response is None:
            raise ValueError("the message has no recipient")
        if not response.success:
            raise response.error or smtplib.SMTPResponseException(response.status_code or 0,
                                                                   response.status_text or b"")
    except Exception as exc:  # every failure is recorded on the message and retried
        return exc
    refused = ", ".join(f"{address} ({code} {reply.decode(errors='replace')})"
                        for address, (code, reply) in (response.refused_recipients or {}).items())
    with unit_of_work() as session:
        session.execute(update(OutboxMessage)
                        .where(col(OutboxMessage.id) == message.id, col(OutboxMessage.status) == MailStatus.SENDING)
                        .values(status=MailStatus.SENT, sent_at=utcnow(),
                                last_error=f"refused recipients: {refused}" if refused else None))
    if refused:
        log.warning("mail sent, some recipients refused", extra={**_log_fields(message), "refused": refused})
    else:
        log.info("mail sent", extra=_log_fields(message))
    return None


def _record_failure(message: OutboxMessage, error: Exception, now: datetime) -> bool:
    """Put the message back with a back-off, or give up; True when given up."""
    gave_up = _is_permanent(error) or message.attempts >= MAX_ATTEMPTS
    with unit_of_work() as session:
        session.execute(update(OutboxMessage)
                        .where(col(OutboxMessage.id) == message.id, col(OutboxMessage.status) == MailStatus.SENDING)
                        .values(status=MailStatus.FAILED if gave_up else MailStatus.PENDING,
                                next_attempt_at=now + backoff(message.attempts),
                                last_error=_describe(error)))
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
    return {"outbox_id": str(message.id), "message_id": message.message_id, "attempts": message.attempts,
            "related": f"{message.related_kind}:{message.related_id}" if message.related_kind else None}


def _build(claimed: _Claimed, settings: Settings) -> emails.Message:
    message = claimed.message
    mail = emails.Message(
        subject=message.subject, text=message.text_body, html=message.html_body, mail_from=settings.smtp_from,
        mail_to=_pairs(message.to_addresses), cc=_pairs(message.cc_addresses),
        reply_to=_pairs([message.reply_to]) if message.reply_to else None,
        message_id=message.message_id, date=format_datetime(message.created_at))
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
        smtplib.SMTP_SSL.__init__(self, local_hostname=kwargs.get("local_hostname"),
                                  timeout=kwargs.get("timeout", SMTP_TIMEOUT), context=ssl.create_default_context())
        SMTPClientWithResponse.__init__(self, **kwargs)


class _Backend(SMTPBackend):
    connection_cls = _Client
    connection_ssl_cls = _TLSClient


def _smtp_backend(settings: Settings) -> _Backend:
    return _Backend(ssl=settings.smtp_secure, host=settings.smtp_host, port=settings.smtp_port,
                    user=settings.smtp_user or None, password=settings.smtp_password or None, timeout=SMTP_TIMEOUT)


@jobs.register(JOB_NAME, IntervalTrigger(minutes=1))
def mail_outbox(session: Session) -> dict[str, int]:
    """Send due mail. Each step commits on its own (claim, then mark), so the job's session stays unused."""
    return send_pending()
