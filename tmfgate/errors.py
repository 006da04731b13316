"""One error tree for the gateway, and the TMF ``Error`` body it renders to.

    GatewayError
    ├── ConfigurationError          start-up problems: a bad setting, spec or database URL
    └── ApiError                    answered to the client as a TMF Error body
        ├── BadRequest         400  malformed or invalid body, query or parameter
        │   └── InvalidQuery   400  a filter, sort, fields or paging parameter that cannot be used
        ├── Unauthorized       401  missing or bad credentials (with ``WWW-Authenticate``)
        ├── Forbidden          403  a client without the scope, or one the operator API does not serve
        ├── NotFound           404  unknown id or path
        ├── MethodNotAllowed   405  a method the spec does not define on that path
        ├── NotAcceptable      406  an Accept header that takes none of the representations served
        ├── Conflict           409  an illegal state change or a duplicate
        ├── PayloadTooLarge    413  a request body, or a patched document, past its limit
        ├── PreconditionFailed 412  ``If-Match`` names another version of the resource
        ├── UnprocessableEntity 422 an ``Idempotency-Key`` reused with another body
        ├── PreconditionRequired 428 ``If-Match`` missing where the gateway requires it
        ├── UnsupportedMediaType 415
        ├── TooManyRequests    429  a partner past its request rate (with ``Retry-After``)
        └── ServiceUnavailable 503  the store cannot be reached

Codes follow the common list of the TM Forum reference implementation (TMF630 error resource):
20s for bad requests, 60 not found, 61 method not allowed, 1 internal error.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    """Root of every error tmfgate raises on purpose."""


class ConfigurationError(GatewayError):
    """The gateway cannot start as configured; the message says what to change."""


class ApiError(GatewayError):
    """An error answered to the client with the TMF ``Error`` resource."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "1"
    reason: ClassVar[str] = "Internal error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        reason: str | None = None,
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers  # sent with the error body, e.g. ``Allow`` on a 405
        if code is not None:
            self.code = code  # type: ignore[misc]
        if reason is not None:
            self.reason = reason  # type: ignore[misc]

    def body(self) -> dict[str, Any]:
        """The TMF ``Error`` resource (``status`` is a string in the TMF schema)."""
        return {
            "code": self.code,
            "reason": self.reason,
            "message": self.message,
            "status": str(self.status),
            "@type": "Error",
        }


class BadRequest(ApiError):
    status = 400
    code = "22"
    reason = "Invalid body"


class InvalidQuery(BadRequest):
    code = "28"
    reason = "Invalid query-string parameter value"


class Unauthorized(ApiError):
    status = 401
    code = "41"
    reason = "Invalid credentials"


class Forbidden(ApiError):
    status = 403
    code = "50"
    reason = "Access denied"


class NotFound(ApiError):
    status = 404
    code = "60"
    reason = "Resource not found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "61"
    reason = "Method not allowed"


class NotAcceptable(ApiError):
    status = 406
    code = "62"
    reason = "Not acceptable"


class Conflict(ApiError):
    status = 409
    code = "70"
    reason = "Conflict"


class PreconditionFailed(ApiError):
    status = 412
    code = "71"
    reason = "Precondition failed"


class UnprocessableEntity(ApiError):
    status = 422
    code = "24"
    reason = "Unprocessable entity"


class PreconditionRequired(ApiError):
    status = 428
    code = "72"
    reason = "Precondition required"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "26"
    reason = "Unsupported media type"


class PayloadTooLarge(ApiError):
    status = 413
    code = "24"
    reason = "Payload too large"


class TooManyRequests(ApiError):
    status = 429
    code = "25"
    reason = "Too many requests"


class ServiceUnavailable(ApiError):
    status = 503
    code = "1"
    reason = "Service unavailable"
