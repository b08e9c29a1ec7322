"""The REST API under /api: one router per area, one error shape, bearer JWT auth."""

from __future__ import annotations

from fastapi import APIRouter

from crm_app.accounts.api import admin, auth, users
from crm_app.activities import api as activities
from crm_app.institutions.api import imports, institutions
from crm_app.platform.api import health, notifications, settings
from crm_app.platform.api.errors import install_error_handlers
from crm_app.sales.api import catalog, documents, invoices, quotes

router = APIRouter(prefix="/api")
router.include_router(health.router)
router.include_router(auth.router)
router.include_router(imports.router)
router.include_router(institutions.router)
router.include_router(activities.router)
router.include_router(notifications.router)
router.include_router(users.router)
router.include_router(users.auth_router)
router.include_router(admin.router)
router.include_router(settings.router)
router.include_router(catalog.router)
router.include_router(quotes.router)
router.include_router(invoices.router)
router.include_router(documents.router)


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def unknown_endpoint(path: str) -> None:
    from crm_app.platform.errors import NotFound
    from crm_app.platform.i18n import N_

    raise NotFound(N_("No such API endpoint."))


__all__ = ["install_error_handlers", "router"]
