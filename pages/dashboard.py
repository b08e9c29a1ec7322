"""/: the dashboard. The period (week, month, quarter, year or a date range) and the scope (as the role
allows) are in the URL; the figures come from one service call off the event loop
(`crm_app.analytics.dashboard.overview`), then the KPI cards, the charts (NiceGUI's ECharts element) and
the "my day" panel are drawn. Every figure and every bar opens the list behind it, filtered the same way
(components of the URL built by `ListLinks`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from components.backend import call, current_actor
from components.dashboard_panels import attention_panel, segments_panel
from components.moments import user_zone
from components.pickers import as_day
from components.shell import app_page
from crm_app.accounts import users
from crm_app.analytics import dashboard as analytics
from crm_app.analytics.dashboard import (
    AGEING_LABELS,
    PERIOD_LABELS,
    SCOPE_LABELS,
    DashboardScope,
    Figure,
    Overview,
    Period,
)
from crm_app.platform.i18n import (
    N_,
    current_locale,
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    ngettext,
)
from crm_app.platform.i18n import gettext as _
from crm_app.platform.params import Params
from crm_app.platform.permissions import Actor
from crm_app.sales.models.opportunities import OPEN_STAGES, OpportunityStage
from crm_app.sales.opportunities import STAGE_LABELS

PRIMARY, SECONDARY, ACCENT, WARNING, NEGATIVE = "#0b6e99", "#26a69a", "#7e57c2", "#f2a600", "#c10015"


# --------------------------------------------------------------------------------------------
# The lists behind the figures


def _url(path: str, params: Mapping[str, str | None]) -> str:
    kept = {name: value for name, value in params.items() if value}
    return path + (f"?{urlencode(kept)}" if kept else "")


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


@dataclass(frozen=True)
class ListLinks:
    """The URL of the list behind each figure: the scope as each list's own filter (own: the actor as
    salesperson or assignee; team: the team; all: nothing), plus the figure's own filters."""

    actor: Actor
    scope: DashboardScope
    start: date
    end: date
    today: date

    def _owner(self, own_name: str, own_value: str, team_name: str = "team_id") -> dict[str, str | None]:
        if self.scope is DashboardScope.OWN:
            return {own_name: own_value}
        if self.scope is DashboardScope.TEAM:
            return {team_name: str(self.actor.team_id)}
        return {}

    def opportunities(self, **filters: str | None) -> str:
        scope = self._owner("owner", "me", "team")
        return _url("/opportunities", {"view": "list", **scope, **filters})

    def open_opportunities(self, stage: OpportunityStage | None = None, **filters: str | None) -> str:
        stages = [stage] if stage else list(OPEN_STAGES)
        return self.opportunities(stage=",".join(s.value for s in stages), **filters)

    def closed_opportunities(self, *stages: OpportunityStage) -> str:
        return self.opportunities(
            stage=",".join(s.value for s in stages), closed_from=_iso(self.start), closed_to=_iso(self.end)
        )

    def quotes(self, **filters: str | None) -> str:
        return _url("/quotes", {**self._owner("owner_id", str(self.actor.id)), **filters})

    def invoices(self, **filters: str | None) -> str:
        return _url("/invoices", {**self._owner("owner_id", str(self.actor.id)), **filters})

    def tasks(self, **filters: str | None) -> str:
        if self.scope is DashboardScope.OWN:
            scope: dict[str, str | None] = {"assignee": "me"}
        elif self.scope is DashboardScope.TEAM:
            scope = {"assignee": "all", "team_id": str(self.actor.team_id)}
        else:
            scope = {"assignee": "all"}
        return _url("/tasks", {**scope, **filters})

    def institutions(self, **filters: str | None) -> str:
        return _url("/institutions", {**self._owner("assigned_user_id", str(self.actor.id)), **filters})

    def kpi(self, name: str) -> str:
        start, end = _iso(self.start), _iso(self.end)
        links: dict[str, Callable[[], str]] = {
            "open_pipeline": self.open_opportunities,
            "weighted_pipeline": self.open_opportunities,
            "open_opportunities": self.open_opportunities,
            "won_count": lambda: self.closed_opportunities(OpportunityStage.WON),
            "won_amount": lambda: self.closed_opportunities(OpportunityStage.WON),
            "lost_count": lambda: self.closed_opportunities(OpportunityStage.LOST),
            "win_rate": lambda: self.closed_opportunities(OpportunityStage.WON, OpportunityStage.LOST),
            "quotes_sent": lambda: self.quotes(sent_from=start, sent_to=end),
            "quote_conversion_rate": lambda: self.quotes(sent_from=start, sent_to=end),
            "quotes_accepted": lambda: self.quotes(status="accepted,ordered", decided_from=start, decided_to=end),
            "revenue_invoiced": lambda: self.invoices(issued_from=start, issued_to=end),
            "cash_collected": lambda: self.invoices(paid_from=start, paid_to=end),
            "receivables": lambda: self.invoices(outstanding="1"),
            "receivables_overdue": lambda: self.invoices(overdue="1"),
            "tasks_open": lambda: self.tasks(status="todo,in_progress"),
            "tasks_overdue": lambda: self.tasks(due="overdue"),
            "tasks_done": lambda: self.tasks(status="done", completed_from=start, completed_to=end),
            "new_institutions": lambda: self.institutions(created_from=start, created_to=end, archived="all"),
            "new_clients": lambda: self.institutions(client_from=start, client_to=end, archived="all"),
        }
        return links[name]()


