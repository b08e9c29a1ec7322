"""Public account pages: /forgot-password, /reset-password/{token}, /invitation/{token} and
/confirm-email/{token}.

Like /login they live outside the shell: whoever opens them is not signed in. The two link pages
let the person choose a password with a checklist of the rules that updates as they type."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from nicegui import app, ui

from components.backend import call_anonymous, client_info, stored_session_id
from components.shell import LOCALE_KEY
from crm_app.accounts import administration as accounts
from crm_app.accounts import passwords
from crm_app.accounts.models import TokenPurpose
from crm_app.accounts.passwords import PasswordRule
from crm_app.platform.i18n import N_, current_locale, negotiate
from crm_app.platform.i18n import gettext as _

RESET_REQUESTED = N_("If an account exists for this address, we have sent it a link to choose a new password.")
#: Rules always listed; the byte limit is shown only once it is broken (rare: 72 bytes of UTF-8).
LISTED_RULES = (PasswordRule.LENGTH, PasswordRule.NOT_EMAIL, PasswordRule.NOT_COMMON)


def _frame(request: Request, title: str) -> ui.card:
    """The centred card these pages share with /login, in the browser's language on a first visit."""
    if LOCALE_KEY not in app.storage.user:
        app.storage.user[LOCALE_KEY] = negotiate(request.headers.get("accept-language")) or current_locale()
    ui.page_title(f"{title} · OPEx CRM")
    with ui.column().classes("absolute-center items-center w-full").style("max-width: 420px"):
        ui.label("OPEx CRM").classes("text-h4 text-primary text-weight-bold q-mb-md")
        card = ui.card().classes("w-full q-pa-lg")
    with card:
        ui.label(title).classes("text-h6")
    return card


def _back_to_login() -> None:
    ui.link(_("Back to login"), "/login").classes("text-primary").mark("back-to-login")


@ui.page("/forgot-password", title="OPEx CRM")
async def forgot_password_page(request: Request) -> None:
    card = _frame(request, _("Forgot password?"))
    with card:
        form = ui.column().classes("w-full gap-2")
        with form:
            ui.label(_("Enter the email of your account: we will send you a link to choose a new password.")).classes(
                "text-grey-8"
            )
            email = (
                ui.input(_("Email"))
                .props("type=email autocomplete=username autofocus")
                .classes("w-full")
                .mark("reset-email")
            )
            button = ui.button(_("Send the link")).props("unelevated").classes("w-full").mark("send-reset")
        done = ui.label(_(RESET_REQUESTED)).classes("text-positive").props("role=status").mark("reset-requested")
        done.set_visibility(False)
        _back_to_login()

    async def submit() -> None:
        address = (email.value or "").strip()
        if "@" not in address:
            email.error = _("Enter a valid email address.")
            return
        email.error = None
        button.props("loading")
        try:
            # The same answer whatever happened: it must not tell whether the address has an account.
            await call_anonymous(accounts.request_password_reset, address, client=client_info())
        finally:
            button.props(remove="loading")
        form.set_visibility(False)
        done.set_visibility(True)

    button.on_click(submit)
    email.on("keydown.enter", submit)


def _password_form(email: str, submit_label: str, on_submit: Callable[[str, Any], Coroutine[Any, Any, None]]) -> None:
    """New password, confirmation and the live checklist of the rules."""
    password = (
        ui.input(_("New password"), password=True, password_toggle_button=True)
        .props("autocomplete=new-password autofocus")
        .classes("w-full")
        .mark("new-password")
    )
    confirmation = (
        ui.input(_("Repeat the password"), password=True)
        .props("autocomplete=new-password")
        .classes("w-full")
        .mark("repeat-password")
    )
    checklist = ui.column().classes("gap-1 q-my-sm").props('aria-live="polite"').mark("password-rules")

    def refresh_checklist() -> None:
        followed = passwords.password_checklist(password.value or "", email)
        checklist.clear()
        with checklist:
            for rule in PasswordRule:
                if rule not in LISTED_RULES and followed[rule]:
                    continue
                ok = followed[rule] and bool(password.value)
                with ui.row().classes("items-center gap-2 no-wrap"):
                    ui.icon(
                        "check_circle" if ok else "radio_button_unchecked",
                        color="positive" if ok else "grey-6",
                        size="xs",
                    )
                    ui.label(_(rule.message)).classes("text-body2" + ("" if ok else " text-grey-8")).mark(
                        f"rule-{rule.value}-{'ok' if ok else 'todo'}"
                    )

    async def submit() -> None:
        value = password.value or ""
        if value != (confirmation.value or ""):
            confirmation.error = _("The two passwords differ.")
            return
        confirmation.error = None
        await on_submit(value, password)

    password.on_value_change(lambda _event: refresh_checklist())
    refresh_checklist()
    ui.button(submit_label, on_click=submit).props("unelevated").classes("w-full").mark("set-password")
    confirmation.on("keydown.enter", submit)


