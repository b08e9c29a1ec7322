"""The header's search box for the `user` fixture: its results are the options of a Quasar select, drawn
by Vue (no NiceGUI element to find), so the tests read them from the element's props."""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui.testing.user_interaction import UserInteraction


def options(box: UserInteraction[Any]) -> list[dict[str, Any]]:
    (element,) = box.elements
    return list(element.props.get("options") or [])


async def search_option(box: UserInteraction[Any], label: str, attempts: int = 100) -> dict[str, Any]:
    """The option shown as `label`, once the search (in a worker thread) has answered."""
    for _ in range(attempts):
        for option in options(box):
            if option.get("label") == label:
                return option
        await asyncio.sleep(0.05)
    raise AssertionError(f"no search result {label!r} among {[o.get('label') for o in options(box)]}")
