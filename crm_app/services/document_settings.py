"""What sales documents read from the settings: numbering prefixes, VAT rates, payment terms,
late-payment mentions, the company's branding, reminder rules and email templates.

The values are kept in the settings sections "documents", "branding", "reminders" and "templates"
(`crm_app.services.settings`, edited on /admin/settings); anything not set there takes the defaults
below. Readers get typed, immutable views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from . import settings
from .money import DEFAULT_VAT_RATES

DEFAULT_INVOICE_LEVELS: tuple[int, ...] = (-7, 1, 15, 30)

DOCUMENT_DEFAULTS: dict[str, Any] = {
    "quote_prefix": "DEV", "order_prefix": "BC", "invoice_prefix": "FAC", "credit_note_prefix": "AV",
    "vat_rates": [str(rate) for rate in DEFAULT_VAT_RATES], "default_vat_rate": "20",
    "payment_terms_days": 30, "quote_validity_days": 30,
    # French law (Code de commerce L441-10): at least 3 × the legal interest rate; 10 % is usual.
    "late_penalty_rate": "10", "recovery_indemnity": "40",
}
BRANDING_DEFAULTS: dict[str, Any] = {
    "legal_name": "", "address": "", "siret": "", "vat_number": "", "rcs": "", "share_capital": "",
    "phone": "", "email": "", "website": "", "accent_color": "#1565c0", "iban": "", "bic": "",
    "payment_instructions": "", "footer": "", "terms": "", "logo_path": "",
}
REMINDER_DEFAULTS: dict[str, Any] = {
    "quote_reminders": ["j-7", "j-3", "j0", "j+7"], "quote_followup_task": True,
    "invoice_levels": list(DEFAULT_INVOICE_LEVELS), "invoice_email_client": False,
}


@dataclass(frozen=True, slots=True)
class DocumentSettings:
    quote_prefix: str
    order_prefix: str
    invoice_prefix: str
    credit_note_prefix: str
    vat_rates: tuple[Decimal, ...]
    default_vat_rate: Decimal
    payment_terms_days: int
    quote_validity_days: int
    late_penalty_rate: Decimal  # percent per year, printed on invoices
    recovery_indemnity: Decimal  # the fixed indemnity for recovery costs (€40)


@dataclass(frozen=True, slots=True)
class Branding:
    """The seller's identity and the look of the PDFs. `logo_path` is relative to DATA_DIR/files."""

    legal_name: str
    address: str  # several lines
    siret: str
    vat_number: str
    rcs: str
    share_capital: str
    phone: str
    email: str
    website: str
    accent_color: str  # #rrggbb
    iban: str
    bic: str
    payment_instructions: str
    footer: str
    terms: str
    logo_path: str


@dataclass(frozen=True, slots=True)
class ReminderRules:
    quote_reminders: frozenset[str]  # the QuoteReminderKind values that are on
    quote_followup_task: bool  # also create a follow-up task for the salesperson
    invoice_levels: tuple[int, ...]  # days relative to the due date, negative before it
    invoice_email_client: bool  # also email the client's billing contact at each level
    extra: dict[str, Any] = field(default_factory=dict)


def _section(name: str, defaults: dict[str, Any], session: Session | None) -> dict[str, Any]:
    stored = settings.effective(session).get(name, {})
    return {**defaults, **{key: value for key, value in stored.items() if key in defaults}}


def document_settings(session: Session | None = None) -> DocumentSettings:
    values = _section("documents", DOCUMENT_DEFAULTS, session)
    return DocumentSettings(
        quote_prefix=str(values["quote_prefix"]), order_prefix=str(values["order_prefix"]),
        invoice_prefix=str(values["invoice_prefix"]), credit_note_prefix=str(values["credit_note_prefix"]),
        vat_rates=tuple(Decimal(str(rate)) for rate in values["vat_rates"]),
        default_vat_rate=Decimal(str(values["default_vat_rate"])),
        payment_terms_days=int(values["payment_terms_days"]), quote_validity_days=int(values["quote_validity_days"]),
        late_penalty_rate=Decimal(str(values["late_penalty_rate"])),
        recovery_indemnity=Decimal(str(values["recovery_indemnity"])))


def branding(session: Session | None = None) -> Branding:
    values = _section("branding", BRANDING_DEFAULTS, session)
    return Branding(**{name: str(values[name] or "") for name in BRANDING_DEFAULTS})


def reminder_rules(session: Session | None = None) -> ReminderRules:
    values = _section("reminders", REMINDER_DEFAULTS, session)
    return ReminderRules(quote_reminders=frozenset(values["quote_reminders"]),
                         quote_followup_task=bool(values["quote_followup_task"]),
                         invoice_levels=tuple(sorted(int(level) for level in values["invoice_levels"])),
                         invoice_email_client=bool(values["invoice_email_client"]))
