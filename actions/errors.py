"""One error vocabulary: each expected refusal says exactly why, in words a responder can act on."""

from __future__ import annotations


class RiposteError(Exception):
    """An expected failure; `str(error)` is shown to the responder as it is."""


class ServiceError(RiposteError):
    """Graph or Exchange refused or failed a call."""

    status: int = 0

    def __init__(self, message: str, *, request_id: str | None = None, code: str = "") -> None:
        super().__init__(message)
        self.request_id = request_id
        self.code = code


class PermissionMissing(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Throttled(ServiceError):
    status = 429


class BadRequest(ServiceError):
    status = 400


class ServiceUnavailable(ServiceError):
    status = 503
