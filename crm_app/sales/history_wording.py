"""How the audit entries of quotes, orders, invoices, credit notes and opportunities read in words,
wherever they are shown (the quote's and the invoice's own History, the institution's timeline and
History): what was done, to which document, the fields' names and how their values read.
`crm_app.bootstrap` registers them."""

from __future__ import annotations

from typing import Any

from crm_app.platform.audit import Wording
from crm_app.platform.i18n import N_, NP_
from crm_app.sales.invoices import CREDIT_NOTE_STATUS_LABELS, STATUS_LABELS
from crm_app.sales.models.invoices import Invoice
from crm_app.sales.models.opportunities import LostReason, Opportunity
from crm_app.sales.models.quotes import DocumentKind, Quote
from crm_app.sales.opportunities import DEFAULT_LOST_REASONS, SOURCE_LABELS, STAGE_LABELS
from crm_app.sales.opportunities import ENTITY as OPPORTUNITY
from crm_app.sales.quotes import QUOTE_STATUS_LABELS

#: A document without a number yet (a draft), where its name goes ("Facture brouillon créée").
UNNAMED = NP_("document name", "draft")

INVOICE_FIELDS = {
    "number": N_("Number"),
    "status": N_("Status"),
    "title": N_("Title"),
    "total_incl_vat": N_("Total incl. VAT"),
    "amount_paid": NP_("amount", "Paid"),
    "amount_credited": N_("Credited"),
    "amount_refunded": N_("Refunded"),
    "credited_invoice": N_("Credits the invoice"),
    "quote": N_("Quote"),
    "emailed_to": N_("Recipients"),
    "contact_id": N_("Contact"),
    "institution_id": N_("Institution"),
    "owner_id": N_("Salesperson"),
    "payment_terms_days": N_("Payment terms (days)"),
    "global_discount_percent": N_("Global discount (%)"),
    "notes": N_("Notes shown on the invoice"),
    "issue_date": N_("Issue date"),
    "due_date": N_("Due date"),
    "lines": N_("Lines"),
    "total_excl_vat": N_("Total excl. VAT"),
    "buyer_reference": N_("Service code"),
    "buyer_order_reference": N_("Engagement number"),
}
_INVOICE_VALUES: dict[str, Any] = {
    "codes": {"status": STATUS_LABELS},
    "dates": frozenset({"issue_date", "due_date", "paid_on"}),
    "money": frozenset(
        {"total_excl_vat", "total_vat", "total_incl_vat", "amount_paid", "amount_credited", "amount_refunded"}
    ),
    "numbers": frozenset({"global_discount_percent", "payment_terms_days"}),
}

QUOTE_FIELDS = {
    "number": N_("Number"),
    "status": N_("Status"),
    "title": N_("Title"),
    "institution_id": N_("Institution"),
    "contact_id": N_("Contact"),
    "owner_id": N_("Salesperson"),
    "issue_date": N_("Date"),
    "valid_until": N_("Valid until"),
    "notes": N_("Notes"),
    "global_discount_percent": N_("Global discount"),
    "lines": N_("Lines"),
    "total_excl_vat": N_("Total excl. VAT"),
    "total_incl_vat": N_("Total incl. VAT"),
    "client_comment": N_("Client's comment"),
    "order_number": N_("Order number"),
    "purchase_order_ref": N_("Purchase order"),
    "revision_of": N_("Revision of"),
    "superseded_by": N_("Replaced by"),
    "emailed_to": N_("Recipients"),
    "opportunity_id": N_("Opportunity"),
}
_QUOTE_VALUES: dict[str, Any] = {
    "codes": {"status": QUOTE_STATUS_LABELS},
    "dates": frozenset({"issue_date", "valid_until"}),
    "money": frozenset({"total_excl_vat", "total_incl_vat"}),
    "numbers": frozenset({"global_discount_percent"}),
}

