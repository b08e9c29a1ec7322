"""The email templates of sales documents: their kinds and placeholders, the built-in texts (gettext,
in the recipient's language), the administrator's overrides (the "templates" settings section), and
their rendering. Placeholders are replaced by plain substitution, never `str.format`."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlmodel import Session

from crm_app.platform.i18n import N_, SUPPORTED_LOCALES, gettext, use_locale
from crm_app.platform.settings import section_values

TEMPLATE_KINDS: tuple[str, ...] = (
    "quote",
    "order",
    "invoice",
    "credit_note",
    "invoice_reminder",
    "quote_reminder_owner",
    "invoice_reminder_owner",
)
TEMPLATE_TITLES: dict[str, str] = {
    "quote": N_("Quote sent to the client"),
    "order": N_("Order confirmation sent to the client"),
    "invoice": N_("Invoice sent to the client"),
    "credit_note": N_("Credit note sent to the client"),
    "invoice_reminder": N_("Payment reminder to the client"),
    "quote_reminder_owner": N_("Quote reminder to the salesperson"),
    "invoice_reminder_owner": N_("Invoice follow-up to the salesperson"),
}
#: Placeholders a template may use, with what they hold (shown beside the template editor).
PLACEHOLDERS: dict[str, str] = {
    "number": N_("the document's number"),
    "title": N_("the document's subject"),
    "institution": N_("the client institution"),
    "contact": N_("the contact's name"),
    "total": N_("the total incl. VAT"),
    "total_excl_vat": N_("the total excl. VAT"),
    "amount_due": N_("the amount still due (invoices)"),
    "issue_date": N_("the document's date"),
    "due_date": N_("the due date (invoices)"),
    "valid_until": N_("the validity date (quotes)"),
    "days": N_("days before (negative) or after the due or validity date (reminders)"),
    "salesperson": N_("the salesperson's name"),
    "company": N_("your company's name"),
}
_DEFAULT_SUBJECTS: dict[str, str] = {
    "quote": N_("Quote {number} – {company}"),
    "order": N_("Order confirmation {number} – {company}"),
    "invoice": N_("Invoice {number} – {company}"),
    "credit_note": N_("Credit note {number} – {company}"),
    "invoice_reminder": N_("Reminder: invoice {number} due on {due_date}"),
    "quote_reminder_owner": N_("Quote {number} for {institution}: validity ends on {valid_until}"),
    "invoice_reminder_owner": N_("Invoice {number} for {institution}: due on {due_date}"),
}
_DEFAULT_BODIES: dict[str, str] = {
    "quote": N_(
        "Hello,\n\nPlease find attached our quote {number} for {institution}, for a total of {total} "
        "incl. VAT. It is valid until {valid_until}.\n\nWe remain at your disposal for any question."
        "\n\nBest regards,\n{salesperson}\n{company}"
    ),
    "order": N_(
        "Hello,\n\nThank you for your order. Please find attached our order confirmation {number} for "
        "{institution}, for a total of {total} incl. VAT.\n\nBest regards,\n{salesperson}\n{company}"
    ),
    "invoice": N_(
        "Hello,\n\nPlease find attached our invoice {number} for {institution}, for a total of {total} "
        "incl. VAT, due on {due_date}.\n\nBest regards,\n{salesperson}\n{company}"
    ),
    "credit_note": N_(
        "Hello,\n\nPlease find attached our credit note {number} for {institution}, for a total of "
        "{total} incl. VAT.\n\nBest regards,\n{salesperson}\n{company}"
    ),
    "invoice_reminder": N_(
        "Hello,\n\nUnless we are mistaken, invoice {number} of {issue_date} for {institution} "
        "({amount_due} still due) was due on {due_date}. If your payment has crossed this "
        "message, please disregard it.\n\nBest regards,\n{salesperson}\n{company}"
    ),
    "quote_reminder_owner": N_(
        "The quote {number} for {institution} ({total} incl. VAT) is valid until "
        "{valid_until}. It may be time to follow it up with the client."
    ),
    "invoice_reminder_owner": N_(
        "The invoice {number} for {institution} ({amount_due} still due) is due on "
        "{due_date}. It may be time to follow it up with the client."
    ),
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def template_placeholders(text: str) -> list[str]:
    """The placeholder names a template uses, in order ("{number}" → "number")."""
    return _PLACEHOLDER.findall(text)


def check_template(text: str) -> str | None:
    """A gettext id describing what is wrong with a template text, or None when it is fine."""
    unknown = [name for name in template_placeholders(text) if name not in PLACEHOLDERS]
    if unknown:
        return N_("Unknown placeholder: use only the listed placeholders, such as {number}.")
    stripped = _PLACEHOLDER.sub("", text)
    if "{" in stripped or "}" in stripped:
        return N_("A brace is not closed: write placeholders as {number}.")
    return None


def _fill(text: str, fields: Mapping[str, str]) -> str:
    # Plain substitution (never str.format on an admin's text: no attribute or index access).
    return _PLACEHOLDER.sub(lambda m: str(fields.get(m.group(1), m.group(0))), text)


def _overrides(session: Session | None) -> dict[str, str]:
    return {k: str(v) for k, v in section_values("templates", session).items() if v}


def render_template(
    kind: str, fields: Mapping[str, str], language: str, *, session: Session | None = None
) -> tuple[str, str]:
    """(subject, body) of an email template: the admin's text when set, else the default in `language`,
    its placeholders replaced by `fields` (see `template_fields`); unknown ones are left as they are."""
    if kind not in TEMPLATE_KINDS:
        raise ValueError(f"unknown template kind: {kind}")
    overrides = _overrides(session)
    with use_locale(language if language in SUPPORTED_LOCALES else None):
        subject = overrides.get(f"{kind}_subject") or gettext(_DEFAULT_SUBJECTS[kind])
        body = overrides.get(f"{kind}_body") or gettext(_DEFAULT_BODIES[kind])
    return " ".join(_fill(subject, fields).split()), _fill(body, fields)


def default_template(kind: str, language: str) -> tuple[str, str]:
    """The built-in (subject, body) of a kind in a language, placeholders kept (for the editor)."""
    with use_locale(language):
        return gettext(_DEFAULT_SUBJECTS[kind]), gettext(_DEFAULT_BODIES[kind])
