"""One error tree: configuration errors apart from API errors, each API error a TMF ``Error`` body."""

from __future__ import annotations

import pytest

from tmfgate import errors


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.BadRequest, 400, "22"),
        (errors.InvalidQuery, 400, "28"),
        (errors.Forbidden, 403, "50"),
        (errors.NotFound, 404, "60"),
        (errors.MethodNotAllowed, 405, "61"),
        (errors.Conflict, 409, "70"),
        (errors.UnsupportedMediaType, 415, "26"),
        (errors.ServiceUnavailable, 503, "1"),
    ],
)
def test_each_api_error_renders_the_tmf_error_body(error: type[errors.ApiError], status: int, code: str) -> None:
    body = error("Say what to do.").body()
    assert body == {
        "code": code,
        "reason": error.reason,
        "message": "Say what to do.",
        "status": str(status),
        "@type": "Error",
    }
    assert issubclass(error, errors.ApiError) and issubclass(error, errors.GatewayError)


def test_code_reason_and_headers_can_be_given_per_error() -> None:
    error = errors.MethodNotAllowed("No.", code="99", reason="Other", headers=((b"allow", b"GET"),))
    assert error.body()["code"] == "99" and error.body()["reason"] == "Other" and error.headers == ((b"allow", b"GET"),)
    assert errors.MethodNotAllowed("No.").code == "61"  # the class keeps its own


def test_configuration_errors_are_not_api_errors() -> None:
    assert issubclass(errors.ConfigurationError, errors.GatewayError)
    assert not issubclass(errors.ConfigurationError, errors.ApiError)
    assert issubclass(errors.InvalidQuery, errors.BadRequest)
