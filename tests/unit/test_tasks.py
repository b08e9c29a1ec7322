"""Tasks: status rules, who may assign whom, visibility, optimistic concurrency, lists, notifications."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from crm_app.activities import tasks
from crm_app.activities.models import TaskPriority, TaskStatus
from crm_app.activities.tasks import TaskQuery
from crm_app.platform import comments
from crm_app.platform.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.comments import Comment
from crm_app.platform.models.people import Role
from crm_app.platform.paging import PageRequest
from tests.activity_factories import Org, make_org, make_person, make_task, notifications_of
from tests.institution_factories import make_contact, make_institution


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def _ids(page: tasks.Page[tasks.TaskRow]) -> set[uuid.UUID]:
    return {row.id for row in page.items}


# --------------------------------------------------------------------------------------------
# Creating and validating


def test_a_new_task_is_assigned_to_its_creator_by_default(db: Session, org: Org) -> None:
    task = tasks.create_task(db, org.rep_a.actor, {"title": "  Relancer   le CHU  ", "due_at": "2026-03-05"})
    assert task.title == "Relancer le CHU"
    assert task.assignee_id == org.rep_a.id and task.created_by == org.rep_a.id
    assert task.team_id == org.rep_a.user.team_id
    assert (task.status, task.priority, task.version) == (TaskStatus.TODO, TaskPriority.NORMAL, 1)
    # A date alone means the end of that day in the configured time zone (Europe/Paris, UTC+1 in March).
    assert task.due_at == datetime.fromisoformat("2026-03-05T22:59:59+00:00")


def test_every_task_field_error_is_reported_at_once(db: Session, org: Org) -> None:
    with pytest.raises(ValidationFailed) as refused:
        tasks.create_task(
            db,
            org.rep_a.actor,
            {"title": " ", "priority": "critical", "due_at": "tomorrow", "status": "waiting", "colour": "red"},
        )
    assert refused.value.field_errors == {
        "title": "This field is required.",
        "priority": "Unknown value.",
        "due_at": "Enter a date and time.",
        "status": "Unknown value.",
        "colour": "Unknown field.",
    }


def test_a_contact_of_another_institution_is_refused_and_a_contact_alone_brings_its_institution(
    db: Session, org: Org
) -> None:
    first, second = make_institution(db), make_institution(db)
    contact = make_contact(db, second)
    with pytest.raises(ValidationFailed) as refused:
        make_task(db, org.rep_a.actor, institution_id=first.id, contact_id=contact.id)
    assert refused.value.field_errors == {"contact_id": "This contact belongs to another institution."}
    task = make_task(db, org.rep_a.actor, contact_id=contact.id)
    assert task.institution_id == second.id


def test_unknown_links_are_field_errors(db: Session, org: Org) -> None:
    with pytest.raises(ValidationFailed) as refused:
        make_task(db, org.rep_a.actor, institution_id=uuid.uuid4(), contact_id=uuid.uuid4())
    assert set(refused.value.field_errors) == {"institution_id", "contact_id"}


# --------------------------------------------------------------------------------------------
# Status rules


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (TaskStatus.TODO, TaskStatus.DONE),
        (TaskStatus.DONE, TaskStatus.IN_PROGRESS),
        (TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED),
        (TaskStatus.DONE, TaskStatus.CANCELLED),
        (TaskStatus.CANCELLED, TaskStatus.TODO),
        (TaskStatus.TODO, TaskStatus.IN_PROGRESS),
    ],
)
def test_allowed_status_moves(db: Session, org: Org, start: TaskStatus, target: TaskStatus) -> None:
    task = make_task(db, org.rep_a.actor, status=start)
    moved = tasks.set_task_status(db, org.rep_a.actor, task.id, target, expected_version=task.version)
    assert moved.status == target and moved.version == 2


@pytest.mark.parametrize("target", [TaskStatus.IN_PROGRESS, TaskStatus.DONE])
def test_a_cancelled_task_must_be_reopened_first(db: Session, org: Org, target: TaskStatus) -> None:
    task = make_task(db, org.rep_a.actor, status=TaskStatus.CANCELLED)
    with pytest.raises(InvalidTransition) as refused:
        tasks.set_task_status(db, org.rep_a.actor, task.id, target, expected_version=1)
    assert refused.value.current_status == "cancelled"
    reopened = tasks.set_task_status(db, org.rep_a.actor, task.id, TaskStatus.TODO, expected_version=1)
    assert (
        tasks.set_task_status(db, org.rep_a.actor, task.id, target, expected_version=reopened.version).status == target
    )


def test_done_sets_completed_at_and_leaving_done_clears_it(
    db: Session, org: Org, clock: Callable[..., datetime]
) -> None:
    task = make_task(db, org.rep_a.actor)
    assert task.completed_at is None
    done_at = clock(minutes=5)
    tasks.set_task_status(db, org.rep_a.actor, task.id, TaskStatus.DONE, expected_version=1)
    assert task.completed_at == done_at
    clock(minutes=5)
    tasks.update_task(db, org.rep_a.actor, task.id, {"title": "Renamed"}, expected_version=2)
    assert task.completed_at == done_at  # still done: unchanged
    tasks.set_task_status(db, org.rep_a.actor, task.id, TaskStatus.IN_PROGRESS, expected_version=3)
    assert task.completed_at is None


def test_a_task_created_done_is_completed(db: Session, org: Org) -> None:
    assert make_task(db, org.rep_a.actor, status="done").completed_at is not None


# --------------------------------------------------------------------------------------------
# Who may assign whom


def test_a_sales_rep_assigns_tasks_only_to_themselves(db: Session, org: Org) -> None:
    with pytest.raises(Forbidden) as refused:
        make_task(db, org.rep_a.actor, assignee_id=org.rep_a2.id)
    assert refused.value.action == "task.assign"
    task = make_task(db, org.rep_a.actor)
    with pytest.raises(Forbidden):
        tasks.update_task(db, org.rep_a.actor, task.id, {"assignee_id": org.rep_a2.id}, expected_version=1)
    assert [uid for uid, _name in tasks.assignable_users(db, org.rep_a.actor)] == [org.rep_a.id]


def test_a_manager_assigns_within_the_team_only(db: Session, org: Org) -> None:
    task = make_task(db, org.manager_a.actor, assignee_id=org.rep_a.id)
    assert task.assignee_id == org.rep_a.id and task.created_by == org.manager_a.id
    with pytest.raises(Forbidden):
        make_task(db, org.manager_a.actor, assignee_id=org.rep_b.id)
    with pytest.raises(Forbidden):
        make_task(db, org.manager_a.actor, assignee_id=org.admin.id)  # no team: outside the manager's
    assignable = {uid for uid, _name in tasks.assignable_users(db, org.manager_a.actor)}
    assert {org.rep_a.id, org.rep_a2.id, org.manager_a.id} <= assignable
    assert org.rep_b.id not in assignable


def test_an_admin_assigns_to_anyone_and_the_team_follows_the_assignee(db: Session, org: Org) -> None:
    task = make_task(db, org.admin.actor, assignee_id=org.rep_b.id)
    assert task.team_id == org.rep_b.user.team_id
    tasks.update_task(db, org.admin.actor, task.id, {"assignee_id": org.rep_a.id}, expected_version=1)
    assert task.team_id == org.rep_a.user.team_id


def test_a_deactivated_user_cannot_be_assigned(db: Session, org: Org) -> None:
    gone = make_person(db, role=Role.USER)
    gone.user.is_active = False
    db.add(gone.user)
    with pytest.raises(ValidationFailed) as refused:
        make_task(db, org.admin.actor, assignee_id=gone.id)
    assert refused.value.field_errors == {"assignee_id": "This user does not exist or is deactivated."}


# --------------------------------------------------------------------------------------------
# Visibility and editing


def test_tasks_are_seen_by_assignee_creator_team_manager_and_admins(db: Session, org: Org) -> None:
    task = make_task(db, org.manager_a.actor, assignee_id=org.rep_a.id)
    for person in (org.rep_a, org.manager_a, org.admin):
        assert tasks.get_task_row(db, person.actor, task.id).id == task.id
        assert task.id in _ids(tasks.list_tasks(db, person.actor))
    for person in (org.rep_a2, org.rep_b):
        with pytest.raises(Forbidden):
            tasks.get_task_row(db, person.actor, task.id)
        assert task.id not in _ids(tasks.list_tasks(db, person.actor))


def test_only_owners_and_the_team_manager_edit_a_task(db: Session, org: Org) -> None:
    task = make_task(db, org.rep_a.actor)
    with pytest.raises(Forbidden):
        tasks.update_task(db, org.rep_a2.actor, task.id, {"title": "Mine now"}, expected_version=1)
    with pytest.raises(Forbidden):
        tasks.delete_task(db, org.rep_b.actor, task.id)
    tasks.update_task(db, org.manager_a.actor, task.id, {"priority": "urgent"}, expected_version=1)
    assert task.priority == TaskPriority.URGENT and task.updated_by == org.manager_a.id
    row = tasks.get_task_row(db, org.rep_a.actor, task.id)
    assert row.can_edit and row.assignee_name == "Anne Aubert"


def test_second_save_with_stale_version_is_refused_naming_who_saved(db: Session, org: Org) -> None:
    task = make_task(db, org.rep_a.actor)
    tasks.update_task(db, org.manager_a.actor, task.id, {"title": "First"}, expected_version=1)
    with pytest.raises(Conflict) as refused:
        tasks.update_task(db, org.rep_a.actor, task.id, {"title": "Second"}, expected_version=1)
    assert refused.value.changed_by == "Marc Manager"
    assert task.title == "First"


def test_saving_nothing_new_keeps_the_version(db: Session, org: Org) -> None:
    task = make_task(db, org.rep_a.actor, title="Same")
    assert tasks.update_task(db, org.rep_a.actor, task.id, {"title": "Same"}, expected_version=1).version == 1


def test_deleting_a_task_deletes_its_comments(db: Session, org: Org) -> None:
    task = make_task(db, org.rep_a.actor)
    comment = comments.add_comment(db, org.rep_a.actor, "task", task.id, "À faire demain")
    tasks.delete_task(db, org.rep_a.actor, task.id)
    db.flush()
    assert db.get(Comment, comment.id) is None
    with pytest.raises(NotFound):
        tasks.get_task_row(db, org.rep_a.actor, task.id)


# --------------------------------------------------------------------------------------------
# Lists


def test_filters_combine_and_the_list_is_paged(db: Session, org: Org, clock: Callable[..., datetime]) -> None:
    now = utcnow()
    institution = make_institution(db)
    overdue = make_task(db, org.rep_a.actor, title="Overdue", due_at=now - timedelta(hours=2), priority="high")
    soon = make_task(db, org.rep_a.actor, title="Soon", due_at=now + timedelta(hours=2), institution_id=institution.id)
    later = make_task(db, org.rep_a.actor, title="Later", due_at=now + timedelta(days=30))
    undated = make_task(db, org.rep_a.actor, title="Undated")
    done = make_task(db, org.rep_a.actor, title="Done late", due_at=now - timedelta(days=1), status="done")
    others = make_task(db, org.manager_a.actor, title="Manager's")
    actor = org.rep_a.actor
    assert _ids(tasks.list_tasks(db, actor, TaskQuery(mine=True))) == {
        overdue.id,
        soon.id,
        later.id,
        undated.id,
        done.id,
    }
    assert _ids(tasks.list_tasks(db, org.manager_a.actor, TaskQuery(mine=True))) == {others.id}
    assert _ids(tasks.list_tasks(db, actor, TaskQuery(due="overdue"))) == {overdue.id}
    assert _ids(tasks.list_tasks(db, actor, TaskQuery(due="none"))) == {undated.id}
    assert _ids(tasks.list_tasks(db, actor, TaskQuery(statuses=(TaskStatus.DONE,)))) == {done.id}
    assert _ids(tasks.list_tasks(db, actor, TaskQuery(priorities=(TaskPriority.HIGH,)))) == {overdue.id}
    assert _ids(tasks.list_tasks(db, actor, TaskQuery(institution_id=institution.id))) == {soon.id}
    assert _ids(tasks.list_tasks(db, actor, TaskQuery(q="LATE"))) == {later.id, done.id}
    assert later.id not in _ids(tasks.list_tasks(db, actor, TaskQuery(due="week")))
    page = tasks.list_tasks(db, actor, TaskQuery(mine=True), PageRequest(1, 2))
    assert page.total == 5 and [row.title for row in page.items] == ["Done late", "Overdue"]  # soonest due first
    last = tasks.list_tasks(db, actor, TaskQuery(mine=True), PageRequest(3, 2))
    assert [row.title for row in last.items] == ["Undated"]  # no due date last
    assert [row.is_overdue for row in page.items] == [False, True]  # a done task is never overdue


def test_due_today_follows_the_time_zone(db: Session, org: Org, clock: Callable[..., datetime]) -> None:
    paris_midnight = datetime.fromisoformat("2026-06-10T00:00:00+02:00")
    clock(seconds=(paris_midnight - utcnow()).total_seconds() + 3600)  # 01:00 in Paris, 23:00 UTC the day before
    tonight = make_task(db, org.rep_a.actor, due_at="2026-06-10T21:00:00+02:00")
    make_task(db, org.rep_a.actor, due_at="2026-06-09T21:00:00+02:00")
    assert _ids(tasks.list_tasks(db, org.rep_a.actor, TaskQuery(due="today"))) == {tonight.id}


def test_query_parameters_are_parsed_and_unknown_values_ignored() -> None:
    query = TaskQuery.from_params(
        {
            "mine": "1",
            "status": ["todo,done", "nope"],
            "priority": "urgent",
            "due": "someday",
            "sort": "-priority",
            "institution_id": "not-a-uuid",
        }
    )
    assert query.mine and query.statuses == (TaskStatus.TODO, TaskStatus.DONE)
    assert query.priorities == (TaskPriority.URGENT,) and query.due is None
    assert (query.sort, query.descending, query.institution_id) == ("priority", True, None)


def test_the_board_groups_by_status(db: Session, org: Org) -> None:
    todo = make_task(db, org.rep_a.actor)
    doing = make_task(db, org.rep_a.actor, status="in_progress")
    columns = tasks.board(db, org.rep_a.actor, TaskQuery(mine=True))
    assert list(columns) == list(TaskStatus)
    assert _ids(columns[TaskStatus.TODO]) == {todo.id}
    assert _ids(columns[TaskStatus.IN_PROGRESS]) == {doing.id}
    assert columns[TaskStatus.DONE].total == 0


# --------------------------------------------------------------------------------------------
# Notifications


def test_the_assignee_is_told_but_not_someone_assigning_themselves(db: Session, org: Org) -> None:
    make_task(db, org.rep_a.actor, title="My own")
    assert notifications_of(db, org.rep_a) == []
    task = make_task(db, org.manager_a.actor, title="Call the CHU", assignee_id=org.rep_a.id)
    [notification] = notifications_of(db, org.rep_a)
    assert notification.kind == "task.assigned" and notification.link == f"/tasks/{task.id}"
    assert notification.params == {"actor": "Marc Manager", "title": "Call the CHU"}
    assert notification.actor_id == org.manager_a.id
    assert notifications_of(db, org.manager_a) == []


def test_reassigning_tells_the_new_assignee(db: Session, org: Org) -> None:
    task = make_task(db, org.manager_a.actor, assignee_id=org.rep_a.id)
    tasks.update_task(db, org.manager_a.actor, task.id, {"assignee_id": org.rep_a2.id}, expected_version=1)
    assert [n.kind for n in notifications_of(db, org.rep_a2)] == ["task.assigned"]


def test_the_creator_is_told_of_status_changes_made_by_others_only(db: Session, org: Org) -> None:
    task = make_task(db, org.manager_a.actor, assignee_id=org.rep_a.id)
    tasks.set_task_status(db, org.manager_a.actor, task.id, "in_progress", expected_version=1)
    assert [n.kind for n in notifications_of(db, org.manager_a)] == []
    tasks.set_task_status(db, org.rep_a.actor, task.id, "done", expected_version=2)
    [notification] = notifications_of(db, org.manager_a)
    assert notification.kind == "task.status_changed"
    assert notification.params["status"] == "done" and notification.params["actor"] == "Anne Aubert"
