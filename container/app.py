"""The Flask app: /ping, /invocations and /execution-parameters over pure functions, with every
error mapped to a response here and nowhere else (error_reply, for Flask and the fast path)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from container import contract
from container.accesslog import AccessLog
from container.body import BodyDeadlines, read_body
from container.codecs import Limits
from container.errors import ModelNotReady, ServingError
from container.invocations import Prediction, predict_payload
from container.model import Predictor
from container.settings import ServingSettings
from container.wsgi import (
    ROWS_KEY,
    FastInvocations,
    Invoke,
    RequestLog,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["ModelState", "create_app", "error_reply"]
log = logging.getLogger(__name__)


@dataclass
class ModelState:
    """What /ping reports: ready only once a predictor is loaded and warmed up."""

    predictor: Predictor | None = None
    ready: bool = False
    error: str | None = field(default=None)

    def warm_up(self) -> None:
        if self.predictor is None:
            return
        try:
            self.predictor.warm_up()
            self.ready = True
        except Exception as exc:  # a failed warm-up leaves the worker permanently not ready
            self.error = f"warm-up failed: {exc}"
            log.error("model not ready: %s", self.error)


def create_app(
    settings: ServingSettings, state: ModelState, access_log: AccessLog | None = None
) -> Flask:
    """The app; with an access log, one line per request goes to it (see wsgi.RequestLog)."""
    app = Flask(__name__)
    invoke = _invoker(settings, state)

    @app.route(contract.PING, methods=["GET", "POST"])
    def ping() -> Response:
        return Response(status=200 if state.ready else 503)

    @app.route(contract.EXECUTION_PARAMETERS, methods=["GET"])
    def execution_parameters() -> Response:
        body = {
            "MaxConcurrentTransforms": settings.max_concurrent_transforms,
            "BatchStrategy": settings.batch_strategy,
            "MaxPayloadInMB": settings.max_payload_mb,
        }
        return Response(json.dumps(body), mimetype=contract.JSON)

    @app.route(contract.INVOCATIONS, methods=["POST"])
    def invocations() -> Response:
        result = invoke(request.environ)
        return Response(result.body, content_type=result.media_type)

    @app.errorhandler(Exception)
    def any_error(exc: Exception) -> Response:
        status, media_type, body = error_reply(exc, request.path)
        return Response(body, status=status, content_type=media_type)

    wsgi = app.wsgi_app
    if settings.fast_path:
        wsgi = FastInvocations(wsgi, invoke, error_reply)
    app.wsgi_app = RequestLog(wsgi, access_log)  # type: ignore[method-assign]
    return app


def _invoker(settings: ServingSettings, state: ModelState) -> Invoke:
    """/invocations as one call on the WSGI environ: body and headers in, Prediction out."""
    limits_for = _ModelLimits(Limits(max_rows=settings.max_rows, max_cells=settings.max_cells))
    deadlines = BodyDeadlines()

    def invoke(environ: WSGIEnvironment) -> Prediction:
        predictor = state.predictor
        if not state.ready or predictor is None:
            raise ModelNotReady(state.error or "model is still loading")
        body = read_body(environ, settings.max_body_bytes, settings.body_timeout_s, deadlines)
        result = predict_payload(
            body,
            environ.get("CONTENT_TYPE"),
            environ.get("HTTP_ACCEPT"),
            predictor,
            settings.default_accept,
            limits_for(predictor),
        )
        environ[ROWS_KEY] = result.rows
        return result

    return invoke


class _ModelLimits:
    """The request limits with the model's width: a row wider than any the model takes is
    refused before its numbers are parsed. Worked out once per loaded predictor."""

    def __init__(self, base: Limits):
        self._base = base
        self._predictor: Predictor | None = None
        self._limits = base

    def __call__(self, predictor: Predictor) -> Limits:
        if predictor is not self._predictor:  # a race here only computes the same value twice
            self._limits = replace(self._base, max_columns=predictor.max_fields)
            self._predictor = predictor
        return self._limits


def error_reply(exc: Exception, path: str) -> tuple[int, str, bytes]:
    """Status, media type and JSON body for any error; unexpected ones are logged as 500s."""
    if isinstance(exc, ServingError):
        status, message = exc.status_code, exc.message
    elif isinstance(exc, HTTPException):
        status, message = exc.code or 500, exc.description or exc.name
    else:
        log.error("unexpected error in %s", path, exc_info=exc)
        status, message = 500, "internal error while predicting; see the endpoint's logs"
    return status, contract.JSON, (json.dumps({"error": message}) + "\n").encode()
