"""GET /api/health: for monitoring and load balancers; no authentication, no secrets."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from crm_app import __version__
from crm_app.platform import bridge, db
from crm_app.platform import outbox as mail
from crm_app.platform import scheduler as jobs
from crm_app.platform.api.errors import CATCH_ALL, allowed_methods, method_not_allowed
from crm_app.platform.api.routes import area_router
from crm_app.platform.errors import NotFound
from crm_app.platform.i18n import N_

router = area_router(tags=["health"])


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


async def unknown_endpoint(request: Request) -> Response:
    """Any method on a path no route of the API takes: 405 with `Allow` when the path exists with other
    methods, else 404; in the API's error shape rather than the application's page."""
    allowed = allowed_methods(request)
    if allowed:
        return method_not_allowed(request, allowed)
    raise NotFound(N_("No such API endpoint."))


#: Included last: an unknown /api path (or method) answers in the API's error shape rather than with a
#: page: the catch-all takes every method, so that the application's page routes never see an /api
#: request.
unknown_endpoint_router = area_router()
unknown_endpoint_router.add_api_route(
    "/{path:path}",
    unknown_endpoint,
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
    name=CATCH_ALL,
)
