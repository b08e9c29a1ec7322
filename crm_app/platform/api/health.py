"""GET /api/health: for monitoring and load balancers; no authentication, no secrets."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from crm_app import __version__
from crm_app.platform import bridge, db
from crm_app.platform import outbox as mail
from crm_app.platform import scheduler as jobs
from crm_app.platform.errors import NotFound
from crm_app.platform.i18n import N_

router = APIRouter(tags=["health"])


@router.get("/health", responses={503: {"description": "The database does not answer"}})
def health() -> JSONResponse:
    """200 when the database answers, 503 otherwise; the scheduler's state and its jobs' last runs, the
    live events listener, the mail waiting in the outbox."""
    body: dict[str, Any] = {"status": "ok", "version": __version__}
    try:
        body["database"] = "ok"
        body["database_latency_ms"] = round(db.ping(), 2)
    except Exception:
        body.update(status="degraded", database="down", database_latency_ms=None)
    body["scheduler"] = jobs.status()
    body["live_events"] = bridge.status()
    if body["database"] == "ok":
        with db.unit_of_work() as session:
            body["mail_outbox"] = mail.status_counts(session)
    return JSONResponse(body, status_code=200 if body["database"] == "ok" else 503)


#: Included last: an unknown /api path answers in the API's error shape rather than with a page.
unknown_endpoint_router = APIRouter()


@unknown_endpoint_router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
def unknown_endpoint(path: str) -> None:
    raise NotFound(N_("No such API endpoint."))
