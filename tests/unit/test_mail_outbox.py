"""The mail outbox against a real SMTP server: delivered intact, once, retried with back-off while the
server is down, never twice even with two senders at once."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from crm_app.operations import migrate
from crm_app.platform import outbox as mail
from crm_app.platform import scheduler as jobs
from crm_app.platform import smtp
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.outbox import MailStatus, OutboxAttachment, OutboxMessage
from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"

Clock = Callable[..., datetime]


def _queue(**changes: object) -> OutboxMessage:
    """Queue one message in a committed unit of work."""
    arguments: dict[str, object] = {
        "to": "buyer@chu-lyon.example",
        "subject": "Quote Q-2026-0042",
        "text": "Please find our quote attached.",
    }
    arguments.update(changes)
    with unit_of_work() as session:
        return mail.enqueue(session, **arguments)  # type: ignore[arg-type]


def _row(message_id: uuid.UUID) -> OutboxMessage:
    with unit_of_work() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row


def _count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(OutboxMessage)).one()


def test_message_arrives_with_its_attachment_intact(smtp_server: SMTPServer, clean_db: None) -> None:
    queued = _queue(
        to=[("Dr Émile Martin", "emile.martin@chu-lyon.example"), "achats@chu-lyon.example"],
        cc=["commercial@opex.example"],
        reply_to=("Jeanne Commerciale", "jeanne@opex.example"),
        subject="Devis n° Q-2026-0042 — Hôpital Édouard-Herriot",
        text="Bonjour,\nveuillez trouver notre devis ci-joint.",
        html="<p>Bonjour,</p><p>veuillez trouver notre devis ci-joint.</p>",
        attachments=[mail.Attachment("Devis Q-2026-0042.pdf", "application/pdf", PDF)],
        related=("quote", uuid.uuid4()),
    )

    assert smtp.send_pending() == {"sent": 1, "retry": 0, "failed": 0}

    [received] = smtp_server.received
    assert received.mail_from == "crm@opex.example"
    assert sorted(received.rcpt_tos) == [
        "achats@chu-lyon.example",
        "commercial@opex.example",
        "emile.martin@chu-lyon.example",
    ]
    message = received.message
    assert message["Subject"] == "Devis n° Q-2026-0042 — Hôpital Édouard-Herriot"
    assert message["From"] == "OPEx CRM <crm@opex.example>"
    assert [a.addr_spec for a in message["To"].addresses] == [
        "emile.martin@chu-lyon.example",
        "achats@chu-lyon.example",
    ]
    assert message["To"].addresses[0].display_name == "Dr Émile Martin"
    assert message["Cc"] == "commercial@opex.example"
    assert message["Reply-To"] == "Jeanne Commerciale <jeanne@opex.example>"
    assert message["Message-ID"] == queued.message_id
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None
    assert text_part.get_content().strip() == "Bonjour,\nveuillez trouver notre devis ci-joint."
    assert html_part is not None and "<p>Bonjour,</p>" in html_part.get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "Devis Q-2026-0042.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF

    row = _row(queued.id)
    assert row.status == MailStatus.SENT and row.attempts == 1 and row.sent_at is not None
    assert row.last_error is None


def test_the_job_sends_a_message_once_however_often_it_runs(smtp_server: SMTPServer, clean_db: None) -> None:
    queued = _queue()
    assert jobs.run_job(mail.JOB_NAME) == "ok"
    assert jobs.run_job(mail.JOB_NAME) == "ok"
    assert smtp.send_pending() == {"sent": 0, "retry": 0, "failed": 0}
    assert [m["Message-ID"] for m in smtp_server.messages] == [queued.message_id]


def test_a_commit_that_queued_mail_wakes_the_running_scheduler(smtp_server: SMTPServer, clean_db: None) -> None:
    jobs.start()
    try:
        queued = _queue()
        deadline = time.monotonic() + 10
        while not smtp_server.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        jobs.stop()
    assert [m["Message-ID"] for m in smtp_server.messages] == [queued.message_id]  # long before the next minute


def test_mail_waits_while_the_server_is_down_and_goes_once_it_is_back(
    smtp_server: SMTPServer, clean_db: None, clock: Clock
) -> None:
    smtp_server.stop()
    queued = _queue()

    assert smtp.send_pending() == {"sent": 0, "retry": 1, "failed": 0}
    row = _row(queued.id)
    assert row.status == MailStatus.PENDING and row.attempts == 1
    assert row.next_attempt_at == utcnow() + timedelta(minutes=1)
    assert row.last_error and "Connect" in row.last_error

    assert smtp.send_pending() == {"sent": 0, "retry": 0, "failed": 0}  # not due yet
    assert _row(queued.id).attempts == 1

    clock(minutes=1)
    assert smtp.send_pending()["retry"] == 1
    row = _row(queued.id)
    assert row.attempts == 2 and row.next_attempt_at == utcnow() + timedelta(minutes=2)

    smtp_server.start()
    clock(minutes=1)
    assert smtp.send_pending()["sent"] == 0  # still backing off
    clock(minutes=1)
    assert smtp.send_pending()["sent"] == 1
    clock(hours=2)
    assert smtp.send_pending()["sent"] == 0
    assert [m["Message-ID"] for m in smtp_server.messages] == [queued.message_id]
    row = _row(queued.id)
    assert row.status == MailStatus.SENT and row.attempts == 3


def test_back_off_doubles_up_to_an_hour() -> None:
    assert [smtp.backoff(n) // timedelta(minutes=1) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_mail_is_given_up_after_the_last_attempt(smtp_server: SMTPServer, clean_db: None, clock: Clock) -> None:
    smtp_server.stop()
    queued = _queue()
    for attempt in range(1, mail.MAX_ATTEMPTS + 1):
        outcome = smtp.send_pending()
        assert outcome == (
            {"sent": 0, "retry": 0, "failed": 1}
            if attempt == mail.MAX_ATTEMPTS
            else {"sent": 0, "retry": 1, "failed": 0}
        )
        clock(hours=1)
    row = _row(queued.id)
    assert row.status == MailStatus.FAILED and row.attempts == mail.MAX_ATTEMPTS and row.last_error
    smtp_server.start()
    clock(days=1)
    assert smtp.send_pending() == {"sent": 0, "retry": 0, "failed": 0}
    assert smtp_server.received == []
    with unit_of_work() as session:
        assert mail.status_counts(session) == {"pending": 0, "failed": 1}


def test_a_recipient_refused_for_good_is_not_retried(smtp_server: SMTPServer, clean_db: None) -> None:
    smtp_server.refused.add("gone@chu-lyon.example")
    refused = _queue(to="gone@chu-lyon.example")
    partly = _queue(to=["gone@chu-lyon.example", "buyer@chu-lyon.example"])

    assert smtp.send_pending() == {"sent": 1, "retry": 0, "failed": 1}
    row = _row(refused.id)
    assert row.status == MailStatus.FAILED and row.attempts == 1 and "550" in (row.last_error or "")
    row = _row(partly.id)
    assert row.status == MailStatus.SENT and "gone@chu-lyon.example" in (row.last_error or "")
    assert [r.rcpt_tos for r in smtp_server.received] == [["buyer@chu-lyon.example"]]


def test_two_senders_at_once_send_each_message_once(smtp_server: SMTPServer, clean_db: None) -> None:
    queued = [_queue(subject=f"Invitation {n}") for n in range(12)]
    smtp_server.delay = 0.02
    start = threading.Barrier(2)
    outcomes: list[dict[str, int]] = []

    def sender() -> None:
        start.wait()
        outcomes.append(smtp.send_pending())

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    sent = Counter(m["Message-ID"] for m in smtp_server.messages)
    assert sent == Counter({q.message_id: 1 for q in queued})
    assert sum(o["sent"] for o in outcomes) == 12
    assert all(o["sent"] > 0 for o in outcomes)  # they really ran side by side


def test_a_send_interrupted_by_a_crash_is_retried_after_the_lease(
    smtp_server: SMTPServer, clean_db: None, clock: Clock
) -> None:
    queued = _queue()
    claimed = smtp._claim_next(utcnow())  # a sender claims it, then its process dies
    assert claimed is not None and claimed.message.id == queued.id
    assert smtp.send_pending()["sent"] == 0  # leased to the dead sender
    clock(minutes=11)
    assert smtp.send_pending()["sent"] == 1
    assert _row(queued.id).attempts == 2
    assert len(smtp_server.received) == 1


def test_a_rolled_back_unit_of_work_leaves_no_mail(smtp_server: SMTPServer, clean_db: None) -> None:
    with pytest.raises(RuntimeError):
        with unit_of_work() as session:
            mail.enqueue(
                session,
                to="buyer@chu-lyon.example",
                subject="Meeting",
                text="Invitation",
                attachments=[mail.Attachment("invite.ics", "text/calendar", b"BEGIN:VCALENDAR")],
            )
            raise RuntimeError("the business change failed")
    with unit_of_work() as session:
        assert _count(session) == 0
        assert session.exec(select(func.count()).select_from(OutboxAttachment)).one() == 0
    assert smtp.send_pending()["sent"] == 0
    assert smtp_server.received == []


def test_a_dedupe_key_queues_a_message_at_most_once(db: Session) -> None:
    first = mail.enqueue(
        db,
        to="billing@chu-lyon.example",
        subject="Reminder",
        text="Invoice overdue",
        dedupe_key="invoice:42:reminder:+15",
    )
    again = mail.enqueue(
        db,
        to="someone-else@chu-lyon.example",
        subject="Reminder again",
        text="...",
        dedupe_key="invoice:42:reminder:+15",
    )
    other = mail.enqueue(
        db,
        to="billing@chu-lyon.example",
        subject="Reminder",
        text="Invoice overdue",
        dedupe_key="invoice:42:reminder:+30",
    )
    assert again.id == first.id and again.subject == "Reminder"
    assert other.id != first.id
    assert _count(db) == 2


def test_a_dedupe_key_holds_between_concurrent_transactions(clean_db: None) -> None:
    key = "invoice:7:reminder:-7"
    results: list[uuid.UUID] = []

    def second_sender() -> None:
        with unit_of_work() as session:
            results.append(mail.enqueue(session, to="b@chu-lyon.example", subject="B", text="B", dedupe_key=key).id)

    with unit_of_work() as session:
        first = mail.enqueue(session, to="a@chu-lyon.example", subject="A", text="A", dedupe_key=key)
        thread = threading.Thread(target=second_sender)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive()  # waits on the unique index for this transaction to end
    thread.join(timeout=30)
    assert results == [first.id]
    with unit_of_work() as session:
        assert _count(session) == 1


@pytest.mark.parametrize(
    "to",
    [
        "not-an-address",
        "a@b",
        "<a@chu.example>",
        "a@chu.example, b@chu.example",
        [("Name\r\nBcc: spy@evil.example", "a@chu.example")],
        [],
    ],
)
def test_invalid_addresses_are_refused(db: Session, to: object) -> None:
    with pytest.raises(ValidationFailed) as refused:
        mail.enqueue(db, to=to, subject="Hello", text="Hi")  # type: ignore[arg-type]
    assert refused.value.field_errors == {"to": "Enter a valid email address."}
    assert _count(db) == 0


def test_addresses_are_normalised(db: Session) -> None:
    message = mail.enqueue(
        db, to=[" Buyer@CHU-Lyon.example ", ("Martin, Jean", "jean@chu.example")], subject="Hello", text="Hi"
    )
    assert message.to_addresses == ["Buyer@chu-lyon.example", '"Martin, Jean" <jean@chu.example>']
    assert message.status == MailStatus.PENDING and message.attempts == 0
    assert message.message_id.startswith("<") and message.message_id.endswith("@localhost>")
    pair = mail.enqueue(db, to=("a@chu.example", "b@chu.example"), subject="Hello", text="Hi")
    assert pair.to_addresses == ["a@chu.example", "b@chu.example"]  # a tuple of addresses, not a named one


def test_a_password_is_never_sent_without_tls(
    smtp_server: SMTPServer, clean_db: None, settings_override: Callable[..., None]
) -> None:
    settings_override(smtp_user="crm", smtp_password="secret-password")
    queued = _queue()
    assert smtp.send_pending() == {"sent": 0, "retry": 1, "failed": 0}
    row = _row(queued.id)
    assert row.status == MailStatus.PENDING and "TLS" in (row.last_error or "")
    assert smtp_server.received == []


def test_nothing_is_sent_while_smtp_is_not_configured(clean_db: None, settings_override: Callable[..., None]) -> None:
    settings_override(smtp_host="")
    queued = _queue()
    assert smtp.send_pending() == {"sent": 0, "retry": 0, "failed": 0}
    row = _row(queued.id)
    assert row.status == MailStatus.PENDING and row.attempts == 0


def test_status_counts_waiting_and_given_up_mail(db: Session) -> None:
    for n in range(3):
        mail.enqueue(db, to="a@chu-lyon.example", subject=f"Hello {n}", text="Hi")
    db.add(
        OutboxMessage(
            to_addresses=["a@chu-lyon.example"],
            subject="Old",
            text_body="x",
            message_id="<x@y>",
            status=MailStatus.FAILED,
            attempts=10,
        )
    )
    db.add(
        OutboxMessage(
            to_addresses=["a@chu-lyon.example"],
            subject="Sent",
            text_body="x",
            message_id="<z@y>",
            status=MailStatus.SENT,
            attempts=1,
        )
    )
    assert mail.status_counts(db) == {"pending": 3, "failed": 1}


def test_the_outbox_works_on_sqlite(
    smtp_server: SMTPServer, tmp_path: Path, settings_override: Callable[..., None]
) -> None:
    settings_override(database_url=f"sqlite:///{tmp_path / 'mail.sqlite3'}")
    migrate.upgrade()
    queued = _queue(attachments=[mail.Attachment("quote.pdf", "application/pdf", PDF)], dedupe_key="quote:1")
    assert _queue(dedupe_key="quote:1").id == queued.id
    assert smtp.send_pending() == {"sent": 1, "retry": 0, "failed": 0}
    assert smtp.send_pending() == {"sent": 0, "retry": 0, "failed": 0}
    [message] = smtp_server.messages
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content() == PDF
    assert _row(queued.id).status == MailStatus.SENT


# --- queueing many at once ---------------------------------------------------------------------------


def test_enqueue_many_writes_in_two_statements_and_honours_dedupe_keys(db: Session) -> None:
    from sqlalchemy import event

    from crm_app.platform.db import get_engine

    existing = mail.enqueue(db, to="buyer@chu-lyon.example", subject="Old", text="x", dedupe_key="quote:1")
    db.flush()
    related = uuid.uuid4()
    messages = [
        mail.Outgoing(to="buyer@chu-lyon.example", subject="Again", text="x", dedupe_key="quote:1"),
        mail.Outgoing(
            to=[("Anne Martin", "Anne@CHU-Lyon.example")],
            subject="Quote Q-1",
            text="Hello",
            reply_to=("Paul Durand", "paul@opex.example"),
            dedupe_key="quote:2",
            related=("quote", related),
            attachments=[mail.Attachment("quote.pdf", "application/pdf", PDF)],
        ),
        mail.Outgoing(to="other@chu-lyon.example", subject="Twice", text="x", dedupe_key="quote:2"),
        mail.Outgoing(to="nokey@chu-lyon.example", subject="No key", text="x"),
    ]
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(get_engine(), "before_cursor_execute", listener)
    try:
        ids = mail.enqueue_many(db, messages)
    finally:
        event.remove(get_engine(), "before_cursor_execute", listener)
    assert len(statements) == 2, statements  # the messages, their attachments
    assert ids[0] is None and ids[2] is None and ids[1] is not None and ids[3] is not None
    queued = db.get(OutboxMessage, ids[1])
    assert queued is not None and queued.status == MailStatus.PENDING and queued.attempts == 0
    assert queued.to_addresses == ["Anne Martin <Anne@chu-lyon.example>"]
    assert queued.reply_to == "Paul Durand <paul@opex.example>" and queued.related_id == related
    assert queued.message_id.startswith("<") and queued.message_id != existing.message_id
    [attachment] = db.exec(select(OutboxAttachment).where(OutboxAttachment.outbox_id == ids[1])).all()
    assert attachment.content == PDF and attachment.filename == "quote.pdf"
    assert _count(db) == 3
    assert mail.enqueue_many(db, []) == []


def test_enqueue_many_refuses_or_skips_an_invalid_address(db: Session) -> None:
    good = mail.Outgoing(to="buyer@chu-lyon.example", subject="Fine", text="x")
    bad = mail.Outgoing(to=[("Someone", "not an address")], subject="Bad", text="x")
    with pytest.raises(ValidationFailed):
        mail.enqueue_many(db, [good, bad])
    assert _count(db) == 0
    ids = mail.enqueue_many(db, [bad, good], skip_invalid=True)
    assert ids[0] is None and ids[1] is not None and _count(db) == 1
    assert mail.is_valid_recipient(("Anne", "anne@chu-lyon.example")) and not mail.is_valid_recipient("nope")
    with pytest.raises(ValueError, match="one line"):
        mail.enqueue_many(db, [mail.Outgoing(to="a@chu-lyon.example", subject="a\nb", text="x")])


def test_enqueue_many_works_on_sqlite(
    smtp_server: SMTPServer, tmp_path: Path, settings_override: Callable[..., None]
) -> None:
    settings_override(database_url=f"sqlite:///{tmp_path / 'many.sqlite3'}")
    migrate.upgrade()
    messages = [
        mail.Outgoing(
            to=f"buyer{n}@chu-lyon.example",
            subject=f"Quote {n}",
            text="Hi",
            dedupe_key=f"quote:{n % 2}",
            attachments=[mail.Attachment("quote.pdf", "application/pdf", PDF)],
        )
        for n in range(3)
    ]
    with unit_of_work() as session:
        ids = mail.enqueue_many(session, messages)
    assert [row_id is not None for row_id in ids] == [True, True, False]
    with unit_of_work() as session:
        assert mail.enqueue_many(session, messages) == [None, None, None]
    assert smtp.send_pending() == {"sent": 2, "retry": 0, "failed": 0}
    assert sorted(m["Subject"] for m in smtp_server.messages) == ["Quote 0", "Quote 1"]
    assert all([a.get_content() for a in m.iter_attachments()] == [PDF] for m in smtp_server.messages)
