"""The request log: one line per request, written to a buffer that a timer flushes.

Not the logging module, on purpose: measured in the server (`make bench`; figures in the README),
logging.info was a noticeable share of a one-row request (a LogRecord, a caller lookup, a
formatter, a handler lock), and one unbuffered write to the container's stdout pipe per request
cost nearly as much as the request itself before that. This
writes the same line the other loggers write ("<time> INFO [<pid>] container.access: ...")
into a buffer: every line is kept, at most FLUSH_INTERVAL_S late, and flushed when a worker
exits.
"""

from __future__ import annotations

import io
import os
import threading
import time
from typing import IO, Final

FLUSH_INTERVAL_S: Final = 0.5
NAME: Final = "container.access"
_BUFFER_BYTES: Final = 1 << 16


class AccessLog:
    """Thread-safe, buffered, timer-flushed writer of request lines."""

    def __init__(self, stream: IO[str]):
        self._stream = stream
        self._lock = threading.Lock()
        self._second = -1
        self._stamp = ""
        self._started = False
        self._pid = os.getpid()

    @classmethod
    def to_stdout(cls) -> AccessLog:
        """A private buffered copy of stdout (fd 1), so other writers to stdout are unaffected."""
        raw = io.FileIO(os.dup(1), "w")
        return cls(io.TextIOWrapper(io.BufferedWriter(raw, _BUFFER_BYTES), encoding="utf-8"))

    def request(
        self,
        method: str,
        path: str,
        status: str,
        elapsed_ms: float,
        rows: object,
        inference_id: str,
    ) -> None:
        now = time.time()
        second = int(now)
        # Client-controlled text ("%0A" in a path decodes to a newline) must not forge lines.
        if not path.isprintable():
            path = ascii(path)
        if not inference_id.isprintable():
            inference_id = ascii(inference_id)
        line = (
            f" INFO [{self._pid}] {NAME}: {method} {path} {status} {elapsed_ms:.2f}ms "
            f"rows={rows} inference_id={inference_id}\n"
        )
        with self._lock:
            if second != self._second:  # the date part changes once a second: format it then
                self._second = second
                self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            self._stream.write(f"{self._stamp},{int(now * 1000) % 1000:03d}{line}")

    def flush_now(self) -> None:
        with self._lock:
            self._stream.flush()

    def start(self) -> None:
        """Start the flusher in this process (call after fork: threads do not survive it)."""
        if self._started:
            return
        self._started = True
        self._pid = os.getpid()

        def run() -> None:
            while True:
                time.sleep(FLUSH_INTERVAL_S)
                self.flush_now()

        threading.Thread(target=run, name="access-log-flush", daemon=True).start()
