"""The one error tree of civicpass.

Every error carries a stable machine-readable ``reason`` code and a human message in zh-CN and en.
HTTP status codes are mapped from the error class in exactly one place (``civicpass.web.problems``)
and CLI exit codes in exactly one place (``civicpass.cli``)::

    CivicpassError
     ├── InvalidInput        the request is well-formed but its content is wrong (422)
     │    └── FormValidationFailed   a declaration does not match its form's JSON Schema
     ├── NotAuthenticated    no or bad credentials (401)
     ├── PermissionDenied    the policy said no, with reasons (403)
     ├── NotFound            no such thing, or not visible to the caller (404)
     ├── Conflict            the state does not allow it (409)
     ├── Gone                it existed but expired or was used up (410)
     ├── TooManyRequests     a limit was reached (429)
     └── Unavailable         the server cannot take it now (overloaded, database down); retry later (503)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of the input; ``path`` is a JSON pointer-like tuple."""

    path: tuple[str | int, ...]
    reason: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": "/" + "/".join(str(p) for p in self.path),
            "reason": self.reason,
            "message": self.message,
        }


@dataclass(frozen=True)
class Message:
    """A human text in both languages every screen and reason supports."""

    en: str
    zh: str

    def in_language(self, lang: str) -> str:
        return self.zh if lang.lower().startswith("zh") else self.en

    def as_dict(self) -> dict[str, str]:
        return {"zh-CN": self.zh, "en": self.en}


class CivicpassError(Exception):
    """Base of every error civicpass raises on purpose."""

    def __init__(
        self,
        reason: str,
        message: Message,
        *,
        errors: Sequence[FieldError] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{reason}: {message.en}")
        self.reason = reason
        self.message = message
        self.errors = tuple(errors)
        self.extra = dict(extra or {})


class InvalidInput(CivicpassError):
    """The input was understood but is not acceptable."""


class FormValidationFailed(InvalidInput):
    """A submission does not match the JSON Schema of the form version it answers."""


class NotAuthenticated(CivicpassError):
    """Credentials are missing, wrong or expired."""


class PermissionDenied(CivicpassError):
    """An authorisation decision denied the action; ``extra['reasons']`` lists why."""


class NotFound(CivicpassError):
    """The thing does not exist or the caller may not know that it exists."""


class Conflict(CivicpassError):
    """The current state does not allow the action (duplicate, limit of guardians, ...)."""


def conflicting_write() -> Conflict:
    """Two changes to one record raced (a unique key refused the second): the caller may retry."""
    return Conflict(
        "conflicting_write",
        Message(
            "another change to the same record happened at the same time; retry",
            "同一记录正被同时修改，请重试",
        ),
    )


class Gone(CivicpassError):
    """The thing existed but has expired or been used up (a one-time code, a ticket)."""


class TooManyRequests(CivicpassError):
    """A rate or attempt limit was reached; ``extra['retry_after']`` may say when to retry."""


class Unavailable(CivicpassError):
    """The server cannot take the request now and says so at once instead of slowing everyone down.

    At capacity it sheds load (reason ``overloaded``); its database may be unreachable
    (``database_unavailable``). Nothing of the request was kept; ``extra['retry_after']`` says in how
    many seconds to retry.
    """
