"""Webhooks against a real HTTP receiver on loopback: signed deliveries that leave within seconds of the
commit, retried after a 500 and delivered once, nothing after a rollback, the private-address guard at
every attempt, disabled after 20 failures in a row with the super administrators told, redelivery, the
test event, the purge of old deliveries; and the public events the services' domain events make."""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from crm_app.activities import tasks
from crm_app.institutions.models import Institution
from crm_app.integrations import addresses, catalogue, deliveries, webhooks
from crm_app.integrations.webhook_models import DeliveryStatus, Webhook, WebhookDelivery
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.models.notifications import Notification
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import Actor
from crm_app.sales import invoices, payments
from crm_app.sales import reminders as sales_jobs
from tests.activity_factories import make_meeting
from tests.factories import actor_of, make_user
from tests.institution_factories import make_buyer, make_contact
from tests.sales_factories import make_sent_quote, quote_line
from tests.webhook_receiver import Received, Receiver, receiver_fixture, verify_signature  # noqa: F401 - fixture

Clock = Callable[..., datetime]


@pytest.fixture
def open_network(settings_override: Callable[..., None], clean_db: None) -> Callable[..., None]:
    """The receiver is on loopback: allowed here, as an intranet would allow it."""
    settings_override(webhooks_allow_private_networks="true")
    return settings_override


@pytest.fixture
def senders() -> Iterator[None]:
    deliveries.start()
    try:
        yield
    finally:
        deliveries.stop()


def _admin() -> Actor:
    with unit_of_work() as session:
        return actor_of(
            make_user(session, role=Role.SUPER_ADMIN, name="Sam Super", email=f"s{uuid.uuid4().hex[:6]}@x.org")
        )


def _webhook(receiver: Receiver, admin: Actor, **raw: Any) -> uuid.UUID:
    with unit_of_work() as session:
        row, secret = webhooks.create_webhook(
            session, admin, {"url": receiver.url, "events": ["institution.created"], **raw}
        )
    receiver.secret = secret
    return row.id


def _deliveries(webhook_id: uuid.UUID) -> list[WebhookDelivery]:
    with unit_of_work() as session:
        return list(
            session.exec(
                select(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == webhook_id)
                .order_by(WebhookDelivery.created_at)  # type: ignore[arg-type]
            ).all()
        )


