"""Institutions: create, edit (optimistic concurrency, audit trail), archive, lists paged and
filtered in SQL, duplicate warnings, bulk actions."""

from __future__ import annotations

import bisect
import dataclasses
import functools
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from anyio import to_thread
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from crm_app.institutions.duplicates import Candidate, DuplicateIndex, Match, match_key
from crm_app.institutions.fields import (  # noqa: F401 - the code labels, read through this module too
    COMPLIANCE_LABELS,
    EDITABLE,
    FIELDS,
    STATUS_LABELS,
    TYPE_LABELS,
    Part,
    names_in,
)
from crm_app.institutions.models import (
    CommercialStatus,
    ComplianceStatus,
    Contact,
    DataSource,
    Institution,
    InstitutionLabel,
    InstitutionLabelOrder,
    InstitutionSearch,
    InstitutionType,
    LabelKind,
    MedicalProfile,
)
from crm_app.platform import audit, cache, events, identifiers, lookups
from crm_app.platform import cleaners as fields
from crm_app.platform.cache import TimedCache
from crm_app.platform.db import estimated_rows, fetch_all, is_postgresql, unit_of_work
from crm_app.platform.errors import Conflict, NotFound, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import table_of
from crm_app.platform.models.people import Team, User
from crm_app.platform.paging import EXACT_COUNT_LIMIT, PageOfLongList, PageRequest, Total, estimated_total
from crm_app.platform.params import Params
from crm_app.platform.permissions import Actor, Placement, Scope, authorize, can, scope_for
from crm_app.platform.records import actor_id
from crm_app.platform.scheduler import Job, cron
from crm_app.platform.settings import timezone
from crm_app.platform.text import contains_pattern, fold, leading_word, prefix_end

INSTITUTION_FIELDS = names_in(Part.INSTITUTION)
PROFILE_FIELDS = names_in(Part.PROFILE)
LABEL_FIELDS: dict[str, LabelKind] = {spec.name: spec.label_kind for spec in EDITABLE if spec.label_kind is not None}
CLEANERS: dict[str, fields.Cleaner] = {spec.name: spec.cleaner for spec in EDITABLE if spec.cleaner is not None}


class DuplicateSuspected(Conflict):
    """Saving would likely create a duplicate; the caller may confirm and create anyway."""

    code = "duplicate_suspected"

    def __init__(self, matches: list[Match]) -> None:
        super().__init__(
            N_("This institution looks like one that already exists."),
            matches=[{"id": str(m.ref), "name": m.name, "rule": m.rule.value} for m in matches],
        )
        self.matches = matches


# --------------------------------------------------------------------------------------------
# Cleaning and derived columns


def clean(raw: Mapping[str, Any], *, partial: bool, country: str = "FR") -> dict[str, Any]:
    """Validate and normalise input for an institution (all field errors at once)."""
    values, errors = fields.clean_fields(raw, CLEANERS, partial=partial)
    country = (values.get("country") or country or "FR").upper()
    if "country" in values:
        values["country"] = country if values["country"] else "FR"
    for name, check in (("postal_code", identifiers.clean_postal_code), ("phone", identifiers.clean_phone)):
        if values.get(name):
            try:
                values[name] = check(values[name], country)
            except ValueError as exc:
                errors[name] = str(exc)
    if values.get("website") and not str(values["website"]).startswith(("http://", "https://")):
        values["website"] = f"https://{values['website']}"
    if values.get("accounting_number"):
        values["accounting_number"] = values["accounting_number"].replace(" ", "").upper()
    for name in LABEL_FIELDS:
        if name in values:
            values[name] = sorted(values[name], key=str.lower)  # stored and compared in one order
    if not partial and "siret" not in errors and (message := public_entity_error(values)):
        errors["siret"] = message
    if errors:
        raise ValidationFailed(errors)
    return values


#: Chorus Pro identifies a public buyer by its SIRET: none, and its invoices cannot be deposited.
PUBLIC_ENTITY_NEEDS_SIRET = N_("A public entity needs its SIRET: Chorus Pro identifies the buyer by it.")


def public_entity_error(values: Mapping[str, Any]) -> str | None:
    """The SIRET's error when `values` (the institution's fields after the change) make a public entity
    without a SIRET."""
    return PUBLIC_ENTITY_NEEDS_SIRET if values.get("is_public_entity") and not values.get("siret") else None


#: The fields whose values the history keeps in words of their own (`FieldSpec.recorded`).
RECORDED: dict[str, Callable[[Any], Any]] = {spec.name: spec.recorded for spec in FIELDS if spec.recorded}


