"""A user's avatar drawn locally: their initials on a colour derived from their id.

No external service (Gravatar and the like would tell a third party who uses the CRM). The colour
is stable for a user across sessions and instances (a hash of the id, not Python's salted hash())
and every colour of the palette keeps white initials readable (contrast at least 4.5:1)."""

from __future__ import annotations

import hashlib
import uuid

from nicegui import ui

# Material 700/800 shades: white text on each has a contrast ratio of at least 4.5 (WCAG AA).
PALETTE = (
    "#c62828",
    "#ad1457",
    "#6a1b9a",
    "#4527a0",
    "#283593",
    "#1565c0",
    "#00695c",
    "#2e7d32",
    "#4e342e",
    "#37474f",
    "#ad4a00",
    "#00838f",
)


def initials(name: str) -> str:
    """Up to two letters: the first of the first two words ("Jean-Marc Dupont" → "JM")."""
    parts = [p for p in name.replace("-", " ").split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def avatar_colour(user_id: uuid.UUID) -> str:
    digest = hashlib.sha256(user_id.bytes).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def avatar(name: str, user_id: uuid.UUID, *, size: str = "40px") -> ui.avatar:
    """The avatar element (Quasar q-avatar) with the initials and the user's colour."""
    with ui.avatar(color=None, text_color="white", size=size, font_size="0.45em").style(
        f"background-color: {avatar_colour(user_id)}"
    ) as element:
        ui.label(initials(name)).classes("text-weight-medium")
    return element


def avatar_button(name: str, user_id: uuid.UUID, *, size: str = "34px") -> ui.button:
    """A round button that looks like `avatar`: one element, where a button holding an avatar is
    three (the header's user menu, on every tab: issue 20, bench/README.md "Memory per tab")."""
    return (
        ui.button(initials(name), color=None)  # no colour class: Quasar's would win over the style
        .props("round unelevated dense no-caps text-color=white")
        .classes("text-weight-medium")
        .style(
            f"background-color: {avatar_colour(user_id)}; width: {size}; height: {size}; min-width: {size};"
            f" min-height: {size}; font-size: calc({size} * 0.45)"
        )
    )
