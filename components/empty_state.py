"""What a screen shows in place of what it cannot show: an icon, one sentence, and the way back."""

from __future__ import annotations

from nicegui import ui


def empty_state(icon: str, message: str, *, color: str = "grey", back: tuple[str, str] | None = None) -> ui.column:
    """`back` is a link's (text, path)."""
    with ui.column().classes("items-center q-pa-xl w-full") as column:
        ui.icon(icon, size="xl", color=color)
        ui.label(message).classes("text-h6 text-center")
        if back is not None:
            ui.link(*back)
    return column
