"""The health score and the bulk work on screen: the list's Health column and filter, the institution
page's explanation, the bulk task dialog (all created, progress, refusal leaving nothing), and the
dashboard's panels (accounts needing attention, segments)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from nicegui.testing import User
from sqlmodel import func, select

from crm_app.activities import bulk, calls
from crm_app.activities.models import Task
from crm_app.analytics import health
from crm_app.institutions import saved_views
from crm_app.institutions import service as institutions
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.ui.conftest import actor_for, element, eventually, log_in, table_rows


def _institution(name: str, **values: object) -> uuid.UUID:
    with unit_of_work() as session:
        return institutions.create_institution(session, SYSTEM_ACTOR, {"name": name, **values}, allow_duplicate=True).id


def _scored(email: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A lively institution (a call today: 59) and a quiet one (25), both assigned to `email`'s user."""
    actor = actor_for(email)
    lively = _institution("Clinique Vive", assigned_user_id=actor.id)
    quiet = _institution("Clinique Calme", assigned_user_id=actor.id)
    with unit_of_work() as session:
        calls.log_call(session, actor, {"direction": "out", "institution_id": lively})
    with unit_of_work() as session:
        health.recompute(session)
    return lively, quiet


def _task_count(title: str) -> int:
    with unit_of_work() as session:
        return int(session.exec(select(func.count()).select_from(Task).where(Task.title == title)).one())


async def test_the_list_shows_the_health_column_and_filters_on_it(ui_user: User, account: Callable[..., str]) -> None:
    email = account(role=Role.ADMIN)
    _scored(email)
    await log_in(ui_user, email, path="/login?redirect_to=/institutions%3Fhealth_max%3D39%26sort%3Dhealth_score")
    await eventually(lambda: bool(table_rows(ui_user, "institutions-table")), "the list did not load")
    rows = table_rows(ui_user, "institutions-table")
    assert [(row["name"], row["health"], row["health_colour"]) for row in rows] == [("Clinique Calme", 25, "negative")]
    assert element(ui_user, "filter-health-max").value == 39


async def test_the_list_sorts_by_health(ui_user: User, account: Callable[..., str]) -> None:
    email = account(role=Role.ADMIN)
    _scored(email)
    await log_in(ui_user, email, path="/login?redirect_to=/institutions%3Fsort%3D-health_score")
    await eventually(lambda: bool(table_rows(ui_user, "institutions-table")), "the list did not load")
    assert [row["health"] for row in table_rows(ui_user, "institutions-table")] == [59, 25]


async def test_the_institution_page_explains_the_score(ui_user: User, account: Callable[..., str]) -> None:
    email = account(role=Role.USER)
    lively, _quiet = _scored(email)
    await log_in(ui_user, email, path=f"/login?redirect_to=/institutions/{lively}")
    await ui_user.should_see(marker="health-card")
    assert element(ui_user, "health-score").text == "59"
    assert element(ui_user, "health-chip").text.endswith("59")
    assert element(ui_user, "health-activities").text in {"1 activité", "1 activity"}
    # Another call logged elsewhere: the explanation follows.
    with unit_of_work() as session:
        calls.log_call(session, actor_for(email), {"direction": "in", "institution_id": lively})
    await eventually(lambda: element(ui_user, "health-score").text == "63", "the score did not follow the new call")


async def _open_bulk_task(user: User, email: str) -> None:
    await log_in(user, email, path="/login?redirect_to=/institutions")
    await eventually(lambda: bool(table_rows(user, "institutions-table")), "the list did not load")
    user.find(marker="bulk-work").click()  # builds its menu
    user.find(marker="bulk-work-task").click()
    await user.should_see(marker="bulk-title")


async def test_a_bulk_task_for_the_whole_filter(ui_user: User, account: Callable[..., str]) -> None:
    email = account(role=Role.ADMIN)
    _scored(email)
    _institution("Sans propriétaire")
    await _open_bulk_task(ui_user, email)
    ui_user.find(marker="bulk-title").type("Relance de printemps")
    element(ui_user, "bulk-user").set_value(str(actor_for(email).id))
    ui_user.find(marker="bulk-create").click()
    await ui_user.should_see(marker="bulk-summary")
    assert element(ui_user, "bulk-progress").value == 1
    assert element(ui_user, "bulk-progress-count").text in {"3 sur 3", "3 of 3"}
    assert _task_count("Relance de printemps") == 3


async def test_a_bulk_action_above_the_limit_is_refused_and_creates_nothing(
    ui_user: User, account: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "BULK_LIMIT", 1)
    email = account(role=Role.ADMIN)
    _scored(email)
    await _open_bulk_task(ui_user, email)
    ui_user.find(marker="bulk-title").type("Trop large")
    ui_user.find(marker="bulk-create").click()
    await ui_user.should_see(marker="bulk-refusal")
    assert element(ui_user, "bulk-refusal").text.startswith(("Une action groupée", "A bulk action"))
    assert element(ui_user, "bulk-title").visible  # the form is back, to narrow the target
    assert _task_count("Trop large") == 0


async def test_the_dashboard_shows_the_accounts_needing_attention_and_the_segments(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account(role=Role.USER)
    _lively, quiet = _scored(email)
    actor = actor_for(email)
    with unit_of_work() as session:
        saved_views.save_view(session, actor, page="institutions", name="Cliniques", query={"q": "clinique"})
        saved_views.save_view(  # the other tests' institutions may be fragile too: this test's clinics only
            session, actor, page="institutions", name="Fragiles", query={"q": "clinique", "health_max": "39"}
        )
    await log_in(ui_user, email, path="/login?redirect_to=/")
    await ui_user.should_see(marker="attention-panel")
    await ui_user.should_see(marker="segments-panel")
    links = list(ui_user.find(marker="attention-link").elements)
    assert [(getattr(link, "text", None), link.props["href"]) for link in links] == [
        ("Clinique Calme", f"/institutions/{quiet}")
    ]
    assert element(ui_user, "attention-score").text.endswith("25")
    assert element(ui_user, "attention-weakest").text in {"Aucune activité", "No activity yet"}

    def marked(link: Any, marker: str) -> str:
        return next(str(getattr(e, "text", "")) for e in link.descendants() if marker in e._markers)

    # Each segment's name and count read within its own row (two separate finds come in any order).
    rows = [
        (marked(link, "segment-name"), marked(link, "segment-count"))
        for link in ui_user.find(marker="segment-link").elements
    ]
    assert sorted(rows) == [("Cliniques", "2"), ("Fragiles", "1")]
    targets = [link.props["href"] for link in ui_user.find(marker="segment-link").elements]
    assert sorted(targets) == ["/institutions?q=clinique", "/institutions?q=clinique&health_max=39"]