def _settled(webhook_id: uuid.UUID, count: int = 1, timeout: float = 5.0) -> list[WebhookDelivery]:
    """The webhook's deliveries once none is being sent (the receiver answers before the outcome is saved)."""
    deadline = time.monotonic() + timeout
    while True:
        found = _deliveries(webhook_id)
        if len(found) >= count and all(d.status != DeliveryStatus.SENDING for d in found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries still being sent: {[d.status for d in found]}")
        time.sleep(0.02)


def _create_institution(admin: Actor, name: str = "CHU de Nantes") -> uuid.UUID:
    with unit_of_work() as session:
        return make_buyer(session, admin, name=name).id


def test_a_committed_event_arrives_signed_within_seconds(open_network: None, senders: None, receiver: Receiver) -> None:
    admin = _admin()
    webhook_id = _webhook(receiver, admin)
    committed = time.time()
    institution_id = _create_institution(admin)

    [request] = receiver.wait_for(1, timeout=5)
    assert request.at - committed < 5
    _settled(webhook_id)
    assert request.path == "/hooks/opex?source=crm"
    assert request.signature_ok
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-opex-event"] == "institution.created"
    [delivery] = _deliveries(webhook_id)
    assert request.headers["x-opex-delivery"] == str(delivery.id)
    body = request.body
    assert set(body) == {"id", "event", "occurred_at", "actor", "data"}
    assert body["event"] == "institution.created"
    assert uuid.UUID(body["id"]) == delivery.event_id
    assert body["occurred_at"].endswith("Z")
    assert body["actor"] == {"id": str(admin.id), "name": "Sam Super"}
    assert body["data"]["id"] == str(institution_id)
    assert body["data"]["name"] == "CHU de Nantes"
    assert request.raw == delivery.body.encode()  # the stored bytes are the signed bytes
    assert not verify_with("whsec_wrong", request)
    time.sleep(0.3)
    assert len(receiver.snapshot()) == 1
    assert _settled(webhook_id)[0].status == DeliveryStatus.DELIVERED


def verify_with(secret: str, request: Received) -> bool:
    return verify_signature(secret, request.headers["x-opex-signature"], request.raw)


def test_events_the_webhook_did_not_choose_are_not_sent(open_network: None, receiver: Receiver) -> None:
    admin = _admin()
    webhook_id = _webhook(receiver, admin, events=["contact.created"])
    institution_id = _create_institution(admin)
    assert _deliveries(webhook_id) == []
    with unit_of_work() as session:
        make_contact(session, session.get_one(Institution, institution_id), admin)
    [delivery] = _deliveries(webhook_id)
    assert delivery.event == "contact.created"


def test_a_500_is_retried_with_back_off_then_delivered_once(
    open_network: None, senders: None, receiver: Receiver, clock: Clock
) -> None:
    admin = _admin()
    webhook_id = _webhook(receiver, admin)
    receiver.statuses = [500]
    _create_institution(admin)

    receiver.wait_for(1)
    [delivery] = _settled(webhook_id)
    assert (delivery.status, delivery.attempts, delivery.status_code) == (DeliveryStatus.PENDING, 1, 500)
    assert delivery.response_excerpt is not None and len(delivery.response_excerpt) == 1024  # the first kilobyte
    assert delivery.next_attempt_at - delivery.last_attempt_at == deliveries.backoff(1)  # type: ignore[operator]
    time.sleep(0.5)
    assert len(receiver.snapshot()) == 1  # not before its time
    clock(seconds=11)
    deliveries.wake()

    first, second = receiver.wait_for(2)
    assert first.body == second.body and second.signature_ok
    assert first.headers["x-opex-delivery"] == second.headers["x-opex-delivery"]
    time.sleep(0.5)
    assert len(receiver.snapshot()) == 2
    [delivery] = _settled(webhook_id)
    assert (delivery.status, delivery.attempts, delivery.status_code) == (DeliveryStatus.DELIVERED, 2, 200)
    with unit_of_work() as session:
        assert session.get_one(Webhook, webhook_id).consecutive_failures == 0


def test_back_off_spreads_ten_attempts_over_about_a_day() -> None:
    waits = [deliveries.backoff(n) for n in range(1, deliveries.MAX_ATTEMPTS)]
    assert waits[:3] == [timedelta(seconds=10), timedelta(seconds=30), timedelta(seconds=90)]
    assert timedelta(hours=22) < sum(waits, timedelta()) < timedelta(hours=26)


def test_a_rolled_back_transaction_sends_nothing(open_network: None, senders: None, receiver: Receiver) -> None:
    admin = _admin()
    webhook_id = _webhook(receiver, admin)
    with pytest.raises(RuntimeError), unit_of_work() as session:
        make_buyer(session, admin, name="Never saved")
        session.flush()
        raise RuntimeError("the action failed after the event was published")
    assert _deliveries(webhook_id) == []
    assert deliveries.send_due() == 0
    time.sleep(0.5)
    assert receiver.snapshot() == []


def test_a_private_address_is_refused_at_creation_and_at_every_attempt(
    open_network: Callable[..., None], receiver: Receiver, clock: Clock
) -> None:
    admin = _admin()
    webhook_id = _webhook(receiver, admin)  # allowed while the flag is on
    open_network(webhooks_allow_private_networks="false")
    with pytest.raises(ValidationFailed) as refused, unit_of_work() as session:
        webhooks.create_webhook(session, admin, {"url": receiver.url, "all_events": True})
    assert refused.value.field_errors == {"url": addresses.PRIVATE_ADDRESS}
    for url in ("http://localhost:8080/x", "http://[::1]/x", "http://169.254.169.254/latest", "http://10.1.2.3/"):
        with pytest.raises(ValidationFailed), unit_of_work() as session:
            webhooks.create_webhook(session, admin, {"url": url, "all_events": True})

    _create_institution(admin)
    assert deliveries.send_one()
    clock(seconds=11)
    assert deliveries.send_one()
    [delivery] = _deliveries(webhook_id)
    assert delivery.attempts == 2 and delivery.status == DeliveryStatus.PENDING
    assert delivery.error is not None and delivery.error.startswith("refused: 127.0.0.1 resolves to 127.0.0.1")
    assert receiver.snapshot() == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.8", False),
        ("172.16.4.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address checked, not bound
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::", False),
        ("ff02::1", False),
    ],
)
def test_only_public_addresses_pass_the_guard(address: str, public: bool) -> None:
    assert addresses.is_public(ipaddress.ip_address(address)) is public


def test_only_http_and_https_urls_are_taken() -> None:
    for url in ("ftp://example.org/x", "example.org/hook", "https://user:pw@example.org/", "http:///x", "javascript:x"):
        with pytest.raises(ValidationFailed) as refused:
            webhooks.validate_url(url)
        assert refused.value.field_errors == {"url": addresses.INVALID_URL}
    assert webhooks.validate_url(" https://example.org/hook ") == "https://example.org/hook"