def recorded_changes(changes: Mapping[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
    """The changes as the history keeps them."""
    return {
        name: (RECORDED[name](old), RECORDED[name](new)) if name in RECORDED else (old, new)
        for name, (old, new) in changes.items()
    }


#: The name key holds the folded name's first characters, this many (the column's length).
NAME_KEY_LENGTH = 200

#: Institution column <- medical profile field, copied for the list's filters (see the model).
PROFILE_COPIES = {
    "profile_beds": "bed_capacity",
    "profile_rooms": "surgical_rooms",
    "profile_compliance": "compliance_status",
}


def derived_columns(values: Mapping[str, Any], contact_names: Iterable[str]) -> dict[str, Any]:
    """The sort, match and search columns of an institution (the search covers its contacts' names),
    and the copies of its profile figures (`values` holds institution and profile fields)."""
    parts = [
        values.get(name)
        for name in ("name", "city", "postal_code", "finess", "siret", "accounting_number", "group_name")
    ]
    compliance = values.get("compliance_status")
    return {
        "name_key": fold(values.get("name"))[:NAME_KEY_LENGTH],
        "city_key": fold(values.get("city"))[:120],
        "match_key": match_key(values.get("name"))[:200],
        "search_text": fold(" | ".join(p for p in [*parts, *contact_names] if p)),
        "profile_beds": values.get("bed_capacity"),
        "profile_rooms": values.get("surgical_rooms"),
        "profile_compliance": compliance.value if isinstance(compliance, ComplianceStatus) else compliance,
    }


def refresh_derived(session: Session, institution: Institution) -> None:
    """Recompute the derived columns after a change to the institution, its profile or its contacts."""
    contact_names = session.exec(
        select(Contact.first_name, Contact.last_name).where(
            Contact.institution_id == institution.id, ~col(Contact.is_archived)
        )
    ).all()
    profile = session.exec(
        select(*(getattr(MedicalProfile, name) for name in PROFILE_COPIES.values())).where(
            MedicalProfile.institution_id == institution.id
        )
    ).first()
    values = {name: getattr(institution, name) for name in INSTITUTION_FIELDS}
    values.update(zip(PROFILE_COPIES.values(), profile or (None,) * len(PROFILE_COPIES), strict=True))
    for name, value in derived_columns(values, (f"{first or ''} {last}" for first, last in contact_names)).items():
        setattr(institution, name, value)


# --------------------------------------------------------------------------------------------
# Duplicates


def _candidate(ref: uuid.UUID | int, values: Mapping[str, Any]) -> Candidate:
    return Candidate(
        ref=ref,
        name=values.get("name") or "",
        postal_code=values.get("postal_code"),
        city=values.get("city"),
        finess=values.get("finess"),
        siret=values.get("siret"),
        accounting_number=values.get("accounting_number"),
    )


_I = table_of(Institution).c  # Core columns, for the many-column queries


def candidates_query() -> Any:
    return sa.select(
        _I.id, _I.name, _I.postal_code, _I.city, _I.finess, _I.siret, _I.accounting_number, _I.match_key, _I.city_key
    )


def _as_candidates(rows: Iterable[Any]) -> Iterator[Candidate]:
    for row in rows:
        yield Candidate(
            ref=row[0],
            name=row[1],
            postal_code=row[2],
            city=row[3],
            finess=row[4],
            siret=row[5],
            accounting_number=row[6],
            stored_key=row[7],
            stored_city_key=row[8],
        )


def find_duplicates(session: Session, values: Mapping[str, Any], *, exclude_id: uuid.UUID | None = None) -> list[Match]:
    """Institutions that the rules say `values` duplicates (at most one per rule, best first)."""
    conditions = []
    for column in ("accounting_number", "finess", "siret"):
        if values.get(column):
            conditions.append(getattr(Institution, column) == values[column])
    key = match_key(values.get("name"))
    if key and values.get("postal_code"):
        conditions.append(
            sa.and_(col(Institution.match_key) == key, col(Institution.postal_code) == values["postal_code"])
        )
    if key and values.get("city"):
        conditions.append(col(Institution.city_key) == fold(values["city"]))
    if key and not values.get("postal_code") and not fold(values.get("city")):
        conditions.append(
            sa.and_(
                col(Institution.match_key) == key,
                col(Institution.city_key) == "",
                sa.func.coalesce(Institution.postal_code, "") == "",
            )
        )
    if not conditions:
        return []
    query = candidates_query().where(sa.or_(*conditions))
    if exclude_id is not None:
        query = query.where(Institution.id != exclude_id)
    index = DuplicateIndex(_as_candidates(fetch_all(session, query)))
    match = index.match(_candidate(exclude_id or 0, values))
    return [match] if match else []


def _assert_identifiers_free(session: Session, values: Mapping[str, Any], exclude_id: uuid.UUID | None) -> None:
    """The unique identifiers are refused outright (the database would refuse them too)."""
    errors = {}
    for column in ("finess", "siret", "accounting_number"):
        if values.get(column):
            query = select(Institution.name).where(getattr(Institution, column) == values[column])
            if exclude_id is not None:
                query = query.where(Institution.id != exclude_id)
            if (owner := session.exec(query).first()) is not None:
                errors[column] = N_("Already used by another institution.")
                errors[f"{column}_owner"] = owner
    if errors:
        raise ValidationFailed({k: v for k, v in errors.items() if not k.endswith("_owner")})


# --------------------------------------------------------------------------------------------
# Assignment rights


def _team_of(session: Session, user_id: uuid.UUID | None) -> uuid.UUID | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise ValidationFailed({"assigned_user_id": N_("This user does not exist or is deactivated.")})
    return user.team_id


def _check_assignment(session: Session, actor: Actor, current: Institution | None, values: dict[str, Any]) -> None:
    """Reassigning needs `institution.reassign` on both the old and the new placement; anyone who may
    edit an unassigned institution may take it for themselves."""
    if "assigned_user_id" not in values and "team_id" not in values:
        return
    old_user = current.assigned_user_id if current else None
    new_user = values.get("assigned_user_id", old_user)
    if "assigned_user_id" in values and "team_id" not in values:
        values["team_id"] = _team_of(session, new_user) if new_user else (current.team_id if current else None)
    elif new_user is not None:
        _team_of(session, new_user)
    new_team = values.get("team_id", current.team_id if current else None)
    if values.get("team_id") is not None and session.get(Team, values["team_id"]) is None:
        raise ValidationFailed({"team_id": N_("This team does not exist.")})
    if new_user == old_user and new_team == (current.team_id if current else None):
        return
    taking_for_self = old_user is None and new_user == actor.id and new_team in (None, actor.team_id)
    if taking_for_self:
        return
    target = Placement(team_id=new_team, assigned_user_id=new_user)
    if current is not None:
        authorize(actor, "institution.reassign", current)
    # The new placement must be inside the actor's reach too (a team admin stays in the team).
    if new_user is None and new_team is None:
        if scope_for(actor, "institution.reassign") is not Scope.ALL:
            authorize(actor, "institution.reassign", Placement(team_id=actor.team_id) if current is None else current)
        return
    authorize(actor, "institution.reassign", target)


def _announce_assignment(session: Session, actor: Actor, institution: Institution) -> None:
    """Tell the new assignee (never the actor about their own choice)."""
    if institution.assigned_user_id is not None and institution.assigned_user_id != actor.id:
        events.publish(
            session,
            events.InstitutionAssigned(
                institution_id=institution.id,
                institution_name=institution.name,
                assignee_id=institution.assigned_user_id,
                actor_id=actor_id(actor),
            ),
        )


def announce_change(
    session: Session,
    actor: Actor,
    institution_id: uuid.UUID,
    *,
    contact_id: uuid.UUID | None = None,
    action: str = "",
) -> None:
    """An institution (or one of its contacts) changed: its open page and forms follow it. `action`
    ("created", "updated", "archived", "restored") names a change of the record itself; a side effect
    (an invoice made it a client) leaves it empty."""
    events.publish(
        session,
        events.InstitutionChanged(
            institution_id=institution_id, contact_id=contact_id, action=action, actor_id=actor_id(actor)
        ),
    )


# --------------------------------------------------------------------------------------------
# Create, update, archive


def _split(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[str]]]:
    own = {k: v for k, v in values.items() if k in INSTITUTION_FIELDS}
    profile = {k: v for k, v in values.items() if k in PROFILE_FIELDS}
    labels = {k: v for k, v in values.items() if k in LABEL_FIELDS}
    return own, profile, labels


def _labels(session: Session, institution_id: uuid.UUID, kind: LabelKind) -> list[str]:
    return list(
        session.exec(
            select(InstitutionLabel.value)
            .where(InstitutionLabel.institution_id == institution_id, InstitutionLabel.kind == kind)
            .order_by(col(InstitutionLabel.value))
        ).all()
    )


def _set_labels(session: Session, institution_id: uuid.UUID, kind: LabelKind, values: list[str]) -> None:
    session.exec(
        sa.delete(InstitutionLabel).where(
            col(InstitutionLabel.institution_id) == institution_id, col(InstitutionLabel.kind) == kind
        )
    )
    session.add_all(InstitutionLabel(institution_id=institution_id, kind=kind, value=v) for v in values)


def create_institution(
    session: Session,
    actor: Actor,
    raw: Mapping[str, Any],
    *,
    source: DataSource = DataSource.MANUAL,
    allow_duplicate: bool = False,
) -> Institution:
    """Create an institution with its medical profile and labels.

    Raises DuplicateSuspected when the duplicate rules match, unless `allow_duplicate`.
    """
    authorize(actor, "institution.create")
    values = clean(raw, partial=False)
    values["type"] = values.get("type") or InstitutionType.OTHER
    values["commercial_status"] = values.get("commercial_status") or CommercialStatus.PROSPECT
    values["country"] = values.get("country") or "FR"
    if "team_id" not in raw:
        values.pop("team_id", None)  # taken from the assignee, if any
    if "assigned_user_id" in raw or "team_id" in raw:
        _check_assignment(session, actor, None, values)
    _assert_identifiers_free(session, values, None)
    if not allow_duplicate and (matches := find_duplicates(session, values)):
        raise DuplicateSuspected(matches)
    own, profile, labels = _split(values)
    actor_id = actor.id if actor.id.int else None
    institution = Institution(**own, data_source=source, created_by=actor_id, updated_by=actor_id)
    session.add(institution)
    session.flush()
    session.add(MedicalProfile(institution_id=institution.id, **profile))
    for name, kind in LABEL_FIELDS.items():
        _set_labels(session, institution.id, kind, labels.get(name) or [])
    refresh_derived(session, institution)
    audit.record(
        session,
        actor,
        entity_type="institution",
        entity_id=institution.id,
        institution_id=institution.id,
        action="create",
    )
    if source is not DataSource.IMPORT:  # an import reports once when it ends, not once per row
        _announce_assignment(session, actor, institution)
        announce_change(session, actor, institution.id, action="created")
    return institution


def get_institution(session: Session, institution_id: uuid.UUID, *, for_update: bool = False) -> Institution:
    """`for_update` locks the row until the end of the unit of work: two saves of the same version
    cannot both pass the version check."""
    institution = session.get(
        Institution, institution_id, with_for_update=for_update or None, populate_existing=for_update
    )
    if institution is None:
        raise NotFound(N_("This institution does not exist."))
    return institution


def user_name(session: Session, user_id: uuid.UUID | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.full_name if user else None


def _current_values(session: Session, institution: Institution, profile: MedicalProfile) -> dict[str, Any]:
    current = {name: getattr(institution, name) for name in INSTITUTION_FIELDS}
    current.update({name: getattr(profile, name) for name in PROFILE_FIELDS})
    for name, kind in LABEL_FIELDS.items():
        current[name] = _labels(session, institution.id, kind)
    return current


def update_institution(
    session: Session, actor: Actor, institution_id: uuid.UUID, raw: Mapping[str, Any], *, expected_version: int
) -> Institution:
    """Apply the changed fields; refused with the other person's name when the version is stale."""
    institution = get_institution(session, institution_id, for_update=True)
    authorize(actor, "institution.edit", institution)
    if institution.version != expected_version:
        raise Conflict(changed_by=user_name(session, institution.updated_by) or N_("Someone"))
    values = clean(raw, partial=True, country=institution.country)
    profile = session.get(MedicalProfile, institution.id) or MedicalProfile(institution_id=institution.id)
    current = _current_values(session, institution, profile)
    changes = {
        name: (current[name], value)
        for name, value in values.items()
        if audit.as_text(current[name]) != audit.as_text(value)
    }
    if not changes:
        return institution
    if "name" in changes and not values.get("name"):
        raise ValidationFailed({"name": N_("This field is required.")})
    if message := public_entity_error({**current, **values}):
        raise ValidationFailed({"siret": message})
    _check_assignment(session, actor, institution, values)
    for extra in ("team_id",):  # set by the assignment check
        if extra in values and audit.as_text(current[extra]) != audit.as_text(values[extra]):
            changes[extra] = (current[extra], values[extra])
    _assert_identifiers_free(session, values, institution.id)
    new = {name: new_value for name, (_old, new_value) in changes.items()}
    own, profile_values, labels = _split(new)
    for name, value in own.items():
        setattr(institution, name, value)
    for name, value in profile_values.items():
        setattr(profile, name, value)
    session.add(profile)
    for name, value in labels.items():
        _set_labels(session, institution.id, LABEL_FIELDS[name], value)
    institution.updated_by = actor.id if actor.id.int else None
    institution.touch()
    refresh_derived(session, institution)
    audit.record(
        session,
        actor,
        entity_type="institution",
        entity_id=institution.id,
        institution_id=institution.id,
        action="update",
        changes=recorded_changes(changes),
    )
    if "assigned_user_id" in changes:
        _announce_assignment(session, actor, institution)
    announce_change(session, actor, institution.id, action="updated")
    return institution


def set_archived(session: Session, actor: Actor, institution_id: uuid.UUID, archived: bool) -> Institution:
    """Archive (never delete) or restore an institution."""
    institution = get_institution(session, institution_id, for_update=True)
    authorize(actor, "institution.edit", institution)
    if institution.is_archived == archived:
        return institution
    institution.is_archived = archived
    institution.updated_by = actor.id if actor.id.int else None
    institution.touch()
    audit.record(
        session,
        actor,
        entity_type="institution",
        entity_id=institution.id,
        institution_id=institution.id,
        action="archive" if archived else "restore",
        changes={"is_archived": (not archived, archived)},
    )
    announce_change(session, actor, institution.id, action="archived" if archived else "restored")
    return institution


# --------------------------------------------------------------------------------------------
# Reading one


@dataclass(frozen=True)
class InstitutionDetail:
    institution: Institution
    profile: MedicalProfile
    tags: list[str]
    specialties: list[str]
    assigned_user_name: str | None
    team_name: str | None
    created_by_name: str | None
    updated_by_name: str | None
    contact_count: int
    can_edit: bool
    can_reassign: bool

    def values(self) -> dict[str, Any]:
        """Every editable field with its current value (forms start from this)."""
        current: dict[str, Any] = {name: getattr(self.institution, name) for name in INSTITUTION_FIELDS}
        current.update({name: getattr(self.profile, name) for name in PROFILE_FIELDS})
        current.update(tags=self.tags, specialties=self.specialties)
        return current


def get_detail(session: Session, actor: Actor, institution_id: uuid.UUID) -> InstitutionDetail:
    institution = get_institution(session, institution_id)
    authorize(actor, "institution.view", institution)
    profile = session.get(MedicalProfile, institution.id) or MedicalProfile(institution_id=institution.id)
    team = session.get(Team, institution.team_id) if institution.team_id else None
    contacts = session.exec(
        select(sa.func.count())
        .select_from(Contact)
        .where(Contact.institution_id == institution.id, ~col(Contact.is_archived))
    ).one()
    return InstitutionDetail(
        institution=institution,
        profile=profile,
        tags=_labels(session, institution.id, LabelKind.TAG),
        specialties=_labels(session, institution.id, LabelKind.SPECIALTY),
        assigned_user_name=user_name(session, institution.assigned_user_id),
        team_name=team.name if team else None,
        created_by_name=user_name(session, institution.created_by),
        updated_by_name=user_name(session, institution.updated_by),
        contact_count=int(contacts),
        can_edit=can(actor, "institution.edit", institution),
        can_reassign=can(actor, "institution.reassign", institution),
    )


# --------------------------------------------------------------------------------------------
# Lists


#: The list's sorts: the fields that declare one, then the times of the row.
SORTS: dict[str, Any] = {
    **{spec.sort: getattr(Institution, spec.sort_column or spec.name) for spec in FIELDS if spec.sort},
    "updated": Institution.updated_at,
    "created": Institution.created_at,
    "health_score": Institution.health_score,
}
#: Sorts whose column has many equal values: ties go in name order, as their index has them
#: (`ix_institutions_health`: a page is read straight off it, without sorting a whole score's rows).
TIEBREAKS: dict[str, Any] = {"health_score": Institution.name_key}


def _day(read: Params, name: str) -> date | None:
    try:
        day: date | None = fields.day()(read.one(name))
    except ValueError:
        return None
    return day


@dataclass(frozen=True)
class InstitutionQuery:
    """Search, filters and sort of the institutions list (the URL of the page holds the same)."""

    q: str = ""
    types: tuple[InstitutionType, ...] = ()
    statuses: tuple[CommercialStatus, ...] = ()
    region: str | None = None
    city: str | None = None
    assigned_user_id: uuid.UUID | None = None
    unassigned: bool = False
    team_id: uuid.UUID | None = None
    tags: tuple[str, ...] = ()
    specialties: tuple[str, ...] = ()
    beds_min: int | None = None
    beds_max: int | None = None
    rooms_min: int | None = None
    rooms_max: int | None = None
    compliance: tuple[ComplianceStatus, ...] = ()
    health_min: int | None = None  # the health score (crm_app.analytics.health), 0-100
    health_max: int | None = None
    archived: str = "active"  # "active", "archived" or "all"
    created_from: date | None = None  # created on these days (the organisation's time zone)
    created_to: date | None = None
    client_from: date | None = None  # new clients: their first issued invoice dated in this range
    client_to: date | None = None
    sort: str = "name"
    descending: bool = False
    ids: tuple[uuid.UUID, ...] = ()  # a selection (bulk export); never in the URL

    def to_params(self) -> dict[str, str | list[str]]:
        """The query as URL parameters (a filtered list can be bookmarked and shared)."""
        params: dict[str, str | list[str]] = {}
        for name in ("q", "region", "city"):
            if value := getattr(self, name):
                params[name] = value
        for name, values in (
            ("type", self.types),
            ("status", self.statuses),
            ("tag", self.tags),
            ("specialty", self.specialties),
            ("compliance", self.compliance),
        ):
            if values:
                params[name] = [str(v) for v in values]
        for name in (
            "assigned_user_id",
            "team_id",
            "beds_min",
            "beds_max",
            "rooms_min",
            "rooms_max",
            "health_min",
            "health_max",
        ):
            if (value := getattr(self, name)) is not None:
                params[name] = str(value)
        for name in ("created_from", "created_to", "client_from", "client_to"):
            if (day := getattr(self, name)) is not None:
                params[name] = day.isoformat()
        if self.unassigned:
            params["unassigned"] = "1"
        if self.archived != "active":
            params["archived"] = self.archived
        if self.sort != "name" or self.descending:
            params["sort"] = ("-" if self.descending else "") + self.sort
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, str | Sequence[str]]) -> InstitutionQuery:
        """Parse URL or API parameters; unknown values are ignored rather than failing a bookmark."""
        read = Params(params)
        sort, descending = read.sort(SORTS, "name")
        archived = read.one("archived") or "active"
        return cls(
            q=read.one("q") or "",
            types=read.choices("type", InstitutionType),
            statuses=read.choices("status", CommercialStatus),
            region=read.one("region"),
            city=read.one("city"),
            assigned_user_id=read.ident("assigned_user_id"),
            unassigned=read.flag("unassigned"),
            team_id=read.ident("team_id"),
            tags=tuple(read.many("tag")),
            specialties=tuple(read.many("specialty")),
            beds_min=read.number("beds_min"),
            beds_max=read.number("beds_max"),
            rooms_min=read.number("rooms_min"),
            rooms_max=read.number("rooms_max"),
            compliance=read.choices("compliance", ComplianceStatus),
            health_min=read.number("health_min"),
            health_max=read.number("health_max"),
            archived=archived if archived in {"active", "archived", "all"} else "active",
            created_from=_day(read, "created_from"),
            created_to=_day(read, "created_to"),
            client_from=_day(read, "client_from"),
            client_to=_day(read, "client_to"),
            sort=sort,
            descending=descending,
        )


