"""/catalog with NiceGUI's simulated user: admins create and edit items in a dialog (errors next to
the fields, stale versions refused with a name), users only read the active items; filters in the URL."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from urllib.parse import quote

from nicegui.testing import User
from sqlmodel import select

from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import gettext
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.sales import catalog
from crm_app.sales.models.quotes import CatalogItem
from tests.sales_factories import make_catalog_item
from tests.ui.conftest import actor_for, element, eventually, log_in, table_rows


def _names(user: User) -> list[str]:
    return [row["name"] for row in table_rows(user, "catalog-table")]


def _item(reference: str) -> CatalogItem | None:
    with unit_of_work() as session:
        return session.exec(select(CatalogItem).where(CatalogItem.reference == reference)).first()


async def test_an_admin_creates_an_item_with_errors_next_to_the_fields(
    ui_user: User, account: Callable[..., str]
) -> None:
    ui_user.http_client.headers["Accept-Language"] = "en"
    await log_in(ui_user, account(Role.ADMIN, email="ada@example.org"), path="/login?redirect_to=/catalog")
    await ui_user.should_see(marker="new-item", retries=50)
    ui_user.find(marker="new-item").click()
    await ui_user.should_see(marker="item-dialog")
    element(ui_user, "item-name").value = "Colonne d'endoscopie"
    element(ui_user, "item-unit_price").value = "-5"
    ui_user.find(marker="item-save").click()
    await eventually(lambda: bool(element(ui_user, "item-reference").error), "no error next to the reference")
    assert element(ui_user, "item-reference").error == gettext("This field is required.")
    assert element(ui_user, "item-unit_price").error == gettext("A price is zero or more.")
    element(ui_user, "item-reference").value = "END-100"
    element(ui_user, "item-unit_price").value = "12 500,50"
    element(ui_user, "item-unit").value = "kit"
    element(ui_user, "item-default_vat_rate").value = "5.5"
    ui_user.find(marker="item-save").click()
    await eventually(lambda: _names(ui_user) == ["Colonne d'endoscopie"], "the new item is not listed")
    saved = _item("END-100")
    assert saved is not None
    assert (saved.unit_price, saved.default_vat_rate, saved.unit) == (Decimal("12500.50"), Decimal("5.5"), "kit")


async def test_a_duplicate_reference_and_a_stale_save_are_refused(ui_user: User, account: Callable[..., str]) -> None:
    ui_user.http_client.headers["Accept-Language"] = "en"
    email = account(Role.ADMIN, email="ada@example.org", name="Ada Admin")
    other = actor_for(account(Role.ADMIN, email="bob@example.org", name="Bob Boss"))
    with unit_of_work() as session:
        first = make_catalog_item(session, reference="A-1", name="Alpha").id
        make_catalog_item(session, reference="B-1", name="Beta")
    await log_in(ui_user, email, path="/login?redirect_to=/catalog")
    await eventually(lambda: _names(ui_user) == ["Alpha", "Beta"], "the catalog is not listed")
    ui_user.find(marker="catalog-table").trigger("edit", str(first))
    await ui_user.should_see(marker="item-dialog")
    element(ui_user, "item-reference").value = "b-1"
    ui_user.find(marker="item-save").click()
    await eventually(
        lambda: element(ui_user, "item-reference").error == gettext("This reference is already used by another item."),
        "no duplicate message",
    )
    with unit_of_work() as session:  # someone else saves meanwhile
        catalog.update_item(session, other, first, {"name": "Alpha prime"}, expected_version=1)
    element(ui_user, "item-reference").value = "A-2"
    ui_user.find(marker="item-save").click()
    await ui_user.should_see(
        gettext("{name} changed this record in the meantime. Reload to see their changes.", name="Bob Boss")
    )
    assert _item("A-1") is not None and _item("A-2") is None


async def test_a_user_reads_active_items_only_and_filters_restore_from_the_url(
    ui_user: User, account: Callable[..., str]
) -> None:
    with unit_of_work() as session:
        make_catalog_item(session, reference="S-1", name="Formation", category="Services", unit="day")
        make_catalog_item(session, reference="E-1", name="Endoscope", category="Matériel")
        old = make_catalog_item(session, reference="E-0", name="Endoscope ancien", category="Matériel")
        catalog.deactivate_item(session, SYSTEM_ACTOR, old.id, expected_version=1)
    target = quote("/catalog?category=Matériel&active=all", safe="/")
    await log_in(ui_user, account(), path=f"/login?redirect_to={target}")
    await eventually(lambda: _names(ui_user) == ["Endoscope"], "a user sees inactive or other items")
    await ui_user.should_not_see(marker="new-item")
    await ui_user.should_not_see(marker="filter-active")
    assert element(ui_user, "filter-category").value == "Matériel"
    element(ui_user, "search").value = "form"
    element(ui_user, "filter-category").value = ""
    await eventually(lambda: _names(ui_user) == ["Formation"], "the search does not filter")
    row = table_rows(ui_user, "catalog-table")[0]
    assert row["unit"] == gettext("day")