# --------------------------------------------------------------------------------------------
# Figures as text


def _value_text(name: str, value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    if name in analytics.MONEY_KPIS:
        return format_currency(Decimal(value))
    if name in analytics.RATE_KPIS:
        return format_decimal(Decimal(value), places=1) + " %"
    return format_decimal(value)


def change_text(name: str, figure: Figure) -> tuple[str, str] | None:
    """The change against the previous period, worded, and its colour (None: nothing to compare)."""
    value, previous = figure.value, figure.previous
    if value is None or previous is None:
        return None
    difference = Decimal(value) - Decimal(previous)
    colour = "positive" if difference > 0 else "negative" if difference < 0 else "grey-7"
    sign = "+" if difference > 0 else ""
    if name in analytics.RATE_KPIS:
        return _("{change} pts", change=sign + format_decimal(difference, places=1)), colour
    if Decimal(previous) == 0:
        return (_("new") if difference > 0 else "="), colour
    percent = (difference * 100 / Decimal(previous)).quantize(Decimal("1"))
    return sign + format_decimal(percent) + " %", colour


#: The KPI cards, in order: the figure, its title, and what the card says under the value.
KPI_CARDS: tuple[tuple[str, str], ...] = (
    ("open_pipeline", N_("Open pipeline")),
    ("weighted_pipeline", N_("Weighted pipeline")),
    ("won_amount", N_("Won")),
    ("win_rate", N_("Win rate")),
    ("quotes_sent", N_("Quotes sent")),
    ("quotes_accepted", N_("Quotes accepted")),
    ("quote_conversion_rate", N_("Quote conversion")),
    ("revenue_invoiced", N_("Revenue invoiced")),
    ("cash_collected", N_("Cash collected")),
    ("receivables", N_("Receivables")),
    ("receivables_overdue", N_("Overdue receivables")),
    ("tasks_open", N_("Open tasks")),
    ("tasks_overdue", N_("Overdue tasks")),
    ("tasks_done", N_("Tasks done")),
    ("new_institutions", N_("New institutions")),
    ("new_clients", N_("New clients")),
)


def _detail(name: str, kpis: Mapping[str, Figure]) -> str | None:
    """A second line under some values (counts behind an amount or a rate)."""

    def count(key: str) -> int:
        return int(kpis[key].value or 0)

    if name == "open_pipeline":
        n = count("open_opportunities")
        return ngettext("{count} open opportunity", "{count} open opportunities", n, count=n)
    if name == "won_amount":
        n = count("won_count")
        return ngettext("{count} sale won", "{count} sales won", n, count=n)
    if name == "win_rate":
        return _("{won} won, {lost} lost", won=count("won_count"), lost=count("lost_count"))
    if name == "quote_conversion_rate":
        return _("of the quotes sent in the period, accepted since")
    if name == "new_clients":
        return _("first invoice issued in the period")
    return None


# --------------------------------------------------------------------------------------------
# The page


@dataclass
class Choice:
    """What the URL asks: the period (and its range when custom) and the scope."""

    period: Period
    date_from: date | None
    date_to: date | None
    scope: DashboardScope | None

    @classmethod
    def parse(cls, params: Mapping[str, Sequence[str]], allowed: Sequence[DashboardScope]) -> Choice:
        read = Params(params)
        period = read.one("period") or ""
        scope = read.one("scope") or ""
        chosen = Period(period) if period in Period.__members__.values() else Period.MONTH
        wanted = DashboardScope(scope) if scope in DashboardScope.__members__.values() else None
        return cls(
            period=chosen,
            date_from=as_day(read.one("date_from")) if chosen is Period.CUSTOM else None,
            date_to=as_day(read.one("date_to")) if chosen is Period.CUSTOM else None,
            scope=wanted if wanted in allowed else None,  # a bookmark with a wider scope: the widest allowed
        )

    def params(self) -> dict[str, str | None]:
        return {
            "period": None if self.period is Period.MONTH else self.period.value,
            "date_from": _iso(self.date_from) if self.period is Period.CUSTOM else None,
            "date_to": _iso(self.date_to) if self.period is Period.CUSTOM else None,
            "scope": self.scope.value if self.scope else None,
        }


@app_page("/", title=N_("Dashboard"), icon="dashboard", in_navigation=True, order=0, permission="dashboard.view")
async def dashboard_page(query: dict[str, list[str]]) -> None:
    screen = DashboardScreen(query)
    screen.build()
    await screen.load()
    await screen.show_previous_login()
    # The panels that follow neither the period nor the scope, below the figures once they are drawn:
    # the accounts needing attention (part of the user's day) and the segments' live counts.
    with screen.more_panels:
        await attention_panel(screen.actor)
        await segments_panel(screen.actor)


class DashboardScreen:
    def __init__(self, params: Mapping[str, Sequence[str]]) -> None:
        self.actor = current_actor()
        self.allowed = analytics.allowed_scopes(self.actor)
        self.choice = Choice.parse(params, self.allowed)
        self.zone = ""  # the user's time zone, read with the first figures
        self._loads = 0

    def build(self) -> None:
        c = self.choice
        with ui.column().classes("w-full gap-3") as self.root:
            with ui.row().classes("w-full items-center gap-x-4 gap-y-2"):
                with ui.column().classes("gap-0"):
                    ui.label(_("Welcome, {name}", name=self.actor.full_name)).classes("text-h5")
                    # When this account was last used: a login the user does not recognise shows here.
                    self.previous_login = ui.label().classes("text-caption text-grey-7").mark("previous-login")
                ui.space()
                ui.toggle(
                    {p.value: _(PERIOD_LABELS[p]) for p in Period},
                    value=c.period.value,
                    on_change=lambda e: self._set_period(Period(e.value)),
                ).props("dense no-caps unelevated toggle-color=primary").mark("period")
                if len(self.allowed) > 1:
                    ui.toggle(
                        {s.value: _(SCOPE_LABELS[s]) for s in self.allowed},
                        value=(c.scope or self.allowed[-1]).value,
                        on_change=lambda e: self._set_scope(DashboardScope(e.value)),
                    ).props("dense no-caps unelevated toggle-color=secondary").mark("scope")
            with ui.row().classes("w-full items-center gap-2") as self.range_row:
                self.date_from = (
                    ui.input(_("From"), value=_iso(c.date_from) or "", on_change=self._set_range)
                    .props("dense outlined type=date stack-label")
                    .classes("w-44")
                    .mark("date-from")
                )
                self.date_to = (
                    ui.input(_("To"), value=_iso(c.date_to) or "", on_change=self._set_range)
                    .props("dense outlined type=date stack-label")
                    .classes("w-44")
                    .mark("date-to")
                )
            self.range_row.set_visibility(c.period is Period.CUSTOM)
            self.caption = ui.label().classes("text-grey-7 text-body2").mark("period-caption")
            with ui.column().classes("w-full gap-4"):
                self.kpis = ui.element("div").classes("dashboard-kpis w-full").mark("kpis")
                with ui.element("div").classes("dashboard-panels w-full"):
                    self.day = ui.element("div").classes("w-full")
                    # The charts exist before their figures: the browser sets ECharts up (its longest
                    # work on this screen) while the server reads the figures, which then only fill them.
                    self.charts = {marker: _chart_card(_(title), marker) for title, marker in CHARTS}
            self.more_panels = ui.element("div").classes("dashboard-panels w-full").mark("more-panels")

    async def show_previous_login(self) -> None:
        profile = await call(users.get_profile)
        if profile is None:
            return
        if profile.previous_login_at is None:
            self.previous_login.text = _("This is your first login.")
        else:
            when = format_datetime(profile.previous_login_at, profile.timezone)
            self.previous_login.text = _("Previous login: {when}", when=when)

    # --- choices --------------------------------------------------------------------------

    async def _set_period(self, period: Period) -> None:
        self.choice.period = period
        if period is Period.CUSTOM and (self.choice.date_from is None or self.choice.date_to is None):
            today = self._today or date.today()
            self.choice.date_from, self.choice.date_to = today.replace(day=1), today
            self.date_from.value, self.date_to.value = _iso(self.choice.date_from), _iso(self.choice.date_to)
        self.range_row.set_visibility(period is Period.CUSTOM)
        await self.load()

    async def _set_scope(self, scope: DashboardScope) -> None:
        self.choice.scope = scope
        await self.load()

    async def _set_range(self) -> None:
        first, last = as_day(self.date_from.value), as_day(self.date_to.value)
        if first is None or last is None:
            return
        self.choice.date_from, self.choice.date_to = first, last
        await self.load()

    _today: date | None = None

    # --- figures --------------------------------------------------------------------------

    async def load(self) -> None:
        c = self.choice
        ui.navigate.history.replace(_url("/", c.params()))
        self._loads += 1
        ticket = self._loads
        figures = call(
            analytics.overview,
            period=c.period,
            date_from=c.date_from,
            date_to=c.date_to,
            scope=c.scope,
            fields={"date_from": self.date_from, "date_to": self.date_to},
        )
        if self.zone:
            result = await figures
        else:
            self.zone, result = await asyncio.gather(user_zone(), figures)
        if result is None or ticket != self._loads:  # refused (said next to the field), or a newer load won
            return
        self._today = result.dashboard.today
        self.render(result)

    def render(self, data: Overview) -> None:
        figures = data.dashboard
        links = ListLinks(self.actor, figures.scope, figures.current.start, figures.current.end, figures.today)
        self.caption.text = _(
            "{start} – {end}, compared with {previous_start} – {previous_end}",
            start=format_date(figures.current.start),
            end=format_date(figures.current.end),
            previous_start=format_date(figures.previous.start),
            previous_end=format_date(figures.previous.end),
        )
        self.kpis.clear()
        with self.kpis:
            for name, title in KPI_CARDS:
                _kpi_card(name, _(title), figures.kpis, links.kpi(name))
        self.day.clear()
        with self.day:
            self._my_day(data)
        for marker, chart in (
            ("chart-pipeline", _pipeline_chart(data, links)),
            ("chart-forecast", _forecast_chart(data, links)),
            ("chart-cash", _cash_chart(data, links)),
            ("chart-ageing", _ageing_chart(data, links)),
            ("chart-activities", _activities_chart(data, links)),
        ):
            self.charts[marker].show(*chart)

    def _my_day(self, data: Overview) -> None:
        day = data.my_day
        with ui.card().classes("w-full").mark("my-day"):
            ui.label(_("My day")).classes("text-subtitle1 text-weight-medium")
            sections: list[tuple[str, list[analytics.DayItem], str, Callable[[analytics.DayItem], str], str, str]] = [
                (
                    _("Tasks due today or overdue"),
                    day.tasks,
                    "/tasks/{id}",
                    lambda i: format_datetime(i.at, self.zone, style="short") if i.at else "",
                    _("No task due today."),
                    "/tasks?due=today",
                ),
                (
                    _("Today's meetings"),
                    day.meetings,
                    "/meetings/{id}",
                    lambda i: format_datetime(i.at, self.zone, style="short") if i.at else "",
                    _("No meeting today."),
                    "/meetings",
                ),
                (
                    _("Quotes expiring within 7 days"),
                    day.expiring_quotes,
                    "/quotes/{id}",
                    lambda i: (
                        _("until {day}", day=format_date(i.day)) + " · " + format_currency(i.amount or Decimal(0))
                    ),
                    _("No quote expiring this week."),
                    _url(
                        "/quotes",
                        {
                            "status": "sent",
                            "valid_from": _iso(day.today),
                            "valid_to": _iso(day.today + timedelta(days=7)),
                            "mine": "1",
                        },
                    ),
                ),
                (
                    _("My overdue invoices"),
                    day.overdue_invoices,
                    "/invoices/{id}",
                    lambda i: _("due {day}", day=format_date(i.day)) + " · " + format_currency(i.amount or Decimal(0)),
                    _("No overdue invoice."),
                    _url("/invoices", {"overdue": "1", "owner_id": str(self.actor.id)}),
                ),
            ]
            with ui.column().classes("w-full gap-3"):
                for title, items, target, detail, empty, more in sections:
                    with ui.column().classes("w-full gap-0"):
                        with ui.row().classes("w-full items-center no-wrap"):
                            ui.label(title).classes("text-body2 text-weight-medium")
                            ui.space()
                            ui.link(_("All"), more).classes("text-caption text-primary")
                        if not items:
                            ui.label(empty).classes("text-caption text-grey-7")
                        for item in items:
                            with ui.link(target=target.format(id=item.id)).classes(
                                "w-full dashboard-link dashboard-day-item"
                            ):
                                ui.label(item.title).classes("text-body2")
                                ui.label(
                                    " · ".join(part for part in (detail(item), item.institution_name or "") if part)
                                ).classes("text-caption text-grey-7")


def _kpi_card(name: str, title: str, kpis: Mapping[str, Figure], target: str) -> None:
    figure = kpis[name]
    with ui.link(target=target).classes("dashboard-link").mark(f"kpi-{name}"):
        with ui.card().classes("w-full q-pa-sm dashboard-kpi").props("flat bordered"):
            ui.label(title).classes("text-caption text-grey-7")
            # data-kpi: the figure's handle for the browser journeys and the benchmark.
            ui.label(_value_text(name, figure.value)).classes("text-h6 text-weight-medium").props(
                f'data-kpi="{name}"'
            ).mark(f"kpi-{name}-value")
            if (detail := _detail(name, kpis)) is not None:
                ui.label(detail).classes("text-caption text-grey-8")
            change = change_text(name, figure)
            with ui.row().classes("items-center gap-1 text-caption"):
                if name in analytics.STATE_KPIS:
                    ui.label(_("now")).classes("text-grey-7")
                else:
                    if change is not None:
                        words, colour = change
                        ui.label(words).classes(f"text-{colour} text-weight-medium")
                    ui.label(_("vs {value}", value=_value_text(name, figure.previous))).classes("text-grey-7")


#: The charts' titles and markers, in the order they show.
CHARTS = (
    (N_("Pipeline by stage"), "chart-pipeline"),
    (N_("Forecast by expected close"), "chart-forecast"),
    (N_("Invoiced vs collected, last 12 months"), "chart-cash"),
    (N_("Receivables by days past due"), "chart-ageing"),
    (N_("Activities per salesperson"), "chart-activities"),
)

#: A chart's options and, per series, the list each bar opens (by the bar's index).
ChartData = tuple[dict[str, Any], Sequence[Sequence[str]]]


class _Chart:
    """An ECharts element shown before its figures, then filled (and refilled for another period)."""

    def __init__(self, element: ui.echart) -> None:
        self.element = element
        self.targets: Sequence[Sequence[str]] = ()
        element.on_point_click(self._open_list)

    def show(self, options: dict[str, Any], targets: Sequence[Sequence[str]]) -> None:
        self.targets = targets
        self.element.options.clear()
        self.element.options.update(options)
        self.element.update()

    def _open_list(self, event: Any) -> None:
        """A click on a bar opens the list of its series and category."""
        if not self.targets:
            return
        series = self.targets[min(event.series_index, len(self.targets) - 1)]
        if 0 <= event.data_index < len(series):
            ui.navigate.to(series[event.data_index])


def _chart_card(title: str, marker: str) -> _Chart:
    with ui.card().classes("w-full").mark(marker):
        ui.label(title).classes("text-subtitle1 text-weight-medium")
        element = ui.echart({"animation": False, "series": []}).classes("w-full dashboard-chart")
        return _Chart(element.mark(f"{marker}-echart"))


def _js_locale() -> str:
    return {"en": "en-GB"}.get(current_locale(), current_locale())


def _money_axis() -> dict[str, Any]:
    compact = f"new Intl.NumberFormat('{_js_locale()}', {{notation: 'compact', style: 'currency', currency: 'EUR'}})"
    return {"type": "value", "axisLabel": {":formatter": f"value => {compact}.format(value)"}}


def _tooltip(*, money: bool) -> dict[str, Any]:
    style = "{style: 'currency', currency: 'EUR'}" if money else "{}"
    return {
        "trigger": "axis",
        "axisPointer": {"type": "shadow"},
        ":valueFormatter": f"value => new Intl.NumberFormat('{_js_locale()}', {style}).format(value)",
    }


def _base(categories: list[str], series: list[dict[str, Any]], *, horizontal: bool = False) -> dict[str, Any]:
    labels = {"interval": 0, "hideOverlap": True, "width": 76, "overflow": "break"}
    category_axis = {"type": "category", "data": categories, "axisLabel": labels}
    options: dict[str, Any] = {
        "animation": False,
        "tooltip": _tooltip(money=not horizontal),
        "legend": {"bottom": 0, "type": "scroll"},
        "grid": {"left": 8, "right": 16, "top": 16, "bottom": 40, "containLabel": True},
        "xAxis": {"type": "value"} if horizontal else category_axis,
        "yAxis": category_axis if horizontal else _money_axis(),
        "series": series,
    }
    return options


def _bars(name: str, values: Sequence[Decimal | int], colour: str, **extra: Any) -> dict[str, Any]:
    # ECharts draws numbers: the exact amounts are in the cards and the lists; a bar's value is its height.
    return {
        "name": name,
        "type": "bar",
        "data": [float(v) for v in values],
        "itemStyle": {"color": colour},
        "cursor": "pointer",
        **extra,
    }


def _pipeline_chart(data: Overview, links: ListLinks) -> ChartData:
    stages = data.pipeline
    urls = [links.open_opportunities(s.stage) for s in stages]

    options = _base(
        [_(STAGE_LABELS[s.stage]) for s in stages],
        [
            _bars(_("Amount"), [s.amount for s in stages], PRIMARY),
            _bars(_("Weighted"), [s.weighted_amount for s in stages], SECONDARY),
        ],
    )
    return options, [urls, urls]


def _forecast_chart(data: Overview, links: ListLinks) -> ChartData:
    forecast = data.forecast
    labels = [_("Overdue")] + [format_date(m.month, style="MMM yyyy") for m in forecast.months]
    amounts = [forecast.overdue.amount, *(m.amount for m in forecast.months)]
    weighted = [forecast.overdue.weighted_amount, *(m.weighted_amount for m in forecast.months)]
    overdue_url = links.open_opportunities(close_to=_iso(forecast.today - timedelta(days=1)))
    urls = [overdue_url] + [
        links.open_opportunities(close_from=_iso(m.close_from), close_to=_iso(m.close_to)) for m in forecast.months
    ]

    options = _base(
        labels,
        [
            _bars(_("Amount"), amounts, PRIMARY, data=[{"value": float(v)} for v in amounts]),
            _bars(_("Weighted"), weighted, SECONDARY),
        ],
    )
    options["series"][0]["data"][0]["itemStyle"] = {"color": NEGATIVE}  # overdue: still open, date passed
    return options, [urls, urls]


def _cash_chart(data: Overview, links: ListLinks) -> ChartData:
    months = data.cash
    invoiced = [links.invoices(issued_from=_iso(m.month), issued_to=_iso(_month_end(m.month))) for m in months]
    collected = [links.invoices(paid_from=_iso(m.month), paid_to=_iso(_month_end(m.month))) for m in months]

    options = _base(
        [format_date(m.month, style="MMM yy") for m in months],
        [
            _bars(_("Invoiced excl. VAT"), [m.invoiced for m in months], PRIMARY),
            _bars(_("Collected"), [m.collected for m in months], SECONDARY),
        ],
    )
    return options, [invoiced, collected]


def _month_end(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - timedelta(days=1)


def _ageing_chart(data: Overview, links: ListLinks) -> ChartData:
    buckets = data.receivables.buckets
    urls = [links.invoices(outstanding="1", due_from=_iso(b.due_from), due_to=_iso(b.due_to)) for b in buckets]
    colours = [SECONDARY, WARNING, "#e67e22", "#d35400", NEGATIVE]

    series = _bars(
        _("Outstanding incl. VAT"),
        [b.amount for b in buckets],
        PRIMARY,
        data=[{"value": float(b.amount), "itemStyle": {"color": c}} for b, c in zip(buckets, colours, strict=True)],
    )
    options = _base([_(AGEING_LABELS[b.bucket]) for b in buckets], [series])
    options["legend"] = {"show": False}
    options["grid"]["bottom"] = 20
    return options, [urls]


def _activities_chart(data: Overview, links: ListLinks) -> ChartData:
    people = list(reversed(data.activities[:12]))  # the most active on top
    period = {"from": _iso(links.start), "to": _iso(links.end)}
    tasks = [
        _url(
            "/tasks",
            {
                "assignee": str(p.user_id),
                "status": "done",
                "completed_from": period["from"],
                "completed_to": period["to"],
            },
        )
        for p in people
    ]
    meetings = [
        _url(
            "/meetings",
            {
                "scope": "all",
                "period": "all",
                "organizer_id": str(p.user_id),
                "start_from": period["from"],
                "start_to": period["to"],
            },
        )
        for p in people
    ]
    calls = [
        _url("/calls", {"user": str(p.user_id), "called_from": period["from"], "called_to": period["to"]})
        for p in people
    ]
    notes = [
        _url("/notes", {"author_id": str(p.user_id), "created_from": period["from"], "created_to": period["to"]})
        for p in people
    ]

    stack = {"stack": "activities"}
    options = _base(
        [p.name for p in people],
        [
            _bars(_("Tasks done"), [p.tasks_done for p in people], PRIMARY, **stack),
            _bars(_("Meetings"), [p.meetings for p in people], SECONDARY, **stack),
            _bars(_("Calls"), [p.calls for p in people], ACCENT, **stack),
            _bars(_("Notes"), [p.notes for p in people], WARNING, **stack),
        ],
        horizontal=True,
    )
    # Always given: ECharts merges a new period's options into the chart's, and would keep an old title.
    options["title"] = {"show": not people, "text": _("No activity in this period."), "left": "center", "top": "middle"}
    return options, [tasks, meetings, calls, notes]
