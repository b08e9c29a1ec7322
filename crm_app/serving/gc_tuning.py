"""Garbage collection for the long-running server process (`opex-crm serve` only).

Measured on the institutions list page (40 full loads, bench/README.md): with CPython's defaults a
full collection ran every ten loads or so and took 200-250 ms each, traversing the quarter million
objects that importing NiceGUI, SQLAlchemy, ReportLab and the app leaves behind; those pauses were
the slow tail of page loads. Once the server has started, those objects are moved out of the
collector's sight (`gc.freeze`: they live as long as the process anyway), and young collections run
every 10,000 allocations instead of 700 (the memory this holds back is small next to a page's):
the same 40 loads then spent 0.16 s in the collector instead of 1.0 s, with no full collection.

Not for test processes: objects frozen there would outlive the test that made them.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def tune_after_startup() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
