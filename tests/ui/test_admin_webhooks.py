"""/admin/webhooks: a super administrator adds a webhook (events chosen by group), sees its secret once,
sends a test event that a real receiver gets and the log shows, disables and deletes it; the menu entry
and the page are for super administrators only."""

from __future__ import annotations

from collections.abc import Callable

from nicegui.testing import User
from sqlmodel import select

from crm_app.integrations import deliveries
from crm_app.integrations.webhook_models import Webhook, WebhookDelivery
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.ui.conftest import element, eventually, log_in, nav_paths, table_rows
from tests.webhook_receiver import Receiver, receiver_fixture  # noqa: F401 - fixture


def _webhooks() -> list[Webhook]:
    with unit_of_work() as session:
        return list(session.exec(select(Webhook)).all())


def _deliveries() -> list[WebhookDelivery]:
    with unit_of_work() as session:
        return list(session.exec(select(WebhookDelivery)).all())


async def test_super_admin_adds_tests_disables_and_deletes_a_webhook(
    ui_user: User, account: Callable[..., str], receiver: Receiver, settings_override: Callable[..., None]
) -> None:
    settings_override(webhooks_allow_private_networks="true")
    ui_user.http_client.headers["Accept-Language"] = "en"
    await log_in(ui_user, account(Role.SUPER_ADMIN, email="sam@example.org"), path="/login?redirect_to=/admin/webhooks")
    await ui_user.should_see(marker="webhook-empty")
    await eventually(lambda: "/admin/webhooks" in nav_paths(ui_user), "no menu entry")

    ui_user.find(marker="webhook-add").click()
    await ui_user.should_see(marker="webhook-dialog")
    ui_user.find(marker="webhook-url-input").type("ftp://example.org/hook")
    ui_user.find(marker="webhook-save").click()
    await eventually(
        lambda: element(ui_user, "webhook-url-input").error == "Enter a full http:// or https:// address.",
        "a bad URL was not refused next to the field",
    )
    element(ui_user, "webhook-url-input").value = receiver.url
    ui_user.find(marker="webhook-save").click()
    await ui_user.should_see("Choose at least one event, or all events.")
    await ui_user.should_see("Institutions")  # the events come by group
    ui_user.find(marker="event-invoice.paid").click()
    ui_user.find(marker="event-quote.accepted").click()
    ui_user.find(marker="webhook-save").click()

    await ui_user.should_see(marker="secret-dialog")
    [webhook] = _webhooks()
    assert element(ui_user, "webhook-secret").value == webhook.secret
    assert webhook.events == ["quote.accepted", "invoice.paid"]
    receiver.secret = webhook.secret
    ui_user.find(marker="secret-close").click()
    await ui_user.should_see(receiver.url)
    await ui_user.should_see("Events: quote.accepted, invoice.paid")
    await ui_user.should_see("Failures in a row: 0")

    deliveries.start()
    try:
        ui_user.find(marker="webhook-log").click()
        await ui_user.should_see(marker="delivery-log")
        ui_user.find(marker="webhook-test").click()
        await ui_user.should_see("Test event queued: it leaves within seconds.")
        [request] = receiver.wait_for(1)
        assert request.headers["x-opex-event"] == "ping" and request.signature_ok
        # The receiver has the request before the sender records its answer: wait for the record (a
        # failure count of 0 proves nothing, it is the new webhook's count too).
        await eventually(lambda: [d.status_code for d in _deliveries()] == [200], "no outcome recorded")
        assert _webhooks()[0].consecutive_failures == 0
        ui_user.find(marker="delivery-refresh").click()
        await eventually(
            lambda: [(r["event"], r["code"]) for r in table_rows(ui_user, "delivery-table")] == [("ping", "200")],
            "the log does not show the delivered test event",
        )
    finally:
        deliveries.stop()

    ui_user.find(marker="webhook-toggle").click()
    await ui_user.should_see("Webhook disabled.")
    await eventually(lambda: not _webhooks()[0].is_active, "the webhook was not disabled")

    ui_user.find(marker="webhook-delete").click()
    ui_user.find(marker="confirm-yes").click()
    await ui_user.should_see("Webhook deleted.")
    assert _webhooks() == []


async def test_the_page_and_its_menu_entry_are_for_super_admins_only(
    ui_user: User, account: Callable[..., str]
) -> None:
    ui_user.http_client.headers["Accept-Language"] = "en"
    await log_in(ui_user, account(Role.ADMIN, email="ada@example.org"), path="/login?redirect_to=/admin/webhooks")
    await ui_user.should_see("You are not allowed to open this page.")
    assert nav_paths(ui_user) and "/admin/webhooks" not in nav_paths(ui_user)
