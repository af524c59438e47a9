"""The Python load generator: closed-loop client threads, each sending one request after another
to 127.0.0.1, recording when each started and ended and how it went.

The fault and slow-client tests and the soak read the outcomes; the bench summarises them where
wrk is missing and for its count-bounded scenarios (bench/load.py).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import requests

from container import contract
from deploy.invoke import ENCODED_ROW, RAW_ROW

#: (body, Content-Type, expected status): what one client sends, in turn.
Payload = tuple[bytes, str, int]
MIXED: Final[Sequence[Payload]] = (
    (ENCODED_ROW.encode(), contract.CSV, 200),
    (RAW_ROW.encode(), contract.CSV, 200),
    (("\n".join([ENCODED_ROW] * 50) + "\n").encode(), contract.CSV, 200),
    (f'{{"instances": [[{ENCODED_ROW}], [{ENCODED_ROW}]]}}'.encode(), contract.JSON, 200),
    (b"1,2,3", contract.CSV, 400),
)


@dataclass(frozen=True)
class Outcome:
    client: int
    started: float
    ended: float
    status: int | None  # None: no HTTP answer (connection refused, reset, timed out)
    expected: int
    inference_id: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == self.expected


class Load:
    """`clients` threads sending `payloads` in turn until stopped or `max_requests` are sent.

    keep_alive=False opens a connection per request (spreads requests over the workers);
    `headers` go with every request.
    """

    def __init__(
        self,
        url: str,
        clients: int,
        *,
        payloads: Sequence[Payload] = MIXED,
        keep_alive: bool = True,
        max_requests: int = 1_000_000,
        timeout_s: float = 30,
        headers: dict[str, str] | None = None,
    ):
        self.url = url
        self._headers = dict(headers or {})
        self._payloads = payloads
        self._keep_alive = keep_alive
        self._timeout_s = timeout_s
        self._budget = itertools.count()
        self._max_requests = max_requests
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._timeout_s + 5)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def wait_for(self, count: int, timeout_s: float = 60) -> None:
        """Poll until `count` requests have completed."""
        deadline = time.monotonic() + timeout_s
        while len(self.outcomes) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.outcomes)} of {count} requests in time")
            time.sleep(0.05)

    def run_out(self, timeout_s: float) -> None:
        """Wait until `max_requests` are sent or timeout_s has passed, then stop (requests in
        flight complete)."""
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.stop()

    def _client(self, number: int) -> None:
        session = requests.Session()
        payloads = itertools.cycle(self._payloads[number % len(self._payloads) :] or self._payloads)
        for sequence in itertools.count():
            if self._stop.is_set() or next(self._budget) >= self._max_requests:
                return
            body, content_type, expected = next(payloads)
            outcome = self._send(session, number, sequence, body, content_type, expected)
            with self._lock:
                self.outcomes.append(outcome)
            if outcome.status is None:
                time.sleep(0.05)  # the server is gone or restarting: do not spin

    def _send(
        self,
        session: requests.Session,
        number: int,
        sequence: int,
        body: bytes,
        content_type: str,
        expected: int,
    ) -> Outcome:
        inference_id = f"c{number}-{sequence}"
        headers = {
            **self._headers,
            "Content-Type": content_type,
            contract.INFERENCE_ID: inference_id,
        }
        if not self._keep_alive:
            headers["Connection"] = "close"
        started = time.monotonic()
        try:
            response = session.post(
                f"{self.url}{contract.INVOCATIONS}",
                data=body,
                headers=headers,
                timeout=self._timeout_s,
            )
            status, error = response.status_code, ""
        except requests.RequestException as exc:
            status, error = None, type(exc).__name__
        return Outcome(number, started, time.monotonic(), status, expected, inference_id, error)


class PingProbe:
    """A thread pinging /ping on a fresh connection every interval_s; records Outcomes."""

    def __init__(self, url: str, interval_s: float = 0.05):
        self.url = url
        self.interval_s = interval_s
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PingProbe:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        for sequence in itertools.count():
            if self._stop.is_set():
                return
            started = time.monotonic()
            try:
                status = requests.get(
                    f"{self.url}{contract.PING}", headers={"Connection": "close"}, timeout=5
                ).status_code
            except requests.RequestException:
                status = None
            self.outcomes.append(
                Outcome(-1, started, time.monotonic(), status, 200, f"ping-{sequence}")
            )
            self._stop.wait(self.interval_s)
