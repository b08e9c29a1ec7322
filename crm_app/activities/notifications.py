"""What the activities tell people: their notification kinds, the pages of their records, and the
subscribers that turn task and meeting events into notifications (`crm_app.bootstrap` wires them)."""

from __future__ import annotations

from sqlmodel import Session

from crm_app.activities.labels import RESPONSE_LABELS, TASK_STATUS_LABELS
from crm_app.activities.models import ParticipantResponse, TaskAlertKind, TaskStatus
from crm_app.platform import events
from crm_app.platform.i18n import N_
from crm_app.platform.notifications import actor_name, notify

NOTIFICATION_KINDS: dict[str, str] = {
    "task.assigned": N_("{actor} assigned you the task “{title}”"),
    "task.status_changed": N_("{actor} moved your task “{title}” to {status_label}"),
    "task.due_soon": N_("The task “{title}” is due within 24 hours"),
    "task.overdue": N_("The task “{title}” is overdue"),
    "meeting.invited": N_("{actor} invited you to the meeting “{title}”"),
    "meeting.answered": N_("{actor} answered “{response_label}” to the meeting “{title}”"),
}

RECORD_LINKS: dict[str, str] = {
    "task": "/tasks/{id}",
    "meeting": "/meetings/{id}",
    "note": "/notes/{id}",
    "call": "/calls/{id}",
}


def _task_assigned(session: Session, event: events.TaskAssigned) -> None:
    notify(
        session,
        [event.assignee_id],
        kind="task.assigned",
        record_kind="task",
        record_id=event.task_id,
        params={"actor": actor_name(session, event.actor_id), "title": event.title},
        actor_id=event.actor_id,
    )


def _task_status_changed(session: Session, event: events.TaskStatusChanged) -> None:
    notify(
        session,
        [event.creator_id],
        kind="task.status_changed",
        record_kind="task",
        record_id=event.task_id,
        params={
            "actor": actor_name(session, event.actor_id),
            "title": event.title,
            "status": event.new_status,
            "status_label": TASK_STATUS_LABELS[TaskStatus(event.new_status)],
        },
        actor_id=event.actor_id,
    )


def _task_alert(session: Session, event: events.TaskAlertDue) -> None:
    kind = "task.overdue" if event.kind == TaskAlertKind.OVERDUE else "task.due_soon"
    notify(
        session,
        [event.assignee_id],
        kind=kind,
        record_kind="task",
        record_id=event.task_id,
        params={"title": event.title, "due_at": event.due_at.isoformat()},
        actor_id=event.actor_id,
    )


def _meeting_invited(session: Session, event: events.MeetingInvited) -> None:
    notify(
        session,
        event.user_ids,
        kind="meeting.invited",
        record_kind="meeting",
        record_id=event.meeting_id,
        params={
            "actor": actor_name(session, event.actor_id),
            "title": event.title,
            "starts_at": event.starts_at.isoformat(),
        },
        actor_id=event.actor_id,
    )


def _meeting_answered(session: Session, event: events.MeetingAnswered) -> None:
    notify(
        session,
        [event.organizer_id],
        kind="meeting.answered",
        record_kind="meeting",
        record_id=event.meeting_id,
        params={
            "actor": actor_name(session, event.actor_id),
            "title": event.title,
            "response": event.response,
            "response_label": RESPONSE_LABELS[ParticipantResponse(event.response)],
        },
        actor_id=event.actor_id,
    )


SUBSCRIBERS: tuple[events.Subscription, ...] = (
    events.Subscription(events.TaskAssigned, _task_assigned),
    events.Subscription(events.TaskStatusChanged, _task_status_changed),
    events.Subscription(events.TaskAlertDue, _task_alert),
    events.Subscription(events.MeetingInvited, _meeting_invited),
    events.Subscription(events.MeetingAnswered, _meeting_answered),
)
