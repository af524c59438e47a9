"""Reading a request body within its size limit and its deadline."""

from __future__ import annotations

import os
import socket
import threading
import time
import weakref
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from werkzeug.wsgi import get_content_length, get_input_stream

from container.errors import PayloadTooLarge, RequestTimeout

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


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


#: Set in the environ when a request is answered with its body (partly) unread: the connection
#: cannot serve another request (see wsgi.RequestLog).
UNREAD_BODY_KEY: Final = "container.unread_body"


def read_body(
    environ: WSGIEnvironment, limit: int, timeout_s: float, deadlines: BodyDeadlines
) -> bytes | bytearray:
    """The body, at most `limit` bytes (413 beyond), read within `timeout_s` when served by
    gunicorn (its socket is in the environ; 408 when the client is slower than that)."""
    try:
        return _read_within_deadline(environ, limit, timeout_s, deadlines)
    except (PayloadTooLarge, RequestTimeout):
        environ[UNREAD_BODY_KEY] = True
        raise


def _read_within_deadline(
    environ: WSGIEnvironment, limit: int, timeout_s: float, deadlines: BodyDeadlines
) -> bytes | bytearray:
    sock = environ.get("gunicorn.socket")
    if not isinstance(sock, socket.socket):
        return _read_body(environ, limit)
    watch = deadlines.start(sock, timeout_s)
    try:
        body = _read_body(environ, limit)
    except Exception:
        if watch.expired:
            raise RequestTimeout(timeout_s) from None
        raise
    finally:
        deadlines.stop(watch)
    if watch.expired:
        raise RequestTimeout(timeout_s)
    return body


def _read_body(environ: WSGIEnvironment, limit: int) -> bytes | bytearray:
    """Read at most `limit` bytes; a body declared larger is refused before it is read."""
    length = get_content_length(environ)
    if length is not None and length > limit:
        raise PayloadTooLarge(limit)
    if length is not None and length > _LARGE_BODY:
        stream = environ.get("wsgi.input")
        reader = getattr(stream, "reader", None)
        buffered = getattr(stream, "buf", None)  # what gunicorn's own read() holds back: none yet
        if callable(getattr(reader, "read", None)) and buffered is not None and not buffered.tell():
            return _read_large(reader, length)
    # The declared length when there is one: gunicorn then stops without a read to find the end.
    body = get_input_stream(environ).read(limit + 1 if length is None else length)
    if len(body) > limit:
        raise PayloadTooLarge(limit)
    return body


#: gunicorn's request body (wsgi.input) reads 1 KiB at a time however much is asked for, each
#: step copying its whole buffer: for a 6 MiB body thousands of steps and three copies of the
#: body at the end. Its `reader` (gunicorn.http.body.LengthReader) takes one large read. Bodies
#: above this size are read from it in _STEP pieces into one buffer (measured over a socket
#: pair: 90 KB 0.20 -> 0.05 ms, 6 MB 12.4 -> 3.6 ms; a one-row body costs the same either way).
#: Decoders take the bytearray as they take bytes.
_LARGE_BODY: Final = 8 * 1024
_STEP: Final = 256 * 1024


def _read_large(reader: Any, length: int) -> bytearray:
    """`length` bytes (fewer if the client stops early) from gunicorn's body reader, declared
    length already checked against the limit, into one buffer of that size: the body is in
    memory once, plus one step of gunicorn's (its reads copy each step twice)."""
    body = bytearray(length)
    view = memoryview(body)
    done = 0
    while done < length:
        part = reader.read(min(length - done, _STEP))
        if not part:
            break
        view[done : done + len(part)] = part
        done += len(part)
    view.release()
    if done < length:
        del body[done:]
    return body
