"""The mail outbox: `enqueue` writes a message in the caller's unit of work; the `mail_outbox` job
(`crm_app.platform.smtp`) sends it over SMTP with `emails`, retrying with back-off while the server is down.

- A message exists if and only if the business change that queued it commits (same transaction).
- One sender per message: a sender claims a due row in a short transaction of its own (FOR UPDATE SKIP
  LOCKED on PostgreSQL, SQLite's single writer otherwise) by moving it to `sending` with a lease, sends
  it outside any transaction, then marks it `sent` in another short transaction. A sender that dies
  mid-send leaves the row `sending`; it is due again when the lease runs out.
- The one window for a duplicate is a crash between the server's acceptance and the `sent` mark: the
  retry then carries the same Message-ID, which mail clients use to recognise it.

"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import make_msgid, parseaddr
from typing import Any

from sqlalchemy import event, func, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from crm_app.platform import scheduler as jobs
from crm_app.platform.config import get_settings
from crm_app.platform.db import insert_rows
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.identifiers import clean_email
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.outbox import MailStatus, OutboxAttachment, OutboxMessage

log = logging.getLogger(__name__)

JOB_NAME = "mail_outbox"
MAX_ATTEMPTS = 10
MAX_BACKOFF = timedelta(hours=1)
DUE_STATUSES = (MailStatus.PENDING, MailStatus.SENDING)
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


def enqueue(
    session: Session,
    *,
    to: str | Sequence[Recipient],
    subject: str,
    text: str,
    html: str | None = None,
    cc: Sequence[Recipient] = (),
    reply_to: Recipient | None = None,
    attachments: Iterable[Attachment] = (),
    dedupe_key: str | None = None,
    related: tuple[str, uuid.UUID] | None = None,
) -> OutboxMessage:
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
        to_addresses=recipients,
        cc_addresses=_clean_addresses("cc", cc),
        reply_to=_clean_addresses("reply_to", [reply_to])[0] if reply_to else None,
        subject=subject,
        text_body=text,
        html_body=html,
        message_id=make_msgid(domain=_sender_domain()),
        dedupe_key=dedupe_key,
        related_kind=related[0] if related else None,
        related_id=related[1] if related else None,
    )
    files = [
        OutboxAttachment(
            outbox_id=message.id,
            position=position,
            filename=attachment.filename,
            content_type=attachment.content_type,
            content=attachment.content,
        )
        for position, attachment in enumerate(attachments)
    ]
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


def enqueue_many(
    session: Session, messages: Sequence[Outgoing], *, skip_invalid: bool = False, now: datetime | None = None
) -> list[uuid.UUID | None]:
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
        rows.append(
            {
                "id": row_id,
                "created_at": now,
                "status": MailStatus.PENDING.value,
                "to_addresses": recipients,
                "cc_addresses": cc,
                "reply_to": reply_to,
                "subject": message.subject,
                "text_body": message.text,
                "html_body": message.html,
                "message_id": make_msgid(domain=domain),
                "dedupe_key": message.dedupe_key,
                "related_kind": message.related[0] if message.related else None,
                "related_id": message.related[1] if message.related else None,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": None,
                "sent_at": None,
            }
        )
    queued = {
        row.id
        for row in insert_rows(session, table_of(OutboxMessage), rows, on_conflict=["dedupe_key"], returning=["id"])
    }
    ids = [row_id if row_id in queued else None for row_id in ids]
    files = [
        {
            "id": uuid.uuid4(),
            "outbox_id": row_id,
            "position": position,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "content": attachment.content,
        }
        for row_id, message in zip(ids, messages, strict=True)
        if row_id is not None
        for position, attachment in enumerate(message.attachments)
    ]
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
    rows = session.exec(
        select(OutboxMessage.status, func.count())
        .where(col(OutboxMessage.status).in_([*DUE_STATUSES, MailStatus.FAILED]))
        .group_by(OutboxMessage.status)
    ).all()
    counts = {MailStatus(status): int(count) for status, count in rows}
    return {
        "pending": counts.get(MailStatus.PENDING, 0) + counts.get(MailStatus.SENDING, 0),
        "failed": counts.get(MailStatus.FAILED, 0),
    }


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
