"""Opportunities: the sales in progress with an institution (DOMAIN.md "Opportunities"): creation,
editing with optimistic concurrency, stage moves with their history, the list and the board paged and
totalled in SQL, the export, and the admin-editable list of lost reasons.

Rules:
- an opportunity belongs to an institution (required, visible to the actor); its contact, when given,
  works at that institution; its owner defaults to the actor (another salesperson only within the
  actor's `opportunity.edit` reach) and its team is the owner's team;
- the probability follows the stage (`STAGE_PROBABILITY`) unless set by hand (`probability_is_manual`);
  a hand-set probability is kept across the open stages; won and lost close the sale at 100 and 0 and
  drop the hand-set value; setting it back to empty returns to the stage's default;
- moving to `lost` needs a reason: one of the listed reasons and/or a free text; moving to won or lost
  sets `closed_at`, reopening clears it and the lost reason;
- every move into a stage (creation included) writes an `OpportunityStageChange`; every change is
  written to the audit trail (entity "opportunity", not attached to the institution: its History tab is
  seen by everyone, an opportunity only within the `opportunity.view` scope) and bumps the version.

Weighted amount = amount × probability / 100, half-up to the cent; the sums of a list or a board column
are Σ(amount × probability) / 100, exact (SQL sums the amounts per probability), then rounded half-up
to the cent once.

Lost reasons: the defaults (`DEFAULT_LOST_REASONS`) are stored as their English message ids on first
use and shown translated (`gettext` of a label an admin typed is that label); admins add, rename,
reorder and retire reasons (`opportunity_settings.edit`); a retired reason stays on the opportunities
lost for it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select
from sqlmodel import Session, col, select

from crm_app.institutions import links, timeline
from crm_app.institutions.models import Contact, Institution
from crm_app.platform import audit, comments, events, records, security_log
from crm_app.platform import cleaners as fields
from crm_app.platform import notifications as notification_service
from crm_app.platform.db import fetch_all
from crm_app.platform.errors import Conflict, ValidationFailed
from crm_app.platform.i18n import N_, NP_, gettext
from crm_app.platform.models.audit import AuditEntry, SecurityAction, Severity
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.models.people import Team, User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.params import Params
from crm_app.platform.permissions import Actor, Placement, authorize, can
from crm_app.platform.records import active_user, actor_id, changed_by_name, get_record, scope_condition, user_names
from crm_app.platform.settings import organisation
from crm_app.platform.tabular import ExportFormat, to_csv, to_xlsx
from crm_app.platform.text import contains_pattern, fold
from crm_app.sales import money
from crm_app.sales.models.opportunities import (
    STAGE_PROBABILITY,
    LostReason,
    Opportunity,
    OpportunitySource,
    OpportunityStage,
    OpportunityStageChange,
)
from crm_app.sales.models.quotes import Quote

ENTITY = "opportunity"

#: a stage's name (message ids, translated where shown).
STAGE_LABELS: dict[OpportunityStage, str] = {
    OpportunityStage.PROSPECTING: NP_("opportunity stage", "Prospecting"),
    OpportunityStage.QUALIFICATION: NP_("opportunity stage", "Qualification"),
    OpportunityStage.PROPOSAL: NP_("opportunity stage", "Proposal"),
    OpportunityStage.NEGOTIATION: NP_("opportunity stage", "Negotiation"),
    OpportunityStage.WON: NP_("opportunity stage", "Won"),
    OpportunityStage.LOST: NP_("opportunity stage", "Lost"),
}

SOURCE_LABELS: dict[OpportunitySource, str] = {
    OpportunitySource.TENDER: NP_("opportunity source", "Public tender"),
    OpportunitySource.REFERRAL: NP_("opportunity source", "Referral"),
    OpportunitySource.EXISTING_CLIENT: NP_("opportunity source", "Existing client"),
    OpportunitySource.TRADE_SHOW: NP_("opportunity source", "Trade show"),
    OpportunitySource.WEBSITE: NP_("opportunity source", "Website"),
    OpportunitySource.PROSPECTING: NP_("opportunity source", "Prospecting"),
    OpportunitySource.PARTNER: NP_("opportunity source", "Partner"),
    OpportunitySource.OTHER: NP_("opportunity source", "Other"),
}

#: The reasons the list starts with (stored as these message ids, shown translated).
DEFAULT_LOST_REASONS: tuple[str, ...] = (
    N_("Price too high"),
    N_("Competitor chosen"),
    N_("Budget cancelled"),
    N_("Tender lost"),
    N_("No decision"),
    N_("Bad timing"),
)

BOARD_PAGE_SIZE = 20


# --------------------------------------------------------------------------------------------
# Input


CLEANERS: dict[str, fields.Cleaner] = {
    "name": fields.text(200),
    "institution_id": fields.identifier(),
    "contact_id": fields.identifier(),
    "owner_id": fields.identifier(),
    "stage": fields.choice(OpportunityStage),
    "amount": fields.amount(maximum=money.MAX_AMOUNT),
    "probability": fields.whole_number(minimum=0, maximum=100),
    "expected_close_date": fields.day(),
    "source": fields.choice(OpportunitySource),
    "lost_reason_id": fields.identifier(),
    "lost_reason_text": fields.long_text(2_000),
    "description": fields.long_text(10_000),
}

#: the fields an update sets as given (the stage, the probability and the lost reason follow rules).
_PLAIN_FIELDS: tuple[str, ...] = (
    "name",
    "institution_id",
    "contact_id",
    "owner_id",
    "amount",
    "expected_close_date",
    "source",
    "description",
)

#: the fields a stage move takes besides the stage.
_LOST_FIELDS = ("lost_reason_id", "lost_reason_text")


# --------------------------------------------------------------------------------------------
# Helpers


def weighted(amount: Decimal, probability: int) -> Decimal:
    """amount × probability / 100, half-up to the cent."""
    return money.to_cents(Decimal(amount) * probability / money.HUNDRED)


def placement(opportunity: Opportunity) -> Placement:
    """What the right checks look at: the owner owns the opportunity, the team is the owner's."""
    return Placement(team_id=opportunity.team_id, assigned_user_id=opportunity.owner_id)


def get_opportunity_record(session: Session, opportunity_id: uuid.UUID, *, for_update: bool = False) -> Opportunity:
    """The opportunity row (no right check); `for_update` locks it until the unit of work ends."""
    return get_record(
        session, Opportunity, opportunity_id, missing=N_("This opportunity does not exist."), for_update=for_update
    )


def get_visible_opportunity(session: Session, actor: Actor, opportunity_id: uuid.UUID) -> Opportunity:
    """The opportunity row, when the actor may see it (quotes, activities and comments use this)."""
    opportunity = get_opportunity_record(session, opportunity_id)
    authorize(actor, "opportunity.view", placement(opportunity))
    return opportunity


