"""/api/institutions and /api/contacts: the same services as the pages, thin routes."""

from __future__ import annotations

import dataclasses
import functools
import operator
import uuid
from datetime import datetime
from enum import StrEnum
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from fastapi import Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from crm_app.institutions import contacts, exports
from crm_app.institutions import service as institutions
from crm_app.institutions.contacts import ContactRow
from crm_app.institutions.fields import EDITABLE, FIELDS, FieldSpec
from crm_app.institutions.models import DataSource
from crm_app.institutions.service import InstitutionDetail, InstitutionQuery, InstitutionRow
from crm_app.platform.api.deps import (
    ActorDep,
    PageDep,
    PageSizeDep,
    SessionDep,
    given_not_null,
    partial_model,
    query_params,
)
from crm_app.platform.api.pages import page_response
from crm_app.platform.api.routes import area_router
from crm_app.platform.i18n import negotiate, use_locale
from crm_app.platform.paging import EXACT_COUNT_LIMIT, PageRequest

router = area_router(tags=["institutions"])


def _published(row_type: type, *, hidden: tuple[str, ...]) -> dict[str, Any]:
    """The fields of a service's list row that the API publishes, for `create_model` (codes as strings)."""
    hints = get_type_hints(row_type)
    published = {}
    for row_field in dataclasses.fields(row_type):
        if row_field.name not in hidden:
            kind = hints[row_field.name]
            published[row_field.name] = (_as_text(kind), ...)
    return published


def _as_text(kind: Any) -> Any:
    """A code's enum reads as `str` in the API (its schema names no choices)."""
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return str
    if get_origin(kind) in (Union, UnionType):
        return functools.reduce(operator.or_, (_as_text(arg) for arg in get_args(kind)))
    return kind


def _answer_fields() -> dict[str, Any]:
    """InstitutionOut's fields from the field specs: every field, an id followed by the name it refers to."""
    answer: dict[str, Any] = {"id": (uuid.UUID, ...), "version": (int, ...)}
    for spec in FIELDS:
        kind = spec.api_type | None if spec.nullable else spec.api_type
        answer[spec.name] = (kind, Field(description=spec.description) if spec.description else ...)
        if spec.name_field:
            answer[spec.name_field] = (str | None, ...)
    return {**answer, "created_at": (datetime, ...), "updated_at": (datetime, ...)}


InstitutionItem = create_model("InstitutionItem", **_published(InstitutionRow, hidden=("created_by", "can_edit")))
InstitutionOut = create_model("InstitutionOut", **_answer_fields())


class InstitutionPage(BaseModel):
    items: list[InstitutionItem]  # type: ignore[valid-type]
    total: int = Field(
        description=f"How many institutions match: counted exactly up to {EXACT_COUNT_LIMIT:,}; beyond, "
        f"PostgreSQL's estimate (`total_exact` false), never below {EXACT_COUNT_LIMIT + 1:,}"
    )
    total_exact: bool = Field(
        description=f"False when `total` is an estimate (more than {EXACT_COUNT_LIMIT:,} matches)"
    )
    page: int
    page_size: int


def _required_on_creation(spec: FieldSpec) -> bool:
    """A field the service's creation cannot leave empty: its cleaner refuses an absent value (creating
    cleans every field left out as None)."""
    try:
        if spec.cleaner is not None:
            spec.cleaner(None)
    except ValueError:
        return True
    return False


def _input_fields() -> dict[str, Any]:
    """Every editable field; required where creating needs it, else optional. Null (clearing it) only
    where the field may be empty: a field that is never empty (`nullable=False`) refuses null with a 422
    instead of reaching the database."""
    return {
        spec.name: (
            spec.api_type | None if spec.nullable else spec.api_type,
            ... if _required_on_creation(spec) else None if spec.nullable else given_not_null(),
        )
        for spec in EDITABLE
    }


class InstitutionIn(create_model("InstitutionFields", **_input_fields())):  # type: ignore[misc]
    """Fields to set; omitted fields keep their default."""

    model_config = ConfigDict(extra="forbid")


@partial_model
class InstitutionPatch(InstitutionIn):
    """Fields to change; omitted fields keep their value."""

    version: int = Field(description="The version you read; a stale one is refused with 409.")


ContactOut = create_model(
    "ContactOut", **_published(ContactRow, hidden=("assigned_user_id", "team_id", "created_by", "can_edit"))
)


class ContactIn(BaseModel):
    """Omitted fields keep their default; null clears a field that may be empty, and is refused for one
    that may not (the last name, the yes/no flags)."""

    model_config = ConfigDict(extra="forbid")

    first_name: str | None = None
    last_name: str
    title: str | None = None
    department: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    is_primary: bool = given_not_null()
    email_opt_out: bool = given_not_null()


@partial_model
class ContactPatch(ContactIn):
    """Fields to change; omitted fields keep their value."""

    version: int


class ContactPage(BaseModel):
    items: list[ContactOut]  # type: ignore[valid-type]
    total: int
    page: int
    page_size: int


def _detail(detail: InstitutionDetail) -> BaseModel:
    institution, profile = detail.institution, detail.profile
    values: dict[str, Any] = {
        name: getattr(institution, name) for name in InstitutionOut.model_fields if hasattr(institution, name)
    }
    values.update({name: getattr(profile, name) for name in institutions.PROFILE_FIELDS})
    values.update(
        tags=detail.tags,
        specialties=detail.specialties,
        assigned_user_name=detail.assigned_user_name,
        team_name=detail.team_name,
    )
    return InstitutionOut.model_validate(values)


