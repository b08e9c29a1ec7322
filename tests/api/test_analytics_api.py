"""/api/analytics against the whole app: the same numbers as the service, amounts as decimal strings
exact to the cent, each KPI with `value` and `previous`, the scope a role may ask for (403 beyond it),
and clear 422s for a bad period."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from crm_app.analytics import dashboard as analytics
from crm_app.analytics.dashboard import DashboardScope, Period
from crm_app.platform.db import unit_of_work
from tests.analytics_factories import Data, build
from tests.factories import PASSWORD

MARCH = {"period": "custom", "date_from": "2026-03-01", "date_to": "2026-03-31"}


@pytest.fixture
def data() -> Data:
    with unit_of_work() as session:
        return build(session)


async def _auth(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept-Language": "en"}


def _text(value: Any) -> Any:
    return None if value is None else str(value)


@pytest.mark.parametrize("path", ["dashboard", "pipeline", "forecast", "receivables"])
async def test_every_analytics_endpoint_needs_a_token(api: httpx.AsyncClient, path: str) -> None:
    assert (await api.get(f"/api/analytics/{path}")).status_code == 401


async def test_dashboard_gives_the_service_numbers_as_decimal_strings(api: httpx.AsyncClient, data: Data) -> None:
    admin = await _auth(api, data.org.admin.user.email)
    response = await api.get("/api/analytics/dashboard", params=MARCH, headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["period"], body["scope"], body["allowed_scopes"]) == ("custom", "all", ["own", "all"])
    assert (body["date_from"], body["date_to"], body["previous_from"], body["previous_to"]) == (
        "2026-03-01",
        "2026-03-31",
        "2026-01-29",
        "2026-02-28",
    )
    kpis = body["kpis"]
    assert kpis["open_pipeline"] == {"value": "4845.73", "previous": None}
    assert kpis["weighted_pipeline"] == {"value": "1686.47", "previous": None}
    assert kpis["won_amount"]["value"] == "3000.00" and kpis["win_rate"]["value"] == "50.0"
    assert kpis["revenue_invoiced"]["value"] == "950.00" and kpis["cash_collected"]["value"] == "200.00"
    assert kpis["quote_conversion_rate"]["value"] == "33.3" and kpis["quotes_sent"]["value"] == 3
    assert kpis["receivables"] == {"value": "1880.00", "previous": None}
    with unit_of_work() as session:
        expected = analytics.dashboard(
            session,
            data.org.admin.actor,
            period=Period.CUSTOM,
            date_from=date(2026, 3, 1),
            date_to=date(2026, 3, 31),
        )
    assert list(kpis) == list(analytics.KPI_NAMES)
    for name, figure in expected.kpis.items():
        value, previous = figure.value, figure.previous
        if isinstance(value, int):
            assert kpis[name] == {"value": value, "previous": previous}, name
        else:
            assert kpis[name] == {"value": _text(value), "previous": _text(previous)}, name


async def test_pipeline_forecast_and_receivables(api: httpx.AsyncClient, data: Data) -> None:
    admin = await _auth(api, data.org.admin.user.email)
    pipeline = (await api.get("/api/analytics/pipeline", headers=admin)).json()
    assert pipeline["stages"] == [
        {"stage": "prospecting", "count": 1, "amount": "1000.00", "weighted_amount": "100.00"},
        {"stage": "qualification", "count": 1, "amount": "2345.67", "weighted_amount": "586.42"},
        {"stage": "proposal", "count": 1, "amount": "500.01", "weighted_amount": "250.01"},
        {"stage": "negotiation", "count": 1, "amount": "1000.05", "weighted_amount": "750.04"},
    ]
    forecast = (await api.get("/api/analytics/forecast", params={"months": 6}, headers=admin)).json()
    with unit_of_work() as session:
        expected_forecast = analytics.forecast(session, data.org.admin.actor, months=6)
        expected_ageing = analytics.receivables(session, data.org.admin.actor)
    assert len(forecast["months"]) == 6
    assert forecast["months"][0]["month"] == expected_forecast.months[0].month.strftime("%Y-%m")
    assert [(m["count"], m["amount"], m["weighted_amount"]) for m in forecast["months"]] == [
        (m.count, str(m.amount), str(m.weighted_amount)) for m in expected_forecast.months
    ]
    # Every open opportunity is in one bucket: a month, overdue or undated.
    buckets = [*forecast["months"], forecast["overdue"], forecast["undated"]]
    assert sum(Decimal(b["amount"]) for b in buckets) == Decimal("4845.73")
    receivables = (await api.get("/api/analytics/receivables", headers=admin)).json()
    assert (receivables["total"], receivables["count"]) == ("1880.00", 5)
    assert [(b["bucket"], b["count"], b["amount"]) for b in receivables["buckets"]] == [
        (b.bucket.value, b.count, str(b.amount)) for b in expected_ageing.buckets
    ]


async def test_a_scope_wider_than_the_role_is_refused(api: httpx.AsyncClient, data: Data) -> None:
    rep = await _auth(api, data.org.rep_a.user.email)
    manager = await _auth(api, data.org.manager_a.user.email)
    for path in ("dashboard", "pipeline", "forecast", "receivables"):
        refused = await api.get(f"/api/analytics/{path}", params={"scope": "team"}, headers=rep)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert (await api.get("/api/analytics/pipeline", params={"scope": "all"}, headers=manager)).status_code == 403
    mine = (await api.get("/api/analytics/pipeline", headers=rep)).json()
    assert mine["scope"] == DashboardScope.OWN.value
    assert [s["amount"] for s in mine["stages"]] == ["1000.00", "2345.67", "0.00", "0.00"]
    team = (await api.get("/api/analytics/dashboard", params=MARCH, headers=manager)).json()
    assert team["scope"] == "team" and team["kpis"]["open_pipeline"]["value"] == "4345.72"


async def test_a_bad_period_is_a_clear_422(api: httpx.AsyncClient, data: Data) -> None:
    admin = await _auth(api, data.org.admin.user.email)
    cases = [
        ({"period": "custom"}, {"date_from", "date_to"}),
        ({"period": "custom", "date_from": "2026-03-10", "date_to": "2026-03-01"}, {"date_to"}),
        ({"period": "week", "date_from": "2026-03-10"}, {"date_from"}),
        ({"period": "decade"}, {"period"}),
    ]
    for params, fields in cases:
        response = await api.get("/api/analytics/dashboard", params=params, headers=admin)
        assert response.status_code == 422, params
        assert set(response.json()["error"]["fields"]) == fields, params
    assert (await api.get("/api/analytics/forecast", params={"months": 0}, headers=admin)).status_code == 422
    dates_only = {"date_from": "2026-03-01", "date_to": "2026-03-31"}  # a range alone is a custom period
    assert (await api.get("/api/analytics/dashboard", params=dates_only, headers=admin)).json()["period"] == "custom"
