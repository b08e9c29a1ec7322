"""Tasks: create, edit (optimistic concurrency), status rules, who may assign whom, lists and the
board paged and filtered in SQL (DOMAIN.md "Activities").

Rules: any status may move to any other, except that a cancelled task goes back to `todo` first;
`done` sets `completed_at`, leaving `done` clears it. A `user` assigns tasks only to themselves,
managers and team admins within their team, admins to anyone. A task is seen and edited within
the `record.*` scopes; "own" means assigned to or created by the actor.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from crm_app.activities.models import OPEN_TASK_STATUSES, Task, TaskPriority, TaskStatus
from crm_app.institutions.links import check_links, check_opportunity
from crm_app.institutions.models import Contact, Institution
from crm_app.platform import cleaners as fields
from crm_app.platform import comments, events
from crm_app.platform.cleaners import long_text, moment
from crm_app.platform.db import fetch_all
from crm_app.platform.errors import Conflict, InvalidTransition, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.models.people import User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.params import Params
from crm_app.platform.permissions import Actor, Placement, Scope, authorize, can, scope_for
from crm_app.platform.records import active_user, actor_id, changed_by_name, get_record, scope_condition
from crm_app.platform.settings import organisation
from crm_app.platform.text import contains_pattern

CLEANERS: dict[str, fields.Cleaner] = {
    "title": fields.text(200, required=True),
    "description": long_text(10_000),
    "status": fields.choice(TaskStatus),
    "priority": fields.choice(TaskPriority),
    "due_at": moment(end_of_day=True),
    "assignee_id": fields.identifier(),
    "institution_id": fields.identifier(),
    "contact_id": fields.identifier(),
    "opportunity_id": fields.identifier(),
}


def clean(raw: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    return fields.clean_all(raw, CLEANERS, partial=partial)


def can_move(current: TaskStatus, new: TaskStatus) -> bool:
    """The status rule: anything goes, except out of `cancelled` to anything but `todo`."""
    return current == new or current is not TaskStatus.CANCELLED or new is TaskStatus.TODO


def placement(task: Task) -> Placement:
    """What the right checks look at: assignee and creator own the task, the team is the assignee's."""
    return Placement(team_id=task.team_id, assigned_user_id=task.assignee_id, created_by=task.created_by)


def _assignee(session: Session, actor: Actor, assignee_id: uuid.UUID) -> User:
    """The new assignee, within the actor's reach (`task.assign`)."""
    user = active_user(session, assignee_id, "assignee_id")
    authorize(actor, "task.assign", Placement(team_id=user.team_id, assigned_user_id=user.id))
    return user


def _apply_status(task: Task, status: TaskStatus) -> None:
    current = TaskStatus(task.status)
    if not can_move(current, status):
        raise InvalidTransition(current.value, N_("A cancelled task must be reopened (to do) first."))
    task.status = status
    if status is TaskStatus.DONE and current is not TaskStatus.DONE:
        task.completed_at = utcnow()
    elif status is not TaskStatus.DONE:
        task.completed_at = None


def _publish_changed(session: Session, actor: Actor, task: Task, *, deleted: bool = False, action: str = "") -> None:
    events.publish(
        session,
        events.TaskChanged(
            task_id=task.id,
            assignee_id=task.assignee_id,
            team_id=task.team_id,
            deleted=deleted,
            institution_id=task.institution_id,
            action=action,
            actor_id=actor_id(actor),
        ),
    )


def create_task(session: Session, actor: Actor, raw: Mapping[str, Any]) -> Task:
    """Create a task; the assignee defaults to the actor. The assignee is told (unless it is the actor)."""
    values = clean(raw, partial=False)
    assignee = _assignee(session, actor, values.get("assignee_id") or actor.id)
    check_links(session, values)
    check_opportunity(session, actor, values)
    status = values.get("status") or TaskStatus.TODO
    task = Task(
        title=values["title"],
        description=values.get("description"),
        priority=values.get("priority") or TaskPriority.NORMAL,
        due_at=values.get("due_at"),
        assignee_id=assignee.id,
        team_id=assignee.team_id,
        institution_id=values.get("institution_id"),
        contact_id=values.get("contact_id"),
        opportunity_id=values.get("opportunity_id"),
        created_by=actor_id(actor),
        updated_by=actor_id(actor),
    )
    task.status = TaskStatus.TODO
    _apply_status(task, status)
    session.add(task)
    session.flush()
    events.publish(
        session,
        events.TaskAssigned(task_id=task.id, title=task.title, assignee_id=assignee.id, actor_id=actor_id(actor)),
    )
    _publish_changed(session, actor, task, action="created")
    return task


