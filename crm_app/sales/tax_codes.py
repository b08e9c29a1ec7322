"""VAT categories, exemption reasons and kinds of supply of document lines: the codes EN 16931 asks for
(Factur-X) and the legal mentions the PDF prints, defined once.

A line taxed at a positive rate is of category S (standard). A 0 % line names why it carries no VAT
(`VatExemption`): each reason gives its EN 16931 category (E exempt, Z zero-rated, AE reverse charge,
O outside the scope of VAT), its VATEX reason code and its legal mention. Intra-EU supplies (K) and
exports (G) are left out: our buyers are French hospitals and clinics, and those categories need a
delivery date and country the CRM does not record.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from crm_app.platform.i18n import N_

#: The EN 16931 category of a line taxed at a positive rate.
STANDARD_CATEGORY = "S"


class VatExemption(StrEnum):
    """Why a 0 % line carries no VAT."""

    TRAINING = "training"
    MEDICAL_CARE = "medical_care"
    FRANCHISE = "franchise"
    REVERSE_CHARGE = "reverse_charge"
    OUTSIDE_SCOPE = "outside_scope"
    ZERO_RATED = "zero_rated"


class SupplyKind(StrEnum):
    """What a line sells: the invoice's category of operation (goods, services or both) follows."""

    GOODS = "goods"
    SERVICES = "services"


@dataclass(frozen=True, slots=True)
class ExemptionSpec:
    category: str  # EN 16931 VAT category code (BT-151, BT-118)
    code: str | None  # VATEX reason code (BT-121); none for zero-rated lines (BR-Z-10)
    label: str  # gettext id: the short name a picker shows
    mention: str  # gettext id: the legal mention printed on the PDF and given as BT-120


EXEMPTIONS: dict[VatExemption, ExemptionSpec] = {
    VatExemption.TRAINING: ExemptionSpec(
        "E",
        "VATEX-EU-132",
        N_("Training (art. 261-4-4° CGI)"),
        N_("VAT exemption, article 261-4-4° of the French Tax Code (CGI)"),
    ),
    VatExemption.MEDICAL_CARE: ExemptionSpec(
        "E",
        "VATEX-EU-132",
        N_("Medical care (art. 261-4-1° CGI)"),
        N_("VAT exemption, article 261-4-1° of the French Tax Code (CGI)"),
    ),
    VatExemption.FRANCHISE: ExemptionSpec(
        "E",
        "VATEX-FR-FRANCHISE",
        N_("VAT franchise (art. 293 B CGI)"),
        N_("VAT not applicable, article 293 B of the French Tax Code (CGI)"),
    ),
    VatExemption.REVERSE_CHARGE: ExemptionSpec(
        "AE",
        "VATEX-EU-AE",
        N_("Reverse charge"),
        N_("Reverse charge: VAT payable by the buyer (article 283-2 of the French Tax Code)"),
    ),
    VatExemption.OUTSIDE_SCOPE: ExemptionSpec(
        "O",
        "VATEX-EU-O",
        N_("Outside the scope of VAT"),
        N_("Not subject to VAT: outside the scope of VAT"),
    ),
    VatExemption.ZERO_RATED: ExemptionSpec("Z", None, N_("Zero-rated"), N_("VAT at the zero rate")),
}

#: The category of operation (French reform) and its EN 16931 business process (BT-23, the French
#: "cadre de facturation": B1 goods, S1 services, M1 both) with its mention.
OPERATION_CATEGORIES: dict[frozenset[SupplyKind], tuple[str, str]] = {
    frozenset({SupplyKind.GOODS}): ("B1", N_("Category of operation: supply of goods")),
    frozenset({SupplyKind.SERVICES}): ("S1", N_("Category of operation: supply of services")),
    frozenset({SupplyKind.GOODS, SupplyKind.SERVICES}): (
        "M1",
        N_("Category of operation: supply of goods and services"),
    ),
}
VAT_ON_DEBITS_MENTION = N_("VAT payable on debits (option chosen by the seller)")

#: The units of `crm_app.sales.units` as UN/ECE recommendation 20/21 codes (BT-130).
UNIT_CODES: dict[str, str] = {
    "unit": "C62",
    "day": "DAY",
    "hour": "HUR",
    "lot": "LO",
    "box": "XBX",
    "kit": "KT",
    "month": "MON",
    "year": "ANN",
}
#: Units that count time: a line in them sells a service unless said otherwise.
SERVICE_UNITS = frozenset({"day", "hour", "month", "year"})


def vat_category(rate: Decimal, exemption: VatExemption | str | None) -> str | None:
    """The EN 16931 category of a line: S when taxed, its exemption's category at 0 %, None when a
    0 % line does not say why (it cannot be issued)."""
    if rate > 0:
        return STANDARD_CATEGORY
    return EXEMPTIONS[VatExemption(exemption)].category if exemption else None


def default_supply_kind(unit: str) -> SupplyKind:
    return SupplyKind.SERVICES if unit in SERVICE_UNITS else SupplyKind.GOODS


def unit_code(unit: str) -> str:
    return UNIT_CODES.get(unit, "C62")