def _editable(session: Session, actor: Actor, opportunity_id: uuid.UUID, expected_version: int | None) -> Opportunity:
    opportunity = get_opportunity_record(session, opportunity_id, for_update=True)
    authorize(actor, "opportunity.edit", placement(opportunity))
    if expected_version is not None and opportunity.version != expected_version:
        raise Conflict(changed_by=changed_by_name(session, opportunity.updated_by))
    return opportunity


def _owner(session: Session, actor: Actor, owner_id: uuid.UUID | None) -> User:
    """The salesperson, within the actor's reach: someone whose opportunities the actor may edit."""
    user = active_user(session, owner_id, "owner_id")
    authorize(actor, "opportunity.edit", Placement(team_id=user.team_id, assigned_user_id=user.id))
    return user


def _clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    values = fields.clean_all(raw, CLEANERS, partial=True)
    if "name" in values and values["name"] is None:
        raise ValidationFailed({"name": N_("This field is required.")})
    return values


def _lost_reason(session: Session, reason_id: uuid.UUID | None, *, current: uuid.UUID | None) -> LostReason | None:
    """The listed reason named by `reason_id`: an active one (a retired one only when it is already the
    opportunity's)."""
    if reason_id is None:
        return None
    reason = session.get(LostReason, reason_id)
    if reason is None or (not reason.is_active and reason.id != current):
        raise ValidationFailed({"lost_reason_id": N_("This reason does not exist or is retired.")})
    return reason


def _record(
    session: Session,
    actor: Actor,
    opportunity: Opportunity,
    action: str,
    changes: dict[str, tuple[Any, Any]] | None = None,
) -> None:
    """Every change to an opportunity goes through here: its audit entry, and the event open pages follow."""
    audit.record(
        session,
        actor,
        entity_type=ENTITY,
        entity_id=opportunity.id,
        institution_id=None,
        action=action,
        changes=changes,
    )
    events.publish(
        session,
        events.OpportunityChanged(
            opportunity_id=opportunity.id,
            institution_id=opportunity.institution_id,
            owner_id=opportunity.owner_id,
            team_id=opportunity.team_id,
            stage=OpportunityStage(opportunity.stage).value,
            action=action,
            actor_id=actor_id(actor),
        ),
    )


def _announce_owner(session: Session, actor: Actor, opportunity: Opportunity) -> None:
    """Tell a new owner that someone else gave them the opportunity."""
    if opportunity.owner_id != actor_id(actor):
        events.publish(
            session,
            events.OpportunityAssigned(
                opportunity_id=opportunity.id,
                title=opportunity.name,
                assignee_id=opportunity.owner_id,
                actor_id=actor_id(actor),
            ),
        )


def _write_stage_change(
    session: Session, actor: Actor, opportunity: Opportunity, from_stage: OpportunityStage | None, at: datetime
) -> None:
    session.add(
        OpportunityStageChange(
            opportunity_id=opportunity.id,
            from_stage=from_stage,
            to_stage=OpportunityStage(opportunity.stage),
            amount=opportunity.amount,
            probability=opportunity.probability,
            changed_at=at,
            changed_by=actor_id(actor),
        )
    )


def _apply_stage(
    session: Session,
    opportunity: Opportunity,
    stage: OpportunityStage,
    values: Mapping[str, Any],
    *,
    changes: dict[str, tuple[Any, Any]],
    now: datetime,
) -> None:
    """Put the opportunity in `stage` (recording each changed field in `changes`): the probability, the
    closing date and the lost reason follow the rules of the module's docstring. `values` may carry the
    lost reason (`lost_reason_id`, `lost_reason_text`)."""
    old_stage = OpportunityStage(opportunity.stage)

    def put(name: str, value: Any) -> None:
        old = getattr(opportunity, name)
        if old != value:
            changes.setdefault(name, (old, value))
            changes[name] = (changes[name][0], value)
            setattr(opportunity, name, value)

    if stage is OpportunityStage.LOST:
        current = opportunity.lost_reason_id if old_stage is OpportunityStage.LOST else None
        reason_id = values.get("lost_reason_id", current)
        text = values.get("lost_reason_text", opportunity.lost_reason_text if old_stage is stage else None)
        reason = _lost_reason(session, reason_id, current=current)
        if reason is None and not text:
            raise ValidationFailed({"lost_reason_id": N_("Give the reason this sale was lost.")})
        if reason is not None or "lost_reason_id" in values or old_stage is not stage:
            old_label = _reason_label(session, opportunity.lost_reason_id)
            if opportunity.lost_reason_id != (reason.id if reason else None):
                changes["lost_reason"] = (old_label, reason.label if reason else None)
            opportunity.lost_reason_id = reason.id if reason else None
        put("lost_reason_text", text)
    else:
        if any(values.get(name) for name in _LOST_FIELDS):
            raise ValidationFailed({"lost_reason_id": N_("Only a lost sale has a lost reason.")})
        if opportunity.lost_reason_id is not None:
            changes["lost_reason"] = (_reason_label(session, opportunity.lost_reason_id), None)
            opportunity.lost_reason_id = None
        put("lost_reason_text", None)
    if stage is old_stage:
        return
    put("stage", stage)
    if stage.is_closed:
        put("probability_is_manual", False)
        put("probability", STAGE_PROBABILITY[stage])
        put("closed_at", now)
    else:
        put("closed_at", None)
        if not opportunity.probability_is_manual:
            put("probability", STAGE_PROBABILITY[stage])
    opportunity.stage_changed_at = now


def _reason_label(session: Session, reason_id: uuid.UUID | None) -> str | None:
    if reason_id is None:
        return None
    reason = session.get(LostReason, reason_id)
    return reason.label if reason else None


def _apply_probability(
    opportunity: Opportunity, values: Mapping[str, Any], changes: dict[str, tuple[Any, Any]]
) -> None:
    """A probability given by hand is kept (on an open sale); an empty one returns to the stage's default."""
    if "probability" not in values:
        return
    stage = OpportunityStage(opportunity.stage)
    given = values["probability"]
    if given is None or stage.is_closed:
        manual, probability = False, STAGE_PROBABILITY[stage]
    else:
        manual, probability = True, given
    for name, value in (("probability_is_manual", manual), ("probability", probability)):
        old = getattr(opportunity, name)
        if old != value:
            changes[name] = (changes.get(name, (old,))[0], value)
            setattr(opportunity, name, value)


def _touch(session: Session, actor: Actor, opportunity: Opportunity) -> None:
    opportunity.updated_by = actor_id(actor)
    opportunity.touch()
    session.add(opportunity)
    session.flush()


# --------------------------------------------------------------------------------------------
# Creating, editing, moving, deleting