def get_task(session: Session, task_id: uuid.UUID, *, for_update: bool = False) -> Task:
    return get_record(session, Task, task_id, missing=N_("This task does not exist."), for_update=for_update)


def get_visible_task(session: Session, actor: Actor, task_id: uuid.UUID) -> Task:
    """The task, when the actor may see it (comments use this)."""
    task = get_task(session, task_id)
    authorize(actor, "record.view", placement(task))
    return task


def _changes(session: Session, actor: Actor, task: Task, values: dict[str, Any]) -> dict[str, Any]:
    """The fields that really change, with the links to institution, contact and opportunity checked."""
    if "title" in values and not values["title"]:
        raise ValidationFailed({"title": N_("This field is required.")})
    if "assignee_id" in values and values["assignee_id"] is None:
        raise ValidationFailed({"assignee_id": N_("This field is required.")})
    if "status" in values and values["status"] is None:
        del values["status"]
    if "priority" in values and values["priority"] is None:
        values["priority"] = TaskPriority.NORMAL
    changes = {name: value for name, value in values.items() if getattr(task, name) != value}
    if "institution_id" in changes or "contact_id" in changes:
        links = {
            "institution_id": changes.get("institution_id", task.institution_id),
            "contact_id": changes.get("contact_id", task.contact_id),
        }
        if "contact_id" not in changes and task.contact_id is not None:
            links["contact_id"] = None  # the contact belonged to the previous institution
        check_links(session, links)
        changes.update(links)
    if "institution_id" in changes or "opportunity_id" in changes:
        check_opportunity(
            session, actor, changes, current_institution=task.institution_id, current_opportunity=task.opportunity_id
        )
    return changes


def update_task(
    session: Session, actor: Actor, task_id: uuid.UUID, raw: Mapping[str, Any], *, expected_version: int
) -> Task:
    """Apply the changed fields (status included, under the status rule); refused with the other
    person's name when the version is stale. A new assignee and the creator (on a status change)
    are told."""
    task = get_task(session, task_id, for_update=True)
    authorize(actor, "record.edit", placement(task))
    if task.version != expected_version:
        raise Conflict(changed_by=changed_by_name(session, task.updated_by))
    changes = _changes(session, actor, task, clean(raw, partial=True))
    if not changes:
        return task
    old_status = TaskStatus(task.status)
    if "status" in changes:
        _apply_status(task, changes.pop("status"))
    new_assignee = None
    if "assignee_id" in changes:
        new_assignee = _assignee(session, actor, changes["assignee_id"])
        task.team_id = new_assignee.team_id
    for name, value in changes.items():
        setattr(task, name, value)
    task.updated_by = actor_id(actor)
    task.touch()
    session.add(task)
    session.flush()
    if new_assignee is not None:
        events.publish(
            session,
            events.TaskAssigned(
                task_id=task.id, title=task.title, assignee_id=new_assignee.id, actor_id=actor_id(actor)
            ),
        )
    if TaskStatus(task.status) is not old_status:
        events.publish(
            session,
            events.TaskStatusChanged(
                task_id=task.id,
                title=task.title,
                old_status=old_status.value,
                new_status=TaskStatus(task.status).value,
                creator_id=task.created_by,
                assignee_id=task.assignee_id,
                actor_id=actor_id(actor),
            ),
        )
    _publish_changed(session, actor, task)
    return task


def set_task_status(
    session: Session, actor: Actor, task_id: uuid.UUID, status: TaskStatus | str, *, expected_version: int
) -> Task:
    """Move a task (the board's drag and drop); InvalidTransition out of `cancelled` but to `todo`."""
    return update_task(session, actor, task_id, {"status": status}, expected_version=expected_version)


def delete_task(session: Session, actor: Actor, task_id: uuid.UUID) -> None:
    """Delete a task and its comments (tasks are not part of the audit trail)."""
    task = get_task(session, task_id, for_update=True)
    authorize(actor, "record.edit", placement(task))
    _publish_changed(session, actor, task, deleted=True)
    comments.delete_for_target(session, CommentTarget.TASK, task.id)
    session.delete(task)
    session.flush()


def _comment_target(session: Session, task_id: uuid.UUID) -> comments.Target:
    task = get_task(session, task_id)
    where = placement(task)
    return comments.Target(CommentTarget.TASK, task.id, task.title, lambda actor: can(actor, "record.view", where))


COMMENT_TARGETS: dict[CommentTarget, comments.TargetResolver] = {CommentTarget.TASK: _comment_target}


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: uuid.UUID
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due_at: datetime | None
    completed_at: datetime | None
    assignee_id: uuid.UUID
    assignee_name: str
    team_id: uuid.UUID | None
    institution_id: uuid.UUID | None
    institution_name: str | None
    contact_id: uuid.UUID | None
    contact_name: str | None
    opportunity_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    is_overdue: bool = False
    can_edit: bool = False


