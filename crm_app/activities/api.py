"""/api/tasks, /api/notes, /api/meetings, /api/calls, /api/comments, an institution's timeline and an
opportunity's activities: the same services as the pages, thin routes. Dates and times are ISO 8601
(with an offset; without one, the configured time zone); a due date alone means the end of that day."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crm_app.activities import calls, meetings, notes, tasks
from crm_app.activities import timeline as activity_timeline
from crm_app.activities.calls import CallQuery, CallRow
from crm_app.activities.meetings import MeetingQuery, MeetingRow
from crm_app.activities.notes import NoteQuery, NoteRow
from crm_app.activities.tasks import TaskQuery, TaskRow
from crm_app.institutions import timeline
from crm_app.institutions.timeline import TimelineEntry
from crm_app.platform import comments
from crm_app.platform.api.deps import ActorDep, PageDep, PageSizeDep, SessionDep, partial_model, query_params
from crm_app.platform.api.pages import page_response
from crm_app.platform.api.routes import area_router
from crm_app.platform.api.settings import module_enabled
from crm_app.platform.cleaners import moment
from crm_app.platform.comments import CommentRow
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.paging import PageRequest

# A module switched off in /admin/settings (tasks, notes, meetings, calls) answers 404 on all its routes.
router = area_router(tags=["activities"], dependencies=[Depends(module_enabled)])

_VERSION = Field(description="The version you read; a stale one is refused with 409.")


def _when(value: str | None, name: str) -> datetime | None:
    try:
        return moment()(value)
    except ValueError as exc:
        raise ValidationFailed({name: str(exc)}) from None


# --------------------------------------------------------------------------------------------
# Tasks


class TaskOut(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    status: str
    priority: str
    due_at: datetime | None
    completed_at: datetime | None
    assignee_id: uuid.UUID
    assignee_name: str
    institution_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    institution_name: str | None
    contact_id: uuid.UUID | None
    contact_name: str | None
    created_by: uuid.UUID | None
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    is_overdue: bool


class TaskPage(BaseModel):
    items: list[TaskOut]
    total: int
    page: int
    page_size: int


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    description: str | None = None
    status: str | None = None
    priority: str | None = None
    due_at: str | None = Field(default=None, description="ISO 8601 date-time, or a date (its end)")
    assignee_id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = Field(default=None, description="An opportunity of the same institution")
    contact_id: uuid.UUID | None = None


@partial_model
class TaskPatch(TaskIn):
    version: int = _VERSION


def _task(session: SessionDep, actor: ActorDep, task_id: uuid.UUID) -> TaskOut:
    return TaskOut.model_validate(tasks.get_task_row(session, actor, task_id), from_attributes=True)


_TASK_FILTERS = (
    "Filters: `mine=1`, `assignee_id`, `created_by`, `status`, `priority`, `due` (overdue, today, "
    "week, none), `institution_id`, `contact_id`, `opportunity_id`, `q` (title); repeat a parameter or separate values "
    "with commas. `sort`: due, priority, created, updated, title, status; `-` for descending."
)


@router.get("/tasks", response_model=TaskPage, description=_TASK_FILTERS)
def list_tasks(
    request: Request, session: SessionDep, actor: ActorDep, page: PageDep = 1, page_size: PageSizeDep = 25
) -> Response:
    result = tasks.list_tasks(
        session, actor, TaskQuery.from_params(query_params(request)), PageRequest(page, page_size)
    )
    return page_response(result, TaskRow, TaskOut)


@router.post("/tasks", response_model=TaskOut, status_code=201)
def create_task(body: TaskIn, session: SessionDep, actor: ActorDep) -> TaskOut:
    task = tasks.create_task(session, actor, body.model_dump(exclude_unset=True))
    return _task(session, actor, task.id)


@router.get("/tasks/{task_id}", response_model=TaskOut)
def get_task(task_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> TaskOut:
    return _task(session, actor, task_id)


@router.patch(
    "/tasks/{task_id}",
    response_model=TaskOut,
    responses={409: {"description": "Stale version, or a status move the rules refuse"}},
)
def update_task(task_id: uuid.UUID, body: TaskPatch, session: SessionDep, actor: ActorDep) -> TaskOut:
    changes = body.model_dump(exclude_unset=True)
    version = changes.pop("version")
    tasks.update_task(session, actor, task_id, changes, expected_version=version)
    return _task(session, actor, task_id)


@router.delete("/tasks/{task_id}", status_code=204)
def delete_task(task_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    tasks.delete_task(session, actor, task_id)
    return Response(status_code=204)


# --------------------------------------------------------------------------------------------
# Notes


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID
    can_write: bool = False


class ShareOut(BaseModel):
    user_id: uuid.UUID
    full_name: str
    can_write: bool


class NoteOut(BaseModel):
    id: uuid.UUID
    body: str
    visibility: str
    institution_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    institution_name: str | None
    author_id: uuid.UUID | None
    author_name: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    shares: list[ShareOut]
    can_edit: bool
    can_manage: bool


class NotePage(BaseModel):
    items: list[NoteOut]
    total: int
    page: int
    page_size: int


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str
    visibility: str | None = Field(default=None, description="private (default) or shared")
    institution_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = Field(default=None, description="An opportunity of the same institution")
    shares: list[ShareIn] | None = Field(default=None, description="Replaces the list of users it is shared with")


@partial_model
class NotePatch(NoteIn):
    version: int = _VERSION


def _note(session: SessionDep, actor: ActorDep, note_id: uuid.UUID) -> NoteOut:
    return NoteOut.model_validate(notes.get_note_row(session, actor, note_id), from_attributes=True)


@router.get(
    "/notes",
    response_model=NotePage,
    description="`scope`: all (readable), mine, shared_with_me; `institution_id`; `opportunity_id`; `q` (text).",
)
def list_notes(
    session: SessionDep,
    actor: ActorDep,
    *,
    scope: str = "all",
    institution_id: uuid.UUID | None = None,
    opportunity_id: uuid.UUID | None = None,
    q: str = "",
    page: PageDep = 1,
    page_size: PageSizeDep = 25,
) -> Response:
    if scope not in notes.SCOPES:
        raise ValidationFailed({"scope": N_("Unknown value.")})
    result = notes.list_notes(
        session,
        actor,
        NoteQuery(scope=scope, institution_id=institution_id, opportunity_id=opportunity_id, q=q),
        PageRequest(page, page_size),
    )
    return page_response(result, NoteRow, NoteOut)


@router.post("/notes", response_model=NoteOut, status_code=201)
def create_note(body: NoteIn, session: SessionDep, actor: ActorDep) -> NoteOut:
    note = notes.create_note(session, actor, body.model_dump(exclude_unset=True))
    return _note(session, actor, note.id)


@router.get("/notes/{note_id}", response_model=NoteOut)
def get_note(note_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> NoteOut:
    return _note(session, actor, note_id)


@router.patch("/notes/{note_id}", response_model=NoteOut)
def update_note(note_id: uuid.UUID, body: NotePatch, session: SessionDep, actor: ActorDep) -> NoteOut:
    changes = body.model_dump(exclude_unset=True)
    version = changes.pop("version")
    notes.update_note(session, actor, note_id, changes, expected_version=version)
    return _note(session, actor, note_id)


@router.delete("/notes/{note_id}", status_code=204)
def delete_note(note_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    notes.delete_note(session, actor, note_id)
    return Response(status_code=204)


# --------------------------------------------------------------------------------------------
# Meetings


class ParticipantOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    name: str
    email: str | None
    response: str
    responded_at: datetime | None


class MeetingOut(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    starts_at: datetime
    ends_at: datetime
    location: str | None
    status: str
    organizer_id: uuid.UUID
    organizer_name: str
    institution_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    institution_name: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    participants: list[ParticipantOut]
    my_response: str | None
    can_edit: bool


class MeetingPage(BaseModel):
    items: list[MeetingOut]
    total: int
    page: int
    page_size: int


class MeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    description: str | None = None
    starts_at: str = Field(description="ISO 8601 date-time")
    ends_at: str = Field(description="ISO 8601 date-time")
    location: str | None = None
    status: str | None = None
    institution_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = Field(default=None, description="An opportunity of the same institution")
    participant_user_ids: list[uuid.UUID] | None = Field(default=None, description="Replaces the invited users")
    participant_contact_ids: list[uuid.UUID] | None = Field(default=None, description="Replaces the invited contacts")


@partial_model
class MeetingPatch(MeetingIn):
    version: int = _VERSION


class ResponseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response: str = Field(description="accepted, declined or tentative")


def _meeting(session: SessionDep, actor: ActorDep, meeting_id: uuid.UUID) -> MeetingOut:
    return MeetingOut.model_validate(meetings.get_meeting_row(session, actor, meeting_id), from_attributes=True)


@router.get(
    "/meetings",
    response_model=MeetingPage,
    description="`mine=1` (organised by or inviting me), `from` and `to` (meetings overlapping the window), "
    "`status`, `institution_id`, `opportunity_id`, `q` (title); by start time.",
)
def list_meetings(
    request: Request, session: SessionDep, actor: ActorDep, page: PageDep = 1, page_size: PageSizeDep = 25
) -> Response:
    params = request.query_params
    statuses = tuple(
        meetings.MeetingStatus(v)
        for value in params.getlist("status")
        for v in value.split(",")
        if v in meetings.MeetingStatus.__members__.values()
    )
    try:
        institution_id = uuid.UUID(params["institution_id"]) if params.get("institution_id") else None
    except ValueError:
        raise ValidationFailed({"institution_id": N_("Unknown value.")}) from None
    try:
        opportunity_id = uuid.UUID(params["opportunity_id"]) if params.get("opportunity_id") else None
    except ValueError:
        raise ValidationFailed({"opportunity_id": N_("Unknown value.")}) from None
    query = MeetingQuery(
        mine=params.get("mine") in {"1", "true"},
        starts_from=_when(params.get("from"), "from"),
        starts_to=_when(params.get("to"), "to"),
        statuses=statuses,
        institution_id=institution_id,
        opportunity_id=opportunity_id,
        q=params.get("q", ""),
    )
    result = meetings.list_meetings(session, actor, query, PageRequest(page, page_size))
    return page_response(result, MeetingRow, MeetingOut)


@router.post("/meetings", response_model=MeetingOut, status_code=201)
def create_meeting(body: MeetingIn, session: SessionDep, actor: ActorDep) -> MeetingOut:
    meeting = meetings.create_meeting(session, actor, body.model_dump(exclude_unset=True))
    return _meeting(session, actor, meeting.id)


@router.get("/meetings/{meeting_id}", response_model=MeetingOut)
def get_meeting(meeting_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> MeetingOut:
    return _meeting(session, actor, meeting_id)


@router.patch(
    "/meetings/{meeting_id}",
    response_model=MeetingOut,
    responses={409: {"description": "Stale version, or a status move the rules refuse"}},
)
def update_meeting(meeting_id: uuid.UUID, body: MeetingPatch, session: SessionDep, actor: ActorDep) -> MeetingOut:
    changes = body.model_dump(exclude_unset=True)
    version = changes.pop("version")
    meetings.update_meeting(session, actor, meeting_id, changes, expected_version=version)
    return _meeting(session, actor, meeting_id)


@router.delete("/meetings/{meeting_id}", status_code=204)
def delete_meeting(meeting_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    meetings.delete_meeting(session, actor, meeting_id)
    return Response(status_code=204)


@router.post(
    "/meetings/{meeting_id}/response",
    response_model=MeetingOut,
    responses={409: {"description": "The meeting is not scheduled any more"}},
)
def respond_to_meeting(meeting_id: uuid.UUID, body: ResponseIn, session: SessionDep, actor: ActorDep) -> MeetingOut:
    """Answer an invitation (only an invited user answers, for themselves)."""
    meetings.respond(session, actor, meeting_id, body.response)
    return _meeting(session, actor, meeting_id)


@router.get("/meetings/{meeting_id}/ics", responses={200: {"content": {"text/calendar": {}}}})
def meeting_ics(meeting_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    """The meeting as an iCalendar file (RFC 5545) for any calendar application."""
    content = meetings.meeting_ics(session, actor, meeting_id)
    return Response(
        content,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="meeting-{meeting_id}.ics"'},
    )


# --------------------------------------------------------------------------------------------
# Calls


class CallOut(BaseModel):
    id: uuid.UUID
    direction: str
    called_at: datetime
    duration_seconds: int | None
    summary: str | None
    user_id: uuid.UUID
    user_name: str
    institution_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    institution_name: str | None
    contact_id: uuid.UUID | None
    contact_name: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class CallPage(BaseModel):
    items: list[CallOut]
    total: int
    page: int
    page_size: int


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    direction: str = Field(description="in, out or missed")
    called_at: str | None = Field(default=None, description="ISO 8601 date-time; default: now")
    duration_seconds: int | None = None
    summary: str | None = None
    institution_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = Field(default=None, description="An opportunity of the same institution")
    contact_id: uuid.UUID | None = None


@partial_model
class CallPatch(CallIn):
    version: int = _VERSION


def _call(session: SessionDep, actor: ActorDep, call_id: uuid.UUID) -> CallOut:
    return CallOut.model_validate(calls.get_call_row(session, actor, call_id), from_attributes=True)


@router.get(
    "/calls",
    response_model=CallPage,
    description="`mine=1`, `user_id`, `direction`, `institution_id`, `contact_id`, `opportunity_id`, `from`, "
    "`to` (excluded), `q` (summary); newest first.",
)
def list_calls(
    request: Request, session: SessionDep, actor: ActorDep, page: PageDep = 1, page_size: PageSizeDep = 25
) -> Response:
    params = query_params(request)
    for name in ("from", "to"):
        _when(next(iter(params.get(name, [])), None), name)  # a wrong date is an error, not an empty filter
    result = calls.list_calls(session, actor, CallQuery.from_params(params), PageRequest(page, page_size))
    return page_response(result, CallRow, CallOut)


@router.post("/calls", response_model=CallOut, status_code=201)
def log_call(body: CallIn, session: SessionDep, actor: ActorDep) -> CallOut:
    call = calls.log_call(session, actor, body.model_dump(exclude_unset=True))
    return _call(session, actor, call.id)


@router.get("/calls/{call_id}", response_model=CallOut)
def get_call(call_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> CallOut:
    return _call(session, actor, call_id)


@router.patch("/calls/{call_id}", response_model=CallOut)
def update_call(call_id: uuid.UUID, body: CallPatch, session: SessionDep, actor: ActorDep) -> CallOut:
    changes = body.model_dump(exclude_unset=True)
    version = changes.pop("version")
    calls.update_call(session, actor, call_id, changes, expected_version=version)
    return _call(session, actor, call_id)


@router.delete("/calls/{call_id}", status_code=204)
def delete_call(call_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    calls.delete_call(session, actor, call_id)
    return Response(status_code=204)


# --------------------------------------------------------------------------------------------
# Comments


class MentionOut(BaseModel):
    id: uuid.UUID
    full_name: str
    handle: str


class CommentOut(BaseModel):
    id: uuid.UUID
    target_kind: str
    target_id: uuid.UUID
    body: str
    author_id: uuid.UUID | None
    author_name: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    mentions: list[MentionOut]
    can_edit: bool
    can_delete: bool


class CommentPage(BaseModel):
    items: list[CommentOut]
    total: int
    page: int
    page_size: int


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_kind: str = Field(description="task, meeting, note or quote")
    target_id: uuid.UUID
    body: str = Field(description="Text; `@handle` or `@Full Name` mentions notify those users")


class CommentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str
    version: int = _VERSION


def _comment(row: CommentRow) -> CommentOut:
    return CommentOut.model_validate(row, from_attributes=True)


@router.get("/comments", response_model=CommentPage, description="The comments of one record, oldest first.")
def list_comments(
    session: SessionDep,
    actor: ActorDep,
    *,
    target_kind: str,
    target_id: uuid.UUID,
    page: PageDep = 1,
    page_size: PageSizeDep = 100,
) -> Response:
    result = comments.list_comments(session, actor, target_kind, target_id, PageRequest(page, page_size))
    return page_response(result, CommentRow, CommentOut)


@router.get("/comments/mention-candidates", response_model=list[MentionOut])
def mention_candidates(
    session: SessionDep, actor: ActorDep, prefix: str = "", limit: Annotated[int, Query(ge=1, le=20)] = 8
) -> list[MentionOut]:
    """Users to offer after `@` (name or email local part starting with `prefix`)."""
    return [
        MentionOut.model_validate(m, from_attributes=True)
        for m in comments.mention_candidates(session, actor, prefix, limit=limit)
    ]


@router.post("/comments", response_model=CommentOut, status_code=201)
def add_comment(body: CommentIn, session: SessionDep, actor: ActorDep) -> CommentOut:
    return _comment(comments.add_comment(session, actor, body.target_kind, body.target_id, body.body))


@router.patch("/comments/{comment_id}", response_model=CommentOut)
def update_comment(comment_id: uuid.UUID, body: CommentPatch, session: SessionDep, actor: ActorDep) -> CommentOut:
    return _comment(comments.update_comment(session, actor, comment_id, body.body, expected_version=body.version))


@router.delete("/comments/{comment_id}", status_code=204)
def delete_comment(comment_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    comments.delete_comment(session, actor, comment_id)
    return Response(status_code=204)


# --------------------------------------------------------------------------------------------
# Timeline


class TimelineEntryOut(BaseModel):
    kind: str
    record_id: uuid.UUID
    at: datetime
    title: str | None
    detail: str | None
    status: str | None
    user_name: str | None
    old_value: str | None
    new_value: str | None
    link: str | None
    old_name: str | None = Field(
        None,
        description="For a change of assignee or team: the name of the user or team that `old_value` (an id) refers to",
    )
    new_name: str | None = Field(None, description="The same for `new_value`")


class TimelinePage(BaseModel):
    items: list[TimelineEntryOut]
    total: int
    page: int
    page_size: int


@router.get(
    "/institutions/{institution_id}/timeline",
    response_model=TimelinePage,
    description="Activities and changes of the institution, newest first; `kind` limits the kinds.",
)
def institution_timeline(
    institution_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    *,
    kind: Annotated[list[str] | None, Query()] = None,
    page: PageDep = 1,
    page_size: PageSizeDep = 25,
) -> Response:
    kinds: Any = [k for value in kind for k in value.split(",")] if kind else None
    result = timeline.timeline(session, actor, institution_id, PageRequest(page, page_size), kinds=kinds)
    return page_response(result, TimelineEntry, TimelineEntryOut)


@router.get(
    "/opportunities/{opportunity_id}/activities",
    response_model=TimelinePage,
    description="The tasks, notes, meetings and calls linked to the opportunity that you may see, newest first; "
    "`kind` limits the kinds.",
)
def opportunity_activities(
    opportunity_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    *,
    kind: Annotated[list[str] | None, Query()] = None,
    page: PageDep = 1,
    page_size: PageSizeDep = 25,
) -> Response:
    kinds: Any = [k for value in kind for k in value.split(",")] if kind else None
    result = activity_timeline.opportunity_activities(
        session, actor, opportunity_id, PageRequest(page, page_size), kinds=kinds
    )
    return page_response(result, TimelineEntry, TimelineEntryOut)