def create_opportunity(session: Session, actor: Actor, raw: Mapping[str, Any]) -> Opportunity:
    """A new opportunity. `raw`: name (required), institution_id (required, visible to the actor),
    contact_id (of that institution), owner_id (default: the actor), stage (default prospecting),
    amount (excl. VAT, ≥ 0), probability (empty: the stage's), expected_close_date, source,
    lost_reason_id / lost_reason_text (when created lost), description."""
    values = _clean(raw)
    if not values.get("name"):
        raise ValidationFailed({"name": N_("This field is required.")})
    institution = links.required_institution(session, actor, values.get("institution_id"), values.get("contact_id"))
    owner = _owner(session, actor, values.get("owner_id") or actor_id(actor))
    now = utcnow()
    opportunity = Opportunity(
        name=values["name"],
        name_key=fold(values["name"]),
        institution_id=institution.id,
        contact_id=values.get("contact_id"),
        owner_id=owner.id,
        team_id=owner.team_id,
        stage=OpportunityStage.PROSPECTING,
        amount=values.get("amount") or money.ZERO,
        probability=STAGE_PROBABILITY[OpportunityStage.PROSPECTING],
        expected_close_date=values.get("expected_close_date"),
        source=values.get("source"),
        description=values.get("description"),
        stage_changed_at=now,
        created_by=actor_id(actor),
        updated_by=actor_id(actor),
    )
    changes: dict[str, tuple[Any, Any]] = {}
    _apply_stage(
        session, opportunity, values.get("stage") or OpportunityStage.PROSPECTING, values, changes=changes, now=now
    )
    _apply_probability(opportunity, values, changes)
    session.add(opportunity)
    session.flush()
    _write_stage_change(session, actor, opportunity, None, now)
    _record(
        session,
        actor,
        opportunity,
        "create",
        {
            "name": (None, opportunity.name),
            "stage": (None, opportunity.stage),
            "amount": (None, opportunity.amount),
            "owner_id": (None, opportunity.owner_id),
        },
    )
    _announce_owner(session, actor, opportunity)
    return opportunity