_T = table_of(Task).c
_I = table_of(Institution).c
_C = table_of(Contact).c
_ASSIGNEE = table_of(User).alias("assignee")
_CREATOR = table_of(User).alias("creator")
_PRIORITY_RANK = sa.case({p.value: rank for rank, p in enumerate(TaskPriority)}, value=_T.priority)

SORTS: dict[str, tuple[Any, ...]] = {
    "due": (_T.due_at.is_(None), _T.due_at),
    "priority": (_PRIORITY_RANK,),
    "created": (_T.created_at,),
    "updated": (_T.updated_at,),
    "title": (sa.func.lower(_T.title),),
    "status": (_T.status,),
}
DUE_FILTERS = ("overdue", "today", "week", "none")


def _day(read: Params, name: str) -> date | None:
    try:
        day: date | None = fields.day()(read.one(name))
    except ValueError:
        return None
    return day


@dataclass(frozen=True)
class TaskQuery:
    """Filters and sort of the task lists (the /tasks page's URL holds the same)."""

    mine: bool = False  # assigned to the actor
    assignee_id: uuid.UUID | None = None
    created_by: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    completed_from: date | None = None  # done on these days (the organisation's time zone)
    completed_to: date | None = None
    statuses: tuple[TaskStatus, ...] = ()
    priorities: tuple[TaskPriority, ...] = ()
    due: str | None = None  # "overdue", "today", "week" (in `timezone`), "none" (no due date)
    institution_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = None
    q: str = ""
    sort: str = "due"
    descending: bool = False
    timezone: str | None = None  # for "today" and "week"; default: the configured one

    @classmethod
    def from_params(cls, params: Mapping[str, str | Sequence[str]]) -> TaskQuery:
        """Parse URL or API parameters; unknown values are ignored."""
        read = Params(params)
        sort, descending = read.sort(SORTS, "due")
        due = read.one("due")
        return cls(
            mine=read.flag("mine"),
            assignee_id=read.ident("assignee_id"),
            created_by=read.ident("created_by"),
            team_id=read.ident("team_id"),
            completed_from=_day(read, "completed_from"),
            completed_to=_day(read, "completed_to"),
            statuses=read.choices("status", TaskStatus),
            priorities=read.choices("priority", TaskPriority),
            due=due if due in DUE_FILTERS else None,
            institution_id=read.ident("institution_id"),
            contact_id=read.ident("contact_id"),
            opportunity_id=read.ident("opportunity_id"),
            q=read.one("q") or "",
            sort=sort,
            descending=descending,
        )


def _due_window(query: TaskQuery) -> tuple[datetime, datetime]:
    zone = ZoneInfo(query.timezone or organisation()["timezone"])
    today = utcnow().astimezone(zone).date()
    if query.due == "today":
        start = today
        days = 1
    else:
        start = today - timedelta(days=today.weekday())
        days = 7
    begin = datetime.combine(start, time.min, tzinfo=zone)
    return begin, begin + timedelta(days=days)


def _completed_between(first: date | None, last: date | None) -> list[Any]:
    """Done on these days of the organisation's time zone (the dashboard's days)."""
    if first is None and last is None:
        return []
    zone = ZoneInfo(organisation()["timezone"])
    conditions = []
    if first is not None:
        conditions.append(_T.completed_at >= datetime.combine(first, time.min, tzinfo=zone))
    if last is not None:
        conditions.append(_T.completed_at < datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone))
    return conditions


def _conditions(actor: Actor, query: TaskQuery) -> list[Any]:
    conditions = [
        scope_condition(actor, "record.view", team_column=_T.team_id, owner_columns=(_T.assignee_id, _T.created_by))
    ]
    if query.mine:
        conditions.append(_T.assignee_id == actor.id)
    # The filters that name one record: assignee, author, team, institution, contact, opportunity.
    for value, column in (
        (query.assignee_id, _T.assignee_id),
        (query.created_by, _T.created_by),
        (query.team_id, _T.team_id),
        (query.institution_id, _T.institution_id),
        (query.contact_id, _T.contact_id),
        (query.opportunity_id, _T.opportunity_id),
    ):
        if value is not None:
            conditions.append(column == value)
    conditions += _completed_between(query.completed_from, query.completed_to)
    if query.statuses:
        conditions.append(_T.status.in_([s.value for s in query.statuses]))
    if query.priorities:
        conditions.append(_T.priority.in_([p.value for p in query.priorities]))
    if query.due == "overdue":
        conditions += [_T.due_at < utcnow(), _T.status.in_([s.value for s in OPEN_TASK_STATUSES])]
    elif query.due in ("today", "week"):
        begin, end = _due_window(query)
        conditions += [_T.due_at >= begin, _T.due_at < end]
    elif query.due == "none":
        conditions.append(_T.due_at.is_(None))
    if query.q.strip():
        conditions.append(sa.func.lower(_T.title).like(contains_pattern(query.q.strip().lower()), escape="\\"))
    return conditions


