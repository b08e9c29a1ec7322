"""/admin/security-log: who did what security-relevant thing, from where; filtered and paged in SQL,
exported as CSV. Only for those with "security_log.view" (admins)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from components.backend import call
from components.paged_table import WRAP, PagedTable, TableState, page_request, rows_of
from components.shell import app_page
from crm_app.platform import security_log
from crm_app.platform.config import get_settings
from crm_app.platform.i18n import N_, format_datetime
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.audit import Severity
from crm_app.platform.security_log import SecurityEventRow, SecurityLogQuery

SEVERITY_COLOURS = {Severity.LOW: "grey", Severity.MEDIUM: "orange", Severity.HIGH: "negative"}
FILTERS = ("user", "action", "severity", "date_from", "date_to")


def _row(row: SecurityEventRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "at": format_datetime(row.at, get_settings().timezone, style="short"),
        "user": row.user_name or row.email or "—",
        "email": row.email or "",
        "action": _(security_log.action_label(row.action)),
        "severity": _(security_log.SEVERITY_LABELS[row.severity]),
        "colour": SEVERITY_COLOURS[row.severity],
        "ip": row.ip or "",
        "details": row.details_text,
    }


def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _query(state: dict[str, str]) -> SecurityLogQuery:
    severity = state.get("severity") or None
    return SecurityLogQuery(
        user=state.get("user", ""),
        action=state.get("action") or None,
        severity=Severity(severity) if severity in set(Severity) else None,
        date_from=_parse_day(state.get("date_from")),
        date_to=_parse_day(state.get("date_to")),
    )


@app_page(
    "/admin/security-log",
    title=N_("Security log"),
    icon="policy",
    in_navigation=True,
    order=94,
    permission="security_log.view",
)
async def security_log_page(query: dict[str, list[str]]) -> None:
    state = {name: (query.get(name) or [""])[0] for name in FILTERS}
    actions = await call(security_log.list_actions) or []

    loads = 0

    async def load(table_state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        nonlocal loads
        loads += 1
        this_load = loads
        params = {k: v for k, v in state.items() if v}
        ui.navigate.history.replace("/admin/security-log" + (f"?{urlencode(params)}" if params else ""))
        page = await call(
            security_log.list_events, _query(state), page_request(table_state), fields={"date_to": date_to}
        )
        if page is None or this_load != loads:  # a newer filter was asked meanwhile: its answer wins
            return None
        count.text = _("{count} entries", count=page.total)
        return rows_of(page, _row)

    async def change(name: str, value: str | None) -> None:
        state[name] = value or ""
        await table.refresh(first_page=True)

    async def export() -> None:
        content = await call(security_log.export_events, _query(state), fields={"date_to": date_to})
        if content is not None:
            ui.download.content(content, "security-log.csv", "text/csv")

    with ui.row().classes("w-full items-center gap-4"):
        ui.label(_("Security log")).classes("text-h5")
        count = ui.label().classes("text-grey-7").mark("event-count")
        ui.space()
        ui.button(_("Export CSV"), icon="download", on_click=export).props("outline").mark("export")
    with ui.row().classes("w-full items-center gap-2"):
        ui.input(_("User"), value=state["user"], on_change=lambda e: change("user", e.value)).props(
            "dense outlined clearable debounce=300"
        ).classes("w-64").mark("filter-user")
        action_options = {"": _("All actions"), **{a: _(security_log.action_label(a)) for a in actions}}
        ui.select(
            action_options,
            label=_("Action"),
            value=state["action"] if state["action"] in action_options else "",
            on_change=lambda e: change("action", e.value),
        ).props("dense outlined").classes("w-56").mark("filter-action")
        severity_options = {
            "": _("All severities"),
            **{s.value: _(label) for s, label in security_log.SEVERITY_LABELS.items()},
        }
        ui.select(
            severity_options,
            label=_("Severity"),
            value=state["severity"] if state["severity"] in severity_options else "",
            on_change=lambda e: change("severity", e.value),
        ).props("dense outlined").classes("w-40").mark("filter-severity")
        ui.input(_("From"), value=state["date_from"], on_change=lambda e: change("date_from", e.value)).props(
            "dense outlined type=date stack-label"
        ).classes("w-44").mark("filter-from")
        date_to = (
            ui.input(_("To"), value=state["date_to"], on_change=lambda e: change("date_to", e.value))
            .props("dense outlined type=date stack-label")
            .classes("w-44")
            .mark("filter-to")
        )
    columns = [
        {"name": "at", "label": _("Date"), "field": "at", "align": "left"},
        {"name": "user", "label": _("User"), "field": "user", "align": "left"},
        {"name": "action", "label": _("Action"), "field": "action", "align": "left"},
        {"name": "severity", "label": _("Severity"), "field": "severity", "align": "left"},
        {"name": "ip", "label": _("IP address"), "field": "ip", "align": "left"},
        {
            "name": "details",
            "label": _("Details"),
            "field": "details",
            "align": "left",
            "style": "max-width: 28rem",
            **WRAP,
        },
    ]
    table = PagedTable(columns, load)
    table.table.add_slot(
        "body-cell-severity",
        r"""
        <q-td :props="props"><q-badge :color="props.row.colour">{{ props.value }}</q-badge></q-td>""",
    )
    table.table.mark("security-log-table")
    await table.refresh()
