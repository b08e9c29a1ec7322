"""The bell and the notification centre, live: what another user does reaches every open tab of the
recipient without a reload; a user who was away finds it at the next login."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from nicegui import ui
from nicegui.testing import User

from crm_app.accounts import users
from crm_app.activities import tasks
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from crm_app.platform.models.people import User as UserRow
from crm_app.platform.permissions import Actor
from tests.conftest import truncate_all
from tests.factories import actor_of, make_team, make_user
from tests.ui.conftest import log_in, table_rows


def _team() -> tuple[Actor, uuid.UUID, str]:
    """A manager and one of their reps (id, email)."""
    with unit_of_work() as session:
        team = make_team(session, "Sud-Ouest")
        manager = make_user(session, role=Role.MANAGER, team=team, email="marc@example.org", name="Marc Manager")
        rep = make_user(session, team=team, email="lea@example.org", name="Léa Moreau")
        return actor_of(manager), rep.id, rep.email


def _assign(manager: Actor, rep_id: uuid.UUID, title: str) -> None:
    """Another user's action, in their own unit of work (committed)."""
    with unit_of_work() as session:
        tasks.create_task(session, manager, {"title": title, "assignee_id": rep_id})


async def _bell_shows(user: User, count: int) -> None:
    """Wait (up to five seconds: the machine may be busy) until the bell shows `count` unread (0: no
    badge)."""
    for _ in range(100):
        bell = next(iter(user.find(marker="bell").elements))
        badge = next(child for child in bell.default_slot.children if isinstance(child, ui.badge))
        if bell.props["aria-label"].endswith(f"({count})") and (
            (badge.visible and badge.text == str(count)) if count else not badge.visible
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the bell shows {badge.text!r} (visible: {badge.visible}), not {count}")


async def test_a_task_assigned_by_another_user_rings_every_open_tab(create_user: Callable[[], User]) -> None:
    try:
        manager, rep_id, rep_email = _team()
        first_tab, second_tab = create_user(), create_user()
        for tab in (first_tab, second_tab):  # one after the other: the simulation routes navigation
            await log_in(tab, rep_email)  # to the user touched last
            await tab.should_see(marker="bell", retries=40)
            await _bell_shows(tab, 0)

        _assign(manager, rep_id, "Relancer le CHU de Bordeaux")

        await _bell_shows(first_tab, 1)
        await _bell_shows(second_tab, 1)
        # A toast in each tab (the simulation files every tab's toasts under the user touched last).
        toast = "Marc Manager vous a attribué la tâche « Relancer le CHU de Bordeaux »"
        for _ in range(20):
            toasts = first_tab.notify.messages + second_tab.notify.messages
            if toasts.count(toast) == 2:
                break
            await asyncio.sleep(0.05)
        assert (first_tab.notify.messages + second_tab.notify.messages).count(toast) == 2
        _assign(manager, rep_id, "Préparer la démonstration")
        await _bell_shows(first_tab, 2)
        await _bell_shows(second_tab, 2)
    finally:
        truncate_all()


async def test_reading_in_one_tab_clears_the_bell_of_the_others(create_user: Callable[[], User]) -> None:
    try:
        manager, rep_id, rep_email = _team()
        _assign(manager, rep_id, "Envoyer le devis")  # while the rep is away
        reader, other = create_user(), create_user()
        for tab in (reader, other):  # offline delivery: it is there at the next login
            await log_in(tab, rep_email)
            await tab.should_see(marker="bell", retries=40)
            await _bell_shows(tab, 1)
        await reader.open("/notifications")
        await reader.should_see(marker="notifications-table", retries=40)
        table = next(iter(reader.find(marker="notifications-table").elements))
        assert isinstance(table, ui.table)
        for _ in range(20):
            if table.rows:
                break
            await asyncio.sleep(0.05)
        assert [(row["title"], row["unread"]) for row in table.rows] == [
            ("Marc Manager vous a attribué la tâche « Envoyer le devis »", True)
        ]
        assert table.rows[0]["link"].startswith("/tasks")
        reader.find(marker="mark-all-read").click()
        await _bell_shows(other, 0)
        await _bell_shows(reader, 0)
        for _ in range(20):
            if not table.rows[0]["unread"]:
                break
            await asyncio.sleep(0.05)
        assert not table.rows[0]["unread"]
    finally:
        truncate_all()


async def test_nobody_else_hears_the_bell(create_user: Callable[[], User]) -> None:
    try:
        manager, rep_id, _rep_email = _team()
        with unit_of_work() as session:
            outsider = make_user(session, email="zoe@example.org", name="Zoé Ailleurs").email
        tab = create_user()
        await log_in(tab, outsider)
        await tab.should_see(marker="bell", retries=40)
        _assign(manager, rep_id, "Relancer le CHU")
        await asyncio.sleep(0.5)
        await _bell_shows(tab, 0)
    finally:
        truncate_all()


async def test_the_notification_centre_speaks_the_readers_language(user: User) -> None:
    """The titles are worded by the service in a worker thread, which did not see the page's
    language: an English reader read "Marc Manager vous a attribué la tâche…"."""
    try:
        manager, rep_id, rep_email = _team()
        with unit_of_work() as session:
            rep = session.get(UserRow, rep_id)
            assert rep is not None
            users.update_preferences(session, actor_of(rep), language="en")
        _assign(manager, rep_id, "Call the CHU of Bordeaux")
        await log_in(user, rep_email)
        await user.open("/notifications")
        await user.should_see(marker="notifications-table")
        [row] = table_rows(user, "notifications-table")
        assert row["title"] == "Marc Manager assigned you the task “Call the CHU of Bordeaux”"
    finally:
        truncate_all()
