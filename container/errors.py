"""Serving errors: each class carries its HTTP status; app.py maps them to responses."""

from __future__ import annotations


class ServingError(Exception):
    """An error answered to the caller with `status_code` and a short, human message."""

    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidPayload(ServingError):
    """The body cannot be read as rows of the model's features (400)."""

    status_code = 400


class NotAcceptable(ServingError):
    """No requested output type can be produced (406), decided before any prediction."""

    status_code = 406

    def __init__(self, accept: str, supported: list[str]):
        super().__init__(
            f"cannot answer in {accept!r}; supported Accept types: {', '.join(supported)}"
        )


class PayloadTooLarge(ServingError):
    """The body is larger than the configured limit (413)."""

    status_code = 413

    def __init__(self, limit_bytes: int):
        mib = limit_bytes / (1024 * 1024)
        super().__init__(f"request body exceeds the limit of {limit_bytes} bytes ({mib:g} MiB)")


class UnsupportedMediaType(ServingError):
    """The Content-Type has no decoder (415)."""

    status_code = 415

    def __init__(self, content_type: str | None, supported: list[str]):
        shown = repr(content_type) if content_type else "no Content-Type"
        super().__init__(f"unsupported content type {shown}; send one of: {', '.join(supported)}")


class ModelNotReady(ServingError):
    """The model is still loading or failed to load (503)."""

    status_code = 503

    def __init__(self, reason: str = "model is not ready"):
        super().__init__(reason)


class TooManyRows(ServingError):
    """More rows than one request may carry (413): the caller should split the request."""

    status_code = 413

    def __init__(self, rows: int, limit: int):
        super().__init__(
            f"request has {rows} rows; at most {limit} rows per request (split it, or raise "
            "SERVE_MAX_ROWS)"
        )


class TooManyLines(ServingError):
    """More line breaks than rows one request may carry (413), counted before the body is split,
    so that blank lines cannot make the server build a list of millions of empty strings."""

    status_code = 413

    def __init__(self, lines: int, limit: int):
        super().__init__(
            f"request has {lines} line breaks; at most {limit} rows per request, counting blank "
            "lines too (split it, or raise SERVE_MAX_ROWS)"
        )


class TooManyValues(ServingError):
    """More values (rows x fields) than one request may decode (413), counted before parsing."""

    status_code = 413

    def __init__(self, rows: int, width: int, limit: int):
        super().__init__(
            f"request has {rows} rows of {width} values ({rows * width} in all); at most "
            f"{limit} values per request (split it)"
        )


class RequestTimeout(ServingError):
    """The client did not send its whole body in time (408); the connection is closed."""

    status_code = 408

    def __init__(self, timeout_s: float):
        super().__init__(f"request body not received within {timeout_s:g} s")