async def _link_page(
    request: Request, token: str, purpose: TokenPurpose, *, title: str, submit_label: str, done_text: str
) -> None:
    card = _frame(request, title)
    target = await call_anonymous(accounts.check_token, token, purpose)
    with card:
        if target is None:
            ui.label(_(accounts.INVALID_LINK)).classes("text-negative").props("role=alert").mark("invalid-link")
            if purpose is TokenPurpose.PASSWORD_RESET:
                ui.link(_("Ask for a new link"), "/forgot-password").mark("ask-new-link")
            _back_to_login()
            return
        form = ui.column().classes("w-full gap-1")
        done = ui.column().classes("w-full gap-2")
        done.set_visibility(False)

        async def set_password(value: str, field: Any) -> None:
            service = accounts.accept_invitation if purpose is TokenPurpose.INVITATION else accounts.reset_password
            email = await call_anonymous(service, token, value, client=client_info(), fields={"password": field})
            if email is None:
                return
            form.set_visibility(False)
            done.set_visibility(True)

        with form:
            ui.label(_("Account: {email}", email=target.email)).classes("text-grey-8").mark("link-account")
            _password_form(target.email, submit_label, set_password)
        with done:
            ui.label(done_text).classes("text-positive").props("role=status").mark("password-set")
            ui.button(_("Log in"), on_click=lambda: ui.navigate.to("/login")).props("unelevated").classes(
                "w-full"
            ).mark("go-to-login")


@ui.page("/reset-password/{token}", title="OPEx CRM")
async def reset_password_page(request: Request, token: str) -> None:
    await _link_page(
        request,
        token,
        TokenPurpose.PASSWORD_RESET,
        title=_("Choose a new password"),
        submit_label=_("Save the new password"),
        done_text=_("Your password has been changed. You were signed out everywhere; log in again."),
    )


@ui.page("/invitation/{token}", title="OPEx CRM")
async def invitation_page(request: Request, token: str) -> None:
    await _link_page(
        request,
        token,
        TokenPurpose.INVITATION,
        title=_("Welcome to OPEx CRM"),
        submit_label=_("Create my account"),
        done_text=_("Your account is ready. You can now log in."),
    )


@ui.page("/confirm-email/{token}", title="OPEx CRM")
async def confirm_email_page(request: Request, token: str) -> None:
    """The link sent to the new address opens a confirmation, and the change happens on the click:
    mail scanners that open every link of a message must not change the account's address."""
    card = _frame(request, _("Confirm your new email address"))
    session_id = stored_session_id()
    try:
        keep = uuid.UUID(session_id) if session_id else None
    except ValueError:
        keep = None
    target = await call_anonymous(accounts.check_token, token, TokenPurpose.EMAIL_CHANGE)
    with card:
        if target is None:
            ui.label(_(accounts.INVALID_LINK)).classes("text-negative").props("role=alert").mark("invalid-link")
            _back_to_login()
            return
        question = ui.column().classes("w-full gap-2")
        with question:
            ui.label(
                _(
                    "Use {new} instead of {old} to log in and receive emails?",
                    new=target.new_email or "",
                    old=target.email,
                )
            ).classes("text-grey-8").mark("email-change-question")

            async def confirm() -> None:
                button.disable()
                new_email = await call_anonymous(
                    accounts.confirm_email_change, token, keep_session_id=keep, client=client_info()
                )
                question.clear()
                with question:
                    if new_email is None:
                        ui.label(_(accounts.INVALID_LINK)).classes("text-negative").props("role=alert").mark(
                            "invalid-link"
                        )
                    else:
                        ui.label(
                            _(
                                "Your email address is now {email}. Your other sessions were signed out.",
                                email=new_email,
                            )
                        ).classes("text-positive").props("role=status").mark("email-changed")
                    _back_to_login()

            button = (
                ui.button(_("Confirm the new address"), on_click=confirm)
                .props("unelevated")
                .classes("w-full")
                .mark("confirm-email-change")
            )