def _contact(row: ContactRow) -> BaseModel:
    return ContactOut.model_validate(row, from_attributes=True)


def _query(request: Request) -> InstitutionQuery:
    params = query_params(request)
    return InstitutionQuery.from_params(params)


_FILTERS_DOC = (
    "Filters: `q` (name, city, postal code, FINESS, SIRET, accounting number, contact names; accents "
    "and case ignored), `type`, `status`, `region`, `city`, `assigned_user_id`, `unassigned=1`, "
    "`team_id`, `tag`, `specialty`, `beds_min`, `beds_max`, `rooms_min`, `rooms_max`, `compliance`, "
    "`health_min`, `health_max` (the health score, 0-100), `archived` (active|archived|all); repeat a "
    "parameter or separate values with commas. "
    "`sort`: name, city, postal_code, type, status, updated, created, health_score; `-` for descending."
)


@router.get("/institutions", response_model=InstitutionPage, description=_FILTERS_DOC)
async def list_institutions(
    request: Request,
    actor: ActorDep,
    page: PageDep = 1,
    page_size: PageSizeDep = 25,
) -> Response:
    # Async: the page is read on the event loop where it can be (the service says when).
    result = await institutions.awaited_list_institutions(actor, _query(request), PageRequest(page, page_size))
    return page_response(result, InstitutionRow, InstitutionItem)


@router.get(
    "/institutions/export",
    description="The filtered list as CSV or XLSX. " + _FILTERS_DOC,
    responses={
        200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}
    },
)
def export_institutions(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    format: exports.ExportFormat = exports.ExportFormat.CSV,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    with use_locale(negotiate(accept_language) or "en"):
        content = exports.export_institutions(session, actor, _query(request), format)
    media = (
        "text/csv; charset=utf-8"
        if format is exports.ExportFormat.CSV
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="institutions.{format.value}"'},
    )


@router.post(
    "/institutions",
    response_model=InstitutionOut,
    status_code=201,
    responses={409: {"description": "Likely duplicate (matches listed); repeat with allow_duplicate=true"}},
)
def create_institution(
    body: InstitutionIn, session: SessionDep, actor: ActorDep, allow_duplicate: bool = False
) -> BaseModel:
    created = institutions.create_institution(
        session, actor, body.model_dump(exclude_unset=True), source=DataSource.API, allow_duplicate=allow_duplicate
    )
    return _detail(institutions.get_detail(session, actor, created.id))


@router.get("/institutions/{institution_id}", response_model=InstitutionOut)
def get_institution(institution_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> BaseModel:
    return _detail(institutions.get_detail(session, actor, institution_id))


@router.patch(
    "/institutions/{institution_id}",
    response_model=InstitutionOut,
    responses={409: {"description": "Stale version: someone saved first"}},
)
def update_institution(
    institution_id: uuid.UUID, body: InstitutionPatch, session: SessionDep, actor: ActorDep
) -> BaseModel:
    changes = body.model_dump(exclude_unset=True)
    version = changes.pop("version")
    institutions.update_institution(session, actor, institution_id, changes, expected_version=version)
    return _detail(institutions.get_detail(session, actor, institution_id))


@router.delete(
    "/institutions/{institution_id}",
    response_model=InstitutionOut,
    description="Archive (institutions are never deleted); it disappears from lists by default.",
)
def archive_institution(institution_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> BaseModel:
    institutions.set_archived(session, actor, institution_id, True)
    return _detail(institutions.get_detail(session, actor, institution_id))


@router.get("/institutions/{institution_id}/contacts", response_model=ContactPage)
def list_institution_contacts(
    institution_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    *,
    include_archived: bool = False,
    page: PageDep = 1,
    page_size: PageSizeDep = 100,
) -> Response:
    institutions.get_institution(session, institution_id)
    result = contacts.list_for_institution(
        session, actor, institution_id, include_archived=include_archived, request=PageRequest(page, page_size)
    )
    return page_response(result, ContactRow, ContactOut)


@router.post("/institutions/{institution_id}/contacts", response_model=ContactOut, status_code=201)
def create_contact(institution_id: uuid.UUID, body: ContactIn, session: SessionDep, actor: ActorDep) -> BaseModel:
    contact = contacts.create_contact(session, actor, institution_id, body.model_dump(exclude_unset=True))
    return _contact(contacts.get_contact_row(session, actor, contact.id))


@router.get("/contacts", response_model=ContactPage)
def list_contacts(
    session: SessionDep,
    actor: ActorDep,
    *,
    q: str = "",
    archived: Literal["active", "archived", "all"] = "active",
    page: PageDep = 1,
    page_size: PageSizeDep = 25,
) -> Response:
    result = contacts.list_contacts(session, actor, q=q, archived=archived, request=PageRequest(page, page_size))
    return page_response(result, ContactRow, ContactOut)


@router.get("/contacts/{contact_id}", response_model=ContactOut)
def get_contact(contact_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> BaseModel:
    return _contact(contacts.get_contact_row(session, actor, contact_id))


@router.patch("/contacts/{contact_id}", response_model=ContactOut)
def update_contact(contact_id: uuid.UUID, body: ContactPatch, session: SessionDep, actor: ActorDep) -> BaseModel:
    changes = body.model_dump(exclude_unset=True)
    version = changes.pop("version")
    contacts.update_contact(session, actor, contact_id, changes, expected_version=version)
    return _contact(contacts.get_contact_row(session, actor, contact_id))