def _field_changes(
    session: Session, actor: Actor, opportunity: Opportunity, values: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """The plain fields' changes (institution, contact and owner checked; the team follows the owner)."""
    changes = {
        name: (getattr(opportunity, name), values[name])
        for name in _PLAIN_FIELDS
        if name in values and getattr(opportunity, name) != values[name]
    }
    if "institution_id" in changes and "contact_id" not in values and opportunity.contact_id is not None:
        changes["contact_id"] = (opportunity.contact_id, None)  # the contact worked at the previous institution
    if "institution_id" in changes or "contact_id" in changes:
        links.required_institution(
            session,
            actor,
            changes.get("institution_id", (None, opportunity.institution_id))[1],
            changes.get("contact_id", (None, opportunity.contact_id))[1],
        )
    if "owner_id" in changes:
        owner = _owner(session, actor, changes["owner_id"][1])
        if owner.team_id != opportunity.team_id:
            changes["team_id"] = (opportunity.team_id, owner.team_id)
    return changes


def update_opportunity(
    session: Session, actor: Actor, opportunity_id: uuid.UUID, raw: Mapping[str, Any], *, expected_version: int
) -> Opportunity:
    """Change the given fields (a stage among them moves it, with the same rules as `move_stage`).
    Refused with the other person's name when the version is stale."""
    opportunity = _editable(session, actor, opportunity_id, expected_version)
    values = _clean(raw)
    for name in ("institution_id", "stage"):
        if name in values and values[name] is None:
            raise ValidationFailed({name: N_("This field is required.")})
    if "amount" in values and values["amount"] is None:
        values["amount"] = money.ZERO
    if "owner_id" in values and values["owner_id"] is None:
        del values["owner_id"]
    changes = _field_changes(session, actor, opportunity, values)
    now = utcnow()
    old_stage = OpportunityStage(opportunity.stage)
    stage = values.get("stage") or old_stage
    try:
        for name, (_old, new) in changes.items():
            setattr(opportunity, name, new)
        opportunity.name_key = fold(opportunity.name)
        if stage is not old_stage or any(name in values for name in _LOST_FIELDS):
            _apply_stage(session, opportunity, stage, values, changes=changes, now=now)
        _apply_probability(opportunity, values, changes)
    except ValidationFailed:
        session.expire(opportunity)  # nothing of the refused change stays on the row
        raise
    if not changes:
        return opportunity
    _touch(session, actor, opportunity)
    if stage is not old_stage:
        _write_stage_change(session, actor, opportunity, old_stage, now)
    _record(session, actor, opportunity, "stage" if "stage" in changes else "update", changes)
    if "owner_id" in changes:
        _announce_owner(session, actor, opportunity)
    return opportunity


def move_stage(
    session: Session,
    actor: Actor,
    opportunity_id: uuid.UUID,
    stage: OpportunityStage | str,
    *,
    lost_reason_id: uuid.UUID | str | None = None,
    lost_reason_text: str | None = None,
    expected_version: int | None = None,
) -> Opportunity:
    """Move the opportunity into `stage` (the board's drag and drop): to `lost` with a listed reason
    and/or a free text. Moving into the stage it is in changes nothing (a lost one's reason may be
    corrected that way)."""
    raw: dict[str, Any] = {"stage": stage}
    if lost_reason_id is not None:
        raw["lost_reason_id"] = lost_reason_id
    if lost_reason_text is not None:
        raw["lost_reason_text"] = lost_reason_text
    if expected_version is None:
        expected_version = get_opportunity_record(session, opportunity_id).version
    return update_opportunity(session, actor, opportunity_id, raw, expected_version=expected_version)


def win_from_quote(session: Session, actor: Actor, opportunity_id: uuid.UUID, amount: Decimal) -> Opportunity | None:
    """The quote made for this opportunity was accepted by `actor`: the sale is won at the quote's
    total excl. VAT (stage change authored by the acceptor, whose right is the quote's). An opportunity
    already won is left as it is. Returns the opportunity when it changed."""
    opportunity = get_opportunity_record(session, opportunity_id, for_update=True)
    old_stage = OpportunityStage(opportunity.stage)
    if old_stage is OpportunityStage.WON:
        return None
    now = utcnow()
    changes: dict[str, tuple[Any, Any]] = {}
    if opportunity.amount != amount:
        changes["amount"] = (opportunity.amount, amount)
        opportunity.amount = amount
    _apply_stage(session, opportunity, OpportunityStage.WON, {}, changes=changes, now=now)
    _touch(session, actor, opportunity)
    _write_stage_change(session, actor, opportunity, old_stage, now)
    _record(session, actor, opportunity, "stage", changes)
    return opportunity


def delete_opportunity(
    session: Session, actor: Actor, opportunity_id: uuid.UUID, *, expected_version: int | None = None
) -> None:
    """Delete the opportunity, its stage history and its comments; its quotes and activities stay, unlinked."""
    opportunity = _editable(session, actor, opportunity_id, expected_version)
    _record(session, actor, opportunity, "delete", {"name": (opportunity.name, None)})
    comments.delete_for_target(session, CommentTarget.OPPORTUNITY, opportunity.id)
    session.execute(sa.delete(_SC).where(_SC.c.opportunity_id == opportunity.id))
    session.delete(opportunity)
    session.flush()


# --------------------------------------------------------------------------------------------
# Reading one opportunity


@dataclass(frozen=True, slots=True)
class StageRow:
    """One stay in a stage: entered at `entered_at` by `changed_by_name`; `left_at` is the next move
    (None for the current stage), `duration` the time spent there (so far, for an open current stage;
    None for the final stage of a closed sale)."""

    from_stage: OpportunityStage | None
    to_stage: OpportunityStage
    entered_at: datetime
    left_at: datetime | None
    duration: timedelta | None
    changed_by: uuid.UUID | None
    changed_by_name: str | None
    amount: Decimal
    probability: int


@dataclass(frozen=True, slots=True)
class LinkedQuote:
    id: uuid.UUID
    number: str
    status: str  # QuoteStatus value
    title: str | None
    issue_date: date
    total_excl_vat: Decimal
    total_incl_vat: Decimal


@dataclass(frozen=True, slots=True)
class OpportunityDetail:
    """An opportunity as its page and the API read it."""

    id: uuid.UUID
    name: str
    institution_id: uuid.UUID
    institution_name: str
    contact_id: uuid.UUID | None
    contact_name: str | None
    owner_id: uuid.UUID
    owner_name: str
    team_id: uuid.UUID | None
    team_name: str | None
    stage: OpportunityStage
    amount: Decimal
    probability: int
    probability_is_manual: bool
    weighted_amount: Decimal
    expected_close_date: date | None
    source: OpportunitySource | None
    lost_reason_id: uuid.UUID | None
    lost_reason: str | None  # the listed reason's label (a default one is a message id: translate it)
    lost_reason_text: str | None
    description: str | None
    closed_at: datetime | None
    stage_changed_at: datetime
    created_by: uuid.UUID | None
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime
    updated_by_name: str | None
    version: int
    stage_history: tuple[StageRow, ...]  # oldest first
    quotes: tuple[LinkedQuote, ...]  # newest first
    can_edit: bool = False


def stage_history(session: Session, opportunity: Opportunity, *, now: datetime | None = None) -> list[StageRow]:
    """The opportunity's stays in each stage, oldest first, with the time spent in each."""
    now = now or utcnow()
    changes = session.exec(
        select(OpportunityStageChange)
        .where(OpportunityStageChange.opportunity_id == opportunity.id)
        .order_by(col(OpportunityStageChange.changed_at), col(OpportunityStageChange.id))
    ).all()
    names = user_names(session, [c.changed_by for c in changes])
    rows = []
    for index, change in enumerate(changes):
        left_at = changes[index + 1].changed_at if index + 1 < len(changes) else None
        stage = OpportunityStage(change.to_stage)
        if left_at is not None:
            duration: timedelta | None = left_at - change.changed_at
        else:
            duration = None if stage.is_closed else max(timedelta(0), now - change.changed_at)
        rows.append(
            StageRow(
                from_stage=OpportunityStage(change.from_stage) if change.from_stage else None,
                to_stage=stage,
                entered_at=change.changed_at,
                left_at=left_at,
                duration=duration,
                changed_by=change.changed_by,
                changed_by_name=names.get(change.changed_by) if change.changed_by else None,
                amount=change.amount,
                probability=change.probability,
            )
        )
    return rows


def linked_quotes(session: Session, opportunity_id: uuid.UUID) -> list[LinkedQuote]:
    """The quotes made for the opportunity, newest first."""
    quote = table_of(Quote).c
    rows = fetch_all(
        session,
        sa.select(
            quote.id,
            quote.number,
            quote.status,
            quote.title,
            quote.issue_date,
            quote.total_excl_vat,
            quote.total_incl_vat,
        )
        .where(quote.opportunity_id == opportunity_id)
        .order_by(quote.issue_date.desc(), quote.number.desc()),
    )
    return [LinkedQuote(*row) for row in rows]


def get_detail(session: Session, actor: Actor, opportunity_id: uuid.UUID) -> OpportunityDetail:
    """The opportunity with its names, stage history, linked quotes and whether the actor may edit it."""
    opportunity = get_visible_opportunity(session, actor, opportunity_id)
    institution = session.get(Institution, opportunity.institution_id)
    contact = session.get(Contact, opportunity.contact_id) if opportunity.contact_id else None
    team = session.get(Team, opportunity.team_id) if opportunity.team_id else None
    names = user_names(session, [opportunity.owner_id, opportunity.created_by, opportunity.updated_by])
    return OpportunityDetail(
        id=opportunity.id,
        name=opportunity.name,
        institution_id=opportunity.institution_id,
        institution_name=institution.name if institution else "",
        contact_id=opportunity.contact_id,
        contact_name=" ".join(p for p in (contact.first_name, contact.last_name) if p) if contact else None,
        owner_id=opportunity.owner_id,
        owner_name=names.get(opportunity.owner_id, ""),
        team_id=opportunity.team_id,
        team_name=team.name if team else None,
        stage=OpportunityStage(opportunity.stage),
        amount=opportunity.amount,
        probability=opportunity.probability,
        probability_is_manual=opportunity.probability_is_manual,
        weighted_amount=weighted(opportunity.amount, opportunity.probability),
        expected_close_date=opportunity.expected_close_date,
        source=OpportunitySource(opportunity.source) if opportunity.source else None,
        lost_reason_id=opportunity.lost_reason_id,
        lost_reason=_reason_label(session, opportunity.lost_reason_id),
        lost_reason_text=opportunity.lost_reason_text,
        description=opportunity.description,
        closed_at=opportunity.closed_at,
        stage_changed_at=opportunity.stage_changed_at,
        created_by=opportunity.created_by,
        created_by_name=names.get(opportunity.created_by) if opportunity.created_by else None,
        created_at=opportunity.created_at,
        updated_at=opportunity.updated_at,
        updated_by_name=names.get(opportunity.updated_by) if opportunity.updated_by else None,
        version=opportunity.version,
        stage_history=tuple(stage_history(session, opportunity)),
        quotes=tuple(linked_quotes(session, opportunity.id)),
        can_edit=can(actor, "opportunity.edit", placement(opportunity)),
    )


def opportunity_history(
    session: Session, actor: Actor, opportunity_id: uuid.UUID, request: PageRequest | None = None
) -> Page[audit.HistoryRow]:
    """The opportunity's audit trail, newest first, paged."""
    get_visible_opportunity(session, actor, opportunity_id)
    return audit.history_page(
        session,
        (col(AuditEntry.entity_type) == ENTITY, col(AuditEntry.entity_id) == opportunity_id),
        request or PageRequest(),
    )


# --------------------------------------------------------------------------------------------
# Lists and the board


_O = table_of(Opportunity).c
_SC = table_of(OpportunityStageChange)
_I = table_of(Institution).c
_OWNER = table_of(User).alias("opportunity_owner")

SORTS: dict[str, tuple[Any, ...]] = {
    "expected_close_date": (_O.expected_close_date,),
    "name": (_O.name_key,),
    "institution": (_I.name_key,),
    "owner": (_OWNER.c.full_name,),
    "stage": (_O.stage,),
    "amount": (_O.amount,),
    "probability": (_O.probability,),
    "weighted_amount": (_O.amount * _O.probability,),
    "closed_at": (_O.closed_at,),
    "created": (_O.created_at,),
    "updated": (_O.updated_at,),
}
DEFAULT_SORT = "expected_close_date"

_AMOUNT = fields.amount(maximum=money.MAX_AMOUNT)


def _day(read: Params, name: str) -> date | None:
    try:
        return fields.day()(read.one(name))
    except ValueError:
        return None


def _money(read: Params, name: str) -> Decimal | None:
    try:
        return _AMOUNT(read.one(name))
    except ValueError:
        return None


@dataclass(frozen=True)
class OpportunityFilter:
    """Filters and sort of the opportunity list and board (the /opportunities page's URL and the API's
    query string, same names). Date bounds are inclusive; `closed_from` / `closed_to` are days in the
    organisation's time zone; amounts filter the amount excl. VAT."""

    q: str = ""  # name or institution name
    stages: tuple[OpportunityStage, ...] = ()  # `stage`
    owner_id: uuid.UUID | None = None  # `owner`
    mine: bool = False  # `owner=me`: owned by the actor
    team_id: uuid.UUID | None = None  # `team`
    institution_id: uuid.UUID | None = None  # `institution`
    close_from: date | None = None
    close_to: date | None = None
    closed_from: date | None = None
    closed_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    sources: tuple[OpportunitySource, ...] = ()  # `source`
    sort: str = DEFAULT_SORT
    descending: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, str | Sequence[str]]) -> OpportunityFilter:
        """Parse URL or API parameters; unknown or malformed values are left out (an API request's
        malformed id is refused, see `StrictQuery`). `sort=-amount` sorts descending."""
        read = Params(params)
        sort, descending = read.sort(SORTS, DEFAULT_SORT)
        owner = read.one("owner")
        mine = owner == "me"
        return cls(
            q=read.one("q") or "",
            stages=read.choices("stage", OpportunityStage),
            owner_id=None if mine else read.ident("owner"),
            mine=mine,
            team_id=read.ident("team"),
            institution_id=read.ident("institution"),
            close_from=_day(read, "close_from"),
            close_to=_day(read, "close_to"),
            closed_from=_day(read, "closed_from"),
            closed_to=_day(read, "closed_to"),
            amount_min=_money(read, "amount_min"),
            amount_max=_money(read, "amount_max"),
            sources=read.choices("source", OpportunitySource),
            sort=sort,
            descending=descending,
        )

    def to_params(self) -> dict[str, str | list[str]]:
        """The filter as URL parameters (what `from_params` reads back); defaults left out."""
        params: dict[str, str | list[str]] = {}
        if self.q:
            params["q"] = self.q
        if self.stages:
            params["stage"] = [s.value for s in self.stages]
        if self.mine:
            params["owner"] = "me"
        elif self.owner_id:
            params["owner"] = str(self.owner_id)
        for name, value in (("team", self.team_id), ("institution", self.institution_id)):
            if value is not None:
                params[name] = str(value)
        for name in ("close_from", "close_to", "closed_from", "closed_to"):
            day = getattr(self, name)
            if day is not None:
                params[name] = day.isoformat()
        for name in ("amount_min", "amount_max"):
            amount = getattr(self, name)
            if amount is not None:
                params[name] = str(amount)
        if self.sources:
            params["source"] = [s.value for s in self.sources]
        if (self.sort, self.descending) != (DEFAULT_SORT, False):
            params["sort"] = ("-" if self.descending else "") + self.sort
        return params


