"""/login: email and password, "remember me", one generic error for every failure."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from components.backend import SESSION_KEY, call_anonymous, client_info, resolve_actor, safe_redirect
from components.shell import LOCALE_KEY, follow_language
from crm_app.accounts import auth
from crm_app.accounts.auth import LoginFailure
from crm_app.accounts.models import SessionKind
from crm_app.platform.i18n import LANGUAGE_NAMES, current_locale, negotiate
from crm_app.platform.i18n import gettext as _


@ui.page("/login", title="OPEx CRM")
async def login_page(request: Request, redirect_to: str | None = None) -> RedirectResponse | None:
    target = safe_redirect(redirect_to)
    if await resolve_actor() is not None:
        return RedirectResponse(target, status_code=303)
    if LOCALE_KEY not in app.storage.user:  # first visit: the browser's language when we have it
        app.storage.user[LOCALE_KEY] = negotiate(request.headers.get("accept-language")) or current_locale()
    follow_language()
    ui.page_title(f"{_('Log in')} · OPEx CRM")

    busy = False

    async def submit() -> None:
        nonlocal busy
        if busy:  # Enter pressed again while the first try is being checked
            return
        error.set_visibility(False)
        if not email.value or not password.value:
            error.text = _("Enter your email and password.")
            error.set_visibility(True)
            return
        busy = True
        button.props("loading")
        try:
            result = await call_anonymous(
                auth.login,
                email.value,
                password.value,
                client=client_info(),
                kind=SessionKind.WEB,
                remember=bool(remember.value),
            )
        finally:
            busy = False
            button.props(remove="loading")
        if result is None:
            return
        if not result.succeeded:
            error.text = _((result.failure or LoginFailure.INVALID).message)
            error.set_visibility(True)
            password.value = ""
            return
        assert result.actor is not None
        app.storage.user[SESSION_KEY] = str(result.session_id)
        if result.actor.language:
            app.storage.user[LOCALE_KEY] = result.actor.language
        ui.navigate.to(target)

    def change_language(event: object) -> None:
        app.storage.user[LOCALE_KEY] = getattr(event, "value", None)
        ui.navigate.reload()

    with ui.column().classes("absolute-center items-center w-full").style("max-width: 400px"):
        ui.label("OPEx CRM").classes("text-h4 text-primary text-weight-bold")
        ui.label(_("The CRM for medical sales teams")).classes("text-subtitle2 text-grey-7 q-mb-md")
        with ui.card().classes("w-full q-pa-lg"):
            ui.label(_("Log in")).classes("text-h6")
            email = (
                ui.input(_("Email"))
                .props("type=email autocomplete=username autofocus name=email")
                .classes("w-full")
                .on("keydown.enter", submit)
                .mark("email")
            )
            password = (
                ui.input(_("Password"), password=True, password_toggle_button=True)
                .props("autocomplete=current-password name=password")
                .classes("w-full")
                .on("keydown.enter", submit)
                .mark("password")
            )
            with ui.row().classes("w-full items-center justify-between"):
                remember = ui.checkbox(_("Remember me")).mark("remember")
                ui.link(_("Forgot password?"), "/forgot-password").classes("text-primary text-body2").mark(
                    "forgot-password"
                )
            error = ui.label().classes("text-negative").props("role=alert").mark("login-error")
            error.set_visibility(False)
            button = ui.button(_("Log in"), on_click=submit).props("unelevated").classes("w-full").mark("login")
        ui.select(LANGUAGE_NAMES, value=current_locale(), on_change=change_language).props(
            f'dense borderless options-dense aria-label="{_("Language")}"'
        ).classes("w-32").mark("language")
    return None
