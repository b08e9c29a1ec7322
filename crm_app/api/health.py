"""GET /api/health: for monitoring and load balancers; no authentication, no secrets."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from .. import __version__, db, jobs

router = APIRouter(tags=["health"])


@router.get("/health", responses={503: {"description": "The database does not answer"}})
def health() -> JSONResponse:
    """200 when the database answers, 503 otherwise; the scheduler's state and its jobs' last runs."""
    body: dict[str, Any] = {"status": "ok", "version": __version__}
    try:
        body["database"] = "ok"
        body["database_latency_ms"] = round(db.ping(), 2)
    except Exception:
        body.update(status="degraded", database="down", database_latency_ms=None)
    body["scheduler"] = jobs.status()
    return JSONResponse(body, status_code=200 if body["database"] == "ok" else 503)