def _select() -> Any:
    contact_name = sa.func.trim(sa.func.coalesce(_C.first_name, "") + " " + _C.last_name)
    return (
        sa.select(
            _T.id,
            _T.title,
            _T.description,
            _T.status,
            _T.priority,
            _T.due_at,
            _T.completed_at,
            _T.assignee_id,
            _ASSIGNEE.c.full_name.label("assignee_name"),
            _T.team_id,
            _T.institution_id,
            _I.name.label("institution_name"),
            _T.contact_id,
            contact_name.label("contact_name"),
            _T.opportunity_id,
            _T.created_by,
            _CREATOR.c.full_name.label("created_by_name"),
            _T.created_at,
            _T.updated_at,
            _T.version,
        )
        .select_from(table_of(Task))
        .join(_ASSIGNEE, _ASSIGNEE.c.id == _T.assignee_id)
        .outerjoin(_CREATOR, _CREATOR.c.id == _T.created_by)
        .outerjoin(table_of(Institution), _I.id == _T.institution_id)
        .outerjoin(table_of(Contact), _C.id == _T.contact_id)
    )


def _rows(session: Session, actor: Actor, statement: Any) -> list[TaskRow]:
    now = utcnow()
    rows = []
    for row in fetch_all(session, statement):
        status = TaskStatus(row.status)
        overdue = row.due_at is not None and row.due_at < now and status in OPEN_TASK_STATUSES
        rows.append(
            TaskRow(
                **{**row._asdict(), "status": status, "priority": TaskPriority(row.priority)},
                is_overdue=overdue,
                can_edit=can(
                    actor,
                    "record.edit",
                    Placement(team_id=row.team_id, assigned_user_id=row.assignee_id, created_by=row.created_by),
                ),
            )
        )
    return rows


def _order(query: TaskQuery) -> list[Any]:
    columns = SORTS.get(query.sort, SORTS["due"])
    ordered = [c.desc() if query.descending else c.asc() for c in columns]
    return [*ordered, _T.id.desc() if query.descending else _T.id.asc()]


def list_tasks(
    session: Session, actor: Actor, query: TaskQuery | None = None, request: PageRequest | None = None
) -> Page[TaskRow]:
    """The tasks the actor may see, filtered, sorted and paged in SQL."""
    query = query or TaskQuery()
    request = request or PageRequest()
    conditions = _conditions(actor, query)
    statement = _select().where(*conditions).order_by(*_order(query)).offset(request.offset).limit(request.page_size)
    total = session.exec(select(sa.func.count()).select_from(Task).where(*conditions)).one()
    return Page(_rows(session, actor, statement), int(total), request.page, request.page_size)


def board(
    session: Session, actor: Actor, query: TaskQuery | None = None, *, per_column: int = 50
) -> dict[TaskStatus, Page[TaskRow]]:
    """The board: for each status, the first `per_column` tasks (soonest due first) and the count."""
    query = query or TaskQuery()
    return {
        status: list_tasks(session, actor, dataclasses.replace(query, statuses=(status,)), PageRequest(1, per_column))
        for status in TaskStatus
    }


def get_task_row(session: Session, actor: Actor, task_id: uuid.UUID) -> TaskRow:
    task = get_task(session, task_id)
    authorize(actor, "record.view", placement(task))
    return _rows(session, actor, _select().where(_T.id == task_id))[0]


@dataclass(frozen=True)
class TaskChoices:
    """What the task form offers: the users the actor may assign to."""

    assignable: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    can_assign_others: bool = False


def assignable_users(session: Session, actor: Actor) -> list[tuple[uuid.UUID, str]]:
    """Active users the actor may assign a task to (themselves first)."""
    scope = scope_for(actor, "task.assign")
    statement = select(User.id, User.full_name).where(col(User.is_active)).order_by(col(User.full_name))
    if scope is Scope.TEAM and actor.team_id is not None:
        statement = statement.where(sa.or_(col(User.team_id) == actor.team_id, col(User.id) == actor.id))
    elif scope is not Scope.ALL:
        statement = statement.where(col(User.id) == actor.id)
    users = [(user_id, name) for user_id, name in session.exec(statement).all()]
    return sorted(users, key=lambda item: item[0] != actor.id)


def task_choices(session: Session, actor: Actor) -> TaskChoices:
    users = assignable_users(session, actor)
    return TaskChoices(assignable=users, can_assign_others=scope_for(actor, "task.assign") > Scope.OWN)
