"""One concept, one definition: the tables that the other places read are complete and are read."""

from __future__ import annotations

from crm_app.sales import document_settings
from crm_app.sales.models.quotes import QuoteReminderKind
from crm_app.sales.reminder_kinds import QUOTE_REMINDER_SPECS, QUOTE_REMINDERS


def test_every_quote_reminder_kind_is_one_row_in_due_order() -> None:
    assert [spec.kind for spec in QUOTE_REMINDERS] == list(QuoteReminderKind)
    assert len(QUOTE_REMINDER_SPECS) == len(QUOTE_REMINDERS)
    assert [spec.offset for spec in QUOTE_REMINDERS] == sorted(spec.offset for spec in QUOTE_REMINDERS)


def test_reminder_settings_offer_the_kinds_of_the_table() -> None:
    codes = [kind.value for kind in QuoteReminderKind]
    assert list(document_settings.QUOTE_REMINDER_KINDS) == codes
    assert document_settings.REMINDER_DEFAULTS["quote_reminders"] == codes == ["j-7", "j-3", "j0", "j+7"]