def visible_condition(actor: Actor) -> Any:
    """SQL: the opportunities the actor may see."""
    return scope_condition(actor, "opportunity.view", team_column=_O.team_id, owner_columns=(_O.owner_id,))


def _local_midnight(session: Session, day: date) -> datetime:
    zone = ZoneInfo(organisation(session)["timezone"])
    return datetime.combine(day, time.min, tzinfo=zone)


def _conditions(session: Session, actor: Actor, query: OpportunityFilter) -> list[Any]:
    conditions = [visible_condition(actor)]
    bounds = (
        (query.owner_id, _O.owner_id.__eq__),
        (query.team_id, _O.team_id.__eq__),
        (query.institution_id, _O.institution_id.__eq__),
        (query.close_from, _O.expected_close_date.__ge__),
        (query.close_to, _O.expected_close_date.__le__),
        (query.amount_min, _O.amount.__ge__),
        (query.amount_max, _O.amount.__le__),
    )
    conditions += [compare(value) for value, compare in bounds if value is not None]
    if query.closed_from is not None:
        conditions.append(_O.closed_at >= _local_midnight(session, query.closed_from))
    if query.closed_to is not None:
        conditions.append(_O.closed_at < _local_midnight(session, query.closed_to + timedelta(days=1)))
    if query.stages:
        conditions.append(_O.stage.in_([s.value for s in query.stages]))
    if query.sources:
        conditions.append(_O.source.in_([s.value for s in query.sources]))
    if query.mine:
        conditions.append(_O.owner_id == actor.id)
    term = fold(query.q)
    if term:
        pattern = contains_pattern(term)
        conditions.append(sa.or_(_O.name_key.like(pattern, escape="\\"), _I.name_key.like(pattern, escape="\\")))
    return conditions


def _from(query: OpportunityFilter, *, order: OpportunityFilter | None = None) -> Any:
    """The opportunities, with the institution when the text filter or the sort needs it (and the owner
    when the sort is by owner)."""
    sort = (order or query).sort
    joined: Any = table_of(Opportunity)
    if query.q.strip() or sort == "institution":
        joined = joined.join(table_of(Institution), _I.id == _O.institution_id)
    if sort == "owner":
        joined = joined.join(_OWNER, _OWNER.c.id == _O.owner_id)
    return joined


def _order(query: OpportunityFilter) -> list[Any]:
    """The sort: empty values last, and a descending sort the exact reverse (empty values first), as
    the indexes read them backwards."""
    columns = SORTS.get(query.sort, SORTS[DEFAULT_SORT])
    ordered = [c.desc().nulls_first() if query.descending else c.asc().nulls_last() for c in columns]
    return [*ordered, _O.id.desc() if query.descending else _O.id.asc()]


