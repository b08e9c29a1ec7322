"""/ (the dashboard) with NiceGUI's simulated user: the figures of the service shown in the reader's
locale, the period and the scope from the URL, a figure and a bar opening the filtered list behind them,
the scope selector offering only what the role allows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from nicegui import ui
from nicegui.testing import User

from crm_app.analytics import dashboard as analytics
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import format_currency, format_date, use_locale
from tests.analytics_factories import Data, build
from tests.ui.conftest import eventually, log_in

MARCH = "/?period=custom&date_from=2026-03-01&date_to=2026-03-31"
DAYS = ("2026-03-01", "2026-03-31", "2026-01-29", "2026-02-28")  # March, and as many days before it


@pytest.fixture
def data() -> Data:
    with unit_of_work() as session:
        return build(session)


def _euros(value: str) -> str:
    with use_locale("en"):
        return format_currency(Decimal(value))


def _text(user: User, marker: str) -> str:
    found: set[Any] = user._gather_elements(None, None, marker, None)
    return str(next(iter(found)).text) if found else ""


async def _open(user: User, email: str, path: str = "/") -> None:
    user.http_client.headers["Accept-Language"] = "en"
    await log_in(user, email, path=f"/login?redirect_to={quote(path)}")
    await user.should_see(marker="kpis")


async def test_the_figures_of_the_period_are_shown(ui_user: User, data: Data) -> None:
    await _open(ui_user, data.org.admin.user.email, MARCH)
    with use_locale("en"):
        start, end, before, last = (format_date(date.fromisoformat(d)) for d in DAYS)
    await ui_user.should_see(f"{start} – {end}, compared with {before} – {last}")
    expected = {
        "kpi-open_pipeline-value": _euros("4845.73"),
        "kpi-weighted_pipeline-value": _euros("1686.47"),
        "kpi-won_amount-value": _euros("3000.00"),
        "kpi-win_rate-value": "50.0 %",
        "kpi-revenue_invoiced-value": _euros("950.00"),
        "kpi-cash_collected-value": _euros("200.00"),
        "kpi-receivables-value": _euros("1880.00"),
        "kpi-quotes_sent-value": "3",
        "kpi-new_clients-value": "1",
    }
    await eventually(
        lambda: {marker: _text(ui_user, marker) for marker in expected} == expected, "the March figures shown"
    )
    await ui_user.should_see("+150 %")  # won 3000 against 1200
    await ui_user.should_see("vs " + _euros("1200.00"))
    for marker in ("chart-pipeline", "chart-forecast", "chart-cash", "chart-ageing", "chart-activities", "my-day"):
        await ui_user.should_see(marker=marker)


async def test_a_figure_opens_the_filtered_list_behind_it(ui_user: User, data: Data) -> None:
    await _open(ui_user, data.org.admin.user.email, MARCH)
    ui_user.find(marker="kpi-revenue_invoiced").click()
    await ui_user.should_see(marker="invoices-table")
    await ui_user.should_see("3 documents")  # two invoices and the credit note issued in March
    await ui_user.open(MARCH)
    await ui_user.should_see(marker="kpis")
    ui_user.find(marker="kpi-receivables").click()
    await ui_user.should_see("Still to be paid")  # the filter, shown and removable
    await ui_user.should_see("5 documents")
    await ui_user.open("/institutions")  # the unfiltered count, remembered by the list...
    await ui_user.should_see("4 institutions")
    await ui_user.open(MARCH)
    ui_user.find(marker="kpi-new_clients").click()
    await ui_user.should_see("1 institution")  # ...is not the filtered one


async def test_a_bar_opens_the_list_of_its_bucket(ui_user: User, data: Data) -> None:
    await _open(ui_user, data.org.admin.user.email)
    chart = next(iter(ui_user.find(marker="chart-ageing-echart").elements))
    assert isinstance(chart, ui.echart)
    with unit_of_work() as session:  # March 2026's invoices: how late they are depends on today
        over_90 = analytics.receivables(session, data.org.admin.actor).buckets[-1]
    assert chart.options["series"][0]["data"][-1]["value"] == float(over_90.amount)
    ui_user.find(marker="chart-ageing-echart").trigger(
        "componentClick",
        {
            "componentType": "series",
            "seriesType": "bar",
            "seriesIndex": 0,
            "seriesName": "Outstanding incl. VAT",
            "name": "Over 90 days",
            "dataIndex": 4,
            "data": float(over_90.amount),
            "dataType": None,
            "value": float(over_90.amount),
        },
    )
    await ui_user.should_see(marker="invoices-table")
    await ui_user.should_see(f"{over_90.count} document")  # "1 document", "5 documents"
    await ui_user.should_see("Still to be paid")


async def test_the_scope_selector_offers_what_the_role_allows(ui_user: User, data: Data) -> None:
    await _open(ui_user, data.org.manager_a.user.email, "/?scope=all")  # wider than allowed: the team's
    toggle = next(iter(ui_user.find(marker="scope").elements))
    assert isinstance(toggle, ui.toggle)
    assert set(toggle.options) == {"own", "team"} and toggle.value == "team"
    await eventually(lambda: _text(ui_user, "kpi-open_pipeline-value") == _euros("4345.72"), "the team's pipeline")
    toggle.set_value("own")
    await eventually(lambda: _text(ui_user, "kpi-open_pipeline-value") == _euros("0.00"), "the manager's own")
    ui_user.http_client.cookies.clear()
    await _open(ui_user, data.org.rep_a.user.email)
    await ui_user.should_not_see(marker="scope")
    await eventually(lambda: _text(ui_user, "kpi-open_pipeline-value") == _euros("3345.67"), "the rep's own")


async def test_another_period_refills_the_same_charts(ui_user: User, data: Data) -> None:
    """The charts are made with the screen and filled when the figures come: another period fills the
    same charts again, an old title (no activity) does not stay, and a bar opens the new period's list."""
    await _open(ui_user, data.org.admin.user.email, MARCH)
    chart = next(iter(ui_user.find(marker="chart-activities-echart").elements))
    assert isinstance(chart, ui.echart)

    def people() -> list[str]:
        return list(chart.options.get("yAxis", {}).get("data", []))

    await eventually(lambda: bool(people()), "March's active people")
    assert chart.options["title"]["show"] is False
    for marker, day in (("date-to", "2020-01-31"), ("date-from", "2020-01-01")):  # long before any record
        field = next(iter(ui_user.find(marker=marker).elements))
        assert isinstance(field, ui.input)
        field.set_value(day)
    await eventually(lambda: not people() and chart.options["title"]["show"] is True, "the empty month")
    assert next(iter(ui_user.find(marker="chart-activities-echart").elements)) is chart
