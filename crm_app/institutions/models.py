"""Institutions, their medical profile, labels (tags, specialties), contacts and saved list views."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import Tracked, in_check, timestamp_column, uuid_pk


class InstitutionType(StrEnum):
    UNIVERSITY_HOSPITAL = "university_hospital"
    HOSPITAL = "hospital"
    PRIVATE_CLINIC = "private_clinic"
    MEDICAL_CENTER = "medical_center"
    SPECIALTY_CLINIC = "specialty_clinic"
    LABORATORY = "laboratory"
    PHARMACY = "pharmacy"
    OTHER = "other"


class CommercialStatus(StrEnum):
    PROSPECT = "prospect"
    CLIENT = "client"
    FORMER_CLIENT = "former_client"


class DataSource(StrEnum):
    MANUAL = "manual"
    IMPORT = "import"
    API = "api"
    PLUGIN = "plugin"


class ComplianceStatus(StrEnum):
    COMPLIANT = "compliant"
    PENDING_REVIEW = "pending_review"
    NON_COMPLIANT = "non_compliant"
    EXPIRED = "expired"


class LabelKind(StrEnum):
    TAG = "tag"
    SPECIALTY = "specialty"


class Institution(Tracked, table=True):
    __tablename__ = "institutions"
    __table_args__ = (
        sa.CheckConstraint(in_check("type", InstitutionType), name="type"),
        sa.CheckConstraint(in_check("commercial_status", CommercialStatus), name="commercial_status"),
        sa.CheckConstraint(in_check("data_source", DataSource), name="data_source"),
        sa.CheckConstraint("annual_revenue IS NULL OR annual_revenue >= 0", name="annual_revenue"),
        # Unique when present (partial indexes on both dialects).
        sa.Index(
            "uq_institutions_finess",
            "finess",
            unique=True,
            postgresql_where=sa.text("finess IS NOT NULL"),
            sqlite_where=sa.text("finess IS NOT NULL"),
        ),
        sa.Index(
            "uq_institutions_siret",
            "siret",
            unique=True,
            postgresql_where=sa.text("siret IS NOT NULL"),
            sqlite_where=sa.text("siret IS NOT NULL"),
        ),
        sa.Index(
            "uq_institutions_accounting_number",
            "accounting_number",
            unique=True,
            postgresql_where=sa.text("accounting_number IS NOT NULL"),
            sqlite_where=sa.text("accounting_number IS NOT NULL"),
        ),
        # List sorts and filters (archived rows are excluded by default, hence the leading flag).
        # The profile figures ride along in the default order's index: a range filter walks it alone.
        sa.Index(
            "ix_institutions_list_name",
            "is_archived",
            "name_key",
            "id",
            postgresql_include=["profile_beds", "profile_rooms", "profile_compliance"],
        ),
        sa.Index("ix_institutions_list_updated", "is_archived", "updated_at", "id"),
        sa.Index("ix_institutions_list_city", "is_archived", "city_key", "id"),
        sa.Index("ix_institutions_all_name", "name_key", "id"),  # archived=all
        # Each equality filter, then the default order: the first page is read straight off the index.
        sa.Index("ix_institutions_type", "type", "is_archived", "name_key", "id"),
        sa.Index("ix_institutions_status", "commercial_status", "is_archived", "name_key", "id"),
        sa.Index("ix_institutions_assigned", "assigned_user_id", "is_archived", "name_key", "id"),
        sa.Index("ix_institutions_team", "team_id", "is_archived", "name_key", "id"),
        sa.Index("ix_institutions_region", "region", "is_archived", "name_key", "id"),
        sa.Index("ix_institutions_city", "city_key", "is_archived", "name_key", "id"),
        sa.Index("ix_institutions_beds", "profile_beds", "is_archived"),  # the totals of range filters
        # A bed range alone, in name order, band by band (institutions.service, "Bed ranges").
        sa.Index(
            "ix_institutions_bed_band_pg",
            "is_archived",
            sa.func.institution_bed_band(sa.column("profile_beds")),
            "name_key",
            "id",
            postgresql_include=["profile_beds"],
        ),
        sa.Index("ix_institutions_rooms", "profile_rooms", "is_archived"),
        sa.Index("ix_institutions_compliance", "profile_compliance", "is_archived"),
        # The health score's sort, its filter and the dashboard's "needing attention" list.
        sa.Index("ix_institutions_health", "is_archived", "health_score", "name_key", "id"),
        sa.Index("ix_institutions_postal_code", "postal_code"),
        sa.Index("ix_institutions_created", "created_at"),  # the dashboard's new institutions of a period
        sa.Index("ix_institutions_name_postal", "match_key", "postal_code"),
        # The invoices list's "public buyers (Chorus Pro)" filter: the few public entities, by id.
        sa.Index(
            "ix_institutions_public_entity",
            "id",
            postgresql_where=sa.text("is_public_entity"),
            sqlite_where=sa.text("is_public_entity"),
        ),
        # Accent- and case-insensitive substring search (trigram on PostgreSQL).
        sa.Index(
            "ix_institutions_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    id: uuid.UUID = uuid_pk()
    name: str = Field(max_length=200)
    type: InstitutionType = Field(default=InstitutionType.OTHER, sa_type=sa.String(30), nullable=False)
    finess: str | None = Field(default=None, max_length=9)
    siret: str | None = Field(default=None, max_length=14)
    accounting_number: str | None = Field(default=None, max_length=40)
    group_name: str | None = Field(default=None, max_length=200)
    street: str | None = Field(default=None, max_length=250)
    postal_code: str | None = Field(default=None, max_length=10)
    city: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=120)
    country: str = Field(default="FR", max_length=2)
    phone: str | None = Field(default=None, max_length=30)
    website: str | None = Field(default=None, max_length=250)
    commercial_status: CommercialStatus = Field(
        default=CommercialStatus.PROSPECT, sa_type=sa.String(20), nullable=False
    )
    assigned_user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    team_id: uuid.UUID | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL")
    data_source: DataSource = Field(default=DataSource.MANUAL, sa_type=sa.String(10), nullable=False)
    annual_revenue: Decimal | None = Field(default=None, sa_type=sa.Numeric(14, 2))
    is_archived: bool = Field(default=False, nullable=False)
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # Derived columns, maintained by the service on every write:
    name_key: str = Field(default="", max_length=200)  # sort key: lower case, no accents
    city_key: str = Field(default="", max_length=120)
    match_key: str = Field(default="", max_length=200)  # duplicate rule: name without noise words
    search_text: str = Field(default="", sa_type=sa.Text)  # what the search box looks through
    # Copies of the medical profile's filterable figures, so that the list filters, sorts and counts
    # in one table (through a join, a range filter cost 10-50 ms at 100,000 institutions, 1 ms here).
    profile_beds: int | None = Field(default=None)
    profile_rooms: int | None = Field(default=None)
    profile_compliance: str | None = Field(default=None, max_length=20)
    # Days from issue to due date of this institution's invoices; empty: the organisation's default.
    payment_terms_days: int | None = Field(default=None)
    # The health score 0-100 (crm_app.analytics.health), kept here so that the list sorts and filters
    # on it in one table; recomputed by its job and after each change that moves it.
    health_score: int | None = Field(default=None)
    health_scored_at: datetime | None = timestamp_column()
    # A public buyer (CHU, CH) receives its invoices through Chorus Pro, which identifies it by its SIRET
    # and routes each invoice by its service code (`crm_app.institutions.service_codes`); some require
    # an engagement number (their purchase order reference) on every invoice.
    is_public_entity: bool = Field(default=False, nullable=False)
    service_codes: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    requires_engagement_number: bool = Field(default=False, nullable=False)


class MedicalProfile(SQLModel, table=True):
    __tablename__ = "institution_medical_profiles"
    __table_args__ = (
        sa.CheckConstraint(
            in_check("compliance_status", ComplianceStatus) + " OR compliance_status IS NULL", name="compliance_status"
        ),
        sa.CheckConstraint("bed_capacity IS NULL OR bed_capacity >= 0", name="bed_capacity"),
        sa.CheckConstraint("surgical_rooms IS NULL OR surgical_rooms >= 0", name="surgical_rooms"),
    )

    institution_id: uuid.UUID = Field(foreign_key="institutions.id", ondelete="CASCADE", primary_key=True)
    bed_capacity: int | None = None
    surgical_rooms: int | None = None
    endoscopy_rooms: int | None = None
    staff_count: int | None = None
    departments: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    equipment_types: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    certifications: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    compliance_status: ComplianceStatus | None = Field(default=None, sa_type=sa.String(20))
    audit_date: date | None = None
    compliance_expiry: date | None = None


class InstitutionLabel(SQLModel, table=True):
    """Tags and specialties, one row each, so that filters are indexed lookups."""

    __tablename__ = "institution_labels"
    __table_args__ = (
        sa.CheckConstraint(in_check("kind", LabelKind), name="kind"),
        sa.Index("ix_institution_labels_lookup", "kind", "value", "institution_id"),
    )

    institution_id: uuid.UUID = Field(foreign_key="institutions.id", ondelete="CASCADE", primary_key=True)
    kind: LabelKind = Field(sa_type=sa.String(10), primary_key=True)
    value: str = Field(max_length=80, primary_key=True)


class Contact(Tracked, table=True):
    __tablename__ = "contacts"
    __table_args__ = (
        # At most one primary contact per institution among the live ones.
        sa.Index(
            "uq_contacts_primary",
            "institution_id",
            unique=True,
            postgresql_where=sa.text("is_primary AND NOT is_archived"),
            sqlite_where=sa.text("is_primary AND NOT is_archived"),
        ),
        sa.Index("ix_contacts_institution", "institution_id", "is_archived"),
        sa.Index("ix_contacts_list_name", "is_archived", "name_key", "id"),
        sa.Index("ix_contacts_email", "email"),
        sa.Index(
            "ix_contacts_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    id: uuid.UUID = uuid_pk()
    institution_id: uuid.UUID = Field(foreign_key="institutions.id", ondelete="CASCADE")
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str = Field(max_length=100)
    title: str | None = Field(default=None, max_length=150)
    department: str | None = Field(default=None, max_length=150)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=30)
    mobile: str | None = Field(default=None, max_length=30)
    is_primary: bool = Field(default=False, nullable=False)
    is_archived: bool = Field(default=False, nullable=False)
    email_opt_out: bool = Field(default=False, nullable=False)
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    name_key: str = Field(default="", max_length=200)
    search_text: str = Field(default="", sa_type=sa.Text)


class SavedView(Tracked, table=True):
    """A named list filter, private to its owner or shared with the owner's team."""

    __tablename__ = "saved_views"
    __table_args__ = (
        sa.Index("ix_saved_views_owner", "created_by", "page"),
        sa.Index("ix_saved_views_team", "team_id", "page"),
    )

    id: uuid.UUID = uuid_pk()
    page: str = Field(max_length=40)  # which list: "institutions", "contacts"
    name: str = Field(max_length=120)
    query: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    is_shared: bool = Field(default=False, nullable=False)
    team_id: uuid.UUID | None = Field(default=None, foreign_key="teams.id", ondelete="CASCADE")


