"""A real SMTP server for tests (aiosmtpd, in its own thread), and the `smtp_server` fixture that points
the application's SMTP settings at it.

Use: `from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture`, then
take an `smtp_server: SMTPServer` argument and read `smtp_server.messages`
(parsed with the standard `email` package) or `smtp_server.received` (envelopes).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        parsed: EmailMessage = email.message_from_bytes(self.content, policy=email.policy.default)
        return parsed


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_RCPT(  # noqa: N802 - aiosmtpd names its hooks so
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.server.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.server.delay:
            await asyncio.sleep(self.server.delay)  # a slow server
        content = envelope.original_content or envelope.content or b""
        with self.server.lock:
            self.server.received.append(
                Received(
                    str(envelope.mail_from),
                    list(envelope.rcpt_tos),
                    content if isinstance(content, bytes) else content.encode(),
                )
            )
        return "250 Message accepted for delivery"


class SMTPServer:
    """Listens on a fixed free port, so that it can be stopped (the server is down) and started again."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            self.port = int(sock.getsockname()[1])
        self.host = HOST
        self.received: list[Received] = []
        self.refused: set[str] = set()  # recipients answered with 550
        self.delay = 0.0  # seconds spent on each DATA
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return [received.message for received in self.received]

    @property
    def is_running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is None:
            controller = Controller(_Handler(self), hostname=HOST, port=self.port)
            controller.start()
            self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SMTPServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@pytest.fixture(name="smtp_server")
def smtp_server_fixture(settings_override: Callable[..., None]) -> Iterator[SMTPServer]:
    """A running SMTP server that the application sends to (SMTP_HOST/SMTP_PORT), stopped after the test."""
    server = SMTPServer()
    settings_override(
        smtp_host=server.host,
        smtp_port=str(server.port),
        smtp_secure="false",
        smtp_user="",
        smtp_password="",
        smtp_from="OPEx CRM <crm@opex.example>",
    )
    with server:
        yield server
