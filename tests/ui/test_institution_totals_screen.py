"""The institutions list says whether its total is counted or estimated (issue 20), in the user's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from nicegui.testing import User

from crm_app.institutions import service as institutions
from crm_app.platform import paging
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import use_locale
from crm_app.platform.paging import PageOfLongList
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.ui.conftest import log_in


async def test_the_list_shows_an_estimated_total_as_one(
    ui_user: User, account: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(institutions, "EXACT_COUNT_LIMIT", 3)
    monkeypatch.setattr(paging, "EXACT_COUNT_LIMIT", 3)
    monkeypatch.setattr(institutions, "estimated_rows", lambda *_: 1_234_567)  # what PostgreSQL would plan
    with unit_of_work() as session:
        for n in range(5):
            institutions.create_institution(session, SYSTEM_ACTOR, {"name": f"Clinique {n}"}, allow_duplicate=True)

    ui_user.http_client.headers["Accept-Language"] = "en"
    await log_in(ui_user, account(), path="/login?redirect_to=/institutions")

    await ui_user.should_see("About 1,200,000 institutions")
    ui_user.find(marker="search").type("Clinique 1")
    await ui_user.should_see("1 institution")  # one match: counted exactly again


@pytest.mark.parametrize(
    ("locale", "page", "text"),
    [
        ("en", PageOfLongList([], 1), "1 institution"),
        ("en", PageOfLongList([], 98_000), "98,000 institutions"),
        ("fr", PageOfLongList([], 97_998), "97\u202f998 établissements"),  # grouped as the estimates are
        ("en", PageOfLongList([], 1_234_567, total_exact=False), "About 1,200,000 institutions"),
        ("fr", PageOfLongList([], 987_654, total_exact=False), "Environ 990\u202f000 établissements"),
        ("en", PageOfLongList([], 100_001, total_exact=False), "More than 100,000 institutions"),
        ("de", PageOfLongList([], 100_001, total_exact=False), "Mehr als 100.000 Einrichtungen"),
    ],
)
async def test_the_total_reads_as_counted_or_estimated(
    ui_user: User, locale: str, page: PageOfLongList[Any], text: str
) -> None:
    from pages.institutions.list import total_text  # once the application has registered its pages

    with use_locale(locale):
        assert total_text(page) == text
