"""/api/catalog: the same catalog services as the page; everyone reads the active items, admins
create and edit. Amounts and rates travel as decimal strings ("1250.00", "5.5"), never floats."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crm_app.platform.api.deps import ActorDep, PageDep, PageSizeDep, SessionDep, partial_model, query_params
from crm_app.platform.api.pages import page_response
from crm_app.platform.api.routes import area_router
from crm_app.platform.paging import PageRequest
from crm_app.sales import catalog
from crm_app.sales.catalog import CatalogQuery, CatalogRow

router = area_router(tags=["catalog"])


class CatalogItemOut(BaseModel):
    id: uuid.UUID
    reference: str
    name: str
    description: str | None
    category: str | None
    unit: str
    unit_price: Decimal
    default_vat_rate: Decimal
    vat_exemption: str | None = None
    supply_kind: str
    is_active: bool
    updated_at: datetime
    version: int


class CatalogPage(BaseModel):
    items: list[CatalogItemOut]
    total: int
    page: int
    page_size: int


class CatalogItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str
    name: str
    description: str | None = None
    category: str | None = None
    unit: str | None = Field(default=None, description=", ".join(catalog.UNITS))
    unit_price: str = Field(description="Excl. VAT, a decimal string")
    default_vat_rate: str | None = Field(default=None, description="One of the allowed VAT rates")
    vat_exemption: str | None = Field(default=None, description="A 0 % item: why it carries no VAT (see lines)")
    supply_kind: str | None = Field(default=None, description="goods or services")
    is_active: bool | None = None


@partial_model
class CatalogItemPatch(CatalogItemIn):
    version: int = Field(description="The version you read; a stale one is refused with 409.")


def _out(session: SessionDep, actor: ActorDep, item_id: uuid.UUID) -> CatalogItemOut:
    return CatalogItemOut.model_validate(catalog.get_item(session, actor, item_id), from_attributes=True)


@router.get(
    "/catalog",
    response_model=CatalogPage,
    description="`q` (reference or name), `category`, `active` (1, 0 or all; admins only see inactive "
    "items), `sort`: name, reference, category, unit_price, updated; `-` for descending.",
)
def list_catalog(
    request: Request, session: SessionDep, actor: ActorDep, page: PageDep = 1, page_size: PageSizeDep = 25
) -> Response:
    params = query_params(request)
    result = catalog.list_items(session, actor, CatalogQuery.from_params(params), PageRequest(page, page_size))
    return page_response(result, CatalogRow, CatalogItemOut)


@router.post("/catalog", response_model=CatalogItemOut, status_code=201)
def create_catalog_item(body: CatalogItemIn, session: SessionDep, actor: ActorDep) -> CatalogItemOut:
    item = catalog.create_item(session, actor, body.model_dump(exclude_unset=True))
    return _out(session, actor, item.id)


@router.get("/catalog/{item_id}", response_model=CatalogItemOut)
def get_catalog_item(item_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> CatalogItemOut:
    return _out(session, actor, item_id)


@router.patch("/catalog/{item_id}", response_model=CatalogItemOut, responses={409: {"description": "Stale version"}})
def update_catalog_item(
    item_id: uuid.UUID, body: CatalogItemPatch, session: SessionDep, actor: ActorDep
) -> CatalogItemOut:
    changes = body.model_dump(exclude_unset=True)
    version = changes.pop("version")
    catalog.update_item(session, actor, item_id, changes, expected_version=version)
    return _out(session, actor, item_id)
