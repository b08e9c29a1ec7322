"""The server's collector settings, applied in a process of its own (never in the test process)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
import crm_app.web  # the server's imports
from crm_app.serving.gc_tuning import YOUNG_THRESHOLD, tune_after_startup
before = gc.get_threshold()
tune_after_startup()
assert gc.get_freeze_count() > 100_000, gc.get_freeze_count()
assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2]), gc.get_threshold()
print("ok")
"""


def test_startup_objects_are_frozen_and_young_collections_are_rarer() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
