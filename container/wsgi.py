"""WSGI middleware around the Flask app: the request log, and the fast path for /invocations.

Measured in the server (`make bench`, 2 workers, 1-row CSV; figures in the README): Flask's own
per-request work (request and app contexts, URL matching, hooks, signals, request and response
objects) was about a quarter of a one-row request at one client and a third of the throughput
at eight. So
POST /invocations is answered here by the same handler the Flask route calls, and its errors by
the same mapping Flask's error handlers use (both passed in by app.create_app); every other
request, including any other method on /invocations, goes to Flask. SERVE_FAST_PATH=false sends
/invocations through Flask too (for Flask hooks of your own).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from werkzeug.http import HTTP_STATUS_CODES

from container.accesslog import AccessLog
from container.body import UNREAD_BODY_KEY
from container.contract import CUSTOM_ATTRIBUTES, INFERENCE_ID, INVOCATIONS, PING
from container.invocations import Prediction

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def _environ_key(header: str) -> str:
    """Where WSGI puts a request header: HTTP_ and the name upper-cased, dashes as underscores."""
    return "HTTP_" + header.upper().replace("-", "_")


_CUSTOM_ATTRIBUTES_ENVIRON: Final = _environ_key(CUSTOM_ATTRIBUTES)
_INFERENCE_ID_ENVIRON: Final = _environ_key(INFERENCE_ID)
#: Where /invocations leaves the row count for the request log.
ROWS_KEY: Final = "container.rows"

#: environ -> Prediction, raising for anything it cannot answer with 200.
Invoke = Callable[["WSGIEnvironment"], Prediction]
#: (exception, path) -> (status, media type, body): the one mapping of errors to responses.
ErrorReply = Callable[[Exception, str], tuple[int, str, bytes]]


class FastInvocations:
    """POST /invocations straight to `invoke`; everything else to the wrapped (Flask) app."""

    def __init__(self, app: WSGIApplication, invoke: Invoke, error_reply: ErrorReply):
        self._app = app
        self._invoke = invoke
        self._error_reply = error_reply

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path != INVOCATIONS or environ.get("REQUEST_METHOD") != "POST":
            return self._app(environ, start_response)
        try:
            result = self._invoke(environ)
            status, media_type, body = 200, result.media_type, result.body
        except Exception as exc:  # every error gets its mapped response, as in Flask
            status, media_type, body = self._error_reply(exc, path)
        start_response(
            f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}",
            [("Content-Type", media_type), ("Content-Length", str(len(body)))],
        )
        return [body]


def _close_after_response(start_response: StartResponse) -> None:
    """Answer `Connection: close`. After a response, gunicorn drains at most 64 KiB of a body the
    app left unread and otherwise drops the connection it has just announced as keep-alive: a
    client reusing it in that instant gets no answer at all. gunicorn ignores a Connection
    header from the app, but start_response is a method of its response object, which can be
    told; under another server this does nothing."""
    force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if callable(force_close):
        force_close()


#: Requests with bodies above this size are answered `Connection: close`. gthread workers each
#: accept kept-alive connections whoever is busy, so 2 to 4 clients land unevenly on 2 workers
#: (both on one, half the time, for 2 clients) and stay there, while the Python half of a large
#: request runs one at a time per worker (the GIL): in `make bench`, 6 MB bodies at 2 clients
#: took 1.0 to 1.9 s instead of 0.3 to 0.5 s. A client's next large request comes on a new
#: connection, taken by an idle worker first (a busy one's accept waits for its GIL); the
#: connection costs ~0.1 ms against the milliseconds such a request takes. Small requests keep
#: their connection.
SPREAD_BODY_BYTES: Final = 32 * 1024


def _spread(environ: WSGIEnvironment) -> bool:
    length = environ.get("CONTENT_LENGTH")
    return (
        bool(length) and len(length) >= 5 and length.isdigit() and int(length) > SPREAD_BODY_BYTES
    )


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
        attributes = environ.get(_CUSTOM_ATTRIBUTES_ENVIRON)
        status = ["-"]

        def respond(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = code[:3]
            if attributes is not None:
                headers.append((CUSTOM_ATTRIBUTES, attributes))
            if environ.get(UNREAD_BODY_KEY) or _spread(environ):
                _close_after_response(start_response)
            return start_response(code, headers, exc_info)

        body = self._app(environ, respond)
        path = environ.get("PATH_INFO", "")
        if self._access_log is not None and path != PING:
            self._access_log.request(
                environ.get("REQUEST_METHOD", "-"),
                path,
                status[0],
                (time.perf_counter() - started) * 1000,
                environ.get(ROWS_KEY, "-"),
                environ.get(_INFERENCE_ID_ENVIRON, "-"),
            )
        return body
