"""Outgoing mail: rendering a mail from its templates (HTML with the CSS inlined by css-inline,
and a plain-text twin), building the RFC 5322 message, and handing it to the SMTP server with
smtplib, one connection per run, paced to `smtp_rate`.

`Outbox.send` speaks SMTP a command at a time (MAIL, RCPT, then DATA) so that the caller can
record, before DATA, that the message may reach the reader from now on (`before_data`): a run
killed after that point cannot know whether the server took the mail, and must not send it
again. What went wrong is a MailError saying whether trying later may work (4xx, a connection
that failed) and whether it concerns this recipient or every mail of the run.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from collections.abc import Callable
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ..config import Config

TEMPLATES = Path(__file__).parent / "mail_templates"
# Bodies are encoded with the usual 78-column lines (quoted-printable wraps at 76), but the
# message is written out with headers of up to 998 octets (RFC 5322's limit): the long signed
# URL of List-Unsubscribe must stay one unbroken token, which a 78-column writer would turn
# into RFC 2047 encoded words that no client takes for a URL.
POLICY = SMTP_POLICY.clone(max_line_length=998)


class MailError(Exception):
    """Mail that did not go. `temporary`: trying later may work (a 4xx reply, a connection
    refused or lost). `stage`: where it failed: connect, login, sender (MAIL), recipient
    (RCPT) or data. `possibly_delivered`: the connection failed after the whole message was
    sent, so the server may have taken it."""

    def __init__(
        self,
        message: str,
        *,
        temporary: bool,
        stage: str,
        code: int | None = None,
        possibly_delivered: bool = False,
    ) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.stage = stage
        self.code = code
        self.possibly_delivered = possibly_delivered

    @property
    def for_recipient(self) -> bool:
        """The failure concerns this recipient (RCPT or DATA refused), not every mail."""
        return self.stage in ("recipient", "data")


def mail_enabled(config: Config) -> bool:
    """Whether the site can send mail: an SMTP host and a sender address are set."""
    return bool(config.smtp_host and config.smtp_from)


def smtp_password(config: Config) -> str:
    """`smtp_password`, else the first line of `smtp_password_file` (read at each connection,
    so a rotated secret is picked up); "" for neither."""
    if not config.smtp_password_file:
        return config.smtp_password
    try:
        return Path(config.smtp_password_file).read_text().splitlines()[0].strip()
    except (OSError, IndexError) as error:
        raise MailError(
            f"cannot read smtp_password_file {config.smtp_password_file}: {error}",
            temporary=False,
            stage="login",
        ) from None


# --- rendering ------------------------------------------------------------------------------


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def _inliner() -> css_inline.CSSInliner:
    # keep_style_tags: the dark-mode rules are a media query, which cannot be inlined; clients
    # that read <style> apply them (they use !important to win over the inlined colours).
    return css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


def render_mail(name: str, **context: Any) -> tuple[str, str]:
    """The HTML (CSS inlined) and plain-text bodies of the mail `name`: the templates
    `name.html` and `name.txt` in mail_templates/ with `context`."""
    environment = _environment()
    html = environment.get_template(f"{name}.html").render(**context)
    text = environment.get_template(f"{name}.txt").render(**context)
    return _inliner().inline(html), text


def message_domain(config: Config) -> str:
    """The domain of the site's mail (for Message-IDs): the sender address's."""
    return config.smtp_from.rpartition("@")[2] or "localhost"


def build_message(
    config: Config,
    *,
    to: str,
    subject: str,
    html: str,
    text: str,
    message_id: str,
    date: datetime,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative mail (text first, HTML preferred) from the site: From shows
    `site_name` with `smtp_from`; Date and Message-ID as given, so a message built again for
    the same digest is the same message. Write it out with `as_bytes(policy=POLICY)`."""
    message = EmailMessage(policy=SMTP_POLICY)
    message["Subject"] = subject
    message["From"] = formataddr((config.site_name, config.smtp_from))
    message["To"] = to
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    # RFC 3834: an automatic mail, so vacation responders do not answer it.
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


def check_address(email: str) -> str:
    """`email` if SMTP can carry it without extensions (ASCII, one @); else ValueError."""
    if not email.isascii():
        raise ValueError("addresses with non-ASCII characters cannot receive mail from this site")
    Address(addr_spec=email)  # raises on what RFC 5322 refuses
    return email


# --- sending --------------------------------------------------------------------------------


def _reply_error(code: int, reply: bytes, stage: str) -> MailError:
    text = reply.decode("utf-8", "replace").replace("\n", " ").strip()
    return MailError(f"{code} {text}", temporary=400 <= code < 500, stage=stage, code=code)


