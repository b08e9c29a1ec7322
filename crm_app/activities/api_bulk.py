"""/api/institutions/bulk/tasks and /api/institutions/bulk/meetings: a task, or a meeting invitation,
for every institution of a list of ids or of a filter of the institution list (the same parameters
as `GET /api/institutions`), in one transaction; the same service as the list's bulk work."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from crm_app.activities import bulk
from crm_app.activities.bulk import AssignTo, BulkKind, BulkResult
from crm_app.institutions.service import InstitutionQuery
from crm_app.platform.api.deps import ActorDep, SessionDep
from crm_app.platform.api.routes import area_router
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_

router = area_router(tags=["activities"])


class BulkWorkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    institution_ids: list[uuid.UUID] | None = Field(
        default=None, description="The institutions to work on; or give `filter`", max_length=bulk.BULK_LIMIT
    )
    filter: dict[str, str | list[str]] | None = Field(
        default=None, description="A filter of the institution list (its query parameters: q, type, tag, health_max...)"
    )
    title: str
    description: str | None = None
    assign_to: AssignTo = Field(default=AssignTo.OWNER, description="owner: each institution's owner; user: user_id")
    user_id: uuid.UUID | None = Field(
        default=None, description="The chosen user; with assign_to=owner, for the institutions without one"
    )


class BulkTasksIn(BulkWorkIn):
    due_at: datetime | None = None


class BulkMeetingsIn(BulkWorkIn):
    starts_at: datetime
    ends_at: datetime


class BulkResultOut(BaseModel):
    kind: BulkKind
    created: int
    to_owners: int
    to_chosen: int
    left_out: int = Field(description="Institutions without an owner you may assign to, and no user_id")
    left_out_names: list[str] = Field(description="The first of them (up to 20)")


def _query(body: BulkWorkIn) -> InstitutionQuery:
    if (body.institution_ids is None) == (body.filter is None):
        message = N_("Give the institutions' ids or a filter, not both.")
        raise ValidationFailed({"institution_ids": message}, message)
    if body.institution_ids is not None:
        if not body.institution_ids:
            raise ValidationFailed({"institution_ids": N_("No institution to work on.")})
        return InstitutionQuery(ids=tuple(body.institution_ids))
    return InstitutionQuery.from_params(body.filter or {})


def _answer(result: BulkResult) -> BulkResultOut:
    return BulkResultOut(
        kind=result.kind,
        created=result.created,
        to_owners=result.to_owners,
        to_chosen=result.to_chosen,
        left_out=result.left_out,
        left_out_names=list(result.left_out_names),
    )


_FIELDS = {"institution_ids", "filter"}


@router.post("/institutions/bulk/tasks", response_model=BulkResultOut, status_code=201)
def create_bulk_tasks(body: BulkTasksIn, session: SessionDep, actor: ActorDep) -> BulkResultOut:
    query = _query(body)
    raw = body.model_dump(exclude=_FIELDS)
    return _answer(bulk.create_for_institutions(session, actor, query, raw, kind=BulkKind.TASK))


@router.post("/institutions/bulk/meetings", response_model=BulkResultOut, status_code=201)
def create_bulk_meetings(body: BulkMeetingsIn, session: SessionDep, actor: ActorDep) -> BulkResultOut:
    query = _query(body)
    raw = body.model_dump(exclude=_FIELDS)
    return _answer(bulk.create_for_institutions(session, actor, query, raw, kind=BulkKind.MEETING))
