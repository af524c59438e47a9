"""The Flask app: /ping, /invocations and /execution-parameters over pure functions, with every
error mapped to a response here and nowhere else."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from container.codecs import Limits
from container.errors import ModelNotReady, PayloadTooLarge, RequestTimeout, ServingError
from container.invocations import predict_payload
from container.model import Predictor
from container.settings import ServingSettings

ACCESS_LOGGER = "container.access"
log = logging.getLogger(ACCESS_LOGGER)
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"


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
            logging.getLogger(__name__).error("model not ready: %s", self.error)


@dataclass(eq=False)
class _Watch:
    sock: socket.socket
    due: float
    expired: bool = False


class BodyDeadlines:
    """Cuts off clients that trickle their body: past the deadline the socket's read side is shut,
    so the thread blocked reading it wakes up and answers 408 instead of being held indefinitely.

    One daemon thread per worker process, started on first use (after gunicorn forks).
    """

    def __init__(self, interval_s: float = 0.2):
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._watches: set[_Watch] = set()
        self._pid: int | None = None

    @contextmanager
    def watch(self, sock: socket.socket, timeout_s: float) -> Iterator[_Watch]:
        watch = _Watch(sock, time.monotonic() + timeout_s)
        with self._lock:
            if self._pid != os.getpid():  # first use in this (forked) process
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="body-deadlines", daemon=True).start()
            self._watches.add(watch)
        try:
            yield watch
        finally:
            with self._lock:  # once released, the watcher can no longer touch this socket
                self._watches.discard(watch)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval_s)
            now = time.monotonic()
            with self._lock:
                for watch in [w for w in self._watches if w.due <= now and not w.expired]:
                    watch.expired = True
                    with suppress(OSError):  # already closed by the client
                        watch.sock.shutdown(socket.SHUT_RD)


def create_app(settings: ServingSettings, state: ModelState) -> Flask:
    app = Flask(__name__)
    limits = Limits(max_rows=settings.max_rows, max_json_depth=settings.max_json_depth)
    deadlines = BodyDeadlines()

    @app.route("/ping", methods=["GET", "POST"])
    def ping() -> Response:
        return Response(status=200 if state.ready else 503)

    @app.route("/execution-parameters", methods=["GET"])
    def execution_parameters() -> Response:
        body = {
            "MaxConcurrentTransforms": settings.max_concurrent_transforms,
            "BatchStrategy": settings.batch_strategy,
            "MaxPayloadInMB": settings.max_payload_mb,
        }
        return Response(json.dumps(body), mimetype="application/json")

    @app.route("/invocations", methods=["POST"])
    def invocations() -> Response:
        if not state.ready or state.predictor is None:
            raise ModelNotReady(state.error or "model is still loading")
        result = predict_payload(
            _read_body_in_time(settings, deadlines),
            request.headers.get("Content-Type"),
            request.headers.get("Accept"),
            state.predictor,
            settings.default_accept,
            limits,
        )
        g.rows = result.rows
        return Response(result.body, content_type=result.media_type)

    _register_error_handlers(app)
    _register_request_log(app, settings)
    return app


def _read_body_in_time(settings: ServingSettings, deadlines: BodyDeadlines) -> bytes:
    """The body, read within settings.body_timeout_s when served by gunicorn (its socket is in
    the environ); 408 when the client is slower than that."""
    sock = request.environ.get("gunicorn.socket")
    if not isinstance(sock, socket.socket):
        return _read_body(settings.max_body_bytes)
    with deadlines.watch(sock, settings.body_timeout_s) as watch:
        try:
            body = _read_body(settings.max_body_bytes)
        except Exception:
            if watch.expired:
                raise RequestTimeout(settings.body_timeout_s) from None
            raise
    if watch.expired:
        raise RequestTimeout(settings.body_timeout_s)
    return body


def _read_body(limit: int) -> bytes:
    """Read at most `limit` bytes; a body declared larger is refused before it is read."""
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(limit)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(limit)
    return body


def _error_response(status: int, message: str) -> Response:
    return Response(
        json.dumps({"error": message}) + "\n", status=status, mimetype="application/json"
    )


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServingError)
    def serving_error(exc: ServingError) -> Response:
        return _error_response(exc.status_code, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _error_response(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected_error(_exc: Exception) -> Response:
        logging.getLogger(__name__).exception("unexpected error in %s", request.path)
        return _error_response(500, "internal error while predicting; see the endpoint's logs")


def _register_request_log(app: Flask, settings: ServingSettings) -> None:
    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        attributes = request.headers.get(CUSTOM_ATTRIBUTES)
        if attributes is not None:
            response.headers[CUSTOM_ATTRIBUTES] = attributes
        if settings.access_log and request.path != "/ping":
            elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
            log.info(
                "%s %s %d %.2fms rows=%s inference_id=%s",
                request.method,
                request.path,
                response.status_code,
                elapsed_ms,
                g.get("rows", "-"),
                request.headers.get(INFERENCE_ID, "-"),
            )
        return response