def _dot_stuffed(payload: bytes) -> bytes:
    r"""The message as DATA sends it: CRLF line ends, lines starting with "." doubled, and
    the terminating CRLF.CRLF.

    >>> _dot_stuffed(b"Subject: x\n\n.hidden\nend")
    b'Subject: x\r\n\r\n..hidden\r\nend\r\n.\r\n'
    """
    lines = re.sub(rb"\r\n|\r|\n", b"\r\n", payload)
    stuffed = re.sub(rb"(?m)^\.", b"..", lines)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


class Outbox:
    """One SMTP connection for a run of mails, opened at the first mail and again after a
    failure (which closes it). Use as a context manager, or call `close()`."""

    def __init__(
        self,
        config: Config,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._monotonic = monotonic
        self._smtp: smtplib.SMTP | None = None
        self._last_sent: float | None = None
        self.sent_on_connection = 0

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _drop(self) -> None:
        """Forget a connection in an unknown state (no QUIT: it may hang)."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        context = ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if config.smtp_security == "tls":
                smtp = smtplib.SMTP_SSL(
                    config.smtp_host, config.smtp_port, timeout=config.smtp_timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.smtp_timeout)
            smtp.ehlo()
            if config.smtp_security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
        except smtplib.SMTPNotSupportedError:
            raise MailError(
                f"{config.smtp_host}:{config.smtp_port} does not offer STARTTLS "
                "(set smtp_security to tls or none)",
                temporary=False,
                stage="connect",
            ) from None
        except smtplib.SMTPResponseException as error:
            raise _reply_error(error.smtp_code, _as_bytes(error.smtp_error), "connect") from None
        except (OSError, smtplib.SMTPException) as error:
            raise MailError(
                f"cannot reach {config.smtp_host}:{config.smtp_port}: {error or type(error).__name__}",
                temporary=True,
                stage="connect",
            ) from None
        user = config.smtp_user
        if user:
            try:
                smtp.login(user, smtp_password(config))
            except smtplib.SMTPResponseException as error:
                smtp.close()
                raise _reply_error(error.smtp_code, _as_bytes(error.smtp_error), "login") from None
            except (smtplib.SMTPException, OSError) as error:
                smtp.close()
                raise MailError(f"login failed: {error}", temporary=True, stage="login") from None
        return smtp

    def _pace(self) -> None:
        rate = self.config.smtp_rate
        if rate > 0 and self._last_sent is not None:
            wait = self._last_sent + 1 / rate - self._monotonic()
            if wait > 0:
                self._sleep(wait)
        self._last_sent = self._monotonic()

    def send(self, message: EmailMessage, recipient: str, before_data: Callable[[], bool]) -> bool:
        """Send `message` to `recipient`. `before_data` runs after the server accepted the
        recipient and before DATA; when it returns False the mail is dropped (RSET) and
        `send` returns False. True once the server answered 250 to the message. Raises
        MailError for anything else; a mail refused at MAIL on a connection that had carried
        mail already is tried once more on a new connection (servers close long sessions)."""
        payload = message.as_bytes(policy=POLICY)
        for attempt in (1, 2):
            reused = self._smtp is not None and self.sent_on_connection > 0
            try:
                return self._send_once(payload, recipient, before_data)
            except MailError as error:
                self._drop()
                if error.stage == "sender" and error.temporary and reused and attempt == 1:
                    continue
                raise
        raise AssertionError("unreachable")

    def _send_once(self, payload: bytes, recipient: str, before_data: Callable[[], bool]) -> bool:
        if self._smtp is None:
            self._smtp = self._connect()
            self.sent_on_connection = 0
        smtp = self._smtp
        self._pace()
        stage = "sender"
        try:
            code, reply = smtp.mail(self.config.smtp_from)
            if code != 250:
                raise _reply_error(code, reply, stage)
            stage = "recipient"
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise _reply_error(code, reply, stage)
            if not before_data():
                smtp.rset()
                return False
            stage = "data"
            smtp.putcmd("data")
            code, reply = smtp.getreply()
            if code != 354:
                raise _reply_error(code, reply, stage)
            smtp.send(_dot_stuffed(payload))
            stage = "sent"
            code, reply = smtp.getreply()
            if code != 250:
                raise _reply_error(code, reply, "data")
        except OSError as error:  # SMTPServerDisconnected and timeouts are OSErrors too
            raise MailError(
                f"connection lost: {error or type(error).__name__}",
                temporary=True,
                stage="data" if stage == "sent" else stage,
                possibly_delivered=stage == "sent",
            ) from None
        self.sent_on_connection += 1
        return True


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
