"""/admin/plugins: super administrators only (menu entry too); the plugins found with their state and
counters; enable or disable at once; a plugin's settings form (errors next to the fields) and its page
(the FEC export's download)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nicegui.testing import User

from crm_app.integrations import plugin_host, plugin_state, plugins
from crm_app.platform import settings as app_settings
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.sales import invoices
from tests.factories import actor_of, make_user
from tests.institution_factories import make_buyer
from tests.plugin_factories import event_body, kept, load_from, recorder, write_plugin
from tests.ui.conftest import element, eventually, log_in, nav_entries

SHIPPED = Path(__file__).resolve().parents[2] / "plugins" / "fec_export"


@pytest.fixture
def found(ui_user: User, tmp_path: Path) -> Iterator[None]:
    """A recorder plugin and the shipped FEC export in a PLUGIN_DIRECTORY, found disabled."""
    directory = tmp_path / "plugins"
    directory.mkdir()
    write_plugin(directory, "recorder", recorder())
    (directory / "fec_export").symlink_to(SHIPPED, target_is_directory=True)
    load_from(directory, auto_enable=False)
    yield
    assert plugins.wait_until_idle(20)
    plugin_host.install([])


def _enabled(name: str) -> bool:
    with unit_of_work() as session:
        return plugin_state.is_enabled(session, name)


def _menu(user: User) -> dict[str, str]:
    return {entry.href: entry.text for entry in nav_entries(user)}


async def test_super_admins_see_the_plugins_and_enable_one_at_once(
    ui_user: User, account: Callable[..., str], found: None
) -> None:
    ui_user.http_client.headers["Accept-Language"] = "en"
    await log_in(ui_user, account(Role.SUPER_ADMIN, email="boss@example.org"), path="/login?redirect_to=/admin/plugins")
    await ui_user.should_see(marker="plugin-recorder")
    assert _menu(ui_user)["/admin/plugins"] == "Plugins"
    await ui_user.should_see(marker="plugin-fec_export")
    await ui_user.should_see("Records the events it receives.")
    await ui_user.should_see("2.3.1")
    assert not _enabled("recorder")
    element(ui_user, "plugin-enabled-recorder").value = True
    await eventually(lambda: _enabled("recorder"), "the switch did not enable the plugin")
    plugins.deliver(event_body())
    assert plugins.wait_until_idle(10)
    assert len(kept("recorder", "RECEIVED")) == 1
    await ui_user.open("/admin/plugins")
    await ui_user.should_see("Events handled: 1")
    element(ui_user, "plugin-enabled-recorder").value = False
    await eventually(lambda: not _enabled("recorder"), "the switch did not disable the plugin")


async def test_other_roles_neither_see_nor_open_the_page(
    ui_user: User, account: Callable[..., str], found: None
) -> None:
    await log_in(ui_user, account(Role.ADMIN, email="admin@example.org"), path="/login?redirect_to=/admin/plugins")
    await ui_user.should_see("Vous n'êtes pas autorisé à ouvrir cette page.")
    assert _menu(ui_user) and "/admin/plugins" not in _menu(ui_user)
    await ui_user.should_not_see(marker="plugin-recorder")


async def test_the_settings_form_and_the_plugins_page(ui_user: User, account: Callable[..., str], found: None) -> None:
    with unit_of_work() as session:
        app_settings.update_section(session, SYSTEM_ACTOR, "branding", {"siret": "73282932000074"})
        admin = actor_of(make_user(session, role=Role.ADMIN, email="compta@example.org"))
        institution = make_buyer(session, name="Clinique du Lac", accounting_number="LAC01")
        line = {"description": "Audit", "quantity": "1", "unit_price": "100.00", "vat_rate": "20"}
        draft = invoices.create_invoice(session, admin, {"institution_id": institution.id, "lines": [line]})
        issued = invoices.issue_invoice(session, admin, draft.id)
    ui_user.http_client.headers["Accept-Language"] = "en"
    boss = account(Role.SUPER_ADMIN, email="boss@example.org")
    await log_in(ui_user, boss, path="/login?redirect_to=/admin/plugins/fec_export")
    await ui_user.should_see(marker="plugin-settings")
    await ui_user.should_see(marker="plugin-page-disabled")
    bank = element(ui_user, "setting-bank_account")
    assert bank.value == "512000"
    bank.value = "401000"
    element(ui_user, "setting-bank_journal").value = "BNP"
    ui_user.find(marker="plugin-settings-save").click()
    await eventually(lambda: bank.error == "A bank account starts with 512.", "no error next to the bank account")
    bank.value = "512300"
    ui_user.find(marker="plugin-settings-save").click()
    await ui_user.should_see("Settings saved.")
    with unit_of_work() as session:
        row = plugin_state.get_state(session, "fec_export")
        assert row is not None and (row.settings["bank_account"], row.settings["bank_journal"]) == ("512300", "BNP")
    with unit_of_work() as session:
        plugins.set_plugin_enabled(session, SYSTEM_ACTOR, "fec_export", True)
    await ui_user.open("/admin/plugins/fec_export")
    await ui_user.should_see(marker="fec-export")
    assert issued.issue_date is not None
    element(ui_user, "fec-from").value = issued.issue_date.isoformat()
    element(ui_user, "fec-to").value = issued.issue_date.isoformat()
    ui_user.find(marker="fec-download").click()
    response = await ui_user.download.next(timeout=10)
    lines = response.content.decode("iso-8859-15").splitlines()
    assert lines[0].startswith("JournalCode\tJournalLib\tEcritureNum")
    assert [line.split("\t")[4] for line in lines[1:]] == ["411000", "706000", "445711"]
    assert lines[1].split("\t")[11] == "120,00"
