"""The Flask app: /ping, /invocations and /execution-parameters over pure functions, with every
error mapped to a response here and nowhere else."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.wsgi import get_content_length, get_input_stream

from container.accesslog import AccessLog
from container.codecs import Limits
from container.errors import ModelNotReady, PayloadTooLarge, RequestTimeout, ServingError
from container.invocations import predict_payload
from container.model import Predictor
from container.settings import ServingSettings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"
CUSTOM_ATTRIBUTES_ENVIRON = "HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES"
INFERENCE_ID_ENVIRON = "HTTP_X_AMZN_SAGEMAKER_INFERENCE_ID"
#: Where /invocations leaves the row count for the request log.
ROWS_KEY = "container.rows"


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

    One daemon thread per worker process, started on first use (after gunicorn forks: threads
    do not survive a fork, so a forked child starts its own).
    """

    def __init__(self, interval_s: float = 0.2):
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._watches: set[_Watch] = set()
        self._running = False
        this = weakref.ref(self)  # the hook must not keep every app's deadlines alive

        def after_fork() -> None:
            deadlines = this()
            if deadlines is not None:
                deadlines._reset()

        os.register_at_fork(after_in_child=after_fork)

    def _reset(self) -> None:
        """In a forked child: no watcher thread yet, no parent's lock state or sockets."""
        self._running = False
        self._lock = threading.Lock()
        self._watches = set()

    def start(self, sock: socket.socket, timeout_s: float) -> _Watch:
        watch = _Watch(sock, time.monotonic() + timeout_s)
        with self._lock:
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="body-deadlines", daemon=True).start()
            self._watches.add(watch)
        return watch

    def stop(self, watch: _Watch) -> None:
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


def create_app(
    settings: ServingSettings, state: ModelState, access_log: AccessLog | None = None
) -> Flask:
    """The app; with an access log, one line per request goes to it (see RequestLog)."""
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
        # The environ, not request.headers: one dict lookup each instead of a header object
        # (this route is the hot path; see bench/profile.py).
        environ = request.environ
        result = predict_payload(
            _read_body_in_time(environ, settings, deadlines),
            environ.get("CONTENT_TYPE"),
            environ.get("HTTP_ACCEPT"),
            state.predictor,
            settings.default_accept,
            limits,
        )
        environ[ROWS_KEY] = result.rows
        return Response(result.body, content_type=result.media_type)

    _register_error_handlers(app)
    app.wsgi_app = RequestLog(app.wsgi_app, access_log)  # type: ignore[method-assign]
    return app


def _read_body_in_time(
    environ: dict[str, Any], settings: ServingSettings, deadlines: BodyDeadlines
) -> bytes:
    """The body, read within settings.body_timeout_s when served by gunicorn (its socket is in
    the environ); 408 when the client is slower than that."""
    sock = environ.get("gunicorn.socket")
    if not isinstance(sock, socket.socket):
        return _read_body(environ, settings.max_body_bytes)
    watch = deadlines.start(sock, settings.body_timeout_s)
    try:
        body = _read_body(environ, settings.max_body_bytes)
    except Exception:
        if watch.expired:
            raise RequestTimeout(settings.body_timeout_s) from None
        raise
    finally:
        deadlines.stop(watch)
    if watch.expired:
        raise RequestTimeout(settings.body_timeout_s)
    return body


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    """Read at most `limit` bytes; a body declared larger is refused before it is read."""
    length = get_content_length(environ)
    if length is not None and length > limit:
        raise PayloadTooLarge(limit)
    body = get_input_stream(environ).read(limit + 1)
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


class RequestLog:
    """WSGI middleware around the Flask app: one access-log line per request (not /ping), and
    SageMaker's custom attributes echoed on every response, errors included.

    Middleware rather than before/after_request hooks: it runs once per request without Flask's
    hook dispatch, `g` or header objects, and it times the whole request, Flask included.
    """

    def __init__(self, app: WSGIApplication, access_log: AccessLog | None):
        self._app = app
        self._access_log = access_log

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        attributes = environ.get(CUSTOM_ATTRIBUTES_ENVIRON)
        status = ["-"]

        def respond(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = code[:3]
            if attributes is not None:
                headers.append((CUSTOM_ATTRIBUTES, attributes))
            return start_response(code, headers, exc_info)

        body = self._app(environ, respond)
        path = environ.get("PATH_INFO", "")
        if self._access_log is not None and path != "/ping":
            self._access_log.request(
                environ.get("REQUEST_METHOD", "-"),
                path,
                status[0],
                (time.perf_counter() - started) * 1000,
                environ.get(ROWS_KEY, "-"),
                environ.get(INFERENCE_ID_ENVIRON, "-"),
            )
        return body
