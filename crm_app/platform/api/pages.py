"""List answers serialised straight from the service's rows.

A list endpoint declares its pydantic page model for the OpenAPI schema, but building 100 item
models and having FastAPI validate them again cost more than the SQL. The service's rows are
dataclasses: pydantic-core serialises them to JSON in one call, leaving out the fields the API
does not publish (placement used for rights, per-user flags)."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from fastapi import Response
from pydantic import BaseModel, TypeAdapter

from crm_app.platform.paging import Page, PageOfLongList


@cache
def _adapter(row_type: type, page_type: type = Page) -> TypeAdapter[Any]:
    return TypeAdapter(page_type[row_type])  # type: ignore[index]


@cache
def _hidden(row_type: type, model: type[BaseModel]) -> dict[str, Any]:
    """What `dump_json` leaves out of a page: the row fields `model` does not publish."""
    published = set(model.model_fields)
    return {"items": {"__all__": {f.name for f in dataclasses.fields(row_type) if f.name not in published}}}


def page_response(page: Page[Any], row_type: type, model: type[BaseModel]) -> Response:
    """`page` as JSON with exactly the item fields of `model` (the schema the route declares); a page of
    a long list says whether its total is exact (`total_exact`)."""
    page_type = PageOfLongList if isinstance(page, PageOfLongList) else Page
    body = _adapter(row_type, page_type).dump_json(page, exclude=_hidden(row_type, model))
    return Response(body, media_type="application/json")
