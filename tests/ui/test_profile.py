"""/profile: phone and time zone next to the other preferences; changing the email address by a link."""

from __future__ import annotations

from collections.abc import Callable

from nicegui.testing import User
from sqlmodel import select

from crm_app.platform import smtp
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import User as UserRow
from tests.account_links import link_path, text_of
from tests.factories import PASSWORD
from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture
from tests.ui.conftest import element, eventually, log_in


def _stored(email: str) -> UserRow | None:
    with unit_of_work() as session:
        return session.exec(select(UserRow).where(UserRow.email == email)).first()


async def test_phone_and_time_zone_are_checked_and_saved(ui_user: User, account: Callable[..., str]) -> None:
    email = account()
    await log_in(ui_user, email, path="/login?redirect_to=/profile")
    await ui_user.should_see(marker="phone")
    assert element(ui_user, "timezone").value == "Europe/Paris"
    ui_user.find(marker="phone").type("12")
    element(ui_user, "timezone").value = "America/Martinique"
    ui_user.find(marker="save-profile").click()
    await eventually(lambda: element(ui_user, "phone").error is not None, "the phone was not refused")
    assert _stored(email).timezone is None  # type: ignore[union-attr]  # nothing saved

    element(ui_user, "phone").value = "0590 12 34 56"
    ui_user.find(marker="save-profile").click()
    await eventually(
        lambda: (_stored(email).phone or "") == "+590 590 12 34 56",  # type: ignore[union-attr]
        "the phone was not saved",
    )
    assert element(ui_user, "phone").error is None
    assert _stored(email).timezone == "America/Martinique"  # type: ignore[union-attr]
    await ui_user.open("/profile")  # the screen is built again: wait for the new one, not the old one's fields

    def shown(marker: str) -> object:
        try:
            return element(ui_user, marker).value
        except AssertionError:  # between the old screen and the new one
            return None

    await eventually(
        lambda: (shown("phone"), shown("timezone")) == ("+590 590 12 34 56", "America/Martinique"),
        "the saved phone and time zone are not shown again",
    )


async def test_email_change_from_the_profile_and_the_emailed_link(
    ui_user: User, account: Callable[..., str], smtp_server: SMTPServer
) -> None:
    email = account()
    await log_in(ui_user, email, path="/login?redirect_to=/profile")
    await ui_user.should_see(marker="new-email")
    ui_user.find(marker="new-email").type("claire@example.net")
    ui_user.find(marker="email-password").type(PASSWORD)
    ui_user.find(marker="change-email").click()
    await ui_user.should_see(marker="email-change-sent")
    assert smtp.send_pending()["sent"] == 1
    path = link_path(text_of(smtp_server.messages[-1]))
    assert path.startswith("/confirm-email/")

    await ui_user.open(path)  # opening the link (as a mail scanner would) changes nothing yet
    await ui_user.should_see(marker="email-change-question")
    await ui_user.should_see("claire@example.net")
    assert _stored("claire@example.net") is None
    ui_user.find(marker="confirm-email-change").click()
    await ui_user.should_see(marker="email-changed")
    assert _stored("claire@example.net") is not None
    await ui_user.open("/profile")  # the browser that followed the link stays signed in
    await ui_user.should_see("claire@example.net")
    await ui_user.open(path)  # the link was spent
    await ui_user.should_see(marker="invalid-link")
