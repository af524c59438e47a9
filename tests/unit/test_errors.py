"""Serving errors: each class's HTTP status and the message the caller reads."""

from __future__ import annotations

import pytest

from container.errors import (
    InvalidPayload,
    ModelNotReady,
    NotAcceptable,
    PayloadTooLarge,
    ServingError,
    UnsupportedMediaType,
)

SUPPORTED = ["text/csv", "application/json"]


@pytest.mark.parametrize(
    ("error", "status", "fragments"),
    [
        (ServingError("bad thing"), 400, ["bad thing"]),
        (InvalidPayload("row 2, column 3: 'x' is not a number"), 400, ["row 2, column 3"]),
        (
            NotAcceptable("text/html", SUPPORTED),
            406,
            ["'text/html'", "supported Accept types: text/csv, application/json"],
        ),
        (
            PayloadTooLarge(6 * 1024 * 1024),
            413,
            ["exceeds the limit", "6291456 bytes", "(6 MiB)"],
        ),
        (PayloadTooLarge(1536 * 1024), 413, ["1572864 bytes", "(1.5 MiB)"]),
        (
            UnsupportedMediaType("text/plain", SUPPORTED),
            415,
            ["unsupported content type 'text/plain'", "send one of: text/csv, application/json"],
        ),
        (UnsupportedMediaType(None, SUPPORTED), 415, ["no Content-Type", "text/csv"]),
        (UnsupportedMediaType("", SUPPORTED), 415, ["no Content-Type"]),
        (ModelNotReady(), 503, ["model is not ready"]),
        (ModelNotReady("warm-up failed: boom"), 503, ["warm-up failed: boom"]),
    ],
    ids=[
        "base",
        "invalid-payload",
        "not-acceptable",
        "too-large",
        "too-large-fraction",
        "unsupported",
        "unsupported-missing",
        "unsupported-empty",
        "not-ready",
        "not-ready-reason",
    ],
)
def test_error_status_and_message(error: ServingError, status: int, fragments):
    assert isinstance(error, ServingError)
    assert error.status_code == status
    assert str(error) == error.message
    for fragment in fragments:
        assert fragment in error.message


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (ServingError, 400),
        (InvalidPayload, 400),
        (NotAcceptable, 406),
        (PayloadTooLarge, 413),
        (UnsupportedMediaType, 415),
        (ModelNotReady, 503),
    ],
)
def test_status_code_is_a_class_attribute(cls: type[ServingError], status: int):
    assert cls.status_code == status
    assert issubclass(cls, ServingError)


def test_serving_errors_are_plain_exceptions():
    with pytest.raises(ServingError, match="row 1"):
        raise InvalidPayload("row 1: bad")