# The list runs one of a few statement shapes: which filters are set, the sort, the kind of page.
# Each shape is built once with bound parameters and kept (an LRU of 256); a request only binds
# its values. Building and hashing a statement of this size costs more than PostgreSQL's answer.


#: Bound parameter names carry a prefix that SQLAlchemy's own generated names never have.
def _bound(name: str, **options: Any) -> Any:
    return sa.bindparam(f"f_{name}", **options)


def _label_filter(kind: LabelKind, name: str) -> Any:
    return sa.exists().where(
        col(InstitutionLabel.institution_id) == Institution.id,
        col(InstitutionLabel.kind) == kind,
        col(InstitutionLabel.value).in_(_bound(name, expanding=True)),
    )


#: Every filter of the list, by name, as a condition over bound parameters named after it.
_CONDITIONS: dict[str, Callable[[], Any]] = {
    "ids": lambda: col(Institution.id).in_(_bound("ids", expanding=True)),
    "active": lambda: ~col(Institution.is_archived),
    "archived": lambda: col(Institution.is_archived),
    "q": lambda: col(Institution.search_text).like(_bound("q"), escape="\\"),
    "types": lambda: col(Institution.type).in_(_bound("types", expanding=True)),
    "statuses": lambda: col(Institution.commercial_status).in_(_bound("statuses", expanding=True)),
    "region": lambda: Institution.region == _bound("region"),
    "city": lambda: Institution.city_key == _bound("city"),
    "unassigned": lambda: col(Institution.assigned_user_id).is_(None),
    "assigned_user_id": lambda: Institution.assigned_user_id == _bound("assigned_user_id"),
    "team_id": lambda: Institution.team_id == _bound("team_id"),
    "tags": lambda: _label_filter(LabelKind.TAG, "tags"),
    "specialties": lambda: _label_filter(LabelKind.SPECIALTY, "specialties"),
    "beds_min": lambda: col(Institution.profile_beds) >= _bound("beds_min"),
    "beds_max": lambda: col(Institution.profile_beds) <= _bound("beds_max"),
    "rooms_min": lambda: col(Institution.profile_rooms) >= _bound("rooms_min"),
    "rooms_max": lambda: col(Institution.profile_rooms) <= _bound("rooms_max"),
    "compliance": lambda: col(Institution.profile_compliance).in_(_bound("compliance", expanding=True)),
    "created_from": lambda: col(Institution.created_at) >= _bound("created_from"),
    "created_to": lambda: col(Institution.created_at) < _bound("created_to"),
    # The first issued invoice on or after a day (one exists, none before it), on or before a day.
    "client_from": lambda: _first_invoice_from(),  # noqa: PLW0108 - defined below
    "client_to": lambda: _first_invoice_to(),  # noqa: PLW0108 - defined below
    "health_min": lambda: col(Institution.health_score) >= _bound("health_min"),
    "health_max": lambda: col(Institution.health_score) <= _bound("health_max"),
}

