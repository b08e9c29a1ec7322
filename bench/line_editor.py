"""How long the quote editor takes to show a 300-line draft, and the longest the event loop stays
blocked meanwhile (run on purpose: `pytest tests/ui/bench_line_editor.py -s`; not part of the suite)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from nicegui.testing import User

from crm_app.platform.db import unit_of_work
from tests.institution_factories import make_institution
from tests.sales_factories import make_quote, quote_line
from tests.ui.conftest import actor_for, log_in

LINES = 300


async def test_editor_with_300_lines(ui_user: User, account: Callable[..., str]) -> None:
    ui_user.http_client.headers["Accept-Language"] = "fr"
    email = account()
    with unit_of_work() as session:
        quote_id = make_quote(
            session,
            actor_for(email),
            make_institution(session),
            lines=[quote_line(f"Ligne {i}", unit_price="12.50") for i in range(LINES)],
        ).id
    await log_in(ui_user, email, path="/login?redirect_to=/quotes")
    await ui_user.should_see(marker="quote-count", retries=100)
    worst = 0.0
    running = True

    async def watch() -> None:
        nonlocal worst
        while running:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, time.perf_counter() - before - 0.005)

    watcher = asyncio.create_task(watch())
    start = time.perf_counter()
    await ui_user.open(f"/quotes/{quote_id}/edit")
    opened = time.perf_counter() - start
    await ui_user.should_see(marker="line-0-quantity", retries=1000)
    first = time.perf_counter() - start
    await ui_user.should_see(marker=f"line-{LINES - 1}-quantity", retries=3000)
    last = time.perf_counter() - start
    running = False
    await watcher
    print(
        f"\nopen() returned {opened:.2f} s; first line {first:.2f} s; line {LINES} {last:.2f} s; "
        f"longest event-loop block {worst:.2f} s"
    )
