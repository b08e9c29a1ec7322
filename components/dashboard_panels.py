"""Dashboard panels of the institutions' health and segments: "Accounts needing attention" (the
lowest health scores in the user's scope) and "Segments" (the live counts of their saved institution
views, each opening the list with that view's filter). The dashboard page places them."""

from __future__ import annotations

from urllib.parse import urlencode

from nicegui import ui

from components.backend import call
from components.health import health_chip, weakest_text
from crm_app.analytics import health
from crm_app.institutions import saved_views
from crm_app.platform.i18n import format_decimal
from crm_app.platform.i18n import gettext as _
from crm_app.platform.permissions import Actor, can

#: How many accounts the attention panel lists.
ATTENTION_ROWS = 8


def _title(text: str, icon: str) -> None:
    with ui.row().classes("items-center gap-2 no-wrap"):
        ui.icon(icon).classes("text-primary")
        ui.label(text).classes("text-subtitle1 text-weight-medium")


async def attention_panel(actor: Actor) -> None:
    """The user's accounts scored below the attention threshold, lowest first, with what pulls each
    one down (its weakest component) and a link to it."""
    if not can(actor, "dashboard.view"):
        return
    with ui.card().classes("w-full").mark("attention-panel"):
        _title(_("Accounts needing attention"), "health_and_safety")
        rows = await call(health.needing_attention, limit=ATTENTION_ROWS)
        if rows is None:
            return
        if not rows:
            ui.label(_("No account below {score}: well done.", score=health.ATTENTION_BELOW)).classes(
                "text-grey-7"
            ).mark("attention-empty")
            return
        with ui.column().classes("w-full gap-1"):
            for row in rows:
                with ui.row().classes("w-full items-center gap-2 no-wrap").mark("attention-row"):
                    health_chip(row.score, marker="attention-score")
                    with ui.column().classes("gap-0 min-w-0"):
                        ui.link(row.name, f"/institutions/{row.id}").classes("text-primary text-weight-medium").mark(
                            "attention-link"
                        )
                        ui.label(weakest_text(row.weakest)).classes("text-caption text-grey-7").mark(
                            "attention-weakest"
                        )
        ui.link(
            _("All accounts by health"),
            "/institutions?" + urlencode({"health_max": health.ATTENTION_BELOW - 1, "sort": "health_score"}),
        ).classes("text-caption").mark("attention-all")


async def segments_panel(actor: Actor) -> None:
    """The user's saved institution views with how many institutions each matches now; each opens
    the list filtered by it."""
    if not can(actor, "institution.view"):
        return
    with ui.card().classes("w-full").mark("segments-panel"):
        _title(_("Segments"), "segment")
        found = await call(saved_views.segments)
        if found is None:
            return
        if not found:
            ui.label(_("Save a view of the institution list to follow its count here.")).classes("text-grey-7").mark(
                "segments-empty"
            )
            ui.link(_("Open the institution list"), "/institutions").classes("text-caption")
            return
        with ui.column().classes("w-full gap-0"):
            for segment in found:
                target = "/institutions" + (f"?{urlencode(segment.query, doseq=True)}" if segment.query else "")
                with ui.link(target=target).classes("w-full dashboard-link dashboard-day-item").mark("segment-link"):
                    with ui.row().classes("w-full items-center no-wrap gap-2"):
                        ui.icon("group" if segment.is_shared else "bookmark").classes("text-grey-6")
                        ui.label(segment.name).mark("segment-name")
                        ui.space()
                        ui.label(format_decimal(segment.count)).classes("text-weight-medium").mark("segment-count")
