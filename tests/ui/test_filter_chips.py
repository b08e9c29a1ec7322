"""The chips of the filters a list's bar has no field for (components/filter_chips.py), on /quotes as
the dashboard's links open it: built only when there is a chip, in their place above the table, each
removable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from urllib.parse import quote

from nicegui import ui
from nicegui.testing import User

from components.filter_chips import range_text
from crm_app.platform.i18n import gettext, use_locale
from crm_app.platform.models.people import Role
from tests.ui.conftest import eventually, log_in


def _chip_elements(user: User) -> set[ui.chip]:
    found: set[ui.chip] = user._gather_elements(None, None, "extra-filter", None)
    return found


def _chips(user: User) -> set[str]:
    return {chip.text for chip in _chip_elements(user) if chip.visible}


def _chips_row(user: User) -> ui.row | None:
    found: set[ui.row] = user._gather_elements(None, None, "extra-filters", None)
    return next(iter(found), None)


async def test_the_dashboards_filters_show_as_chips_that_remove_them(
    ui_user: User, account: Callable[..., str]
) -> None:
    with use_locale("fr"):
        sent = range_text(gettext("Sent"), date(2026, 3, 1), date(2026, 3, 31))
        mine = gettext("Mine")
    path = "/quotes?mine=1&sent_from=2026-03-01&sent_to=2026-03-31"
    manager = account(role=Role.MANAGER)  # a sales rep sees only their own quotes: no "Mine" filter
    await log_in(ui_user, manager, path=f"/login?redirect_to={quote(path, safe='/')}")
    await ui_user.should_see(marker="quote-count", retries=50)
    await eventually(lambda: len(_chips(ui_user)) == 2, "the two filters are not shown as chips")
    assert _chips(ui_user) == {sent, mine}
    row = _chips_row(ui_user)
    assert row is not None and row.visible and row.parent_slot is not None
    siblings = row.parent_slot.children
    table = next(e for e in siblings if isinstance(e, ui.table))
    assert siblings.index(row) == siblings.index(table) - 1  # built late, yet in its place above the table

    next(chip for chip in _chip_elements(ui_user) if chip.text == mine).value = False  # its cross
    await eventually(lambda: _chips(ui_user) == {sent}, "removing a chip did not remove its filter")
    next(iter(_chip_elements(ui_user))).value = False
    await eventually(lambda: not row.visible, "the row stays with no chip in it")
    assert _chips(ui_user) == set()


async def test_a_list_without_such_filters_builds_no_chips_row(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account(), path="/login?redirect_to=/quotes")
    await ui_user.should_see(marker="quote-count", retries=50)
    await ui_user.should_see(marker="filter-status")
    assert _chips_row(ui_user) is None