def test_twenty_failures_in_a_row_disable_the_webhook_and_tell_the_super_admins(
    open_network: None, receiver: Receiver
) -> None:
    admin = _admin()
    other_admin = _admin()
    webhook_id = _webhook(receiver, admin)
    receiver.statuses = [503] * 25
    for n in range(deliveries.DISABLE_AFTER + 2):
        _create_institution(admin, name=f"Clinique {n}")
    assert deliveries.send_due() == deliveries.DISABLE_AFTER  # the last two are not sent: disabled

    assert len(receiver.snapshot()) == deliveries.DISABLE_AFTER
    with unit_of_work() as session:
        webhook = session.get_one(Webhook, webhook_id)
        assert not webhook.is_active
        assert webhook.consecutive_failures == deliveries.DISABLE_AFTER
        assert webhook.disabled_reason == webhooks.DISABLED_AFTER_FAILURES
        told = session.exec(select(Notification).where(Notification.kind == "webhook.disabled")).all()
        assert {n.recipient_id for n in told} == {admin.id, other_admin.id}
        assert told[0].params == {"url": receiver.url, "count": 20}
    statuses = [d.status for d in _deliveries(webhook_id)]
    assert statuses == [DeliveryStatus.FAILED] * 22  # those waiting for a retry, or for a first attempt, given up
    with unit_of_work() as session:
        row = webhooks.set_active(session, admin, webhook_id, True)
    assert row.is_active and row.consecutive_failures == 0 and row.disabled_reason is None


def test_redeliver_sends_the_same_body_as_a_new_delivery(open_network: None, receiver: Receiver) -> None:
    admin = _admin()
    webhook_id = _webhook(receiver, admin)
    _create_institution(admin)
    deliveries.send_due()
    [original] = _deliveries(webhook_id)
    with unit_of_work() as session:
        again = webhooks.redeliver(session, admin, webhook_id, original.id)
    assert again.id != original.id and again.redelivery_of == original.id and again.status == "pending"
    deliveries.send_due()
    first, second = receiver.wait_for(2)
    assert first.raw == second.raw and second.signature_ok
    assert second.headers["x-opex-delivery"] == str(again.id) != first.headers["x-opex-delivery"]


def test_the_test_event_is_a_ping_to_that_webhook_only(open_network: None, senders: None, receiver: Receiver) -> None:
    admin = _admin()
    webhook_id = _webhook(receiver, admin)
    with unit_of_work() as session:
        webhooks.send_test(session, admin, webhook_id)
    [request] = receiver.wait_for(1)
    assert request.headers["x-opex-event"] == "ping" and request.signature_ok
    assert request.body["data"]["webhook_id"] == str(webhook_id)
    assert request.body["actor"] == {"id": str(admin.id), "name": "Sam Super"}


def test_a_rotated_secret_signs_from_then_on(open_network: None, receiver: Receiver) -> None:
    admin = _admin()
    webhook_id = _webhook(receiver, admin)
    old = receiver.secret
    with unit_of_work() as session:
        receiver.secret = webhooks.rotate_secret(session, admin, webhook_id)
        webhooks.send_test(session, admin, webhook_id)
    assert receiver.secret != old and receiver.secret.startswith("whsec_")
    deliveries.send_due()
    [request] = receiver.wait_for(1)
    assert request.signature_ok and not verify_with(old, request)


def test_only_super_admins_manage_webhooks(open_network: None, receiver: Receiver) -> None:
    with unit_of_work() as session:
        admin = actor_of(make_user(session, role=Role.ADMIN))
    with pytest.raises(Exception, match=r"not allowed"), unit_of_work() as session:
        webhooks.create_webhook(session, admin, {"url": receiver.url, "all_events": True})


def test_old_deliveries_are_purged(open_network: None, receiver: Receiver, clock: Clock) -> None:
    admin = _admin()
    webhook_id = _webhook(receiver, admin)
    _create_institution(admin, name="Old")
    deliveries.send_due()
    clock(days=31)
    _create_institution(admin, name="New")
    with unit_of_work() as session:
        assert deliveries.purge(session) == {"deleted": 1}
    [kept] = _deliveries(webhook_id)
    assert kept.status == DeliveryStatus.PENDING


# --------------------------------------------------------------------------------------------
# The public events the services make


@pytest.fixture
def bodies(clean_db: None) -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []
    remove = catalogue.subscribe(received.append)
    try:
        yield received
    finally:
        remove()


