"""/api/institutions/{id}/health: an institution's health score and what makes it (the same
`score_breakdown` as the institution page). Money as decimal strings."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from crm_app.analytics.health import Component, Health, health_of, score_breakdown
from crm_app.platform.api.deps import ActorDep, SessionDep
from crm_app.platform.api.routes import area_router

router = area_router(tags=["analytics"])


class HealthComponentOut(BaseModel):
    component: Component
    value: str | None = Field(
        description="recency: days since the last activity (null: none ever); activities, overdue_invoices, "
        "overdue_tasks: a count; revenue: euros excl. VAT as a decimal string"
    )
    points: int
    max_points: int


class HealthOut(BaseModel):
    institution_id: uuid.UUID
    score: int = Field(description="0-100, the sum of the components' points, computed now")
    health: Health = Field(description="good (70 and above), fair (40-69), poor (below 40)")
    computed_at: datetime
    stored_score: int | None = Field(description="The score the institution list sorts and filters on")
    stored_at: datetime | None = Field(description="When the stored score last changed")
    last_activity_at: datetime | None
    components: list[HealthComponentOut]


@router.get("/institutions/{institution_id}/health", response_model=HealthOut)
def get_institution_health(institution_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> HealthOut:
    breakdown = score_breakdown(session, actor, institution_id)
    return HealthOut(
        institution_id=breakdown.institution_id,
        score=breakdown.score,
        health=health_of(breakdown.score) or Health.POOR,
        computed_at=breakdown.computed_at,
        stored_score=breakdown.stored_score,
        stored_at=breakdown.stored_at,
        last_activity_at=breakdown.last_activity_at,
        components=[
            HealthComponentOut(
                component=c.component,
                value=None if c.value is None else str(c.value),
                points=c.points,
                max_points=c.maximum,
            )
            for c in breakdown.components
        ],
    )
