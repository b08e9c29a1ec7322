"""Activities on accounts: tasks, notes (and their shares), meetings (and participants), calls
(DOMAIN.md "Activities"); comments are the platform's (`crm_app.platform.models.comments`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import Tracked, UTCDateTime, in_check, timestamp_column, utcnow, uuid_pk


class TaskStatus(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class NoteVisibility(StrEnum):
    PRIVATE = "private"  # the author and the users it is shared with
    SHARED = "shared"  # everyone who sees the institution


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"


class ParticipantResponse(StrEnum):
    INVITED = "invited"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"


class CallDirection(StrEnum):
    IN = "in"
    OUT = "out"
    MISSED = "missed"


class TaskAlertKind(StrEnum):
    DUE_SOON = "due_soon"  # due within 24 hours
    OVERDUE = "overdue"


#: Task statuses that still call for work (and for due-date alerts).
OPEN_TASK_STATUSES = (TaskStatus.TODO, TaskStatus.IN_PROGRESS)
_OPEN_TASKS = sa.text("status IN ('todo', 'in_progress')")
_DONE_TASKS = sa.text("status = 'done'")


class Task(Tracked, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        sa.CheckConstraint(in_check("status", TaskStatus), name="status"),
        sa.CheckConstraint(in_check("priority", TaskPriority), name="priority"),
        sa.CheckConstraint("completed_at IS NULL OR status = 'done'", name="completed_only_when_done"),
        # "My tasks" and the board: the assignee's tasks by status, soonest due first.
        sa.Index("ix_tasks_assignee", "assignee_id", "status", "due_at", "id"),
        sa.Index("ix_tasks_team", "team_id", "status", "due_at", "id"),
        sa.Index("ix_tasks_created_by", "created_by", "status", "due_at"),
        sa.Index("ix_tasks_institution", "institution_id", "created_at"),
        sa.Index("ix_tasks_opportunity", "opportunity_id", "created_at"),
        sa.Index("ix_tasks_contact", "contact_id"),
        sa.Index("ix_tasks_status_due", "status", "due_at", "id"),
        sa.Index("ix_tasks_priority", "priority", "due_at"),
        # The alert job reads only the open tasks that have a due date.
        sa.Index("ix_tasks_open_due", "due_at", postgresql_where=_OPEN_TASKS, sqlite_where=_OPEN_TASKS),
        # The dashboard's tasks done in a period, per person (covering: migration 0022).
        sa.Index(
            "ix_tasks_done_at",
            "completed_at",
            postgresql_include=["assignee_id", "team_id"],
            postgresql_where=_DONE_TASKS,
            sqlite_where=_DONE_TASKS,
        ),
    )

    id: uuid.UUID = uuid_pk()
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_type=sa.Text)
    status: TaskStatus = Field(default=TaskStatus.TODO, sa_type=sa.String(20), nullable=False)
    priority: TaskPriority = Field(default=TaskPriority.NORMAL, sa_type=sa.String(10), nullable=False)
    due_at: datetime | None = timestamp_column()
    completed_at: datetime | None = timestamp_column()
    assignee_id: uuid.UUID = Field(foreign_key="users.id", ondelete="RESTRICT")
    # The assignee's team when assigned: managers see their team's tasks through an index.
    team_id: uuid.UUID | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL")
    institution_id: uuid.UUID | None = Field(default=None, foreign_key="institutions.id", ondelete="CASCADE")
    # The sale it serves, if any (the opportunity's page lists its activities).
    opportunity_id: uuid.UUID | None = Field(default=None, foreign_key="opportunities.id", ondelete="SET NULL")
    contact_id: uuid.UUID | None = Field(default=None, foreign_key="contacts.id", ondelete="SET NULL")
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class Note(Tracked, table=True):
    """`created_by` is the author."""

    __tablename__ = "notes"
    __table_args__ = (
        sa.CheckConstraint(in_check("visibility", NoteVisibility), name="visibility"),
        sa.Index("ix_notes_author", "created_by", "updated_at"),
        sa.Index("ix_notes_institution", "institution_id", "created_at"),
        sa.Index("ix_notes_opportunity", "opportunity_id", "created_at"),
        # The dashboard's notes written in a period, per author (migration 0022).
        sa.Index(
            "ix_notes_written_figures",
            "created_at",
            postgresql_include=["created_by", "team_id"],
            postgresql_where=sa.text("created_by IS NOT NULL"),
            sqlite_where=sa.text("created_by IS NOT NULL"),
        ),
    )

    id: uuid.UUID = uuid_pk()
    body: str = Field(sa_type=sa.Text)
    visibility: NoteVisibility = Field(default=NoteVisibility.PRIVATE, sa_type=sa.String(10), nullable=False)
    institution_id: uuid.UUID | None = Field(default=None, foreign_key="institutions.id", ondelete="CASCADE")
    # The sale it serves, if any (the opportunity's page lists its activities).
    opportunity_id: uuid.UUID | None = Field(default=None, foreign_key="opportunities.id", ondelete="SET NULL")
    team_id: uuid.UUID | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL")
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class NoteShare(SQLModel, table=True):
    """A note shared with a named user, for reading or also for writing."""

    __tablename__ = "note_shares"
    __table_args__ = (sa.Index("ix_note_shares_user", "user_id", "note_id"),)

    note_id: uuid.UUID = Field(foreign_key="notes.id", ondelete="CASCADE", primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    can_write: bool = Field(default=False, nullable=False)


class Meeting(Tracked, table=True):
    __tablename__ = "meetings"
    __table_args__ = (
        sa.CheckConstraint(in_check("status", MeetingStatus), name="status"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.Index("ix_meetings_organizer", "organizer_id", "starts_at"),
        sa.Index("ix_meetings_team", "team_id", "starts_at"),
        sa.Index("ix_meetings_institution", "institution_id", "starts_at"),
        sa.Index("ix_meetings_opportunity", "opportunity_id", "starts_at"),
        sa.Index("ix_meetings_starts", "starts_at", "id"),
        sa.Index("ix_meetings_status", "status", "starts_at"),
        # The dashboard's meetings in a period, per organiser (migration 0022).
        sa.Index(
            "ix_meetings_held_figures",
            "starts_at",
            postgresql_include=["organizer_id", "team_id"],
            postgresql_where=sa.text("status <> 'cancelled'"),
            sqlite_where=sa.text("status <> 'cancelled'"),
        ),
    )

    id: uuid.UUID = uuid_pk()
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_type=sa.Text)
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ends_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    location: str | None = Field(default=None, max_length=250)
    status: MeetingStatus = Field(default=MeetingStatus.SCHEDULED, sa_type=sa.String(20), nullable=False)
    organizer_id: uuid.UUID = Field(foreign_key="users.id", ondelete="RESTRICT")
    team_id: uuid.UUID | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL")
    institution_id: uuid.UUID | None = Field(default=None, foreign_key="institutions.id", ondelete="CASCADE")
    # The sale it serves, if any (the opportunity's page lists its activities).
    opportunity_id: uuid.UUID | None = Field(default=None, foreign_key="opportunities.id", ondelete="SET NULL")
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class MeetingParticipant(SQLModel, table=True):
    """One invited user or contact of a meeting, with their answer."""

    __tablename__ = "meeting_participants"
    __table_args__ = (
        sa.CheckConstraint(in_check("response", ParticipantResponse), name="response"),
        sa.CheckConstraint("(user_id IS NULL) <> (contact_id IS NULL)", name="user_or_contact"),
        sa.Index("uq_meeting_participants_user", "user_id", "meeting_id", unique=True),
        sa.Index("uq_meeting_participants_contact", "contact_id", "meeting_id", unique=True),
        sa.Index("ix_meeting_participants_meeting", "meeting_id"),
    )

    id: uuid.UUID = uuid_pk()
    meeting_id: uuid.UUID = Field(foreign_key="meetings.id", ondelete="CASCADE")
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE")
    contact_id: uuid.UUID | None = Field(default=None, foreign_key="contacts.id", ondelete="CASCADE")
    response: ParticipantResponse = Field(default=ParticipantResponse.INVITED, sa_type=sa.String(10), nullable=False)
    responded_at: datetime | None = timestamp_column()


class Call(Tracked, table=True):
    """A phone call logged by `user_id` (who made, took or missed it)."""

    __tablename__ = "calls"
    __table_args__ = (
        sa.CheckConstraint(in_check("direction", CallDirection), name="direction"),
        sa.CheckConstraint("duration_seconds IS NULL OR duration_seconds >= 0", name="duration"),
        sa.Index("ix_calls_user", "user_id", "called_at", "id"),
        sa.Index("ix_calls_team", "team_id", "called_at", "id"),
        sa.Index("ix_calls_institution", "institution_id", "called_at"),
        sa.Index("ix_calls_opportunity", "opportunity_id", "called_at"),
        sa.Index("ix_calls_contact", "contact_id", "called_at"),
        sa.Index("ix_calls_direction", "direction", "called_at"),
        sa.Index("ix_calls_called_at", "called_at", "id"),
        # The dashboard's calls in a period, per caller (migration 0022).
        sa.Index("ix_calls_logged_figures", "called_at", postgresql_include=["user_id", "team_id"]),
    )

    id: uuid.UUID = uuid_pk()
    direction: CallDirection = Field(sa_type=sa.String(10), nullable=False)
    called_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    duration_seconds: int | None = None
    summary: str | None = Field(default=None, sa_type=sa.Text)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="RESTRICT")
    team_id: uuid.UUID | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL")
    institution_id: uuid.UUID | None = Field(default=None, foreign_key="institutions.id", ondelete="CASCADE")
    # The sale it serves, if any (the opportunity's page lists its activities).
    opportunity_id: uuid.UUID | None = Field(default=None, foreign_key="opportunities.id", ondelete="SET NULL")
    contact_id: uuid.UUID | None = Field(default=None, foreign_key="contacts.id", ondelete="SET NULL")
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class TaskAlert(SQLModel, table=True):
    """One alert sent: the primary key makes it once per task, kind and due date (a new due date
    arms the alerts again), whatever the number of runs or servers."""

    __tablename__ = "task_alerts_sent"
    __table_args__ = (sa.CheckConstraint(in_check("kind", TaskAlertKind), name="kind"),)

    task_id: uuid.UUID = Field(foreign_key="tasks.id", ondelete="CASCADE", primary_key=True)
    kind: TaskAlertKind = Field(sa_type=sa.String(10), primary_key=True)
    due_at: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