INVOICE_WORDING = Wording(
    N_("Invoice"),
    {
        "create": N_("Invoice {name} created"),
        "update": N_("Invoice {name} changed"),
        "issue": N_("Invoice {name} issued"),
        "status": N_("Invoice {name}: status changed"),
        "payment": N_("Payment recorded on invoice {name}"),
        "payment_delete": N_("Payment deleted from invoice {name}"),
        "credit": N_("Invoice {name} credited"),
        "refund": N_("Refund recorded for invoice {name}"),
        "refund_delete": N_("Refund deleted for invoice {name}"),
        "delete": N_("Invoice {name} deleted"),
        "email": N_("Invoice {name} sent by email"),
    },
    INVOICE_FIELDS,
    unnamed=UNNAMED,
    **_INVOICE_VALUES,
)
CREDIT_NOTE_WORDING = Wording(
    N_("Credit note"),
    {
        "create": N_("Credit note {name} created"),
        "update": N_("Credit note {name} changed"),
        "issue": N_("Credit note {name} issued"),
        "status": N_("Credit note {name}: status changed"),
        "refund": N_("Refund recorded on credit note {name}"),
        "refund_delete": N_("Refund deleted from credit note {name}"),
        "delete": N_("Credit note {name} deleted"),
        "email": N_("Credit note {name} sent by email"),
    },
    INVOICE_FIELDS,
    unnamed=UNNAMED,
    **{**_INVOICE_VALUES, "codes": {"status": CREDIT_NOTE_STATUS_LABELS}},
)
QUOTE_WORDING = Wording(
    N_("Quote"),
    {
        "create": N_("Quote {name} created"),
        "update": N_("Quote {name} changed"),
        "send": N_("Quote {name} sent"),
        "accept": N_("Quote {name} accepted"),
        "reject": N_("Quote {name} rejected"),
        "order": N_("Quote {name} ordered"),
        "cancel": N_("Quote {name} cancelled"),
        "revise": N_("Quote {name} revised"),
        "expire": N_("Quote {name} expired"),
        "email": N_("Quote {name} sent by email"),
    },
    QUOTE_FIELDS,
    unnamed=UNNAMED,
    **_QUOTE_VALUES,
)
ORDER_WORDING = Wording(
    N_("Order"), {"email": N_("Order {name} sent by email")}, QUOTE_FIELDS, unnamed=UNNAMED, **_QUOTE_VALUES
)

#: the default lost reasons are stored as message ids: their values read translated.
_DEFAULT_REASONS = {label: label for label in DEFAULT_LOST_REASONS}

OPPORTUNITY_WORDING = Wording(
    N_("Opportunity"),
    {
        "create": N_("Opportunity {name} created"),
        "update": N_("Opportunity {name} changed"),
        "stage": N_("Opportunity {name} moved to another stage"),
        "delete": N_("Opportunity {name} deleted"),
    },
    {
        "name": N_("Name"),
        "institution_id": N_("Institution"),
        "contact_id": N_("Contact"),
        "owner_id": N_("Owner"),
        "team_id": N_("Team"),
        "stage": N_("Stage"),
        "amount": N_("Amount excl. VAT"),
        "probability": N_("Probability (%)"),
        "probability_is_manual": N_("Probability set by hand"),
        "expected_close_date": N_("Expected close date"),
        "source": N_("Source"),
        "lost_reason": N_("Lost reason"),
        "lost_reason_text": N_("Lost reason (details)"),
        "description": N_("Description"),
        "closed_at": N_("Closed on"),
    },
    codes={"stage": STAGE_LABELS, "source": SOURCE_LABELS, "lost_reason": _DEFAULT_REASONS},
    dates=frozenset({"expected_close_date", "closed_at"}),
    money=frozenset({"amount"}),
    numbers=frozenset({"probability"}),
    yes_no=frozenset({"probability_is_manual"}),
)
LOST_REASON_WORDING = Wording(
    N_("Lost reason"),
    {
        "create": N_("Lost reason {name} added"),
        "update": N_("Lost reason {name} changed"),
        "delete": N_("Lost reason {name} deleted"),
    },
    {"label": N_("Label"), "is_active": N_("Offered")},
    codes={"label": _DEFAULT_REASONS},
    yes_no=frozenset({"is_active"}),
)

#: How the sales documents' entries read (`audit.register_wording`).
HISTORY_WORDING: dict[str, Wording] = {
    "invoice": INVOICE_WORDING,
    "credit_note": CREDIT_NOTE_WORDING,
    DocumentKind.QUOTE.value: QUOTE_WORDING,
    DocumentKind.ORDER.value: ORDER_WORDING,
    OPPORTUNITY: OPPORTUNITY_WORDING,
    "lost_reason": LOST_REASON_WORDING,
}

#: How history names the documents its entries are about: by number (`audit.register_names`).
HISTORY_NAMES: tuple[tuple[str, Any, Any], ...] = (
    ("invoice", Invoice.id, Invoice.number),
    ("credit_note", Invoice.id, Invoice.number),
    (DocumentKind.QUOTE.value, Quote.id, Quote.number),
    (DocumentKind.ORDER.value, Quote.id, Quote.order_number),
    (OPPORTUNITY, Opportunity.id, Opportunity.name),
    ("lost_reason", LostReason.id, LostReason.label),
)
