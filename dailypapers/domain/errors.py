"""Why a request cannot be done, in the domain's words. Services raise these; each entry point
says them its own way (web/errors.py maps them to HTTP statuses in one place, the CLI prints
them and exits non-zero)."""

from __future__ import annotations


class Refused(Exception):
    """Base class: the message is written for the person who asked, and says what to do."""


class BadParameter(Refused, ValueError):
    """Input that cannot be used: the message names it and says why."""


class NotFound(Refused):
    """No such paper, comment, account or entry (or not one this person may see)."""


class LoginRequired(Refused):
    """The action needs a signed-in account."""


class Forbidden(Refused):
    """Signed in, but not allowed to do this."""


class TooMany(Refused):
    """Over a limit (submissions a day, attempts a minute)."""


class Conflict(Refused, ValueError):
    """A write that would break a uniqueness rule (a taken username or email)."""


class TooLarge(Refused):
    """Input past a size limit (a body, a file); the message says the limit."""


class Unavailable(Refused):
    """Something we depend on (arXiv) did not answer; trying later may work."""