def test_subscribers_get_each_committed_event_once_and_nothing_on_rollback(bodies: list[dict[str, Any]]) -> None:
    admin = _admin()
    only_paid: list[dict[str, Any]] = []
    remove = catalogue.subscribe(only_paid.append, "invoice.paid")
    try:
        institution_id = _create_institution(admin)
        with pytest.raises(RuntimeError), unit_of_work() as session:
            make_buyer(session, admin, name="Rolled back")
            raise RuntimeError
    finally:
        remove()
    assert [(b["event"], b["data"]["id"]) for b in bodies] == [("institution.created", str(institution_id))]
    assert only_paid == []
    with pytest.raises(ValueError, match="unknown public events"):
        catalogue.subscribe(only_paid.append, "invoice.exploded")


def _names(bodies: list[dict[str, Any]]) -> list[str]:
    return [b["event"] for b in bodies]


def test_the_lifecycle_of_a_sale_makes_its_public_events(bodies: list[dict[str, Any]]) -> None:
    admin = _admin()
    with unit_of_work() as session:
        institution = make_buyer(session, admin, name="Clinique du Parc")
    with unit_of_work() as session:
        contact = make_contact(session, institution, admin)
    with unit_of_work() as session:
        task = tasks.create_task(session, admin, {"title": "Call back", "institution_id": institution.id})
    with unit_of_work() as session:
        tasks.update_task(session, admin, task.id, {"status": "done"}, expected_version=task.version)
    with unit_of_work() as session:
        meeting = make_meeting(session, admin, title="Démo", institution_id=institution.id)
    with unit_of_work() as session:
        quote = make_sent_quote(session, admin, institution)
    with unit_of_work() as session:
        invoice = invoices.create_invoice(
            session, admin, {"institution_id": institution.id, "lines": [quote_line(unit_price="50.00")]}
        )
    with unit_of_work() as session:
        invoices.issue_invoice(session, admin, invoice.id)
    with unit_of_work() as session:
        payments.record_payment(session, admin, invoice.id, {"amount": "60.00", "method": "transfer"})
    assert _names(bodies) == [
        "institution.created",
        "contact.created",
        "task.created",
        "task.completed",
        "meeting.scheduled",
        "quote.sent",
        "invoice.issued",
        "invoice.paid",
        "payment.recorded",
    ]
    by_name = {b["event"]: b for b in bodies}
    assert by_name["contact.created"]["data"]["id"] == str(contact.id)
    assert by_name["task.completed"]["data"]["status"] == "done"
    assert by_name["meeting.scheduled"]["data"]["id"] == str(meeting.id)
    assert by_name["quote.sent"]["data"]["id"] == str(quote.id)
    assert by_name["invoice.issued"]["data"]["number"].startswith("FAC-")
    assert by_name["invoice.paid"]["data"]["status"] == "paid"
    assert by_name["payment.recorded"]["data"]["amount"] == "60.00"


def test_every_catalogue_entry_is_described() -> None:
    described = catalogue.describe()
    assert [d["name"] for d in described] == list(catalogue.NAMES)
    assert {
        "institution.created",
        "institution.updated",
        "institution.archived",
        "contact.created",
        "contact.updated",
        "task.created",
        "task.completed",
        "meeting.scheduled",
        "opportunity.created",
        "opportunity.stage_changed",
        "opportunity.won",
        "opportunity.lost",
        "quote.sent",
        "quote.accepted",
        "quote.rejected",
        "quote.expired",
        "invoice.issued",
        "invoice.paid",
        "invoice.overdue",
        "credit_note.issued",
        "payment.recorded",
    } <= set(catalogue.NAMES)


def test_the_daily_jobs_publish_expired_quotes_and_overdue_invoices_as_the_system(
    bodies: list[dict[str, Any]], clock: Clock
) -> None:
    admin = _admin()
    with unit_of_work() as session:
        institution = make_buyer(session, admin, name="Clinique des Lilas")
        quote = make_sent_quote(session, admin, institution, valid_until=invoices.today(session) + timedelta(days=1))
        invoice = invoices.create_invoice(
            session, admin, {"institution_id": institution.id, "payment_terms_days": 1, "lines": [quote_line()]}
        )
        invoices.issue_invoice(session, admin, invoice.id)
    bodies.clear()
    clock(days=3)
    with unit_of_work() as session:
        assert sales_jobs.expire_quotes(session) == 1
        assert sales_jobs.mark_invoices_overdue(session) == 1
    assert [(b["event"], b["data"]["id"], b["actor"]) for b in bodies] == [
        ("quote.expired", str(quote.id), None),
        ("invoice.overdue", str(invoice.id), None),
    ]
    assert bodies[0]["data"]["status"] == "expired" and bodies[1]["data"]["status"] == "overdue"