Shape = tuple[str, ...]

#: The invoices' columns a "new client" filter reads, named rather than imported: the sales area stands on
#: this one, not the other way round. An institution becomes a client on its first issued invoice.
_INVOICES = sa.table(
    "invoices", sa.column("institution_id"), sa.column("kind"), sa.column("status"), sa.column("issue_date", sa.Date)
)


def _issued_invoice(invoices: Any) -> Any:
    return sa.and_(
        invoices.c.institution_id == Institution.id, invoices.c.kind == "invoice", invoices.c.status != "draft"
    )


def _first_invoice_from() -> Any:
    """SQL: an issued invoice (credit notes and drafts aside), none before the bound: the first one is on
    or after it."""
    earlier = _INVOICES.alias("earlier_invoice")
    before = earlier.c.issue_date < _bound("client_from", type_=sa.Date)
    return sa.exists().where(_issued_invoice(_INVOICES)) & ~sa.exists().where(_issued_invoice(earlier), before)


def _first_invoice_to() -> Any:
    """SQL: an issued invoice on or before the bound: the first one is not later."""
    return sa.exists().where(_issued_invoice(_INVOICES), _INVOICES.c.issue_date <= _bound("client_to", type_=sa.Date))


def _local_start(day: date | None, *, next_day: bool = False) -> datetime | None:
    """The first instant of `day` (or of the day after) in the organisation's time zone."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1) if next_day else day, time.min, tzinfo=ZoneInfo(timezone()))


def _filters(query: InstitutionQuery) -> tuple[Shape, dict[str, Any]]:
    """The filters `query` sets (names of _CONDITIONS, in their order) and their bound values."""
    values: dict[str, Any] = {
        "ids": list(query.ids),
        "active": query.archived == "active",
        "archived": query.archived == "archived",
        "q": contains_pattern(term) if (term := fold(query.q)) else None,
        "types": [t.value for t in query.types],
        "statuses": [s.value for s in query.statuses],
        "region": query.region,
        "city": fold(query.city) if query.city else None,
        "unassigned": query.unassigned,
        "assigned_user_id": None if query.unassigned else query.assigned_user_id,
        "team_id": query.team_id,
        "tags": list(query.tags),
        "specialties": list(query.specialties),
        "beds_min": query.beds_min,
        "beds_max": query.beds_max,
        "rooms_min": query.rooms_min,
        "rooms_max": query.rooms_max,
        "compliance": [c.value for c in query.compliance],
        "created_from": _local_start(query.created_from),
        "created_to": _local_start(query.created_to, next_day=True),
        "client_from": query.client_from,
        "client_to": query.client_to,
        "health_min": query.health_min,
        "health_max": query.health_max,
    }
    shape = tuple(
        name for name in _CONDITIONS if values[name] is not None and values[name] is not False and values[name] != []
    )  # 0 is a bound like any other
    params = {f"f_{name}": values[name] for name in shape if values[name] is not True}
    if "q" in shape:  # read by the narrow search table's statements only
        params.update(_search_params(fold(query.q)))
    if "beds_min" in shape or "beds_max" in shape:  # read by the banded page only
        params.update(_bed_band_params(query))
    return shape, params


# Not frozen: a frozen dataclass sets each of its 24 fields through object.__setattr__, 61 µs for a page
# of 25 rows against 8.5 µs, a twentieth of a first page's time over REST.
@dataclass(slots=True)
class InstitutionRow:
    id: uuid.UUID
    name: str
    type: InstitutionType
    postal_code: str | None
    city: str | None
    region: str | None
    commercial_status: CommercialStatus
    assigned_user_id: uuid.UUID | None
    assigned_user_name: str | None
    team_id: uuid.UUID | None
    team_name: str | None
    bed_capacity: int | None
    surgical_rooms: int | None
    finess: str | None
    siret: str | None
    accounting_number: str | None
    is_archived: bool
    updated_at: datetime
    version: int
    created_by: uuid.UUID | None
    health_score: int | None
    is_public_entity: bool
    tags: list[str] = field(default_factory=list)
    can_edit: bool = False


def _order(sort: str, descending: bool, columns: Any = None) -> tuple[Any, ...]:
    """The list order (the sort column, its tiebreak if any, then the id so that every row has one place)."""
    if columns is None:
        keys = [
            SORTS.get(sort, Institution.name_key),
            *([TIEBREAKS[sort]] if sort in TIEBREAKS else []),
            Institution.id,
        ]
    else:
        keys = [columns.sort_key, *([columns.tiebreak] if sort in TIEBREAKS else []), columns.id]
    return tuple(col(key).desc() if descending else col(key).asc() for key in keys)


def _sorted_matches(shape: Shape, sort: str, descending: bool, source: str) -> tuple[Any, tuple[Any, Any]]:
    """The matching ids with their sort key, as a subquery, and the order over it.

    A text search is fenced off (OFFSET 0) so that PostgreSQL finds the matches through the trigram
    index and sorts them: sorted by the name index instead, it may read half the table before the
    first match when the matches gather late in the order ("hopital" after every "centre" and
    "clinique"). The other filters are selective or spread, and walking the sort index is best.
    From the narrow tables when `source` (see `_source`) says so."""
    if source in NARROW_SEARCHES:
        subquery = _narrow_matches(shape, source).subquery("matches")
        return subquery, _order(sort, descending, subquery.c)
    if source == LABEL_TABLE:
        subquery = _label_matches(shape).subquery("matches")
        return subquery, _order(sort, descending, subquery.c)
    sort_column = SORTS.get(sort, Institution.name_key)
    matches = _base_select(shape).add_columns(col(sort_column).label("sort_key"))
    if sort in TIEBREAKS:
        matches = matches.add_columns(col(TIEBREAKS[sort]).label("tiebreak"))
    if "q" in shape:
        matches = matches.offset(0)
    subquery = matches.subquery("matches")
    return subquery, _order(sort, descending, subquery.c)


_S = table_of(InstitutionSearch).c
_PLAIN_SEARCH = InstitutionQuery()


#: Where a list's matches come from: the institutions, or one of the narrow name-ordered tables (the
#: search table for a text, or for digits only: see `_narrow_parts`).
WIDE_TABLE, SEARCH_TABLE, DIGITS_SEARCH, LABEL_TABLE = "institutions", "search", "search_digits", "labels"
#: The institutions again, a bed range read band by band (see "Bed ranges").
BED_BANDS_SOURCE = "bed_bands"
NARROW_SEARCHES = frozenset({SEARCH_TABLE, DIGITS_SEARCH})


def _source(query: InstitutionQuery, *, postgresql: bool) -> str:
    """In name order on PostgreSQL, a search by text alone (InstitutionSearch) or a filter on one tag
    or one specialty alone (InstitutionLabelOrder), archived or not, is answered by a narrow table
    kept in name order, without reading the wide rows: a text of five digits or more through its digits'
    index (DIGITS_SEARCH). A bed range alone, active, of a few bands, is read band by band (see "Bed
    ranges"). (A text that starts with a space, a hyphen or an apostrophe, or a first word longer than
    a name key, has no start to look up by name: wide.)"""
    if query.sort != "name" or not postgresql:
        return WIDE_TABLE
    plain = replace(query, archived="active", descending=False)
    if _search_start(term := fold(query.q)) and replace(plain, q="") == _PLAIN_SEARCH:
        return DIGITS_SEARCH if _digit_grams(term) else SEARCH_TABLE
    if (len(query.tags) == 1 and replace(plain, tags=()) == _PLAIN_SEARCH) or (
        len(query.specialties) == 1 and replace(plain, specialties=()) == _PLAIN_SEARCH
    ):
        return LABEL_TABLE
    if (
        query.archived == "active"
        and replace(plain, beds_min=None, beds_max=None) == _PLAIN_SEARCH
        and _bed_bands(query)
    ):
        return BED_BANDS_SOURCE
    return WIDE_TABLE


# Bed ranges. A bed range is spread over the name order, but not evenly: at a million institutions the
# first page of 200 to 500 beds (hospitals and clinics, whose names sort late) came after 25,000 rows
# of the name index, ten times as many as at 100,000. Counts of beds fall in bands (BED_BANDS; the
# function `institution_bed_band`, migration 0030, and its index: active institutions by band, then
# name). A range covers a few bands: each is read in name order, its rows checked against the range,
# as many as the page needs, and the bands' first rows merged. A band wholly inside the range gives a
# row per row read; the two at its ends, partly inside, a share of theirs.

#: The thresholds of the bands: a count's band is how many of them it reaches (`width_bucket`).
BED_BANDS: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 125, 150, 175, 200, 250, 300, 350)
BED_BANDS += (400, 450, 500, 600, 700, 800, 900, 1000, 1250, 1500, 1750, 2000, 2500, 3000)
#: At most this many bands are merged (a range wider than this is dense enough for the name index).
MAX_BED_BANDS = 8
_row_bed_band = sa.func.institution_bed_band(_I.profile_beds, type_=sa.Integer())


def _bed_bands(query: InstitutionQuery) -> list[int]:
    """The bands the query's bed range covers, if it is a range of at most MAX_BED_BANDS bands."""
    if query.beds_min is None and query.beds_max is None:
        return []
    first = bisect.bisect_right(BED_BANDS, query.beds_min) if query.beds_min is not None else 0
    last = bisect.bisect_right(BED_BANDS, query.beds_max) if query.beds_max is not None else len(BED_BANDS)
    return list(range(first, last + 1)) if 0 < last - first + 1 <= MAX_BED_BANDS else []


