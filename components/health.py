"""The institutions' health score on screen: its coloured chip, and the card that explains it
(each component's measure and points), following the changes that move it."""

from __future__ import annotations

import uuid
from typing import Any

from nicegui import ui

from components import live
from components.backend import call
from crm_app.analytics import health
from crm_app.analytics.health import Component, ComponentScore, Health, HealthBreakdown
from crm_app.platform.events import CallChanged, InvoiceChanged, MeetingChanged, NoteChanged, TaskChanged
from crm_app.platform.i18n import format_currency, ngettext
from crm_app.platform.i18n import gettext as _

#: Quasar colours of the bands (the list's column and the dashboard use the same).
COLOURS: dict[Health | None, str] = {
    Health.GOOD: "positive",
    Health.FAIR: "warning",
    Health.POOR: "negative",
    None: "grey",
}


def band_label(band: Health | None) -> str:
    return {
        Health.GOOD: _("Healthy"),
        Health.FAIR: _("To watch"),
        Health.POOR: _("Needs attention"),
        None: _("Not scored yet"),
    }[band]


def health_chip(score: int | None, *, marker: str = "health-chip") -> ui.badge:
    """The score in its band's colour ("—" before the first computation), with the band in a tooltip."""
    band = health.health_of(score)
    chip = ui.badge(_("Health {score}", score="—" if score is None else score)).props(f"color={COLOURS[band]}")
    chip.tooltip(band_label(band))
    return chip.mark(marker)


def component_label(component: Component) -> str:
    return _(health.COMPONENT_LABELS[component])


def measure_text(score: ComponentScore) -> str:
    """A component's measure in words."""
    value: Any = score.value
    if score.component is Component.RECENCY:
        if value is None:
            return _("No activity yet")
        return _("Today") if value == 0 else ngettext("{count} day ago", "{count} days ago", value, count=value)
    if score.component is Component.REVENUE:
        return format_currency(value)
    if score.component is Component.ACTIVITIES:
        return ngettext("{count} activity", "{count} activities", value, count=value)
    if score.component is Component.OVERDUE_INVOICES:
        return ngettext("{count} overdue invoice", "{count} overdue invoices", value, count=value)
    return ngettext("{count} overdue task", "{count} overdue tasks", value, count=value)


def weakest_text(score: ComponentScore) -> str:
    """A component in a few words, for a list ("Overdue invoices: 2", "No activity yet")."""
    value: Any = score.value
    if score.component is Component.RECENCY:
        if value is None:
            return _("No activity yet")
        shown = measure_text(score)
    elif score.component is Component.REVENUE:
        shown = format_currency(value)
    else:
        shown = str(value)
    return _("{label}: {value}", label=component_label(score.component), value=shown)


def _moves_health(institution_id: uuid.UUID) -> Any:
    kinds = (CallChanged, TaskChanged, MeetingChanged, NoteChanged, InvoiceChanged)
    return lambda event: isinstance(event, kinds) and getattr(event, "institution_id", None) == institution_id


def _shown(breakdown: HealthBreakdown) -> tuple[Any, ...]:
    return tuple((c.component, c.value, c.points) for c in breakdown.components)


async def health_card(institution_id: uuid.UUID) -> None:
    """The score and its explanation, computed now and redrawn when an activity or an invoice of the
    institution changes."""
    panel: live.RecordPanel[HealthBreakdown] = live.RecordPanel(
        lambda: call(health.score_breakdown, institution_id),
        _draw,
        wants=_moves_health(institution_id),
        key=_shown,
        classes="w-full",
    )
    await panel.show()


def _draw(breakdown: HealthBreakdown) -> None:
    band = breakdown.health
    colour = COLOURS[band]
    with ui.card().classes("w-full").mark("health-card"):
        with ui.row().classes("w-full items-center gap-4 no-wrap"):
            with ui.circular_progress(
                value=breakdown.score, min=0, max=health.MAXIMUM, show_value=False, size="64px", color=colour
            ).props("thickness=0.2 track-color=grey-3"):
                ui.label(str(breakdown.score)).classes(f"text-h6 text-{colour}").mark("health-score")
            with ui.column().classes("gap-0"):
                ui.label(_("Health score")).classes("text-subtitle1 text-weight-medium")
                ui.label(band_label(band)).classes(f"text-{colour} text-weight-medium").mark("health-band")
                ui.label(
                    _(
                        "Out of 100. Below {attention}: needs attention; {healthy} and above: healthy.",
                        attention=health.ATTENTION_BELOW,
                        healthy=health.HEALTHY_FROM,
                    )
                ).classes("text-caption text-grey-7")
        # One block per component: its name, measure and points over a bar (two columns on wide screens).
        with ui.element("div").classes("w-full opex-two-columns gap-x-8 gap-y-2"):
            for component in breakdown.components:
                with ui.column().classes("w-full gap-1"):
                    with ui.row().classes("w-full items-baseline no-wrap gap-2"):
                        ui.label(component_label(component.component)).classes("text-grey-8 flex-1")
                        ui.label(measure_text(component)).classes("text-right").mark(
                            f"health-{component.component.value}"
                        )
                        ui.label(f"{component.points}/{component.maximum}").classes(
                            "text-right text-weight-medium w-12 shrink-0"
                        )
                    ui.linear_progress(
                        value=component.points / component.maximum, show_value=False, size="6px", color=colour
                    ).props("rounded track-color=grey-3")
        ui.label(
            _(
                "An activity is a task done, a meeting held, a call or a note. "
                "Recomputed every night and after each change."
            )
        ).classes("text-caption text-grey-7")