class InstitutionSearch(SQLModel, table=True):
    """A narrow copy of what the search box looks through, kept in name order (PostgreSQL only).

    A frequent term ("hopital": 8 % of 100,000 rows) matches rows spread over most pages of the wide
    `institutions` table, and the first page must read all of them to sort by name: 5,600 pages.
    Here each row is about 200 bytes and the table is physically in name order (re-clustered each
    night by the `search_order` job), so rows whose names share the term sit together: 270 pages.
    Kept in step by a trigger on `institutions` (migrations 0011, 0029), whatever writes there
    (services, imports, COPY), and deleted with its institution."""

    __tablename__ = "institution_search"
    __table_args__ = (
        sa.Index("ix_institution_search_order", "name_key", "id"),
        sa.Index(
            "ix_institution_search_further_trgm",
            "further_text",
            postgresql_using="gin",
            postgresql_ops={"further_text": "gin_trgm_ops"},
        ),
        # The 5-grams of its runs of digits (a function of migration 0029): a search for digits only.
        sa.Index(
            "ix_institution_search_digits_gin",
            sa.func.institution_digit_grams(sa.column("further_text")),
            postgresql_using="gin",
        ),
    )

    id: uuid.UUID = Field(foreign_key="institutions.id", ondelete="CASCADE", primary_key=True)
    is_archived: bool = Field(nullable=False)
    name_key: str = Field(max_length=200)
    # The institution's search text but its first character, the first of the name key (migration
    # 0029; see institutions.service, "A text search in name order"): a name that starts with the term
    # is found through the name index, and its index finds only the matches further on.
    further_text: str = Field(sa_type=sa.Text)


class InstitutionLabelOrder(SQLModel, table=True):
    """Each tag and specialty with its institution's name key, so that a list filtered on one of them
    reads its first page in name order from one index (PostgreSQL only).

    Filtered through `institution_labels`, a first page walks the institutions in name order and
    looks each one up among the labels: "cardiologie" (7 % of the rows, mostly hospitals, whose
    names sort late) takes 2,100 lookups for 25 rows. Here the index (kind, value, is_archived,
    name_key) holds the matches already sorted. Kept in step by triggers on `institution_labels`
    and `institutions` (migration 0012), whatever writes there (services, imports, COPY); deleted with
    the labels (no foreign key of its own: a mirror, whose inserts an import pays for)."""

    __tablename__ = "institution_label_order"
    __table_args__ = (
        sa.Index("ix_institution_label_order", "kind", "value", "is_archived", "name_key", "institution_id"),
    )

    institution_id: uuid.UUID = Field(primary_key=True)
    kind: LabelKind = Field(sa_type=sa.String(10), primary_key=True)
    value: str = Field(max_length=80, primary_key=True)
    is_archived: bool = Field(nullable=False)
    name_key: str = Field(max_length=200)
