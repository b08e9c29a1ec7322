"""/tasks with NiceGUI's simulated user: the dialog with field errors, filters from the URL and the
screen, the board's drag and drop (and a refused move), and a task assigned by someone else in
another session appearing without reload."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from crm_app.activities import tasks
from crm_app.activities.models import Task, TaskStatus
from crm_app.institutions import contacts
from crm_app.institutions import service as institutions
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import gettext, ngettext
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from tests.factories import actor_of, make_team, make_user
from tests.ui.conftest import actor_for, element, eventually, log_in, table_rows


def _task(actor: Actor, title: str, **values: Any) -> uuid.UUID:
    with unit_of_work() as session:
        return tasks.create_task(session, actor, {"title": title, **values}).id


def _status(task_id: uuid.UUID) -> TaskStatus:
    with unit_of_work() as session:
        task = session.get(Task, task_id)
        assert task is not None
        return TaskStatus(task.status)


async def _table_titles(user: User, expected: list[str]) -> None:
    def titles() -> list[str]:
        return [row["title"] for row in table_rows(user, "tasks-table")]

    await eventually(lambda: sorted(titles()) == sorted(expected), f"tasks-table does not show {expected}")


def _title_input(user: User) -> Any:
    """The dialog's title field (the task's page shows the title under the same marker)."""
    return next(iter(user.find(kind=ui.input, marker="task-title").elements))


def _values(user: User, marker: str) -> list[Any]:
    """The values of the fields carrying `marker`; none while they are not shown."""
    found: set[Any] = user._gather_elements(None, None, marker, None)
    return [element.value for element in found]


def _column_of(user: User, task_id: uuid.UUID) -> str | None:
    """The status column that holds the task's card on the board."""
    cards: set[ui.element] = user._gather_elements(None, None, f"task-card-{task_id}", None)
    if not cards:
        return None
    element: ui.element | None = next(iter(cards))
    while element is not None:
        for marker in element._markers:
            if marker.startswith("board-column-"):
                return marker.removeprefix("board-column-")
        element = element.parent_slot.parent if element.parent_slot else None
    return None


