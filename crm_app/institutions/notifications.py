"""What institutions tell people: the assignment of an institution notifies its new owner."""

from __future__ import annotations

from sqlmodel import Session

from crm_app.platform import events
from crm_app.platform.i18n import N_
from crm_app.platform.notifications import actor_name, notify

NOTIFICATION_KINDS: dict[str, str] = {"institution.assigned": N_("{actor} assigned you the institution {name}")}

RECORD_LINKS: dict[str, str] = {"institution": "/institutions/{id}"}


def _institution_assigned(session: Session, event: events.InstitutionAssigned) -> None:
    notify(
        session,
        [event.assignee_id],
        kind="institution.assigned",
        record_kind="institution",
        record_id=event.institution_id,
        params={"actor": actor_name(session, event.actor_id), "name": event.institution_name},
        actor_id=event.actor_id,
    )


SUBSCRIBERS: tuple[events.Subscription, ...] = (events.Subscription(events.InstitutionAssigned, _institution_assigned),)
