"""Slow clients: bodies trickled byte by byte and connections held open without a request.

Each worker has SERVE_THREADS threads and a slow client holds one while it trickles, so up to
threads - 1 slow clients leave every worker a free thread even if all of them land on the same
worker. More can stall the requests queued behind them on that worker, but each slow client
holds its thread for at most SERVE_BODY_TIMEOUT before a 408 cuts it off: with S slow clients on
one worker, a request queued there waits at most ceil(S / threads) body timeouts.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from deploy.invoke import ENCODED_ROW
from devtools.containers import Served
from devtools.load import Load

pytestmark = pytest.mark.integration
THREADS = 4
BODY_TIMEOUT_S = 6
SETTINGS = {
    "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
    "SERVE_THREADS": str(THREADS),
    "SERVE_BODY_TIMEOUT": str(BODY_TIMEOUT_S),
}


class Trickler:
    """A client that sends its headers, then one body byte every 0.2 s from a thread."""

    def __init__(self, port: int):
        self.body = (ENCODED_ROW + "\n").encode() * 10
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.answer = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        head = (
            "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {len(self.body)}\r\n\r\n"
        ).encode()
        self.sock.sendall(head + self.body[:1])
        self._thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        for byte in self.body[1:]:
            try:
                self.answer += self.sock.recv(65536)
                return  # the server answered (408) or closed
            except TimeoutError:
                pass
            except OSError:
                return
            if self._stop.is_set():
                return
            try:
                self.sock.sendall(bytes([byte]))
            except OSError:
                return

    def wait(self, timeout_s: float) -> None:
        self._thread.join(timeout=timeout_s)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@contextmanager
def slow_clients(served: Served, trickling: int, idle: int) -> Iterator[list[Trickler]]:
    port = int(served.url.rsplit(":", 1)[1])
    with ExitStack() as stack:
        tricklers = [Trickler(port) for _ in range(trickling)]
        for trickler in tricklers:
            stack.callback(trickler.close)
        for _ in range(idle):
            stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=30))
        yield tricklers


def latencies(served: Served, requests: int) -> list[float]:
    """Fresh connections (so they spread over the workers), one after another."""
    with Load(served.url, 2, keep_alive=False, max_requests=requests) as load:
        load.wait_for(requests, timeout_s=60)
    outcomes = load.snapshot()
    assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]
    return sorted(o.ended - o.started for o in outcomes)


def test_threads_minus_one_slow_clients_do_not_slow_the_others(launch):
    served = launch(environment=SETTINGS)
    baseline = latencies(served, 100)
    # Two bodies trickled and one connection held open without a request: THREADS - 1.
    with slow_clients(served, trickling=2, idle=THREADS - 3):
        started = time.monotonic()
        during = latencies(served, 100)
        assert time.monotonic() - started < BODY_TIMEOUT_S - 1  # measured while they trickle
    assert during[-1] < max(1.0, 5 * baseline[-1]), (baseline[-1], during[-1])


def test_more_slow_clients_stall_others_only_until_the_body_timeout(launch):
    timeout_s = 2
    served = launch(environment={**SETTINGS, "SERVE_BODY_TIMEOUT": str(timeout_s)})
    started = time.monotonic()
    # Every thread of both workers held; at worst all on one worker: two rounds of timeouts.
    with slow_clients(served, trickling=2 * THREADS, idle=0) as tricklers:
        during = latencies(served, 40)
        assert during[-1] < 2 * timeout_s + 2
        for trickler in tricklers:
            trickler.wait(timeout_s=2 * timeout_s + 5)
    assert time.monotonic() - started < 2 * timeout_s + 8
    answers = [t.answer for t in tricklers]
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers
    assert served.ping_status() == 200