@dataclass(frozen=True, slots=True)
class OpportunityRow:
    id: uuid.UUID
    name: str
    institution_id: uuid.UUID
    institution_name: str
    contact_id: uuid.UUID | None
    owner_id: uuid.UUID
    owner_name: str
    team_id: uuid.UUID | None
    stage: OpportunityStage
    amount: Decimal
    probability: int
    weighted_amount: Decimal
    expected_close_date: date | None
    source: OpportunitySource | None
    closed_at: datetime | None
    stage_changed_at: datetime
    updated_at: datetime
    version: int
    can_edit: bool = False


@dataclass(frozen=True, slots=True)
class OpportunityPage(Page[OpportunityRow]):
    """A page of opportunities and the sums over the whole filtered list (`total` is its count)."""

    sum_amount: Decimal = money.ZERO
    sum_weighted: Decimal = money.ZERO


_ROW_COLUMNS = (
    _O.id,
    _O.name,
    _O.institution_id,
    _I.name.label("institution_name"),
    _O.contact_id,
    _O.owner_id,
    _OWNER.c.full_name.label("owner_name"),
    _O.team_id,
    _O.stage,
    _O.amount,
    _O.probability,
    _O.expected_close_date,
    _O.source,
    _O.closed_at,
    _O.stage_changed_at,
    _O.updated_at,
    _O.version,
)


def _rows(session: Session, actor: Actor, statement: Any) -> list[OpportunityRow]:
    rows = []
    for row in fetch_all(session, statement):
        values = row._asdict()
        where = Placement(team_id=row.team_id, assigned_user_id=row.owner_id)
        rows.append(
            OpportunityRow(
                **{
                    **values,
                    "stage": OpportunityStage(row.stage),
                    "source": OpportunitySource(row.source) if row.source else None,
                    "amount": Decimal(row.amount),
                },
                weighted_amount=weighted(Decimal(row.amount), row.probability),
                can_edit=can(actor, "opportunity.edit", where),
            )
        )
    return rows


def _select_rows(
    conditions: Sequence[Any], query: OpportunityFilter, *, order: OpportunityFilter, offset: int, limit: int
) -> Any:
    """One page of rows: its ids sorted and cut on the opportunities alone (with only the join the
    filter or the sort needs: the sort's index reads the first rows), then the names of those rows."""
    page = (
        sa.select(_O.id)
        .select_from(_from(query, order=order))
        .where(*conditions)
        .order_by(*_order(order))
        .offset(offset)
        .limit(limit)
        .correlate(None)
    )
    return (
        sa.select(*_ROW_COLUMNS)
        .select_from(
            table_of(Opportunity)
            .join(table_of(Institution), _I.id == _O.institution_id)
            .join(_OWNER, _OWNER.c.id == _O.owner_id)
        )
        .where(_O.id.in_(page))
        .order_by(*_order(order))
    )


@dataclass(frozen=True, slots=True)
class _Sums:
    count: int = 0
    amount: Decimal = money.ZERO
    weighted: Decimal = money.ZERO  # Σ amount × probability / 100, to the cent


def _sums(session: Session, query: OpportunityFilter, conditions: Sequence[Any], *, by_stage: bool) -> dict[Any, _Sums]:
    """The count, sum and weighted sum of the filtered opportunities (per stage when `by_stage`, else
    under the key None), from one aggregate grouped by probability: Σ amount × p = Σ over each p of
    p × Σ amount, exact, without a multiplication per row."""
    keys = [_O.stage] if by_stage else []
    rows = fetch_all(
        session,
        sa.select(*keys, _O.probability, sa.func.count(), sa.func.sum(_O.amount))
        .select_from(_from(query))
        .where(*conditions)
        .group_by(*keys, _O.probability),
    )
    totals: dict[Any, tuple[int, Decimal, Decimal]] = {}
    for row in rows:
        key = row[0] if by_stage else None
        probability, count, amount = row[-3], int(row[-2]), Decimal(row[-1] or 0)
        before = totals.get(key, (0, Decimal(0), Decimal(0)))
        totals[key] = (before[0] + count, before[1] + amount, before[2] + amount * probability)
    return {
        key: _Sums(count, money.to_cents(amount), money.to_cents(weighted / money.HUNDRED))
        for key, (count, amount, weighted) in totals.items()
    }


def list_opportunities(
    session: Session, actor: Actor, query: OpportunityFilter | None = None, request: PageRequest | None = None
) -> OpportunityPage:
    """The opportunities the actor may see, filtered, sorted and paged in SQL, with the count, the sum
    and the weighted sum of the whole filtered list from one aggregate query."""
    query = query or OpportunityFilter()
    request = request or PageRequest()
    conditions = _conditions(session, actor, query)
    rows = _rows(
        session,
        actor,
        _select_rows(conditions, query, order=query, offset=request.offset, limit=request.page_size),
    )
    sums = _sums(session, query, conditions, by_stage=False).get(None, _Sums())
    return OpportunityPage(
        rows, sums.count, request.page, request.page_size, sum_amount=sums.amount, sum_weighted=sums.weighted
    )


#: The board's cards in a column: the nearest expected close first (undated last).
_BOARD_ORDER = replace(OpportunityFilter(), sort="expected_close_date", descending=False)


@dataclass(frozen=True, slots=True)
class BoardColumn:
    """One stage of the board: the count and sums over the whole filter, and the first page of cards
    (`items`; `has_more` when `board_page` has more)."""

    stage: OpportunityStage
    count: int
    amount: Decimal
    weighted_amount: Decimal
    items: list[OpportunityRow]
    page_size: int

    @property
    def has_more(self) -> bool:
        return self.count > len(self.items)


def board_page(
    session: Session,
    actor: Actor,
    query: OpportunityFilter | None,
    stage: OpportunityStage | str,
    request: PageRequest | None = None,
) -> Page[OpportunityRow]:
    """A page of one board column's cards (the nearest expected close first), with the column's count."""
    query = query or OpportunityFilter()
    request = request or PageRequest(1, BOARD_PAGE_SIZE)
    stage = OpportunityStage(stage)
    conditions = [*_conditions(session, actor, replace(query, stages=())), _O.stage == stage.value]
    if query.stages and stage not in query.stages:
        return Page([], 0, request.page, request.page_size)
    rows = _rows(
        session,
        actor,
        _select_rows(conditions, query, order=_BOARD_ORDER, offset=request.offset, limit=request.page_size),
    )
    count = fetch_all(session, sa.select(sa.func.count()).select_from(_from(query)).where(*conditions))[0][0]
    return Page(rows, int(count), request.page, request.page_size)


def board(
    session: Session, actor: Actor, query: OpportunityFilter | None = None, *, page_size: int = BOARD_PAGE_SIZE
) -> list[BoardColumn]:
    """The board: a column per stage (the filter's stages, else all six), each with its count, sum and
    weighted sum over the whole filter (one grouped query) and its first `page_size` cards."""
    query = query or OpportunityFilter()
    stages = query.stages or tuple(OpportunityStage)
    conditions = _conditions(session, actor, query)
    totals = _sums(session, query, conditions, by_stage=True)
    any_stage = _conditions(session, actor, replace(query, stages=()))
    columns = []
    for stage in stages:
        sums = totals.get(stage.value, _Sums())
        stage_conditions = [*any_stage, _O.stage == stage.value]
        page = _select_rows(stage_conditions, query, order=_BOARD_ORDER, offset=0, limit=page_size)
        columns.append(
            BoardColumn(
                stage=stage,
                count=sums.count,
                amount=sums.amount,
                weighted_amount=sums.weighted,
                items=_rows(session, actor, page) if sums.count else [],
                page_size=page_size,
            )
        )
    return columns