async def test_new_task_shows_the_error_next_to_the_title_then_saves(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    await log_in(ui_user, email, path="/login?redirect_to=/tasks")
    await ui_user.should_see(marker="new-task", retries=50)
    ui_user.find(marker="new-task").click()
    await ui_user.should_see(marker="task-dialog")
    ui_user.find(marker="task-description").type("Bring the endoscopy quote")
    ui_user.find(marker="task-save").click()
    title = element(ui_user, "task-title")
    await eventually(lambda: bool(title.error), "no error next to the title")
    assert title.error == gettext("This field is required.")
    assert element(ui_user, "task-description").value == "Bring the endoscopy quote"  # nothing lost
    with unit_of_work() as session:
        assert session.exec(select(Task)).all() == []

    title.value = "Call back the head of surgery"
    element(ui_user, "task-priority").value = "high"
    element(ui_user, "task-due_at").value = (utcnow() + timedelta(days=3)).date().isoformat()
    element(ui_user, "task-due_time").value = "10:30"
    ui_user.find(marker="task-save").click()
    await _table_titles(ui_user, ["Call back the head of surgery"])
    with unit_of_work() as session:
        task = session.exec(select(Task)).one()
    assert task.priority == "high" and task.description == "Bring the endoscopy quote"
    assert task.assignee_id == actor_for(email).id
    assert (
        task.due_at is not None and task.due_at.astimezone(tasks.ZoneInfo("Europe/Paris")).strftime("%H:%M") == "10:30"
    )


async def test_filters_come_from_the_url_and_the_screen(ui_user: User, account: Callable[..., str]) -> None:
    me = actor_for(account())
    other = actor_for(account(email="olga@example.org", name="Olga Other"))
    with unit_of_work() as session:
        clinic = institutions.create_institution(
            session, SYSTEM_ACTOR, {"name": "Clinique du Parc", "city": "Lyon", "postal_code": "69006"}
        ).id
    yesterday = (utcnow() - timedelta(days=1)).isoformat()
    _task(me, "Overdue follow-up", priority="high", due_at=yesterday, institution_id=clinic)
    _task(me, "Send the brochure", priority="low")
    _task(me, "Urgent and done", priority="urgent", status="done")
    _task(other, "Someone else's task", priority="high")
    await log_in(ui_user, "claire@example.org", path="/login?redirect_to=/tasks?priority=high,urgent")
    await _table_titles(ui_user, ["Overdue follow-up", "Urgent and done"])  # mine only, by default
    element(ui_user, "filter-status").value = ["todo", "in_progress"]
    await _table_titles(ui_user, ["Overdue follow-up"])
    element(ui_user, "filter-priority").value = []
    element(ui_user, "filter-due").value = "overdue"
    await _table_titles(ui_user, ["Overdue follow-up"])
    element(ui_user, "filter-due").value = ""
    await _table_titles(ui_user, ["Overdue follow-up", "Send the brochure"])
    ui_user.find(marker="clear-filters").click()
    await _table_titles(ui_user, ["Overdue follow-up", "Send the brochure", "Urgent and done"])

    await ui_user.open(f"/tasks?institution_id={clinic}&assignee=all")
    await _table_titles(ui_user, ["Overdue follow-up"])
    picker = element(ui_user, "filter-institution")
    assert picker.options[picker.value] == "Clinique du Parc"


async def test_pickers_search_as_you_type_and_contacts_follow_the_institution(
    ui_user: User, account: Callable[..., str]
) -> None:
    with unit_of_work() as session:
        found = {}
        for name in ("Hôpital Nord", "Hôpital Sud", "Clinique de l'Ouest"):
            found[name] = institutions.create_institution(
                session, SYSTEM_ACTOR, {"name": name, "city": "Marseille", "postal_code": "13015"}
            ).id
        for institution, first, last in (
            ("Hôpital Sud", "Inès", "Garnier"),
            ("Hôpital Sud", "Paul", "Roux"),
            ("Hôpital Nord", "Léa", "Garnier"),
        ):
            contacts.create_contact(session, SYSTEM_ACTOR, found[institution], {"first_name": first, "last_name": last})
    await log_in(ui_user, account(), path="/login?redirect_to=/tasks")
    await ui_user.should_see(marker="new-task", retries=50)
    ui_user.find(marker="new-task").click()
    await ui_user.should_see(marker="task-dialog")
    picker = element(ui_user, "task-institution")
    assert picker.options == {}  # nothing is loaded before the user types
    ui_user.find(marker="task-institution").trigger("inputValue", "hopital")
    await eventually(lambda: len(picker.options) == 2, "the institution picker did not search")
    assert sorted(label.split(" · ")[0] for label in picker.options.values()) == ["Hôpital Nord", "Hôpital Sud"]
    picker.value = str(found["Hôpital Sud"])

    contact = element(ui_user, "task-contact")
    ui_user.find(marker="task-contact").trigger("popupShow")
    await eventually(lambda: len(contact.options) == 2, "the contact picker does not list the institution's contacts")
    ui_user.find(marker="task-contact").trigger("inputValue", "garn")
    await eventually(lambda: len(contact.options) == 1, "the contact picker did not search")
    assert list(contact.options.values()) == ["Inès Garnier"]  # not Léa Garnier of the other hospital
    contact.value = next(iter(contact.options))
    element(ui_user, "task-title").value = "Préparer la visite"
    ui_user.find(marker="task-save").click()
    await _table_titles(ui_user, ["Préparer la visite"])
    with unit_of_work() as session:
        task = session.exec(select(Task)).one()
    assert task.institution_id == found["Hôpital Sud"] and task.contact_id == uuid.UUID(contact.value)


async def test_a_card_dropped_on_another_column_changes_status(ui_user: User, account: Callable[..., str]) -> None:
    me = actor_for(account())
    task_id = _task(me, "Prepare the demo")
    await log_in(ui_user, "claire@example.org", path="/login?redirect_to=/tasks?view=board")
    await eventually(lambda: _column_of(ui_user, task_id) == "todo", "the card is not in the to-do column")
    ui_user.find(marker="board-column-in_progress").trigger("drop", str(task_id))
    await eventually(lambda: _column_of(ui_user, task_id) == "in_progress", "the card did not move")
    assert _status(task_id) is TaskStatus.IN_PROGRESS
    await ui_user.should_see(
        gettext("Task “{title}” moved to {status}.", title="Prepare the demo", status=gettext("In progress"))
    )
    await eventually(lambda: element(ui_user, "board-count-in_progress").text == "1", "the column count is not updated")
    assert element(ui_user, "board-count-todo").text == "0"


async def test_a_refused_move_shows_why_and_the_card_goes_back(ui_user: User, account: Callable[..., str]) -> None:
    me = actor_for(account())
    task_id = _task(me, "Abandoned lead", status="cancelled")
    await log_in(ui_user, "claire@example.org", path="/login?redirect_to=/tasks?view=board")
    await eventually(lambda: _column_of(ui_user, task_id) == "cancelled", "the card is not in the cancelled column")
    ui_user.find(marker="board-column-done").trigger("drop", str(task_id))
    await ui_user.should_see(gettext("A cancelled task must be reopened (to do) first."))
    await eventually(lambda: _column_of(ui_user, task_id) == "cancelled", "the card did not go back")
    assert _status(task_id) is TaskStatus.CANCELLED


async def test_a_task_assigned_to_me_by_someone_else_appears_without_reload(ui_user: User) -> None:
    with unit_of_work() as session:
        team = make_team(session)
        viewer = make_user(session, email="rita@example.org", name="Rita Rep", team=team)
        manager = actor_of(make_user(session, role=Role.MANAGER, email="marc@example.org", name="Marc", team=team))
        viewer_id = viewer.id
    _task(manager, "Not for Rita")  # the manager's own task: not on Rita's list
    await log_in(ui_user, "rita@example.org", path="/login?redirect_to=/tasks")
    await ui_user.should_see(marker="task-count", retries=50)
    count = element(ui_user, "task-count")
    await eventually(
        lambda: count.text == ngettext("{count} task", "{count} tasks", 0, count=0), "the list was not loaded"
    )
    _task(manager, "Visit the pharmacy", assignee_id=viewer_id)  # another session, committed
    await _table_titles(ui_user, ["Visit the pharmacy"])
    assert element(ui_user, "task-count").text == ngettext("{count} task", "{count} tasks", 1, count=1)


async def test_saving_over_a_newer_change_is_refused_with_the_other_persons_name(
    ui_user: User, account: Callable[..., str]
) -> None:
    with unit_of_work() as session:
        team = make_team(session)
        rep = make_user(session, email="rita@example.org", name="Rita Rep", team=team)
        manager = actor_of(
            make_user(session, role=Role.MANAGER, email="marc@example.org", name="Marc Martin", team=team)
        )
        rep_id = rep.id
    task_id = _task(manager, "Relancer la pharmacie", assignee_id=rep_id)
    await log_in(ui_user, "rita@example.org", path=f"/login?redirect_to=/tasks/{task_id}")
    await ui_user.should_see(marker="edit-task", retries=50)
    ui_user.find(marker="edit-task").click()
    await ui_user.should_see(marker="task-dialog")
    with unit_of_work() as session:  # meanwhile, in another session
        version = session.get(Task, task_id).version  # type: ignore[union-attr]
        tasks.update_task(session, manager, task_id, {"priority": "urgent"}, expected_version=version)
    element(ui_user, "task-title").value = "Relancer la pharmacie avant vendredi"
    ui_user.find(marker="task-save").click()
    await ui_user.should_see(
        gettext("{name} changed this record in the meantime. Reload to see their changes.", name="Marc Martin")
    )
    with unit_of_work() as session:
        task = session.get(Task, task_id)
        assert task is not None and task.title == "Relancer la pharmacie" and task.priority == "urgent"
    # The task's page followed the other change by itself.
    await eventually(
        lambda: element(ui_user, "task-priority-badge").text == gettext("Urgent"), "the page was not refreshed"
    )


async def test_the_task_page_confirms_each_action_follows_others_and_keeps_an_open_form(
    ui_user: User, account: Callable[..., str]
) -> None:
    """Save and delete say so; the page shows the saved status at once, and another person's change
    without a reload. A form being typed in is not overwritten by that change: it says who changed the
    task, keeps the typing, and loads their version when asked."""
    with unit_of_work() as session:
        team = make_team(session)
        rep = make_user(session, email="rita@example.org", name="Rita Rep", team=team)
        manager = actor_of(
            make_user(session, role=Role.MANAGER, email="marc@example.org", name="Marc Martin", team=team)
        )
        rep_id = rep.id
    task_id = _task(manager, "Relancer la pharmacie", assignee_id=rep_id)
    await log_in(ui_user, "rita@example.org", path=f"/login?redirect_to=/tasks/{task_id}")
    await ui_user.should_see(marker="edit-task", retries=50)

    ui_user.find(marker="edit-task").click()
    await ui_user.should_see(marker="task-dialog")
    element(ui_user, "task-status").value = "in_progress"
    ui_user.find(marker="task-save").click()
    await ui_user.should_see(gettext("Task saved."))
    await eventually(
        lambda: element(ui_user, "task-status-badge").text == gettext("In progress"), "the status is not refreshed"
    )
    await ui_user.should_not_see(marker="task-dialog")

    with unit_of_work() as session:  # another person, in another session
        version = session.get(Task, task_id).version  # type: ignore[union-attr]
        tasks.update_task(session, manager, task_id, {"priority": "urgent"}, expected_version=version)
    await eventually(
        lambda: element(ui_user, "task-priority-badge").text == gettext("Urgent"), "another's change is not shown"
    )

    ui_user.find(marker="edit-task").click()
    await ui_user.should_see(marker="task-dialog")
    _title_input(ui_user).value = "Relancer la pharmacie avant vendredi"
    with unit_of_work() as session:
        version = session.get(Task, task_id).version  # type: ignore[union-attr]
        tasks.update_task(session, manager, task_id, {"description": "Stock bas"}, expected_version=version)
    await ui_user.should_see(marker="stale-message")
    assert "Marc Martin" in element(ui_user, "stale-message").text
    assert _title_input(ui_user).value == "Relancer la pharmacie avant vendredi"  # the typing is kept
    ui_user.find(marker="stale-reload").click()
    await eventually(
        lambda: _values(ui_user, "task-description") == ["Stock bas"],
        "their version is not loaded",
    )
    assert _title_input(ui_user).value == "Relancer la pharmacie"
    await ui_user.should_not_see(marker="stale-message")

    ui_user.find(marker="task-delete").click()
    ui_user.find(marker="confirm-yes").click()
    await ui_user.should_see(gettext("Task deleted."))
    await ui_user.should_see(marker="tasks-table")
    await asyncio.sleep(0.3)  # the deletion's own event has come back by now
    assert gettext("This task has been deleted.") not in ui_user.notify.messages  # not "someone else"
