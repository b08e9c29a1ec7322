"""/admin/settings: errors next to the fields, changes in the security log, the test email, and a
module switched off leaving the menu and answering "not found"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui.testing import User
from sqlmodel import select

from crm_app.platform import settings as app_settings
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import gettext
from crm_app.platform.models.audit import SecurityEvent
from crm_app.platform.models.people import Role
from crm_app.platform.models.settings import AppSetting
from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture
from tests.ui.conftest import element, eventually, log_in, nav_paths, new_institution


def _english(user: User) -> None:
    user.http_client.headers["Accept-Language"] = "en"


def _stored(section: str) -> dict[str, Any]:
    with unit_of_work() as session:
        row = session.get(AppSetting, section)
        return dict(row.values) if row else {}


def _logged_changes() -> list[dict[str, Any]]:
    with unit_of_work() as session:
        return [
            dict(d)
            for d in session.exec(
                select(SecurityEvent.details).where(SecurityEvent.action == app_settings.ACTION_CHANGED)
            ).all()
        ]


async def _open_settings(user: User, email: str) -> None:
    _english(user)
    await log_in(user, email, path="/login?redirect_to=/admin/settings")
    await user.should_see(marker="section-organisation", retries=50)


async def test_errors_show_next_to_the_fields_and_changes_are_logged(
    ui_user: User, account: Callable[..., str]
) -> None:
    await _open_settings(ui_user, account(Role.SUPER_ADMIN, email="boss@example.org"))
    timezone = element(ui_user, "org-timezone")
    timezone.value = "Mars/Olympus"
    element(ui_user, "org-name").value = ""
    ui_user.find(marker="save-organisation").click()
    await eventually(lambda: timezone.error is not None, "no error next to the time zone")
    assert "time zone" in timezone.error.lower()
    assert element(ui_user, "org-name").error == "This field is required."
    assert _stored("organisation") == {}

    element(ui_user, "org-name").value = "Clinique Lumière"
    timezone.value = "America/Montreal"
    ui_user.find(marker="save-organisation").click()
    await eventually(lambda: _stored("organisation").get("timezone") == "America/Montreal", "not saved")
    await ui_user.should_see("Settings saved.", retries=50)
    assert timezone.error is None
    [details] = _logged_changes()
    assert details["changes"]["timezone"] == {"old": "Europe/Paris", "new": "America/Montreal"}

    idle = element(ui_user, "session-idle")
    element(ui_user, "session-lifetime").value = "30"
    idle.value = "60"
    ui_user.find(marker="save-sessions").click()
    await eventually(lambda: idle.error is not None, "no error next to the idle timeout")


async def test_admins_below_super_admin_see_only_the_sales_document_sections(
    ui_user: User, account: Callable[..., str]
) -> None:
    _english(ui_user)
    await log_in(ui_user, account(Role.ADMIN, email="admin@example.org"), path="/login?redirect_to=/admin/settings")
    await ui_user.should_see(marker="section-documents", retries=50)
    for name in ("organisation", "email", "modules", "sessions", "retention"):
        await ui_user.should_not_see(marker=f"section-{name}")


async def test_managers_may_not_open_it(ui_user: User, account: Callable[..., str]) -> None:
    _english(ui_user)
    await log_in(ui_user, account(Role.MANAGER, email="manager@example.org"), path="/login?redirect_to=/admin/settings")
    await ui_user.should_see("You are not allowed to open this page.", retries=50)
    assert nav_paths(ui_user) and "/admin/settings" not in nav_paths(ui_user)


async def test_test_email_reports_the_server_answer(
    ui_user: User, account: Callable[..., str], smtp_server: SMTPServer
) -> None:
    await _open_settings(ui_user, account(Role.SUPER_ADMIN, email="boss@example.org"))
    await ui_user.should_see(marker="smtp-environment")
    await ui_user.should_see("Not set")  # the environment's password: never shown
    element(ui_user, "test-to").value = "it@example.org"
    ui_user.find(marker="send-test").click()
    result = element(ui_user, "test-result")
    await eventually(lambda: "250" in result.text, "no answer from the server shown")
    assert result.text.startswith("The server accepted the message:")
    assert [m["To"] for m in smtp_server.messages] == ["it@example.org"]

    smtp_server.stop()
    ui_user.find(marker="send-test").click()
    await eventually(lambda: result.text.startswith("The message was not sent:"), "no error shown")
    assert "refused" in result.text.lower()


async def test_a_module_switched_off_leaves_the_menu_and_its_pages(ui_user: User, account: Callable[..., str]) -> None:
    await _open_settings(ui_user, account(Role.SUPER_ADMIN, email="boss@example.org"))
    assert "/tasks" in nav_paths(ui_user)
    ui_user.find(marker="module-tasks").click()  # off
    ui_user.find(marker="save-modules").click()
    await eventually(lambda: _stored("modules").get("tasks") is False, "the module was not switched off")

    await ui_user.open("/")
    await eventually(lambda: "/notes" in nav_paths(ui_user), "the menu is not shown")
    assert "/tasks" not in nav_paths(ui_user)
    await ui_user.open("/tasks")
    await ui_user.should_see("This page does not exist.", retries=50)
    await ui_user.open(f"/institutions/{new_institution('Clinique des Lilas')}")  # nor on an institution
    await ui_user.should_see(marker="tab-activity", retries=50)
    ui_user.find(marker="tab-activity").click()
    await ui_user.should_see(marker="add-note", retries=50)
    await ui_user.should_not_see(marker="add-task")

    await ui_user.open("/admin/settings")
    await ui_user.should_see(marker="section-modules", retries=50)
    ui_user.find(marker="module-tasks").click()  # back on
    ui_user.find(marker="save-modules").click()
    await eventually(lambda: _stored("modules").get("tasks") is True, "the module was not switched back on")
    await ui_user.open("/tasks")
    await eventually(lambda: "/tasks" in nav_paths(ui_user), "the module is not back in the menu")
    await ui_user.should_not_see("This page does not exist.")


async def test_stored_booleans_read_as_yes_or_no_in_french(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(
        ui_user, account(Role.SUPER_ADMIN, email="boss@example.org"), path="/login?redirect_to=/admin/settings"
    )  # French, the default
    await ui_user.should_see(marker="smtp-environment", retries=50)
    secure = element(ui_user, "smtp-environment-smtp_secure").text
    assert secure in (gettext("Yes"), gettext("No")) and secure in ("Oui", "Non")  # not "False"