def iter_opportunities(
    session: Session, actor: Actor, query: OpportunityFilter, *, batch: int = 1000
) -> Iterator[OpportunityRow]:
    """Every filtered opportunity in the list's order, read in batches (the export)."""
    conditions = _conditions(session, actor, query)
    offset = 0
    while True:
        rows = _rows(session, actor, _select_rows(conditions, query, order=query, offset=offset, limit=batch))
        yield from rows
        if len(rows) < batch:
            return
        offset += batch


# --------------------------------------------------------------------------------------------
# Export


EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", N_("Name")),
    ("institution_name", N_("Institution")),
    ("owner_name", N_("Owner")),
    ("stage", N_("Stage")),
    ("amount", N_("Amount excl. VAT")),
    ("probability", N_("Probability (%)")),
    ("weighted_amount", N_("Weighted amount")),
    ("expected_close_date", N_("Expected close date")),
    ("source", N_("Source")),
    ("closed_at", N_("Closed on")),
)


def export_row(row: OpportunityRow, zone: ZoneInfo) -> list[Any]:
    """A list row as the export shows it (in the current language; the closing day in `zone`)."""
    cells: list[Any] = []
    for name, _label in EXPORT_COLUMNS:
        value = getattr(row, name)
        if name == "stage":
            value = gettext(STAGE_LABELS[value])
        elif name == "source":
            value = gettext(SOURCE_LABELS[value]) if value else None
        elif name == "closed_at":
            value = value.astimezone(zone).date() if value else None
        cells.append(value)
    return cells


def export_opportunities(
    session: Session, actor: Actor, query: OpportunityFilter, export_format: ExportFormat
) -> bytes:
    """The filtered list, every page of it, as CSV or XLSX; the export is written to the security log."""
    zone = ZoneInfo(organisation(session)["timezone"])
    rows = [export_row(row, zone) for row in iter_opportunities(session, actor, query)]
    header = [gettext(label) for _name, label in EXPORT_COLUMNS]
    security_log.record(
        session,
        SecurityAction.EXPORT,
        severity=Severity.MEDIUM,
        user_id=actor_id(actor),
        email=actor.email,
        list="opportunities",
        rows=len(rows),
        format=export_format.value,
        filters=query.to_params(),
    )
    if export_format is ExportFormat.XLSX:
        return to_xlsx(header, rows, sheet=gettext(N_("Opportunities")))
    return to_csv(header, rows)


# --------------------------------------------------------------------------------------------
# Lost reasons


@dataclass(frozen=True, slots=True)
class LostReasonRow:
    id: uuid.UUID
    label: str  # a default reason's label is a message id: translate it where shown
    position: int
    is_active: bool
    version: int


def lost_reason_label(label: str) -> str:
    """A reason's label in the current language (a default one is translated; one an admin typed is
    shown as typed)."""
    return gettext(label)


def _seed_lost_reasons(session: Session) -> None:
    """The default reasons, once: when the list has never held any."""
    if session.exec(select(sa.func.count()).select_from(LostReason)).one():
        return
    try:
        with session.begin_nested():
            session.add_all(LostReason(label=label, position=i) for i, label in enumerate(DEFAULT_LOST_REASONS))
    except IntegrityError:
        pass  # another unit of work seeded them meanwhile


def list_lost_reasons(session: Session, *, include_retired: bool = False) -> list[LostReasonRow]:
    """The reasons in their order (the retired ones last, when asked for)."""
    _seed_lost_reasons(session)
    statement = select(LostReason)
    if not include_retired:
        statement = statement.where(col(LostReason.is_active))
    reasons = session.exec(
        statement.order_by(col(LostReason.is_active).desc(), col(LostReason.position), col(LostReason.label))
    ).all()
    return [LostReasonRow(r.id, r.label, r.position, r.is_active, r.version) for r in reasons]


_LABEL = fields.text(120, required=True)


def _clean_label(session: Session, raw: Any, *, reason_id: uuid.UUID | None = None) -> str:
    try:
        label = _LABEL(raw)
    except ValueError as exc:
        raise ValidationFailed({"label": str(exc)}) from None
    assert label is not None
    taken = session.exec(
        select(LostReason.id).where(sa.func.lower(LostReason.label) == label.lower(), LostReason.id != reason_id)
    ).first()
    if taken is not None:
        raise ValidationFailed({"label": N_("This reason is already in the list.")})
    return label


def _settings_record(session: Session, actor: Actor, reason: LostReason, action: str, changes: dict[str, Any]) -> None:
    audit.record(
        session,
        actor,
        entity_type="lost_reason",
        entity_id=reason.id,
        institution_id=None,
        action=action,
        changes=changes,
    )


def create_lost_reason(session: Session, actor: Actor, label: Any) -> LostReason:
    """Add a reason at the end of the list."""
    authorize(actor, "opportunity_settings.edit")
    _seed_lost_reasons(session)
    clean = _clean_label(session, label)
    last = session.exec(select(sa.func.max(LostReason.position))).one()
    reason = LostReason(label=clean, position=(last or 0) + 1, created_by=actor_id(actor))
    session.add(reason)
    session.flush()
    _settings_record(session, actor, reason, "create", {"label": (None, clean)})
    return reason


def _reason(session: Session, reason_id: uuid.UUID, expected_version: int | None) -> LostReason:
    reason = get_record(session, LostReason, reason_id, missing=N_("This reason does not exist."), for_update=True)
    if expected_version is not None and reason.version != expected_version:
        raise Conflict()
    return reason


def update_lost_reason(
    session: Session,
    actor: Actor,
    reason_id: uuid.UUID,
    *,
    label: Any = None,
    is_active: bool | None = None,
    expected_version: int | None = None,
) -> LostReason:
    """Rename a reason (the opportunities lost for it follow), retire it (`is_active=False`: no longer
    offered, kept on the opportunities lost for it) or bring it back."""
    authorize(actor, "opportunity_settings.edit")
    reason = _reason(session, reason_id, expected_version)
    changes: dict[str, tuple[Any, Any]] = {}
    if label is not None:
        clean = _clean_label(session, label, reason_id=reason.id)
        if clean != reason.label:
            changes["label"] = (reason.label, clean)
            reason.label = clean
    if is_active is not None and is_active != reason.is_active:
        changes["is_active"] = (reason.is_active, is_active)
        reason.is_active = is_active
    if changes:
        reason.touch()
        session.add(reason)
        session.flush()
        _settings_record(session, actor, reason, "update", changes)
    return reason


