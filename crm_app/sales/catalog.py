"""The catalog of products and services that quotes and invoices pick their lines from (DOMAIN.md
"Catalog"): everyone reads the active items; admins ("catalog.edit") create, edit, deactivate and
restore them. Lists are filtered, sorted and paged in SQL; every change goes to the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from crm_app.platform import audit
from crm_app.platform import cleaners as fields
from crm_app.platform.cleaners import long_text
from crm_app.platform.errors import Conflict, NotFound, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import table_of
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.params import Params
from crm_app.platform.permissions import Actor, authorize, can
from crm_app.platform.records import actor_id, changed_by_name, get_record
from crm_app.platform.text import contains_pattern, fold
from crm_app.sales import units
from crm_app.sales.document_settings import document_settings
from crm_app.sales.models.quotes import CatalogItem
from crm_app.sales.tax_codes import SupplyKind, VatExemption, default_supply_kind

UNITS: tuple[str, ...] = tuple(units.UNITS)
SORTABLE = ("reference", "name", "category", "unit_price", "updated")
ENTITY = "catalog_item"
_MISSING = N_("This catalog item does not exist.")
_REFERENCE_TAKEN = N_("This reference is already used by another item.")


def _unit(value: Any) -> str:
    if fields.is_blank(value):
        return "unit"
    unit = str(value).strip().lower()
    if unit not in units.UNITS:
        raise ValueError(N_("Unknown value."))
    return unit


def _rate(value: Any) -> Decimal | None:
    if fields.is_blank(value):
        return None
    try:
        return fields.amount(maximum=Decimal(100))(value)
    except ValueError:
        raise ValueError(N_("Choose one of the VAT rates.")) from None


def _price(value: Any) -> Decimal | None:
    try:
        return fields.amount()(value)
    except ValueError as exc:
        if str(exc) == N_("Out of range."):
            raise ValueError(N_("A price is zero or more.")) from None
        raise


def _reference(value: Any) -> str | None:
    cleaned = fields.text(60, required=True)(value)
    return cleaned.replace(" ", "") if cleaned else cleaned


CLEANERS: dict[str, fields.Cleaner] = {
    "reference": _reference,
    "name": fields.text(200, required=True),
    "description": long_text(5000),
    "category": fields.text(100),
    "unit": _unit,
    "unit_price": _price,
    "default_vat_rate": _rate,
    "vat_exemption": fields.choice(VatExemption),
    "supply_kind": fields.choice(SupplyKind),
    "is_active": fields.boolean(),
}


def _clean(session: Session, raw: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    values, errors = fields.clean_fields(raw, CLEANERS, partial=partial)
    if not partial:
        if values.get("unit_price") is None and "unit_price" not in errors:
            errors["unit_price"] = N_("This field is required.")
        if values.get("default_vat_rate") is None and "default_vat_rate" not in errors:
            values["default_vat_rate"] = document_settings(session).default_vat_rate
        if "is_active" not in raw:
            values["is_active"] = True
        if values.get("supply_kind") is None:
            values["supply_kind"] = default_supply_kind(values.get("unit") or "unit")
    elif "supply_kind" in values and values["supply_kind"] is None:
        values.pop("supply_kind")
    elif "unit_price" in values and values["unit_price"] is None and "unit_price" not in errors:
        errors["unit_price"] = N_("This field is required.")
    rate = values.get("default_vat_rate")
    if rate is not None and "default_vat_rate" not in errors:
        allowed = {r.normalize() for r in document_settings(session).vat_rates}
        if rate.normalize() not in allowed:
            errors["default_vat_rate"] = N_("Choose one of the VAT rates.")
    if partial and "default_vat_rate" in values and values["default_vat_rate"] is None:
        errors.setdefault("default_vat_rate", N_("This field is required."))
    if errors:
        raise ValidationFailed(errors)
    return values


def _reference_taken(session: Session, reference: str, *, other_than: uuid.UUID | None = None) -> bool:
    statement = select(CatalogItem.id).where(sa.func.lower(CatalogItem.reference) == reference.lower())
    if other_than is not None:
        statement = statement.where(CatalogItem.id != other_than)
    return session.exec(statement.limit(1)).first() is not None


def _flush(session: Session, item: CatalogItem) -> None:
    """Flush in a savepoint: a reference taken meanwhile by another transaction is a field error."""
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
    except sa.exc.IntegrityError:
        raise ValidationFailed({"reference": _REFERENCE_TAKEN}) from None


def create_item(session: Session, actor: Actor, raw: Mapping[str, Any]) -> CatalogItem:
    """Add an item (admins). The reference is unique (case-insensitive); the VAT rate defaults to the
    documents' default rate and must be one of the allowed rates."""
    authorize(actor, "catalog.edit")
    values = _clean(session, raw, partial=False)
    if _reference_taken(session, values["reference"]):
        raise ValidationFailed({"reference": _REFERENCE_TAKEN})
    if values.get("default_vat_rate") and values["default_vat_rate"] > 0:
        values["vat_exemption"] = None
    item = CatalogItem(**values, name_key=fold(values["name"]), created_by=actor_id(actor), updated_by=actor_id(actor))
    _flush(session, item)
    audit.record(
        session,
        actor,
        entity_type=ENTITY,
        entity_id=item.id,
        institution_id=None,
        action="create",
        changes={name: (None, value) for name, value in values.items()},
    )
    return item


