"""Typed errors with stable codes, rendered as RFC 9457 ``application/problem+json``.

Services raise subclasses of :class:`LoopmallError`; one handler in ``app.py`` renders
them. Nothing below a router raises ``HTTPException``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar


class LoopmallError(Exception):
    """Base of every domain error: an HTTP status, a stable code and a human message.

    ``title`` says what went wrong for every error of the class; ``message``, where a
    class has one, says it with the error's own figures (``%(name)s`` from its extras).
    Both are translated (``web/translations/<locale>/errors.po``): :meth:`localized`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    message: ClassVar[str | None] = None

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra

    def localized(self, gettext: Callable[[str], str]) -> str:
        """The message in the language of ``gettext``: the class's ``message`` with this
        error's figures, else the detail when it is a translated sentence, else the
        class's title (a detail written for developers, with ids in it, stays English
        only in English)."""
        if self.message is not None:
            try:
                return gettext(self.message) % self.extra
            except (KeyError, TypeError, ValueError):
                pass  # raised without the figures: the title says it
        translated = gettext(self.detail)
        return translated if translated != self.detail else gettext(self.title)

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://loopmall.dev/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class ValidationFailed(LoopmallError):
    status = 422
    code = "validation_failed"
    title = "The request is not valid"


class OutOfRange(ValidationFailed):
    """A number outside its bounds: the same code as any bad input, with the bounds as
    figures so the message says them in every language."""

    message = "%(field)s must be between %(low)s and %(high)s"


class TooLong(ValidationFailed):
    """Text longer than its field holds, with the limit as a figure."""

    message = "%(field)s must be up to %(most)s characters"


class NotFound(LoopmallError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(LoopmallError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unauthorized(LoopmallError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"


class Forbidden(LoopmallError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    title = "The form expired or did not come from this site; reload and try again"


class TooManyRequests(LoopmallError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"


class PayloadTooLarge(LoopmallError):
    status = 413
    code = "payload_too_large"
    title = "The upload is too large"
    message = "The file is over %(max_bytes)s bytes"


class UnsupportedMediaType(LoopmallError):
    status = 415
    code = "unsupported_media_type"
    title = "This type of file is not accepted"


class IdempotencyKeyReused(LoopmallError):
    status = 422
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was already used with a different request"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    title = "A request with this Idempotency-Key is still being processed"


class IllegalTransition(Conflict):
    code = "illegal_transition"
    title = "That change of state is not allowed"