def _bed_band_params(query: InstitutionQuery) -> dict[str, int]:
    """`f_bed_band_0`... for each of the page's MAX_BED_BANDS parts: a band, or -1 (none: an empty part)."""
    bands = _bed_bands(query)
    return {f"f_bed_band_{index}": bands[index] if index < len(bands) else -1 for index in range(MAX_BED_BANDS)}


def _banded_page(shape: Shape, descending: bool, anchored: bool) -> Any:
    """The first rows of each band of a bed range, as many as the page needs, in name order."""
    order = (_I.name_key, _I.id)
    ranged = [_CONDITIONS[name]() for name in shape]  # active, and the range
    parts = (
        _page_part(
            sa.select(_I.id, _I.name_key.label("sort_key")).where(
                _row_bed_band == _bound(f"bed_band_{index}", type_=sa.Integer()), *ranged
            ),
            order,
            descending,
            anchored,
        )
        for index in range(MAX_BED_BANDS)
    )
    return sa.union_all(*parts).subquery("matches")


def _page_part(part: Any, key: tuple[Any, Any], descending: bool, anchored: bool) -> Any:
    """One part of a page merged from several (`_banded_page`, `_narrow_page`): its rows in the order
    of `key` (sort key, id), after the anchor when `anchored`, as many as the page needs."""
    after = [_after_anchor(key, descending)] if anchored else []
    order = (column.desc() if descending else column.asc() for column in key)
    return part.where(*after).order_by(*order).limit(_page_bound("page_offset") + _page_bound("page_size"))


def reorder_search_table(session: Session) -> bool:
    """Put the search table back in name order (rows written since sit at its end); a second or so at
    100,000 institutions, under a lock that only holds searches and institution writes that long.
    PostgreSQL only (False elsewhere)."""
    if not is_postgresql(session):
        return False
    session.execute(sa.text("CLUSTER institution_search USING ix_institution_search_order"))
    session.execute(sa.text("ANALYZE institution_search"))
    return True