def _item(session: Session, item_id: uuid.UUID, *, for_update: bool = False) -> CatalogItem:
    return get_record(session, CatalogItem, item_id, missing=_MISSING, for_update=for_update)


def update_item(
    session: Session, actor: Actor, item_id: uuid.UUID, raw: Mapping[str, Any], *, expected_version: int
) -> CatalogItem:
    """Change some fields (admins); a stale version is refused with the name of who saved first.
    Quotes and invoices keep the values they copied: editing an item never changes a document."""
    authorize(actor, "catalog.edit")
    item = _item(session, item_id, for_update=True)
    if item.version != expected_version:
        raise Conflict(changed_by=changed_by_name(session, item.updated_by))
    values = _clean(session, raw, partial=True)
    changes = {name: (getattr(item, name), value) for name, value in values.items() if getattr(item, name) != value}
    if not changes:
        return item
    if "reference" in changes and _reference_taken(session, values["reference"], other_than=item.id):
        raise ValidationFailed({"reference": _REFERENCE_TAKEN})
    for name, (_old, value) in changes.items():
        setattr(item, name, value)
    if item.default_vat_rate > 0:
        item.vat_exemption = None  # only a 0 % item says why it carries no VAT
    item.name_key = fold(item.name)
    item.updated_by = actor_id(actor)
    item.touch()
    _flush(session, item)
    action = "update"
    if set(changes) == {"is_active"}:
        action = "restore" if item.is_active else "archive"
    audit.record(
        session, actor, entity_type=ENTITY, entity_id=item.id, institution_id=None, action=action, changes=changes
    )
    return item


def set_active(
    session: Session, actor: Actor, item_id: uuid.UUID, active: bool, *, expected_version: int
) -> CatalogItem:
    """Deactivate (no longer offered for new lines; documents keep theirs) or restore an item."""
    return update_item(session, actor, item_id, {"is_active": active}, expected_version=expected_version)


def deactivate_item(session: Session, actor: Actor, item_id: uuid.UUID, *, expected_version: int) -> CatalogItem:
    return set_active(session, actor, item_id, False, expected_version=expected_version)


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True, slots=True)
class CatalogRow:
    id: uuid.UUID
    reference: str
    name: str
    description: str | None
    category: str | None
    unit: str
    unit_price: Decimal
    default_vat_rate: Decimal
    is_active: bool
    updated_at: datetime
    version: int
    vat_exemption: VatExemption | None = None
    supply_kind: SupplyKind = SupplyKind.GOODS


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    """The list's filters: `q` over reference and name, one category, active state (None: both;
    those who cannot edit the catalog always see the active items only)."""

    q: str = ""
    category: str | None = None
    active: bool | None = True
    sort: str = "name"
    descending: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, str | Sequence[str]]) -> CatalogQuery:
        read = Params(params)
        sort, descending = read.sort(SORTABLE, "name")
        active = {"1": True, "true": True, "0": False, "false": False, "all": None}.get(read.one("active") or "1", True)
        return cls(
            q=read.one("q") or "", category=read.one("category"), active=active, sort=sort, descending=descending
        )


