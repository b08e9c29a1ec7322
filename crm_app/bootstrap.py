"""The one place that wires the areas together: their jobs, event subscribers, settings sections,
notification kinds and record pages, timeline sources, search sources, comment targets, and REST routers.

Every area declares what it offers as plain module constants (`JOBS`, `SUBSCRIBERS`, `SECTIONS`,
`NOTIFICATION_KINDS`, `RECORD_LINKS`, `TIMELINE_SOURCES`, `RECORD_VISIBILITY`, `SEARCH_SOURCES`,
`COMMENT_TARGETS`, `LINKABLE_RECORDS`, `HISTORY_NAMES`, `HISTORY_WORDING`, `router`); nothing registers
itself when it is imported. `wire()` registers them all, once per process, before the application serves or a command
runs; `api_router()` assembles the REST API. Only `crm_app.web` and `crm_app.cli` (and the tests) import this module.
"""

from __future__ import annotations

import functools
import threading

from fastapi import APIRouter, Depends

from crm_app.accounts import auth
from crm_app.accounts.api import admin, users
from crm_app.accounts.api import auth as auth_api
from crm_app.activities import alerts, api_bulk, meetings, notes, tasks
from crm_app.activities import api as activities_api
from crm_app.activities import notifications as activity_notifications
from crm_app.activities import timeline as activity_timeline
from crm_app.analytics import api as analytics_api
from crm_app.analytics import api_health, rollup
from crm_app.analytics import health as institution_health
from crm_app.institutions import notifications as institution_notifications
from crm_app.institutions import search as institution_search
from crm_app.institutions import service as institutions
from crm_app.institutions import timeline
from crm_app.institutions.api import imports as imports_api
from crm_app.institutions.api import institutions as institutions_api
from crm_app.integrations import api as integrations_api
from crm_app.integrations import (
    api_plugins,
    api_token_routes,
    api_tokens,
    catalogue,
    deliveries,
    plugins,
    scopes,
    webhooks,
)
from crm_app.platform import (
    audit,
    bridge,
    comments,
    events,
    notifications,
    rate_limit,
    records,
    retention,
    scheduler,
    settings,
    smtp,
)
from crm_app.platform import search as global_search
from crm_app.platform.api import deps, health
from crm_app.platform.api import notifications as notifications_api
from crm_app.platform.api import rate_limit as rate_limit_api
from crm_app.platform.api import settings as settings_api
from crm_app.sales import document_settings, history_wording, invoices, opportunities, quotes, reminders
from crm_app.sales import search as sales_search
from crm_app.sales.api import catalog as catalog_api
from crm_app.sales.api import documents as documents_api
from crm_app.sales.api import invoices as invoices_api
from crm_app.sales.api import opportunities as opportunities_api
from crm_app.sales.api import quotes as quotes_api

_lock = threading.Lock()
_wired = False


def wire() -> None:
    """Register everything the areas declare (idempotent; safe from several threads)."""
    global _wired
    with _lock:
        if _wired:
            return
        scheduler.register(
            *auth.JOBS,
            *alerts.JOBS,
            *retention.JOBS,
            *institutions.JOBS,
            *reminders.JOBS,
            *smtp.JOBS,
            *institution_health.JOBS,
            *rollup.JOBS,
            *rate_limit.JOBS,
            *deliveries.JOBS,
        )
        # The settings page shows the sections in this order.
        settings.register_section(*settings.SECTIONS, *retention.SECTIONS, *document_settings.SECTIONS)
        for module in (
            activity_notifications,
            institution_notifications,
            comments,
            quotes,
            invoices,
            reminders,
            opportunities,
            plugins,
            webhooks,
        ):
            notifications.register_kinds(module.NOTIFICATION_KINDS)
        for module in (activity_notifications, institution_notifications, quotes, invoices, opportunities, webhooks):
            notifications.register_links(module.RECORD_LINKS)
        for subscription in (
            *activity_notifications.SUBSCRIBERS,
            *institution_notifications.SUBSCRIBERS,
            *comments.SUBSCRIBERS,
            *meetings.SUBSCRIBERS,
            *quotes.SUBSCRIBERS,
            *invoices.SUBSCRIBERS,
            *opportunities.SUBSCRIBERS,
            *institution_health.SUBSCRIBERS,
            *rollup.SUBSCRIBERS,
        ):
            events.subscribe(subscription.kind, subscription.handler)
        timeline.register_sources(
            *activity_timeline.TIMELINE_SOURCES,
            *timeline.TIMELINE_SOURCES,
            *quotes.TIMELINE_SOURCES,
            *invoices.TIMELINE_SOURCES,
            *opportunities.TIMELINE_SOURCES,
        )
        # The header's search shows its groups in this order.
        global_search.register_sources(*institution_search.SEARCH_SOURCES, *sales_search.SEARCH_SOURCES)
        for module in (timeline, activity_timeline, quotes, invoices, opportunities):
            records.register_visibility(module.RECORD_VISIBILITY)
        records.register_linkable(opportunities.LINKABLE_RECORDS)
        for module in (tasks, meetings, notes, quotes, opportunities):
            for kind, resolver in module.COMMENT_TARGETS.items():
                comments.register_target(kind, resolver)
        audit.register_names(*institutions.HISTORY_NAMES, *history_wording.HISTORY_NAMES)
        audit.register_wording({**timeline.HISTORY_WORDING, **history_wording.HISTORY_WORDING})
        deps.set_authenticator(api_tokens.authenticate_bearer)
        deps.set_route_guard(scopes.check_route)
        scheduler.set_timezone_source(settings.timezone)
        bridge.add_listener(follow_settings)
        # Committed domain events become public events; webhooks queue theirs in the same transaction,
        # and every process's senders wake when any process queued some.
        catalogue.install()
        catalogue.add_consumer(webhooks.CONSUMER)
        # The plugins' handlers, off the request path: only the events some loaded plugin listens to.
        catalogue.subscribe(plugins.deliver, wanted=plugins.wanted_events)
        bridge.add_listener(deliveries.follow_queue)
        _wired = True


def follow_settings(event: events.Event) -> None:
    """A settings change committed by any process: forget the cached settings here too, and move the
    jobs to the organisation's new time zone (the one "today" of every job is read in)."""
    if isinstance(event, events.SettingsChanged):
        settings.forget_cached()
        if event.section == "organisation":
            scheduler.follow_timezone()


@functools.cache
def api_router() -> APIRouter:
    """The REST API under /api: one router per area; unknown paths answer in the API's error shape.
    Built once: including a router into another registers it there for good (the tests create the
    application again for every test, and a new router each time kept every old one alive)."""
    # Every request is counted against the rate limit first (one statement), then its input is checked
    # at the edge: no NUL byte or lone surrogate reaches a service.
    router = APIRouter(
        prefix="/api", dependencies=[Depends(rate_limit_api.limit_rate), Depends(deps.refuse_unstorable_text)]
    )
    for module in (health, auth_api, imports_api, institutions_api, activities_api, notifications_api, users):
        router.include_router(module.router)
    router.include_router(users.auth_router)
    for module in (admin, settings_api, catalog_api, quotes_api, invoices_api, documents_api, api_health, api_bulk):
        router.include_router(module.router)
    for module in (opportunities_api, analytics_api, api_plugins, api_token_routes, integrations_api):
        router.include_router(module.router)
    router.include_router(health.unknown_endpoint_router)
    return router