def _archived_condition(shape: Shape, is_archived: Any) -> list[Any]:
    """The archived filter of `shape` over a narrow table's own `is_archived` column."""
    if "active" in shape:
        return [~is_archived]
    return [is_archived] if "archived" in shape else []


# A text search in name order. At a million institutions "hopital" matches 80,000 rows, every one a name
# that starts with "Hôpital", and a trigram index can only hand them all over to be sorted: 25 ms for
# a page of 25. So the matches are found in two parts that do not overlap:
#
# - at the start: rows whose search text starts with the pattern. The search text starts with the
#   name key (`derived_columns` writes the name first, and every writer goes through it), so these
#   are names that start with the term's first word: a range of the name index, read in order and
#   checked against the rest of the pattern, of which a page reads only the rows it needs;
# - further on: rows where the pattern is found after the first character, and not at the start.
#   The search table keeps the text but its first character (`further_text`, trigram-indexed), in
#   which "hopital" is rare: it is found at the start of those names, not after it.
#
# A match starts either at the first character or after it: the two parts are exactly the rows whose
# search text holds the pattern. A page takes the first rows of each part and merges them.


def _search_start(term: str) -> str:
    """The first word of a folded search term, up to its first space, hyphen or apostrophe: what a name
    that starts with a match starts with ("" when the term starts with one, or when that word is
    longer than a name key: those searches read the wide table)."""
    start = leading_word(term)
    return start if len(start) <= NAME_KEY_LENGTH else ""


def _search_params(term: str) -> dict[str, Any]:
    """What a text search binds besides its pattern (`f_q`, anywhere in the text): the range of name keys
    that start with its first word (`f_q_from`, `f_q_to`) and the rest of the pattern after its first
    character, at the start of the text that follows (`f_q_start`)."""
    start = _search_start(term)
    grams = _digit_grams(term)
    return {
        **({"f_q_grams": grams} if grams else {}),
        # The search table keeps the text but its first character, the name key's: matched by the range.
        "f_q_start": contains_pattern(term[1:])[1:],
        "f_q_from": start,
        "f_q_to": prefix_end(start) if start else "",
    }


#: A search for digits only, this many or more (a postal code, a FINESS, a SIRET): digit trigrams, a
#: thousand in all, are each held by tens of thousands of rows at a million institutions, and the
#: trigram index reads them all (5 ms for a FINESS). The 5-grams of the text's runs of digits
#: (`institution_digit_grams`, migration 0029) are few per value: a row that holds the term holds its
#: 5-grams, and the pattern is then checked on those few rows.
DIGIT_GRAM = 5
_DIGIT_GRAMS = sa.func.institution_digit_grams(_S.further_text, type_=postgresql.ARRAY(sa.Text))


def _digit_grams(term: str) -> list[str]:
    """The 5-grams of a search for digits only, five or more ([] for any other search)."""
    if len(term) < DIGIT_GRAM or not (term.isascii() and term.isdigit()):
        return []
    return sorted({term[start : start + DIGIT_GRAM] for start in range(len(term) - DIGIT_GRAM + 1)})


def _narrow_parts(shape: Shape, source: str, *, disjoint: bool = True) -> tuple[Any, Any]:
    """The narrow search table's rows for a text search (shape: "q" and at most an archived filter), in
    two parts: the rows where the text matches at the start, then those where it matches further on
    (and, when `disjoint`, not at the start: counted once). Further on, a search for digits only
    (`DIGITS_SEARCH`) reads the digits' index, and its pattern is checked as written, `|| ''`
    keeping PostgreSQL from adding the trigram index's long lists to it."""
    archived = _archived_condition(shape, _S.is_archived)
    at_start = sa.and_(
        _S.name_key >= _bound("q_from"),
        _S.name_key < _bound("q_to"),
        _S.further_text.like(_bound("q_start"), escape="\\"),
    )
    columns = (_S.id, _S.name_key.label("sort_key"))
    starting = sa.select(*columns).where(at_start, *archived)
    if source == DIGITS_SEARCH:
        holds = [
            _DIGIT_GRAMS.contains(_bound("q_grams", type_=postgresql.ARRAY(sa.Text))),
            (_S.further_text + sa.literal_column("''")).like(_bound("q"), escape="\\"),
        ]
    else:
        holds = [_S.further_text.like(_bound("q"), escape="\\")]
    further = sa.select(*columns).where(*holds, *([~at_start] if disjoint else []), *archived)
    return starting, further


def _narrow_matches(shape: Shape, source: str) -> Any:
    """Every row of the narrow search table that a text search finds (see `_narrow_parts`)."""
    return sa.union_all(*_narrow_parts(shape, source))


def _narrow_page(shape: Shape, source: str, descending: bool, anchored: bool) -> Any:
    """The first rows of each of `_narrow_parts`, as many as the page needs (from the anchor when
    `anchored`), in name order: the page is among them. A row in both parts comes once out of UNION:
    cheaper on the page's few rows than a second pattern checked on every match further on.

    The part further on is fenced off (OFFSET 0): sorted by the name index instead of found through
    its trigrams, a rare term ("herriot") reads the table from its first name to its last match."""
    starting, further = _narrow_parts(shape, source, disjoint=False)
    fenced = further.offset(0).subquery("further")
    parts = (
        _page_part(starting, (_S.name_key, _S.id), descending, anchored),
        _page_part(sa.select(fenced.c.id, fenced.c.sort_key), (fenced.c.sort_key, fenced.c.id), descending, anchored),
    )
    return sa.union(*parts).subquery("matches")


def _narrow_estimated(shape: Shape) -> Any:
    """Nearly the same rows as `_narrow_matches` (the text after the first character holds the term) in one
    condition, for PostgreSQL to estimate their number: its estimate of two parts would multiply the
    start's conditions as if they were unrelated."""
    conditions = [_S.further_text.like(_bound("q"), escape="\\"), *_archived_condition(shape, _S.is_archived)]
    return sa.select(_S.id).where(*conditions)


_LO = table_of(InstitutionLabelOrder).c


def _label_matches(shape: Shape) -> Any:
    """The name-ordered label table's rows for one tag or one specialty (and an archived filter)."""
    name = "tags" if "tags" in shape else "specialties"
    conditions = [
        _LO.kind == (LabelKind.TAG if name == "tags" else LabelKind.SPECIALTY),
        _LO.value.in_(_bound(name, expanding=True)),  # one value: "=" to PostgreSQL
        *_archived_condition(shape, _LO.is_archived),
    ]
    return sa.select(_LO.institution_id.label("id"), _LO.name_key.label("sort_key")).where(*conditions)


#: Deep pages start from a remembered position: `OFFSET 97500` walks 97,500 index entries, a
#: keyset seek from the nearest anchor (every ANCHOR_STEP rows) walks fewer than ANCHOR_STEP.
ANCHOR_STEP = 1000
#: Sorts on columns without NULLs (a row tuple compared with a NULL matches nothing).
ANCHORED_SORTS = frozenset({"name", "city", "type", "status", "updated", "created"})
_anchors: TimedCache[list[tuple[Any, uuid.UUID]]] = cache.register(cache.TimedCache(ttl=60, max_entries=64))


def _query_key(query: InstitutionQuery) -> tuple[Any, ...]:
    """What the filtered list's count and anchors depend on: every filter (a filter added later is part
    of it without anyone having to remember), not the sort."""
    return tuple(getattr(query, f.name) for f in dataclasses.fields(query) if f.name not in {"sort", "descending"})


@functools.lru_cache(maxsize=256)  # shapes come from requests: bounded
def _anchors_statement(shape: Shape, sort: str, descending: bool, source: str) -> Any:
    """(sort key, id) of the rows at positions ANCHOR_STEP, 2 x ANCHOR_STEP... of the list."""
    matches, order = _sorted_matches(shape, sort, descending, source)
    numbered = sa.select(
        matches.c.sort_key, matches.c.id, sa.func.row_number().over(order_by=order).label("position")
    ).subquery()
    return (
        sa.select(numbered.c.sort_key, numbered.c.id)
        .where(numbered.c.position % _bound("anchor_step", type_=sa.Integer()) == 0)
        .order_by(numbered.c.position)
    )


