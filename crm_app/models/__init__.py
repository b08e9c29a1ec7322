"""All tables; importing this package registers them on SQLModel.metadata (Alembic reads it)."""

from .audit import SecurityAction, SecurityEvent, Severity
from .base import Tracked, UTCDateTime, utcnow
from .users import AuthSession, LoginAttempt, RefreshToken, Role, SessionKind, Team, Theme, User

__all__ = [
    "AuthSession",
    "LoginAttempt",
    "RefreshToken",
    "Role",
    "SecurityAction",
    "SecurityEvent",
    "SessionKind",
    "Severity",
    "Team",
    "Theme",
    "Tracked",
    "UTCDateTime",
    "User",
    "utcnow",
]
