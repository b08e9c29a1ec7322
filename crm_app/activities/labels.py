"""The words of the activities' codes (statuses, priorities, visibilities, answers, directions), as
N_() message ids translated where they are shown."""

from __future__ import annotations

from crm_app.activities.models import (
    CallDirection,
    MeetingStatus,
    NoteVisibility,
    ParticipantResponse,
    TaskPriority,
    TaskStatus,
)
from crm_app.platform.i18n import N_

TASK_STATUS_LABELS: dict[TaskStatus, str] = {
    TaskStatus.TODO: N_("To do"),
    TaskStatus.IN_PROGRESS: N_("In progress"),
    TaskStatus.DONE: N_("Done"),
    TaskStatus.CANCELLED: N_("Cancelled"),
}
TASK_PRIORITY_LABELS: dict[TaskPriority, str] = {
    TaskPriority.LOW: N_("Low"),
    TaskPriority.NORMAL: N_("Normal"),
    TaskPriority.HIGH: N_("High"),
    TaskPriority.URGENT: N_("Urgent"),
}
NOTE_VISIBILITY_LABELS: dict[NoteVisibility, str] = {
    NoteVisibility.PRIVATE: N_("Private"),
    NoteVisibility.SHARED: N_("Shared"),
}
MEETING_STATUS_LABELS: dict[MeetingStatus, str] = {
    MeetingStatus.SCHEDULED: N_("Scheduled"),
    MeetingStatus.DONE: N_("Held"),
    MeetingStatus.CANCELLED: N_("Cancelled"),
}
RESPONSE_LABELS: dict[ParticipantResponse, str] = {
    ParticipantResponse.INVITED: N_("Invited"),
    ParticipantResponse.ACCEPTED: N_("Accepted"),
    ParticipantResponse.DECLINED: N_("Declined"),
    ParticipantResponse.TENTATIVE: N_("Tentative"),
}
CALL_DIRECTION_LABELS: dict[CallDirection, str] = {
    CallDirection.IN: N_("Incoming"),
    CallDirection.OUT: N_("Outgoing"),
    CallDirection.MISSED: N_("Missed"),
}