def _ids_page(shape: Shape, sort: str, descending: bool, source: str, anchored: bool) -> Any:
    """The ids of the requested page (bound: f_page_offset, f_page_size and, when `anchored`,
    the row the page starts after: f_anchor_key, f_anchor_id), in order, as a subquery."""
    if source == BED_BANDS_SOURCE or source in NARROW_SEARCHES:  # merged parts, the anchor in each
        if source == BED_BANDS_SOURCE:
            matches = _banded_page(shape, descending, anchored)
        else:
            matches = _narrow_page(shape, source, descending, anchored)
        order, anchored = _order(sort, descending, matches.c), False
    else:
        matches, order = _sorted_matches(shape, sort, descending, source)
    statement = sa.select(matches.c.id, matches.c.sort_key)
    if anchored:
        statement = statement.where(_after_anchor((matches.c.sort_key, matches.c.id), descending))
    return statement.order_by(*order).offset(_page_bound("page_offset")).limit(_page_bound("page_size")).subquery()


def _page_bound(name: str) -> Any:
    return _bound(name, type_=sa.Integer())


def _after_anchor(key: tuple[Any, Any], descending: bool) -> Any:
    """SQL: (sort key, id) comes after the anchor the page starts from (bound: f_anchor_key, f_anchor_id)."""
    after = sa.tuple_(*key)
    bound = sa.tuple_(_bound("anchor_key", type_=key[0].type), _bound("anchor_id", type_=sa.Uuid()))
    return after < bound if descending else after > bound


