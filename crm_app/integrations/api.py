"""/api/events/catalogue (every signed-in user) and /api/webhooks (super administrators): the same
services as /admin/webhooks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header, Response
from pydantic import BaseModel, ConfigDict, Field

from crm_app.integrations import catalogue, webhooks
from crm_app.integrations.webhooks import DeliveryRow, WebhookRow
from crm_app.platform.api.deps import ActorDep, PageDep, PageSizeDep, SessionDep, partial_model
from crm_app.platform.api.pages import page_response
from crm_app.platform.api.routes import area_router
from crm_app.platform.i18n import gettext, negotiate, use_locale
from crm_app.platform.paging import PageRequest

router = area_router(tags=["integrations"])

LanguageDep = Annotated[str | None, Header(alias="accept-language")]


class CatalogueEntryOut(BaseModel):
    name: str
    group: str
    description: str = Field(description="In the language of Accept-Language")
    built_from: str = Field(description="The domain event(s) it comes from")
    data_schema: str = Field(description="The schema of `data` in /api/openapi.json (the REST API's record)")
    example: dict[str, Any] = Field(description="The body's envelope; `data` is the record as the REST API returns it")


@router.get(
    "/events/catalogue",
    response_model=list[CatalogueEntryOut],
    description="The public events webhooks and plugins receive, each with the same JSON body.",
)
def events_catalogue(actor: ActorDep, accept_language: LanguageDep = None) -> list[CatalogueEntryOut]:
    with use_locale(negotiate(accept_language) or "en"):
        return [
            CatalogueEntryOut(
                **{**entry, "group": gettext(entry["group"]), "description": gettext(entry["description"])},
                example={
                    "id": "5f0c6a0e-8a53-4c1e-9d53-2f4a0d3b7c11",
                    "event": entry["name"],
                    "occurred_at": "2026-12-07T09:15:02.123Z",
                    "actor": {"id": "0b7f1c9a-3f7e-4a55-8a0e-6f1d2b9c4e21", "name": "Jeanne Martin"},
                    "data": {"$ref": f"#/components/schemas/{entry['data_schema']}"},
                },
            )
            for entry in catalogue.describe()
        ]


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str] = Field(description="The public events it takes (empty with all_events)")
    all_events: bool
    description: str
    is_active: bool
    consecutive_failures: int
    disabled_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    last_delivery_at: datetime | None
    last_delivery_status: str | None
    last_status_code: int | None


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="Shown this once: keep it to check the signatures")


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    total: int
    page: int
    page_size: int


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="http:// or https:// (https advised)")
    events: list[str] = Field(default_factory=list, description="Names from /api/events/catalogue")
    all_events: bool = False
    description: str = ""
    is_active: bool | None = None


@partial_model
class WebhookPatch(WebhookIn):
    """Fields to change; omitted fields keep their value."""

    version: int = Field(description="The version you read; a stale one is refused with 409.")


class SecretOut(BaseModel):
    secret: str = Field(description="Shown this once")


class DeliveryOut(BaseModel):
    id: uuid.UUID = Field(description="The X-OPEx-Delivery header")
    webhook_id: uuid.UUID
    event: str
    event_id: uuid.UUID = Field(description="The body's `id`")
    created_at: datetime
    status: str = Field(description="pending, sending, delivered or failed")
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    status_code: int | None
    duration_ms: int | None
    response_excerpt: str | None = Field(description="The first kilobyte of the answer")
    error: str | None
    redelivery_of: uuid.UUID | None


class DeliveryDetailOut(DeliveryOut):
    body: str = Field(description="The exact body sent")


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    page: int
    page_size: int


def _out(row: WebhookRow) -> WebhookOut:
    return WebhookOut.model_validate(row, from_attributes=True)


def _delivery(row: DeliveryRow) -> DeliveryOut:
    return DeliveryOut.model_validate(row, from_attributes=True)


@router.get("/webhooks", response_model=WebhookPage)
def list_webhooks(session: SessionDep, actor: ActorDep, page: PageDep = 1, page_size: PageSizeDep = 100) -> Response:
    return page_response(webhooks.list_webhooks(session, actor, PageRequest(page, page_size)), WebhookRow, WebhookOut)


@router.post("/webhooks", response_model=WebhookCreatedOut, status_code=201)
def create_webhook(body: WebhookIn, session: SessionDep, actor: ActorDep) -> WebhookCreatedOut:
    row, secret = webhooks.create_webhook(session, actor, body.model_dump(exclude_unset=True))
    return WebhookCreatedOut(**_out(row).model_dump(), secret=secret)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> WebhookOut:
    return _out(webhooks.get_webhook(session, actor, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut, responses={409: {"description": "Stale version"}})
def update_webhook(webhook_id: uuid.UUID, body: WebhookPatch, session: SessionDep, actor: ActorDep) -> WebhookOut:
    changes = body.model_dump(exclude_unset=True)
    version = changes.pop("version")
    return _out(webhooks.update_webhook(session, actor, webhook_id, changes, expected_version=version))


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    webhooks.delete_webhook(session, actor, webhook_id)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=SecretOut)
def rotate_secret(webhook_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> SecretOut:
    return SecretOut(secret=webhooks.rotate_secret(session, actor, webhook_id))


@router.post(
    "/webhooks/{webhook_id}/test",
    response_model=DeliveryOut,
    status_code=202,
    description="Queue a `ping` event to this webhook; it leaves right after this answer.",
)
def send_test(webhook_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> DeliveryOut:
    return _delivery(webhooks.send_test(session, actor, webhook_id))


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage, description="Newest first.")
def list_deliveries(
    webhook_id: uuid.UUID, session: SessionDep, actor: ActorDep, page: PageDep = 1, page_size: PageSizeDep = 25
) -> Response:
    result = webhooks.list_deliveries(session, actor, webhook_id, PageRequest(page, page_size))
    return page_response(result, DeliveryRow, DeliveryOut)


@router.get("/webhooks/{webhook_id}/deliveries/{delivery_id}", response_model=DeliveryDetailOut)
def get_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> DeliveryDetailOut:
    return DeliveryDetailOut.model_validate(
        webhooks.get_delivery(session, actor, webhook_id, delivery_id), from_attributes=True
    )


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    status_code=202,
    description="Send the same body again as a new delivery (new X-OPEx-Delivery, same event id).",
)
def redeliver(webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> DeliveryOut:
    return _delivery(webhooks.redeliver(session, actor, webhook_id, delivery_id))
