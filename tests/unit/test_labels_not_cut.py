"""Long labels wrap instead of ending in an ellipsis ("Salles d'opé…"): a screen that cuts a text must
say why here. The layout itself is measured in Chromium (tests/e2e/test_layout.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Where a cut text is the design: a calendar's event fits its time slot (the event opens whole on a
#: click); an import's sample values are a glimpse of a column of the file, not a label to read.
ALLOWED = {"components/week_calendar.py", "pages/institutions/import_wizard.py"}


def test_no_screen_cuts_a_label_with_an_ellipsis() -> None:
    cutting = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("pages", "components")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in ALLOWED
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(r"\bellipsis\b", line) and not line.lstrip().startswith("#")
    ]
    assert cutting == []