def _page_window(
    session: Session,
    query: InstitutionQuery,
    shape: Shape,
    params: dict[str, Any],
    *,
    source: str,
    request: PageRequest,
) -> bool:
    """Bind the page's place in the list into `params`; True when it starts from an anchor."""
    offset = request.offset
    anchored = False
    if _may_anchor(query, request) and cache.may_use(session):

        def positions() -> list[tuple[Any, uuid.UUID]]:
            statement = _anchors_statement(shape, query.sort, query.descending, source)
            rows = session.execute(statement, {**params, "f_anchor_step": ANCHOR_STEP})
            return [(row.sort_key, row.id) for row in rows]

        anchors = _anchors.get((_query_key(query), query.sort, query.descending), positions)
        if index := min(offset // ANCHOR_STEP, len(anchors)):
            params["f_anchor_key"], params["f_anchor_id"] = anchors[index - 1]
            offset -= index * ANCHOR_STEP
            anchored = True
    params["f_page_offset"], params["f_page_size"] = offset, request.page_size
    return anchored


def _may_anchor(query: InstitutionQuery, request: PageRequest) -> bool:
    """Whether a page is far enough into its list to start from a remembered anchor."""
    return request.offset >= 2 * ANCHOR_STEP and query.sort in ANCHORED_SORTS


def _base_select(shape: Shape) -> Any:
    return select(Institution.id).select_from(Institution).where(*(_CONDITIONS[name]() for name in shape))


#: Totals of big lists cost a walk of their matching rows; they change slowly and are shown as a count.
_totals: TimedCache[Total] = cache.register(cache.TimedCache(ttl=10))
#: Tags, specialties and regions offered by the filters (a grouping over every label row).
_vocabulary: TimedCache[list[str]] = cache.register(cache.TimedCache(ttl=60))


def _matches_statement(shape: Shape, source: str) -> Any:
    if source in NARROW_SEARCHES:
        return _narrow_matches(shape, source)
    return _label_matches(shape) if source == LABEL_TABLE else _base_select(shape)


@functools.lru_cache(maxsize=256)  # shapes come from requests: bounded
def _count_statement(shape: Shape, source: str) -> Any:
    return sa.select(sa.func.count()).select_from(_matches_statement(shape, source).subquery("counted"))


@functools.lru_cache(maxsize=256)  # shapes come from requests: bounded
def _capped_count_statement(shape: Shape, source: str) -> Any:
    """The count of the matches, stopping after EXACT_COUNT_LIMIT + 1 (bound: f_count_cap)."""
    capped = _matches_statement(shape, source).order_by(None).limit(_bound("count_cap", type_=sa.Integer()))
    return sa.select(sa.func.count()).select_from(capped.subquery("capped"))


def matching_ids(query: InstitutionQuery) -> Any:
    """The ids of the institutions `query` filters (unsorted, unpaged), as a statement with its values
    bound: what a bulk action works on."""
    shape, params = _filters(query)
    return _base_select(shape).params(params)


def count_institutions(session: Session, query: InstitutionQuery) -> int:
    """How many institutions `query` filters, exactly (a bulk action's or a segment's count)."""
    shape, params = _filters(query)
    source = _source(query, postgresql=is_postgresql(session))

    def count() -> Total:
        return _exact_total(session, shape, params, source)

    if not cache.may_use(session):
        return count().value
    cached = _totals.get(_query_key(query), count)
    return cached.value if cached.exact else count().value


def _exact_total(session: Session, shape: Shape, params: dict[str, Any], source: str) -> Total:
    return Total(int(session.execute(_count_statement(shape, source), params).scalar_one()))


def _list_total(session: Session, query: InstitutionQuery, shape: Shape, params: dict[str, Any], source: str) -> Total:
    """The total a page of the list shows: exact up to EXACT_COUNT_LIMIT, PostgreSQL's estimate beyond
    (on SQLite, a small database, always exact)."""

    def count() -> Total:
        if not is_postgresql(session):
            return _exact_total(session, shape, params, source)
        capped = {**params, "f_count_cap": EXACT_COUNT_LIMIT + 1}
        counted = int(session.execute(_capped_count_statement(shape, source), capped).scalar_one())
        estimated = _narrow_estimated(shape) if source in NARROW_SEARCHES else _matches_statement(shape, source)
        return estimated_total(counted, lambda: estimated_rows(session, estimated, params))

    return _totals.get(_query_key(query), count) if cache.may_use(session) else count()


#: The tags of each listed row, in the row itself (one statement for the page, not two).
_TAG_SEPARATOR = "\x1f"
_L = table_of(InstitutionLabel).c
_TAGS_OF_ROW = (
    sa.select(sa.func.aggregate_strings(_L.value, _TAG_SEPARATOR))
    .where(_L.institution_id == _I.id, _L.kind == LabelKind.TAG.value)
    .correlate_except(table_of(InstitutionLabel))
    .scalar_subquery()
)


def list_institutions(
    session: Session, actor: Actor, query: InstitutionQuery, request: PageRequest | None = None
) -> PageOfLongList[InstitutionRow]:
    """One page of the list, filtered, sorted and paged in SQL (ids first, then their rows)."""
    authorize(actor, "institution.view")
    request = request or PageRequest()
    shape, params = _filters(query)
    source = _source(query, postgresql=is_postgresql(session))
    page_params = dict(params)
    anchored = _page_window(session, query, shape, page_params, source=source, request=request)
    statement = _page_statement(shape, query.sort, query.descending, source, anchored)
    found = fetch_all(session, statement, page_params)
    total = _list_total(session, query, shape, params, source)  # filters and source read once per request
    return _page_of(actor, found, total, request)


async def awaited_list_institutions(
    actor: Actor, query: InstitutionQuery, request: PageRequest | None = None
) -> PageOfLongList[InstitutionRow]:
    """`list_institutions` for a caller on the event loop (the REST API). In the common case (PostgreSQL,
    a page before the first anchor, a total counted in the last few seconds) the page's one statement is
    awaited there (`lookups`, in autocommit) and its total read from memory: no worker thread, no
    transaction, which made a first page cost twice as much (bench/README.md, "The list's page on the
    event loop"). Otherwise in the thread pool, in a unit of work of its own. Either way the rows are
    those committed when the page is read, as the total is the one counted for every reader."""
    authorize(actor, "institution.view")
    request = request or PageRequest()
    total = _totals.peek(_query_key(query))
    pool = lookups.here()
    if total is None or _may_anchor(query, request) or pool is None:
        return await to_thread.run_sync(_list_in_own_unit, actor, query, request)
    shape, params = _filters(query)
    source = _source(query, postgresql=True)
    statement = _page_statement(shape, query.sort, query.descending, source, False)
    found = await pool.all_rows(
        statement, {**params, "f_page_offset": request.offset, "f_page_size": request.page_size}
    )
    return _page_of(actor, found, total, request)


def _list_in_own_unit(actor: Actor, query: InstitutionQuery, request: PageRequest) -> PageOfLongList[InstitutionRow]:
    with unit_of_work() as session:
        return list_institutions(session, actor, query, request)


def _page_of(actor: Actor, found: Sequence[Any], total: Total, request: PageRequest) -> PageOfLongList[InstitutionRow]:
    types, statuses = InstitutionType._value2member_map_, CommercialStatus._value2member_map_
    rows = []
    for row in found:  # the statement's columns are InstitutionRow's fields, in order, up to the tags
        *columns, tags = row
        columns[2], columns[6] = types[columns[2]], statuses[columns[6]]
        columns += (sorted(tags.split(_TAG_SEPARATOR)) if tags else [], can(actor, "institution.edit", row))
        rows.append(InstitutionRow(*columns))
    return PageOfLongList(rows, total.value, request.page, request.page_size, total_exact=total.exact)


@functools.lru_cache(maxsize=256)  # shapes come from requests: bounded
def _page_statement(shape: Shape, sort: str, descending: bool, source: str, anchored: bool) -> Any:
    """The rows of one page: its ids (`_ids_page`) joined to the columns the list shows."""
    ids_page = _ids_page(shape, sort, descending, source, anchored)
    assignee, team = table_of(User).alias("assignee"), table_of(Team).alias("team")
    return (
        sa.select(
            _I.id,
            _I.name,
            _I.type,
            _I.postal_code,
            _I.city,
            _I.region,
            _I.commercial_status,
            _I.assigned_user_id,
            assignee.c.full_name.label("assigned_user_name"),
            _I.team_id,
            team.c.name.label("team_name"),
            _I.profile_beds.label("bed_capacity"),
            _I.profile_rooms.label("surgical_rooms"),
            _I.finess,
            _I.siret,
            _I.accounting_number,
            _I.is_archived,
            _I.updated_at,
            _I.version,
            _I.created_by,
            _I.health_score,
            _I.is_public_entity,
            _TAGS_OF_ROW.label("tags"),
        )
        .join(ids_page, ids_page.c.id == _I.id)
        .outerjoin(assignee, assignee.c.id == _I.assigned_user_id)
        .outerjoin(team, team.c.id == _I.team_id)
        .order_by(*_order(sort, descending))
    )


def iter_institutions(
    session: Session, actor: Actor, query: InstitutionQuery, batch: int = 1000
) -> Iterator[InstitutionRow]:
    """Every row of the filtered list, in order, a batch at a time (exports)."""
    authorize(actor, "institution.export")
    page = 1
    while True:
        result = list_institutions(session, actor, query, PageRequest(page, 100))
        yield from result.items
        # An estimated total may fall short of the rows: only a short page ends the list then.
        if len(result.items) < 100 or (result.total_exact and page * 100 >= result.total):
            return
        page += 1


def label_values(session: Session, kind: LabelKind, *, limit: int = 200) -> list[str]:
    """The known tags or specialties, most used first (filter and form choices)."""
    rows = session.exec(
        select(InstitutionLabel.value, sa.func.count())
        .where(InstitutionLabel.kind == kind)
        .group_by(col(InstitutionLabel.value))
        .order_by(sa.func.count().desc(), col(InstitutionLabel.value))
        .limit(limit)
    ).all()
    return [value for value, _count in rows]


def regions(session: Session) -> list[str]:
    rows = session.exec(
        select(Institution.region)
        .where(col(Institution.region).is_not(None))
        .group_by(col(Institution.region))
        .order_by(col(Institution.region))
    ).all()
    return [r for r in rows if r]


# --------------------------------------------------------------------------------------------
# Bulk actions (each institution checked; all or nothing)


def bulk_assign(session: Session, actor: Actor, ids: Sequence[uuid.UUID], user_id: uuid.UUID | None) -> int:
    for institution_id in ids:
        institution = get_institution(session, institution_id)
        update_institution(
            session, actor, institution_id, {"assigned_user_id": user_id}, expected_version=institution.version
        )
    return len(ids)


def bulk_label(session: Session, actor: Actor, ids: Sequence[uuid.UUID], tag: str, *, add: bool) -> int:
    tag = " ".join(tag.split())
    if not tag:
        raise ValidationFailed({"tag": N_("This field is required.")})
    changed = 0
    for institution_id in ids:
        institution = get_institution(session, institution_id)
        current = _labels(session, institution_id, LabelKind.TAG)
        new = sorted({*current, tag}) if add else [t for t in current if t != tag]
        if new != current:
            update_institution(session, actor, institution_id, {"tags": new}, expected_version=institution.version)
            changed += 1
    return changed


def bulk_archive(session: Session, actor: Actor, ids: Sequence[uuid.UUID]) -> int:
    for institution_id in ids:
        set_archived(session, actor, institution_id, True)
    return len(ids)


def assignable_users(session: Session, actor: Actor) -> list[tuple[uuid.UUID, str]]:
    """Who the actor may assign institutions to (themselves at least)."""
    statement = select(User.id, User.full_name, User.team_id).where(col(User.is_active)).order_by(col(User.full_name))
    scope = scope_for(actor, "institution.reassign")
    result = []
    for user_id, name, team_id in session.exec(statement).all():
        if (
            user_id == actor.id
            or scope is Scope.ALL
            or (scope is Scope.TEAM and team_id == actor.team_id and actor.team_id is not None)
        ):
            result.append((user_id, name))
    return result


@dataclass(frozen=True)
class FilterChoices:
    """What the list's filters and bulk actions offer."""

    users: list[tuple[uuid.UUID, str]]
    assignable: list[tuple[uuid.UUID, str]]
    teams: list[tuple[uuid.UUID, str]]
    regions: list[str]
    tags: list[str]
    specialties: list[str]
    can_reassign: bool


def filter_choices(session: Session, actor: Actor) -> FilterChoices:
    authorize(actor, "institution.view")
    users = [
        (u.id, u.full_name)
        for u in session.exec(select(User).where(col(User.is_active)).order_by(col(User.full_name))).all()
    ]
    teams = [
        (t.id, t.name) for t in session.exec(select(Team).where(~col(Team.is_archived)).order_by(col(Team.name))).all()
    ]

    def vocabulary(key: str, compute: Callable[[], list[str]]) -> list[str]:
        return _vocabulary.get(key, compute) if cache.may_use(session) else compute()

    return FilterChoices(
        users=users,
        assignable=assignable_users(session, actor),
        teams=teams,
        regions=vocabulary("regions", lambda: regions(session)),
        tags=vocabulary(LabelKind.TAG, lambda: label_values(session, LabelKind.TAG)),
        specialties=vocabulary(LabelKind.SPECIALTY, lambda: label_values(session, LabelKind.SPECIALTY)),
        can_reassign=scope_for(actor, "institution.reassign") is not Scope.NONE,
    )


JOBS = (
    Job(
        "search_order",
        cron(hour=3, minute=30),
        reorder_search_table,
        "Keep the institutions' search table in name order (PostgreSQL; see InstitutionSearch).",
    ),
)

#: How history names the institutions and contacts its entries refer to (`audit.register_names`).
HISTORY_NAMES = (
    ("institution", Institution.id, Institution.name),
    ("contact", Contact.id, sa.func.trim(sa.func.coalesce(Contact.first_name, "") + " " + Contact.last_name)),
)
