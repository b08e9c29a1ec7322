"""The quote reminder kinds, one row each: when the reminder is due and how each screen names it.

The daily job (`crm_app.sales.reminders`), the reminder settings and their defaults
(`crm_app.sales.document_settings`), the settings page and the quote screen read this table. The
kind's code is the database value (`QuoteReminderKind`, stored in `quote_reminders.kind` and in the
"reminders" settings): adding a kind adds a member there and a row here.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_app.platform.i18n import N_
from crm_app.sales.models.quotes import QuoteReminderKind


@dataclass(frozen=True, slots=True)
class QuoteReminderSpec:
    kind: QuoteReminderKind
    offset: int  # days relative to the quote's validity date, negative before it
    stage: str  # N_: the notification and email to the salesperson ("Quote Q-1 for X: {stage}")
    label: str  # N_: the quote screen's list of sent reminders
    setting_label: str  # N_: the choice in the reminder settings


#: In the order they fall due (the catch-up rule of the daily job relies on it).
QUOTE_REMINDERS: tuple[QuoteReminderSpec, ...] = (
    QuoteReminderSpec(
        QuoteReminderKind.BEFORE_7,
        -7,
        stage=N_("expires within a week"),
        label=N_("7 days before expiry"),
        setting_label=N_("7 days before the validity date"),
    ),
    QuoteReminderSpec(
        QuoteReminderKind.BEFORE_3,
        -3,
        stage=N_("expires within three days"),
        label=N_("3 days before expiry"),
        setting_label=N_("3 days before"),
    ),
    QuoteReminderSpec(
        QuoteReminderKind.DAY_0,
        0,
        stage=N_("expires today"),
        label=N_("Expiry day"),
        setting_label=N_("On the validity date"),
    ),
    QuoteReminderSpec(
        QuoteReminderKind.AFTER_7,
        7,
        stage=N_("expired over a week ago, follow it up"),
        label=N_("7 days after expiry"),
        setting_label=N_("7 days after"),
    ),
)

QUOTE_REMINDER_SPECS: dict[QuoteReminderKind, QuoteReminderSpec] = {spec.kind: spec for spec in QUOTE_REMINDERS}
