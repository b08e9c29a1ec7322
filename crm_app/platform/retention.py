"""Retention: the daily purge of old security log entries and old read notifications, and the
"retention" settings section that sets how long each is kept."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from crm_app.platform import notifications, settings
from crm_app.platform.i18n import N_
from crm_app.platform.models.audit import SecurityEvent, Severity
from crm_app.platform.models.base import utcnow
from crm_app.platform.scheduler import Job, cron

#: Security log retention by severity (medium entries are kept as long as high ones).
SECURITY_LOG_RETENTION: dict[Severity, timedelta] = {
    Severity.LOW: timedelta(days=90),
    Severity.MEDIUM: timedelta(days=365),
    Severity.HIGH: timedelta(days=365),
}


def purge_security_log(
    session: Session, *, now: datetime | None = None, retention: dict[Severity, timedelta] | None = None
) -> int:
    """Delete security log entries past their retention (by default low after 90 days, high after 365)."""
    now = now or utcnow()
    expired = sa.or_(
        *(
            sa.and_(col(SecurityEvent.severity) == severity.value, col(SecurityEvent.at) < now - keep)
            for severity, keep in (retention or SECURITY_LOG_RETENTION).items()
        )
    )
    result = session.exec(sa.delete(SecurityEvent).where(expired))
    return int(result.rowcount or 0)


def apply_retention(session: Session) -> dict[str, int]:
    """The daily retention job: old security log entries, old read notifications."""
    # set in /admin/settings; the defaults are the constants above
    days = {k: int(v) for k, v in settings.section_values("retention", session).items()}
    low, high = timedelta(days=days["security_log_low_days"]), timedelta(days=days["security_log_high_days"])
    retention = {Severity.LOW: low, Severity.MEDIUM: high, Severity.HIGH: high}
    return {
        "security_events": purge_security_log(session, retention=retention),
        "notifications": notifications.purge_read(session, older_than=timedelta(days=days["notifications_days"])),
    }


def _defaults(env: Any) -> dict[str, Any]:
    return {
        "security_log_low_days": SECURITY_LOG_RETENTION[Severity.LOW].days,
        "security_log_high_days": SECURITY_LOG_RETENTION[Severity.HIGH].days,
        "notifications_days": notifications.RETENTION.days,
    }


def _check(after: dict[str, Any], errors: dict[str, str]) -> None:
    if "security_log_high_days" not in errors and after["security_log_high_days"] < after["security_log_low_days"]:
        errors["security_log_high_days"] = N_("Keep important entries at least as long as the others.")


SECTIONS = (
    settings.Section(
        "retention",
        N_("Retention"),
        "settings.system",
        _defaults,
        {
            name: settings.whole_check(1, 3650)
            for name in ("security_log_low_days", "security_log_high_days", "notifications_days")
        },
        _check,
    ),
)

JOBS = (
    Job(
        "retention",
        cron(hour=2, minute=0),
        apply_retention,
        "Purge old security log entries and old read notifications.",
    ),
)