def reorder_lost_reasons(session: Session, actor: Actor, reason_ids: Sequence[uuid.UUID]) -> list[LostReasonRow]:
    """Put the reasons in the given order (the ones not named keep their order, after them)."""
    authorize(actor, "opportunity_settings.edit")
    reasons = {r.id: r for r in session.exec(select(LostReason).with_for_update()).all()}
    unknown = [rid for rid in reason_ids if rid not in reasons]
    if unknown or len(set(reason_ids)) != len(reason_ids):
        raise ValidationFailed({"reason_ids": N_("This list does not match the reasons.")})
    rest = sorted((r for r in reasons.values() if r.id not in set(reason_ids)), key=lambda r: (r.position, r.label))
    for position, reason in enumerate([*(reasons[rid] for rid in reason_ids), *rest]):
        if reason.position != position:
            reason.position = position
            reason.touch()
            session.add(reason)
    session.flush()
    return list_lost_reasons(session, include_retired=True)


def delete_lost_reason(session: Session, actor: Actor, reason_id: uuid.UUID) -> None:
    """Delete a reason no opportunity was lost for (one in use is retired instead). The last reason of
    the list stays (retire it): an empty list would be given the default reasons again."""
    authorize(actor, "opportunity_settings.edit")
    reason = _reason(session, reason_id, None)
    used = session.exec(select(Opportunity.id).where(Opportunity.lost_reason_id == reason.id).limit(1)).first()
    if used is not None:
        raise ValidationFailed({"label": N_("Sales were lost for this reason: retire it instead.")})
    if session.exec(select(sa.func.count()).select_from(LostReason)).one() <= 1:
        raise ValidationFailed({"label": N_("The list keeps at least one reason: retire it instead.")})
    _settings_record(session, actor, reason, "delete", {"label": (reason.label, None)})
    session.delete(reason)
    session.flush()


# --------------------------------------------------------------------------------------------
# Notifications, comments, the institution timeline, who may read an opportunity


NOTIFICATION_KINDS: dict[str, str] = {
    "opportunity.assigned": N_("{actor} gave you the opportunity “{name}”"),
    "opportunity.quote_rejected": N_("{actor} recorded that {institution} rejected the quote {number} of “{name}”"),
    # written by the daily quote expiry (`sales.reminders.expire_quotes`), for many quotes at once
    "opportunity.quote_expired": N_("The quote {number} of your opportunity “{name}” has expired"),
}
RECORD_LINKS: dict[str, str] = {ENTITY: "/opportunities/{id}"}


def _notify_assigned(session: Session, event: events.OpportunityAssigned) -> None:
    notification_service.notify(
        session,
        [event.assignee_id],
        kind="opportunity.assigned",
        params={"actor": notification_service.actor_name(session, event.actor_id), "name": event.title},
        record_kind=ENTITY,
        record_id=event.opportunity_id,
        actor_id=event.actor_id,
    )


def _quote_opportunity(session: Session, quote_id: uuid.UUID, quote_owner_id: uuid.UUID) -> Opportunity | None:
    """The opportunity a quote was made for, when its owner is not the quote's (who is told already)."""
    quote = session.get(Quote, quote_id)
    if quote is None or quote.opportunity_id is None:
        return None
    opportunity = session.get(Opportunity, quote.opportunity_id)
    if opportunity is None or opportunity.owner_id == quote_owner_id:
        return None
    return opportunity


def _notify_quote_rejected(session: Session, event: events.QuoteRejected) -> None:
    opportunity = _quote_opportunity(session, event.quote_id, event.owner_id)
    if opportunity is None:
        return
    notification_service.notify(
        session,
        [opportunity.owner_id],
        kind="opportunity.quote_rejected",
        params={
            "actor": notification_service.actor_name(session, event.actor_id),
            "institution": event.institution_name,
            "number": event.number,
            "name": opportunity.name,
        },
        record_kind=ENTITY,
        record_id=opportunity.id,
        actor_id=event.actor_id,
    )


SUBSCRIBERS: tuple[events.Subscription, ...] = (
    events.Subscription(events.OpportunityAssigned, _notify_assigned),
    events.Subscription(events.QuoteRejected, _notify_quote_rejected),
)


def _comment_target(session: Session, opportunity_id: uuid.UUID) -> comments.Target:
    opportunity = get_opportunity_record(session, opportunity_id)
    where = placement(opportunity)
    return comments.Target(
        CommentTarget.OPPORTUNITY, opportunity.id, opportunity.name, lambda actor: can(actor, "opportunity.view", where)
    )


COMMENT_TARGETS: dict[CommentTarget, comments.TargetResolver] = {CommentTarget.OPPORTUNITY: _comment_target}


def _timeline_source(actor: Actor, institution_id: uuid.UUID) -> Select[Any]:
    """The institution's opportunities on its timeline: their creation and each stage move (won, lost
    included). title = the opportunity's name, status = the stage entered, old_value = the stage left
    (none at creation), new_value = the amount then, user = who moved it."""
    mover = table_of(User).alias("timeline_opportunity_mover")
    change = _SC.c
    return (
        sa.select(
            *timeline.entry_columns(
                ENTITY,
                _O.id,
                change.changed_at,
                title=_O.name,
                status=change.to_stage,
                user_name=mover.c.full_name,
                old_value=change.from_stage,
                new_value=sa.cast(change.amount, sa.Text),
            )
        )
        .select_from(_SC)
        .join(table_of(Opportunity), _O.id == change.opportunity_id)
        .outerjoin(mover, mover.c.id == change.changed_by)
        .where(_O.institution_id == institution_id, visible_condition(actor))
    )


TIMELINE_SOURCES: tuple[timeline.TimelineSource, ...] = (
    timeline.TimelineSource(ENTITY, _timeline_source, RECORD_LINKS[ENTITY]),
)


def _visible_opportunity(actor: Actor, opportunity_id: Any) -> Any:
    """SQL: `opportunity_id` names an opportunity the actor may see (the opportunity page's right)."""
    return records.exists_visible(_O.id, visible_condition(actor), opportunity_id)


#: Who may read an opportunity (its audit entries, its notifications, its comments' mentions).
RECORD_VISIBILITY: dict[str, records.Visibility] = {ENTITY: _visible_opportunity}


def _linked_opportunity(session: Session, actor: Actor, opportunity_id: uuid.UUID) -> records.LinkedRecord:
    opportunity = get_opportunity_record(session, opportunity_id)
    return records.LinkedRecord(
        opportunity.id, opportunity.institution_id, can(actor, "opportunity.view", placement(opportunity))
    )


#: What activities may be linked to (`records.linked_record`): an opportunity, through its id.
LINKABLE_RECORDS: dict[str, records.LinkResolver] = {ENTITY: _linked_opportunity}
