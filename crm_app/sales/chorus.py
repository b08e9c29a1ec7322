"""Chorus Pro, the French public buyers' invoicing portal: what an invoice to a public buyer (CHU, CH)
must carry. The buyer holds its service codes and whether it requires an engagement number
(`crm_app.institutions.service_codes`, the institution's fields); the invoice carries the chosen
service code (`Invoice.buyer_reference`, EN 16931 BT-10) and the engagement number
(`Invoice.buyer_order_reference`, BT-13, the buyer's purchase order reference).

Rules, the one place they are written:
- when the buyer has service codes, the invoice's code is one of them (free text is refused), and a new
  draft takes the code when the buyer has exactly one;
- a draft whose buyer changes keeps its code only if the new buyer has it;
- issuing is refused when the buyer is a public entity and the code is missing while it has codes, or
  the engagement number is missing while it requires one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from crm_app.institutions.models import Institution
from crm_app.institutions.service_codes import ServiceCode, service_codes
from crm_app.platform import cleaners
from crm_app.platform.errors import NotFound
from crm_app.platform.i18n import N_
from crm_app.platform.permissions import Actor, authorize

BUYER_REFERENCE_MAX_LENGTH = 100
BUYER_ORDER_REFERENCE_MAX_LENGTH = 50

#: The invoice's Chorus Pro fields and how input is cleaned (the service's CLEANERS take them in).
CLEANERS: dict[str, cleaners.Cleaner] = {
    "buyer_reference": cleaners.text(BUYER_REFERENCE_MAX_LENGTH),
    "buyer_order_reference": cleaners.text(BUYER_ORDER_REFERENCE_MAX_LENGTH),
}

NOT_ONE_OF_THE_CODES = N_("Choose one of the buyer's Chorus Pro service codes.")
CODE_REQUIRED = N_("This buyer is a public entity: choose its Chorus Pro service code.")
ENGAGEMENT_REQUIRED = N_("This buyer requires an engagement number (its purchase order reference).")


@dataclass(frozen=True, slots=True)
class PublicBuyer:
    """What Chorus Pro needs to know of an invoice's buyer."""

    is_public_entity: bool
    service_codes: tuple[ServiceCode, ...]
    requires_engagement_number: bool

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code.code for code in self.service_codes)

    @property
    def default_code(self) -> str | None:
        """The code a new draft takes: the only one, when there is exactly one."""
        return self.codes[0] if len(self.codes) == 1 else None


def public_buyer(institution: Institution) -> PublicBuyer:
    return PublicBuyer(
        is_public_entity=institution.is_public_entity,
        service_codes=service_codes(institution.service_codes),
        requires_engagement_number=institution.requires_engagement_number,
    )


def buyer_of(session: Session, institution_id: uuid.UUID) -> PublicBuyer:
    institution = session.get(Institution, institution_id)
    assert institution is not None  # a foreign key
    return public_buyer(institution)


def check_buyer_reference(buyer: PublicBuyer, code: str | None) -> str | None:
    """The error of a chosen service code: one of the buyer's, when it has codes."""
    if code is not None and buyer.codes and code not in buyer.codes:
        return NOT_ONE_OF_THE_CODES
    return None


def buyer_reference_for(buyer: PublicBuyer, current: str | None) -> str | None:
    """The code a draft keeps when its buyer changes: its own if the new buyer has it (or has no
    codes), else the new buyer's only one."""
    if current is not None and check_buyer_reference(buyer, current) is None:
        return current
    return buyer.default_code


def issue_errors(buyer: PublicBuyer, values: Mapping[str, Any]) -> dict[str, str]:
    """Why an invoice with these `buyer_reference` and `buyer_order_reference` cannot be issued to
    `buyer` (no error: it can)."""
    errors: dict[str, str] = {}
    code = values.get("buyer_reference")
    if (message := check_buyer_reference(buyer, code)) is not None:
        errors["buyer_reference"] = message
    elif buyer.is_public_entity and buyer.codes and not code:
        errors["buyer_reference"] = CODE_REQUIRED
    if buyer.is_public_entity and buyer.requires_engagement_number and not values.get("buyer_order_reference"):
        errors["buyer_order_reference"] = ENGAGEMENT_REQUIRED
    return errors


def buyer_for_invoice(session: Session, actor: Actor, institution_id: uuid.UUID) -> PublicBuyer:
    """The Chorus Pro needs of an institution the actor may see, for an invoice's form."""
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise NotFound(N_("This institution does not exist."))
    authorize(actor, "institution.view", institution)
    return public_buyer(institution)
