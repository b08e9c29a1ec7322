"""The demo's past: services run with the application's clock set to the day of each step."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crm_app.platform.models import base


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """Run the services as on `moment` (the demo's history); the clock comes back afterwards."""
    previous = base.clock
    base.clock = lambda: moment
    try:
        yield
    finally:
        base.clock = previous


@dataclass
class Plan:
    """Steps of the history, each on its day; run in chronological order."""

    now: datetime
    steps: list[tuple[float, int, Callable[[], object]]] = field(default_factory=list)

    def on(self, days_ago: float, step: Callable[[], object]) -> None:
        self.steps.append((days_ago, len(self.steps), step))

    def run(self) -> None:
        for days_ago, order, step in sorted(self.steps, key=lambda s: (-s[0], s[1])):
            with clock_at(self.now - timedelta(days=days_ago, seconds=-order)):
                step()