_C = table_of(CatalogItem).c
_ORDER: dict[str, Any] = {
    "reference": _C.reference,
    "name": _C.name_key,
    "category": _C.category,
    "unit_price": _C.unit_price,
    "updated": _C.updated_at,
}


def _conditions(actor: Actor, query: CatalogQuery) -> list[Any]:
    conditions: list[Any] = []
    active = query.active if can(actor, "catalog.edit") else True
    if active is not None:
        conditions.append(_C.is_active.is_(active))
    if query.category:
        conditions.append(_C.category == query.category)
    text = query.q.strip()
    if text:
        pattern = contains_pattern(fold(text))
        conditions.append(
            sa.or_(
                _C.name_key.like(pattern, escape="\\"),
                sa.func.lower(_C.reference).like(contains_pattern(text.lower()), escape="\\"),
            )
        )
    return conditions


def _row(item: Any) -> CatalogRow:
    return CatalogRow(
        id=item.id,
        reference=item.reference,
        name=item.name,
        description=item.description,
        category=item.category,
        unit=item.unit,
        unit_price=item.unit_price,
        default_vat_rate=item.default_vat_rate,
        is_active=item.is_active,
        updated_at=item.updated_at,
        version=item.version,
        vat_exemption=VatExemption(item.vat_exemption) if item.vat_exemption else None,
        supply_kind=SupplyKind(item.supply_kind),
    )


def list_items(
    session: Session, actor: Actor, query: CatalogQuery | None = None, request: PageRequest | None = None
) -> Page[CatalogRow]:
    """One page of the catalog, filtered, sorted and paged in SQL."""
    query = query or CatalogQuery()
    request = request or PageRequest()
    conditions = _conditions(actor, query)
    key = _ORDER.get(query.sort, _C.name_key)
    order = [key.desc() if query.descending else key.asc(), _C.id]
    total = session.exec(select(sa.func.count()).select_from(CatalogItem).where(*conditions)).one()
    found = session.exec(
        select(CatalogItem).where(*conditions).order_by(*order).offset(request.offset).limit(request.page_size)
    ).all()
    return Page([_row(item) for item in found], int(total), request.page, request.page_size)


def search_active(session: Session, actor: Actor, text: str, *, limit: int = 10) -> list[CatalogRow]:
    """Active items whose reference or name contains `text` (the line editor's picker), by name."""
    page = list_items(session, actor, CatalogQuery(q=text, active=True), PageRequest(1, limit))
    return page.items


def get_item(session: Session, actor: Actor, item_id: uuid.UUID) -> CatalogRow:
    """One item; an inactive one only for those who edit the catalog."""
    item = _item(session, item_id)
    if not item.is_active and not can(actor, "catalog.edit"):
        raise NotFound(_MISSING)
    return _row(item)


def categories(session: Session, actor: Actor) -> list[str]:
    """The categories in use (filter and form choices), alphabetical."""
    statement = select(CatalogItem.category).where(col(CatalogItem.category).is_not(None))
    if not can(actor, "catalog.edit"):
        statement = statement.where(col(CatalogItem.is_active).is_(True))
    return [
        c
        for c in session.exec(
            statement.group_by(col(CatalogItem.category)).order_by(col(CatalogItem.category)).limit(500)
        ).all()
        if c
    ]


def vat_rates(session: Session, actor: Actor) -> tuple[Decimal, ...]:
    """The VAT rates a line or an item may use (the documents' settings)."""
    return document_settings(session).vat_rates


def vat_choices(session: Session, actor: Actor) -> tuple[tuple[Decimal, ...], Decimal]:
    """The allowed VAT rates and the default one (the line editor's choices)."""
    settings = document_settings(session)
    return settings.vat_rates, settings.default_vat_rate
