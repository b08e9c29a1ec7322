"""The lists' column chooser (components/paged_table.py) with NiceGUI's simulated user: the wide lists
start with their amounts among the columns shown, the user shows and hides columns, and the choice is
theirs, per list, kept in the database (another browser, another visit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui.testing import User

from crm_app.accounts import list_columns
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.institution_factories import make_institution
from tests.sales_factories import make_quote
from tests.ui.conftest import actor_for, element, eventually, log_in, table_rows

ALL_QUOTE_COLUMNS = [
    "number",
    "title",
    "institution",
    "owner",
    "status",
    "issue_date",
    "valid_until",
    "total_excl_vat",
    "total_incl_vat",
]


def _shown(user: User, marker: str) -> list[str]:
    """The names of the columns the table carrying `marker` shows (Quasar's visible-columns, plus the
    required first column)."""
    table = element(user, marker)
    visible = table.props.get("visible-columns")
    return [c["name"] for c in table.columns if visible is None or c.get("required") or c["name"] in visible]


async def _quotes_page(user: User, email: str) -> None:
    await log_in(user, email, path="/login?redirect_to=/quotes")
    await user.should_see(marker="quotes-table")
    await eventually(lambda: bool(table_rows(user, "quotes-table")), "the quotes never arrived")


def _a_quote(email: str) -> None:
    with unit_of_work() as session:
        actor = actor_for(email)
        make_quote(session, actor, make_institution(session, name="Clinique des Lilas"), title="Bloc")


async def test_the_quote_list_starts_with_its_amounts_and_without_the_validity(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account(Role.ADMIN)
    _a_quote(email)
    await _quotes_page(ui_user, email)
    shown = _shown(ui_user, "quotes-table")
    assert {"total_excl_vat", "total_incl_vat", "number", "institution"} <= set(shown)
    assert "valid_until" not in shown


async def test_a_column_shown_or_hidden_is_remembered_for_this_user_and_this_list_only(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account(Role.ADMIN)
    other = account(Role.ADMIN, email="hugo@example.org", name="Hugo Martin")
    _a_quote(email)
    await _quotes_page(ui_user, email)
    chooser = element(ui_user, "column-chooser")
    wanted = [name for name in ALL_QUOTE_COLUMNS[1:] if name != "title"]  # validity shown, title hidden
    chooser.set_value(wanted)
    await eventually(lambda: _shown(ui_user, "quotes-table") == ["number", *wanted], "the columns did not change")

    # Another visit (the page is built anew, from the database): the same columns.
    async def saved() -> list[str]:
        await ui_user.open("/quotes")
        await ui_user.should_see(marker="quotes-table")
        return _shown(ui_user, "quotes-table")

    for _attempt in range(50):  # the choice is saved in a worker thread after the change
        if await saved() == ["number", *wanted]:
            break
    assert _shown(ui_user, "quotes-table") == ["number", *wanted]
    assert element(ui_user, "column-chooser").value == wanted

    # The invoices keep their own columns; another user keeps the quotes' defaults.
    await ui_user.open("/invoices")
    await ui_user.should_see(marker="invoices-table")
    assert "issue_date" in _shown(ui_user, "invoices-table")
    with unit_of_work() as session:
        assert list_columns.visible_columns(session, actor_for(other), "quotes") is None
        assert list_columns.visible_columns(session, actor_for(email), "invoices") is None
        assert list_columns.visible_columns(session, actor_for(email), "quotes") == ("number", *wanted)


async def test_the_first_column_cannot_be_hidden(ui_user: User, account: Callable[..., str]) -> None:
    email = account(Role.ADMIN)
    _a_quote(email)
    await _quotes_page(ui_user, email)
    element(ui_user, "column-chooser").set_value([])
    await eventually(lambda: _shown(ui_user, "quotes-table") == ["number"], "the columns did not change")
    assert "number" not in element(ui_user, "column-chooser").options


def _column(user: User, marker: str, name: str) -> dict[str, Any]:
    return next(c for c in element(user, marker).columns if c["name"] == name)


async def test_amounts_are_right_aligned_in_tabular_figures(ui_user: User, account: Callable[..., str]) -> None:
    email = account(Role.ADMIN)
    _a_quote(email)
    await _quotes_page(ui_user, email)
    for name in ("total_excl_vat", "total_incl_vat"):
        column = _column(ui_user, "quotes-table", name)
        assert column["align"] == "right"
        assert "opex-money" in column["classes"]
    await ui_user.open("/invoices")
    await ui_user.should_see(marker="invoices-table")
    for name in ("total", "remaining"):
        assert "opex-money" in _column(ui_user, "invoices-table", name)["classes"]
    await ui_user.open("/catalog")
    await ui_user.should_see(marker="catalog-table")
    assert "opex-money" in _column(ui_user, "catalog-table", "unit_price")["classes"]
