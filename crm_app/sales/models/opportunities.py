"""Opportunities: a sale in progress with an institution, its stage history and the admin-editable
list of reasons a sale is lost (DOMAIN.md "Opportunities")."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import Tracked, UTCDateTime, in_check, timestamp_column, utcnow, uuid_pk
from crm_app.sales.models.quotes import AMOUNT


class OpportunityStage(StrEnum):
    PROSPECTING = "prospecting"
    QUALIFICATION = "qualification"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"

    @property
    def is_closed(self) -> bool:
        return self in (OpportunityStage.WON, OpportunityStage.LOST)


#: The probability a stage gives an opportunity whose probability was not set by hand.
STAGE_PROBABILITY: dict[OpportunityStage, int] = {
    OpportunityStage.PROSPECTING: 10,
    OpportunityStage.QUALIFICATION: 25,
    OpportunityStage.PROPOSAL: 50,
    OpportunityStage.NEGOTIATION: 75,
    OpportunityStage.WON: 100,
    OpportunityStage.LOST: 0,
}

OPEN_STAGES: tuple[OpportunityStage, ...] = tuple(stage for stage in OpportunityStage if not stage.is_closed)


class OpportunitySource(StrEnum):
    """Where a sale came from (hospital sales: public tenders matter)."""

    TENDER = "tender"
    REFERRAL = "referral"
    EXISTING_CLIENT = "existing_client"
    TRADE_SHOW = "trade_show"
    WEBSITE = "website"
    PROSPECTING = "prospecting"
    PARTNER = "partner"
    OTHER = "other"


_OPEN = sa.text("stage NOT IN ('won', 'lost')")


class LostReason(Tracked, table=True):
    """One entry of the admin-editable list of reasons a sale is lost; retired entries stay for history."""

    __tablename__ = "opportunity_lost_reasons"
    __table_args__ = (sa.Index("ix_opportunity_lost_reasons_order", "is_active", "position"),)

    id: uuid.UUID = uuid_pk()
    label: str = Field(max_length=120, unique=True)
    position: int = Field(default=0)
    is_active: bool = Field(default=True, nullable=False)


class Opportunity(Tracked, table=True):
    __tablename__ = "opportunities"
    __table_args__ = (
        sa.CheckConstraint(in_check("stage", OpportunityStage), name="stage"),
        sa.CheckConstraint("source IS NULL OR " + in_check("source", OpportunitySource), name="source"),
        sa.CheckConstraint("amount >= 0", name="amount"),
        sa.CheckConstraint("probability >= 0 AND probability <= 100", name="probability"),
        sa.CheckConstraint(
            "stage <> 'lost' OR lost_reason_id IS NOT NULL OR lost_reason_text IS NOT NULL", name="lost_has_reason"
        ),
        sa.CheckConstraint("(stage IN ('won', 'lost')) = (closed_at IS NOT NULL)", name="closed_at_when_closed"),
        # The board and the list: a stage's cards by expected close date; the pipeline per owner/team.
        sa.Index("ix_opportunities_stage", "stage", "expected_close_date", "id"),
        sa.Index("ix_opportunities_owner", "owner_id", "stage", "expected_close_date"),
        sa.Index("ix_opportunities_team", "team_id", "stage", "expected_close_date"),
        sa.Index("ix_opportunities_institution", "institution_id", "stage"),
        sa.Index("ix_opportunities_closed", "closed_at", "stage"),
        # The dashboard's figures (migration 0020): index-only reads of the open pipeline and of the
        # opportunities closed in a period.
        sa.Index(
            "ix_opportunities_open_figures",
            "expected_close_date",
            postgresql_include=["stage", "amount", "probability", "owner_id", "team_id"],
            postgresql_where=sa.text("stage IN ('prospecting', 'qualification', 'proposal', 'negotiation')"),
            sqlite_where=sa.text("stage IN ('prospecting', 'qualification', 'proposal', 'negotiation')"),
        ),
        sa.Index(
            "ix_opportunities_closed_figures",
            "closed_at",
            postgresql_include=["stage", "amount", "owner_id", "team_id"],
            postgresql_where=sa.text("closed_at IS NOT NULL"),
            sqlite_where=sa.text("closed_at IS NOT NULL"),
        ),
        # The list's first page in its default order and by amount, read off an index at any size.
        sa.Index("ix_opportunities_close_date", "expected_close_date", "id"),
        sa.Index("ix_opportunities_amount", "amount", "id"),
        # The forecast reads the open ones by month of expected close.
        sa.Index(
            "ix_opportunities_open_close_date",
            "expected_close_date",
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
        sa.Index("ix_opportunities_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
        # The search box and the list's text filter: the folded name (accents and case aside).
        sa.Index(
            "ix_opportunities_name_key_trgm",
            "name_key",
            postgresql_using="gin",
            postgresql_ops={"name_key": "gin_trgm_ops"},
        ),
    )

    id: uuid.UUID = uuid_pk()
    name: str = Field(max_length=200)
    name_key: str = Field(default="", max_length=200)  # the name folded (`platform.text.fold`), kept by the service
    institution_id: uuid.UUID = Field(foreign_key="institutions.id", ondelete="RESTRICT")
    contact_id: uuid.UUID | None = Field(default=None, foreign_key="contacts.id", ondelete="SET NULL")
    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="RESTRICT")
    # The owner's team when assigned: managers see their team's pipeline through an index.
    team_id: uuid.UUID | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL")
    stage: OpportunityStage = Field(default=OpportunityStage.PROSPECTING, sa_type=sa.String(20), nullable=False)
    amount: Decimal = Field(default=Decimal("0"), sa_type=AMOUNT)  # excl. VAT
    probability: int = Field(default=10)
    probability_is_manual: bool = Field(default=False, nullable=False)  # else it follows the stage
    expected_close_date: date | None = Field(default=None)
    source: OpportunitySource | None = Field(default=None, sa_type=sa.String(20))
    lost_reason_id: uuid.UUID | None = Field(
        default=None, foreign_key="opportunity_lost_reasons.id", ondelete="RESTRICT"
    )
    lost_reason_text: str | None = Field(default=None, sa_type=sa.Text)  # free text, with or without a listed reason
    description: str | None = Field(default=None, sa_type=sa.Text)
    closed_at: datetime | None = timestamp_column()
    stage_changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class OpportunityStageChange(SQLModel, table=True):
    """One move of an opportunity into a stage (its creation included: `from_stage` is then None).
    The time spent in a stage is the gap to the next move."""

    __tablename__ = "opportunity_stage_changes"
    __table_args__ = (
        sa.CheckConstraint(in_check("to_stage", OpportunityStage), name="to_stage"),
        sa.Index("ix_opportunity_stage_changes_opportunity", "opportunity_id", "changed_at"),
        sa.Index("ix_opportunity_stage_changes_changed_at", "changed_at", "to_stage"),
    )

    id: uuid.UUID = uuid_pk()
    opportunity_id: uuid.UUID = Field(foreign_key="opportunities.id", ondelete="CASCADE")
    from_stage: OpportunityStage | None = Field(default=None, sa_type=sa.String(20))
    to_stage: OpportunityStage = Field(sa_type=sa.String(20))
    amount: Decimal = Field(sa_type=AMOUNT)  # the amount when it moved
    probability: int
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    changed_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
