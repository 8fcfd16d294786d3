"""Service errors: a stable machine-readable code, a human message, an HTTP status."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Invalid(ServiceError):
    status = 422
    code = "invalid"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    """What was asked for is not available (any more): nothing was changed."""

    status = 409
    code = "conflict"


class LimitReached(ServiceError):
    """The client already has as much as one client may have at once; `headers` may carry Retry-After."""

    status = 429
    code = "limit_reached"

    def __init__(self, message: str, code: str | None = None, retry_after: int | None = None):
        super().__init__(message, code)
        self.headers = {"Retry-After": str(retry_after)} if retry_after else None
