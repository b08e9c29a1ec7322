"""Writing to the security log (who did what security-relevant thing, from where)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from ..models import SecurityAction, SecurityEvent, Severity
from .permissions import Actor


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from, for the security log and the session list."""

    ip: str | None = None
    user_agent: str | None = None


def record(session: Session, action: SecurityAction | str, *, severity: Severity = Severity.LOW,
           user_id: uuid.UUID | None = None, email: str | None = None, client: ClientInfo | None = None,
           **details: Any) -> SecurityEvent:
    """Add one entry; it is committed with the surrounding unit of work."""
    client = client or ClientInfo()
    event = SecurityEvent(action=str(action), severity=severity, user_id=user_id, email=email,
                          ip=client.ip, user_agent=(client.user_agent or "")[:300] or None,
                          details={k: v for k, v in details.items() if v is not None})
    session.add(event)
    return event


def log_refusal(actor: Actor | None, action: str, client: ClientInfo | None = None) -> None:
    """Record a refused action in its own unit of work (the refused one was rolled back)."""
    from ..db import unit_of_work

    with unit_of_work() as session:
        record(session, SecurityAction.ACTION_REFUSED, severity=Severity.MEDIUM,
               user_id=actor.id if actor and actor.id.int else None, email=actor.email if actor else None,
               client=client, refused=action)
