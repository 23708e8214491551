"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it accepts, scripted
per test: refuse chosen recipients with a reply code, answer slowly, or run a hook when a
message arrives (the crash test kills the sending process there)."""

from __future__ import annotations

import asyncio
import email
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from .conftest import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Script:
    """How the server answers. `refuse`: recipient -> reply ("550 5.1.1 no such user").
    `delay`: seconds each message waits before its 250. `on_message`: called with the count of
    messages received so far, before the 250 is sent."""

    refuse: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    on_message: Callable[[int], None] | None = None


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refused = self.sink.script.refuse.get(address)
        if refused:
            return refused
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        with self.sink.lock:
            self.sink.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw)
            )
            count = len(self.sink.received)
        if self.sink.script.on_message is not None:
            self.sink.script.on_message(count)
        if self.sink.script.delay:
            await asyncio.sleep(self.sink.script.delay)
        return "250 Message accepted for delivery"


class SmtpSink:
    """`with SmtpSink() as sink:` a server at sink.port; sink.received lists the messages.
    With `login=(user, password)` the server offers AUTH (over plain text: tests only) and
    refuses mail from a session that did not log in with those."""

    def __init__(self, script: Script | None = None, login: tuple[str, str] | None = None) -> None:
        self.script = script or Script()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.logins: list[str] = []
        options: dict[str, object] = {}
        if login is not None:

            def authenticate(
                server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
            ) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and (
                        data.login.decode(),
                        data.password.decode(),
                    )
                    == login
                )
                if ok:
                    self.logins.append(login[0])
                return AuthResult(success=ok)

            options = {
                "authenticator": authenticate,
                "auth_require_tls": False,
                "auth_required": True,
            }
        self.controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **options
        )

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        """The messages that went to `address`, oldest first."""
        with self.lock:
            return [r.message for r in self.received if address in r.recipients]

    def count(self) -> int:
        with self.lock:
            return len(self.received)
