"""The fields of an institution, each declared once (`FIELDS` below).

A row of `FIELDS` says everything the application needs to know about a field besides its column
(`crm_app.institutions.models`): its label, how input is cleaned, its type in the REST API, whether
the list sorts on it and the export shows it, the headers an import recognises, and how its
recorded values read in the history. The service, the REST API models, the export, the import and
the history tables read this table: adding a field is its column, a migration, a row here, the
translations of its label and tests.

The table's order is the REST API's order (request and answer bodies). The export groups its
columns by part: identity and placement, medical profile, labels, state (`EXPORT_PARTS`).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from crm_app.institutions import service_codes
from crm_app.institutions.models import CommercialStatus, ComplianceStatus, InstitutionType, LabelKind
from crm_app.platform import cleaners, identifiers
from crm_app.platform.i18n import N_, every_translation
from crm_app.platform.text import fold

# --------------------------------------------------------------------------------------------
# The labels of the codes


TYPE_LABELS: dict[InstitutionType, str] = {
    InstitutionType.UNIVERSITY_HOSPITAL: N_("University hospital (CHU)"),
    InstitutionType.HOSPITAL: N_("Hospital (CH)"),
    InstitutionType.PRIVATE_CLINIC: N_("Private clinic"),
    InstitutionType.MEDICAL_CENTER: N_("Medical centre"),
    InstitutionType.SPECIALTY_CLINIC: N_("Specialty clinic"),
    InstitutionType.LABORATORY: N_("Laboratory"),
    InstitutionType.PHARMACY: N_("Pharmacy"),
    InstitutionType.OTHER: N_("Other"),
}
STATUS_LABELS: dict[CommercialStatus, str] = {
    CommercialStatus.PROSPECT: N_("Prospect"),
    CommercialStatus.CLIENT: N_("Client"),
    CommercialStatus.FORMER_CLIENT: N_("Former client"),
}
COMPLIANCE_LABELS: dict[ComplianceStatus, str] = {
    ComplianceStatus.COMPLIANT: N_("Compliant"),
    ComplianceStatus.PENDING_REVIEW: N_("Pending review"),
    ComplianceStatus.NON_COMPLIANT: N_("Non-compliant"),
    ComplianceStatus.EXPIRED: N_("Expired"),
}

#: Words files use for the types, besides the application's own labels in each language (`type_aliases`).
_TYPE_WORDS: dict[str, InstitutionType] = {
    fold(label): kind
    for label, kind in {
        "CHU": InstitutionType.UNIVERSITY_HOSPITAL,
        "CHR": InstitutionType.UNIVERSITY_HOSPITAL,
        "CHRU": InstitutionType.UNIVERSITY_HOSPITAL,
        "Centre hospitalier universitaire": InstitutionType.UNIVERSITY_HOSPITAL,
        "University hospital": InstitutionType.UNIVERSITY_HOSPITAL,
        "CH": InstitutionType.HOSPITAL,
        "Centre hospitalier": InstitutionType.HOSPITAL,
        "Hôpital": InstitutionType.HOSPITAL,
        "Hospital": InstitutionType.HOSPITAL,
        "Clinique privée": InstitutionType.PRIVATE_CLINIC,
        "Clinique": InstitutionType.PRIVATE_CLINIC,
        "Private clinic": InstitutionType.PRIVATE_CLINIC,
        "Centre médical": InstitutionType.MEDICAL_CENTER,
        "Medical center": InstitutionType.MEDICAL_CENTER,
        "Medical centre": InstitutionType.MEDICAL_CENTER,
        "Clinique spécialisée": InstitutionType.SPECIALTY_CLINIC,
        "Specialty clinic": InstitutionType.SPECIALTY_CLINIC,
        "Laboratoire": InstitutionType.LABORATORY,
        "Laboratory": InstitutionType.LABORATORY,
        "Pharmacie": InstitutionType.PHARMACY,
        "Pharmacy": InstitutionType.PHARMACY,
        "Autre": InstitutionType.OTHER,
        "Other": InstitutionType.OTHER,
    }.items()
}


@functools.cache
def type_aliases() -> dict[str, InstitutionType]:
    """Folded text -> type: the common words, and each type's label in every language, so that a file
    the application exported ("Centre hospitalier universitaire (CHU)") is read back."""
    aliases = dict(_TYPE_WORDS)
    for kind, label in TYPE_LABELS.items():
        for text in every_translation(label):
            aliases.setdefault(fold(text), kind)
    return aliases


# --------------------------------------------------------------------------------------------
# The declaration of a field


class Part(StrEnum):
    """Where a field is stored."""

    INSTITUTION = "institution"  # a column of `institutions`
    PROFILE = "profile"  # a column of `institution_medical_profiles`
    LABELS = "labels"  # rows of `institution_labels` (`label_kind`)
    STATE = "state"  # a column of `institutions` that no form edits (read in the API, the export, the history)


class Shown(StrEnum):
    """How a value reads in the history and the export."""

    AS_RECORDED = "as_recorded"  # text and whole numbers
    CODE = "code"  # its label (`codes`)
    NAME = "name"  # an id: the name it refers to (the list row's `name_field`)
    DATE = "date"
    MONEY = "money"
    YES_NO = "yes_no"
    LIST = "list"  # words, comma-separated in the export


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the column, the API's field, the key of the service's values and of the audit trail
    label: str  # N_: forms, the history, the export's header, the import's mapping
    api_type: Any  # its type in the REST API, without None (codes are plain strings there)
    cleaner: cleaners.Cleaner | None  # how input is validated and normalised; None: not editable
    part: Part = Part.INSTITUTION
    nullable: bool = True  # may be null in the API's answers
    shown: Shown = Shown.AS_RECORDED
    codes: Mapping[Any, str] | None = None  # code -> label (N_), for Shown.CODE
    name_field: str | None = None  # Shown.NAME: the field with the name (list row, API answer)
    label_kind: LabelKind | None = None  # Part.LABELS: which labels
    sort: str | None = None  # the list's sort parameter on this field (`sort_column` its column if not the field)
    sort_column: str | None = None
    exported: bool = False  # a column of the list export
    import_aliases: tuple[str, ...] | None = None  # headers of French and English files; None: not imported
    import_label: str | None = None  # N_: its name in the import wizard, when not `label`
    description: str | None = None  # the API documentation of the field
    recorded: Callable[[Any], Any] | None = None  # how its value is kept in the history, when not as it is


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "name",
        N_("Name"),
        str,
        cleaners.text(200, required=True),
        nullable=False,
        sort="name",
        sort_column="name_key",
        exported=True,
        import_aliases=(
            "nom",
            "name",
            "raison sociale",
            "établissement",
            "nom de l'établissement",
            "institution",
            "institution name",
        ),
    ),
    FieldSpec(
        "type",
        N_("Type"),
        str,
        cleaners.choice(InstitutionType, aliases=type_aliases),
        nullable=False,
        shown=Shown.CODE,
        codes=TYPE_LABELS,
        sort="type",
        exported=True,
        import_aliases=("type", "type d'établissement", "catégorie", "institution type"),
    ),
    FieldSpec(
        "finess",
        N_("FINESS"),
        str,
        cleaners.wrap(identifiers.clean_finess),
        exported=True,
        import_aliases=("finess", "n° finess", "numéro finess", "finess number"),
    ),
    FieldSpec(
        "siret",
        N_("SIRET"),
        str,
        cleaners.wrap(identifiers.clean_siret),
        exported=True,
        import_aliases=("siret", "n° siret", "numéro siret", "siret number"),
    ),
    FieldSpec(
        "accounting_number",
        N_("Accounting number"),
        str,
        cleaners.text(40),
        exported=True,
        import_aliases=(
            "n° compte",
            "numéro de compte",
            "no compte",
            "compte",
            "code client",
            "n° client",
            "accounting number",
            "account number",
            "account",
            "customer number",
        ),
    ),
    FieldSpec(
        "group_name",
        N_("Group"),
        str,
        cleaners.text(200),
        import_aliases=("groupe", "groupement", "group", "group name"),
    ),
    FieldSpec(
        "street",
        N_("Street"),
        str,
        cleaners.text(250),
        import_label=N_("Address"),
        import_aliases=("adresse", "rue", "address", "street", "street address"),
    ),
    FieldSpec(
        "postal_code",
        N_("Postal code"),
        str,
        cleaners.text(10),  # checked against the country
        sort="postal_code",
        exported=True,
        import_aliases=("code postal", "cp", "postal code", "zip", "zip code", "postcode"),
    ),
    FieldSpec(
        "city",
        N_("City"),
        str,
        cleaners.text(120),
        sort="city",
        sort_column="city_key",
        exported=True,
        import_aliases=("ville", "commune", "city", "town"),
    ),
    FieldSpec("region", N_("Region"), str, cleaners.text(120), exported=True, import_aliases=("région", "region")),
    FieldSpec("country", N_("Country"), str, cleaners.text(2), nullable=False, import_aliases=("pays", "country")),
    FieldSpec(
        "phone",
        N_("Phone"),
        str,
        cleaners.text(30),  # formatted for the country
        import_aliases=("téléphone", "tél", "tel", "phone", "telephone", "phone number"),
    ),
    FieldSpec(
        "website",
        N_("Website"),
        str,
        cleaners.text(250),
        import_aliases=("site web", "site internet", "site", "website", "web site", "web", "url"),
    ),
    FieldSpec(
        "commercial_status",
        N_("Status"),
        str,
        cleaners.choice(CommercialStatus),
        nullable=False,
        shown=Shown.CODE,
        codes=STATUS_LABELS,
        sort="status",
        exported=True,
    ),
    FieldSpec(
        "assigned_user_id",
        N_("Assigned to"),
        uuid.UUID,
        cleaners.identifier(),
        shown=Shown.NAME,
        name_field="assigned_user_name",
        exported=True,
    ),
    FieldSpec(
        "team_id", N_("Team"), uuid.UUID, cleaners.identifier(), shown=Shown.NAME, name_field="team_name", exported=True
    ),
    FieldSpec(
        "annual_revenue",
        N_("Annual revenue (€)"),
        Decimal,
        cleaners.amount(),
        shown=Shown.MONEY,
        import_label=N_("Annual revenue"),
        import_aliases=(
            "ca annuel",
            "chiffre d'affaires",
            "chiffre d'affaires annuel",
            "ca",
            "annual revenue",
            "revenue",
        ),
    ),
    FieldSpec(
        "payment_terms_days",
        N_("Payment terms (days)"),
        int,
        cleaners.whole_number(maximum=365),
        description="Days from issue to due date on its invoices; null: the organisation's terms",
        import_aliases=(
            "délai de paiement",
            "délai de règlement",
            "conditions de paiement",
            "payment terms",
            "payment terms days",
        ),
    ),
    FieldSpec(
        "is_public_entity",
        N_("Public entity (Chorus Pro)"),
        bool,
        cleaners.boolean(),
        nullable=False,
        shown=Shown.YES_NO,
        exported=True,
        description="A public buyer (CHU, CH): its invoices go through Chorus Pro, and it needs a SIRET",
        import_aliases=("entité publique", "acheteur public", "chorus pro", "public entity", "public buyer"),
    ),
    FieldSpec(
        "service_codes",
        N_("Chorus Pro service codes"),
        list[service_codes.ServiceCode],
        service_codes.cleaner(),
        nullable=False,
        shown=Shown.LIST,
        description="Where Chorus Pro routes an invoice inside the buyer: 1-100 characters each, no duplicate",
        import_aliases=("codes service", "code service", "codes services chorus", "service codes", "service code"),
        recorded=service_codes.as_words,
    ),
    FieldSpec(
        "requires_engagement_number",
        N_("Engagement number required"),
        bool,
        cleaners.boolean(),
        nullable=False,
        shown=Shown.YES_NO,
        description="Its invoices cannot be issued without an engagement number (purchase order reference)",
        import_aliases=("n° d'engagement obligatoire", "engagement obligatoire", "engagement number required"),
    ),
    FieldSpec("data_source", N_("Data source"), str, None, part=Part.STATE, nullable=False),
    FieldSpec(
        "is_archived", N_("Archived"), bool, None, part=Part.STATE, nullable=False, shown=Shown.YES_NO, exported=True
    ),
    FieldSpec(
        "tags",
        N_("Tags"),
        list[str],
        cleaners.word_list(max_length=80),
        part=Part.LABELS,
        label_kind=LabelKind.TAG,
        nullable=False,
        shown=Shown.LIST,
        exported=True,
        import_aliases=("tags", "étiquettes", "labels"),
    ),
    FieldSpec(
        "specialties",
        N_("Specialties"),
        list[str],
        cleaners.word_list(max_length=80),
        part=Part.LABELS,
        label_kind=LabelKind.SPECIALTY,
        nullable=False,
        shown=Shown.LIST,
        import_aliases=("spécialités", "specialties", "specialities"),
    ),
    FieldSpec(
        "bed_capacity",
        N_("Beds"),
        int,
        cleaners.whole_number(maximum=100_000),
        part=Part.PROFILE,
        exported=True,
        import_aliases=("lits", "nombre de lits", "capacité", "beds", "bed capacity", "number of beds"),
    ),
    FieldSpec(
        "surgical_rooms",
        N_("Operating rooms"),
        int,
        cleaners.whole_number(maximum=1_000),
        part=Part.PROFILE,
        exported=True,
        import_aliases=(
            "salles d'opération",
            "blocs opératoires",
            "salles de bloc",
            "surgical rooms",
            "operating rooms",
            "operating theatres",
        ),
    ),
    FieldSpec(
        "endoscopy_rooms",
        N_("Endoscopy rooms"),
        int,
        cleaners.whole_number(maximum=1_000),
        part=Part.PROFILE,
        import_aliases=("salles d'endoscopie", "endoscopy rooms"),
    ),
    FieldSpec(
        "staff_count",
        N_("Staff"),
        int,
        cleaners.whole_number(maximum=1_000_000),
        part=Part.PROFILE,
        import_label=N_("Staff count"),
        import_aliases=("effectif", "effectifs", "staff", "staff count", "employees"),
    ),
    FieldSpec(
        "departments",
        N_("Departments"),
        list[str],
        cleaners.word_list(),
        part=Part.PROFILE,
        nullable=False,
        shown=Shown.LIST,
    ),
    FieldSpec(
        "equipment_types",
        N_("Equipment"),
        list[str],
        cleaners.word_list(),
        part=Part.PROFILE,
        nullable=False,
        shown=Shown.LIST,
    ),
    FieldSpec(
        "certifications",
        N_("Certifications"),
        list[str],
        cleaners.word_list(),
        part=Part.PROFILE,
        nullable=False,
        shown=Shown.LIST,
    ),
    FieldSpec(
        "compliance_status",
        N_("Compliance"),
        str,
        cleaners.choice(ComplianceStatus),
        part=Part.PROFILE,
        shown=Shown.CODE,
        codes=COMPLIANCE_LABELS,
    ),
    FieldSpec("audit_date", N_("Audit date"), date, cleaners.day(), part=Part.PROFILE, shown=Shown.DATE),
    FieldSpec("compliance_expiry", N_("Compliance expiry"), date, cleaners.day(), part=Part.PROFILE, shown=Shown.DATE),
)

FIELD_SPECS: dict[str, FieldSpec] = {spec.name: spec for spec in FIELDS}
#: The fields forms, the API and imports may set.
EDITABLE: tuple[FieldSpec, ...] = tuple(spec for spec in FIELDS if spec.cleaner is not None)
#: The export's columns: these parts in this order, each in the table's order.
EXPORT_PARTS = (Part.INSTITUTION, Part.PROFILE, Part.LABELS, Part.STATE)
EXPORTED: tuple[FieldSpec, ...] = tuple(
    sorted((spec for spec in FIELDS if spec.exported), key=lambda spec: EXPORT_PARTS.index(spec.part))
)


def names_in(part: Part) -> tuple[str, ...]:
    """The editable fields stored in `part`, in the table's order."""
    return tuple(spec.name for spec in EDITABLE if spec.part is part)


def shown_as(shown: Shown) -> frozenset[str]:
    """The fields whose values read as `shown`."""
    return frozenset(spec.name for spec in FIELDS if spec.shown is shown)
