"""The adversarial corpus (devtools/adversarial.py) against the image in Docker, one request at
a time.

For every case: a correct answer (a 4xx with a JSON {"error": ...} message, or a 200 with one
prediction per row where the body is valid) within REQUEST_BOUND_S; meanwhile /ping, polled from
another thread on a fresh connection and on a kept-alive connection held by each worker, answers
within PING_BOUND_S; no worker restarts (pids unchanged, no WORKER TIMEOUT in the log); the
container stays under MEMORY_CAP_BYTES without an OOM kill. A case that breaks the server is
followed by a container restart, so the next case starts clean and the failure stays its own.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import pytest
import requests

from devtools.adversarial import MIB, Case, ContainerState, container_state, corpus
from devtools.containers import Served, serving_containers

pytestmark = pytest.mark.integration

WORKERS: Final = 2
#: One request, from the first byte sent to the last byte of the answer, at WORKERS workers.
REQUEST_BOUND_S: Final = 5.0
#: Any /ping that starts while a case is being answered.
PING_BOUND_S: Final = 1.0
#: The cgroup's peak memory (idle: 60-170 MiB, page cache included). Docker's hard limit sits
#: above it, so a case that would need more is measured rather than OOM-killed at the cap.
MEMORY_CAP_BYTES: Final = 1024 * MIB
DOCKER_MEMORY_LIMIT: Final = "1536m"
#: A worker stuck past 10 + 5 s is killed by gunicorn: a broken decoder costs seconds, not days.
SERVER_ENV: Final = {
    "SAGEMAKER_MODEL_SERVER_WORKERS": str(WORKERS),
    "SAGEMAKER_MODEL_SERVER_TIMEOUT": "10",
}
PING_INTERVAL_S: Final = 0.05
PING_TIMEOUT_S: Final = 5.0
CASES: Final = corpus()


class Pinger:
    """Pings /ping in turn on a fresh connection and on kept-alive ones (each stays with the
    worker that accepted it), every PING_INTERVAL_S; records (start, seconds) of each."""

    def __init__(self, port: int):
        self.port = port
        self.kept: list[http.client.HTTPConnection] = []
        self.samples: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=PING_TIMEOUT_S)

    def ping(self, connection: http.client.HTTPConnection, *, close: bool = False) -> float:
        started = time.monotonic()
        try:
            connection.request("GET", "/ping", headers={"Connection": "close"} if close else {})
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
        if not ok:
            connection.close()  # the next request on it reconnects
        return time.monotonic() - started if ok else float("inf")

    def _run(self) -> None:
        round_robin = 0
        while not self._stop.wait(PING_INTERVAL_S):
            with self._lock:
                turn = round_robin % (len(self.kept) + 1)
                round_robin += 1
                fresh = turn == len(self.kept)
                connection = self._connection() if fresh else self.kept[turn]
                started = time.monotonic()
                seconds = self.ping(connection, close=fresh)
                self.samples.append((started, seconds))
            if fresh:
                connection.close()

    def keep_one_per_worker(self, served: Served, most: int = 200, within_s: float = 60) -> None:
        """Open kept-alive connections until every worker holds one (at most `most`, within
        `within_s`): a worker still warming up or busy accepts none, so this waits a little
        between connections rather than giving all of them to the other worker at once (on a
        loaded machine a worker's warm-up after the first /ping took over 15 s)."""
        with self._lock:
            for connection in self.kept:
                connection.close()
            self.kept = []
            idle = container_state(served.container).workers
            deadline = time.monotonic() + within_s
            while len(self.kept) < most and time.monotonic() < deadline:
                busy = container_state(served.container).workers
                if len(busy) == len(idle) and all(busy[p] > idle[p] for p in idle):
                    return
                connection = self._connection()
                self.ping(connection)
                self.kept.append(connection)
                time.sleep(0.1)
        raise AssertionError(f"{len(self.kept)} connections did not reach all workers")

    def worst(self, since: float, until: float) -> float:
        """The slowest ping started in [since, until]; waits for the one in flight at `until`."""
        deadline = time.monotonic() + PING_TIMEOUT_S + 1
        while time.monotonic() < deadline:
            if self.samples and self.samples[-1][0] > until:
                break
            time.sleep(PING_INTERVAL_S / 2)
        return max((s for started, s in self.samples if since <= started <= until), default=0.0)

    def __enter__(self) -> Pinger:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=PING_TIMEOUT_S + 1)
        for connection in self.kept:
            connection.close()


@dataclass
class Target:
    served: Served
    pinger: Pinger
    restarts: int = 0
    results: list[str] = field(default_factory=list)

    def restart(self) -> None:
        """A clean server for the next case (SIGKILL, start again, reconnect the pingers)."""
        self.restarts += 1
        self.served.container.restart(timeout=0)
        self.served.wait_ready()
        self.pinger.keep_one_per_worker(self.served)

    def worker_timeouts(self) -> int:
        return self.served.logs().count("WORKER TIMEOUT")


@pytest.fixture(scope="module")
def target(docker_client, image, served_model_dir) -> Iterator[Target]:
    with serving_containers(docker_client, image, served_model_dir) as start:
        served = start(
            environment=SERVER_ENV,
            mem_limit=DOCKER_MEMORY_LIMIT,
            memswap_limit=DOCKER_MEMORY_LIMIT,
        )
        port = int(served.url.rsplit(":", 1)[1])
        with Pinger(port) as pinger:
            pinger.keep_one_per_worker(served)
            attack = Target(served, pinger)
            yield attack
        print("\n".join(["", *attack.results]))


def send(url: str, case: Case, body: bytes) -> tuple[int | None, str]:
    headers = {"Content-Type": case.content_type, "Connection": "close"}
    try:
        response = requests.post(
            f"{url}/invocations", data=body, headers=headers, timeout=REQUEST_BOUND_S + 2
        )
    except requests.RequestException as exc:
        return None, type(exc).__name__
    return response.status_code, _answer_problem(case, response)


def _answer_problem(case: Case, response: requests.Response) -> str:
    """What is wrong with the answer's content ("" if nothing)."""
    if response.status_code >= 500:
        return response.text[:200]
    if response.status_code == 200:
        predictions = response.text.splitlines()
        if case.rows is not None and len(predictions) != case.rows:
            return f"{len(predictions)} predictions for {case.rows} rows"
        return ""
    try:
        message = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"no JSON error message: {response.text[:200]!r}"
    if not isinstance(message, str) or not message.strip() or "Traceback" in message:
        return f"bad error message: {message!r}"[:200]
    return ""


@dataclass(frozen=True)
class Attempt:
    """One case sent: the answer, its time, the slowest ping meanwhile, the container around it."""

    status: int | None
    answer_problem: str
    seconds: float
    ping_s: float
    before: ContainerState
    after: ContainerState
    worker_timeouts: int

    @property
    def workers_replaced(self) -> bool:
        return set(self.after.workers) != set(self.before.workers)

    def problems(self, case: Case) -> list[str]:
        after = self.after
        found = [
            f"answered {self.status}" if self.status not in case.answers else "",
            self.answer_problem,
            f"took {self.seconds:.2f} s" if self.seconds > REQUEST_BOUND_S else "",
            f"a /ping took {self.ping_s:.2f} s" if self.ping_s > PING_BOUND_S else "",
            f"workers {sorted(self.before.workers)} -> {sorted(after.workers)}"
            if self.workers_replaced
            else "",
            f"{self.worker_timeouts} WORKER TIMEOUT in the log" if self.worker_timeouts else "",
            f"peak memory {after.peak_bytes / MIB:.0f} MiB"
            if after.peak_bytes > MEMORY_CAP_BYTES
            else "",
            f"{after.oom_kills} OOM kills" if after.oom_kills else "",
        ]
        return [problem for problem in found if problem]


def attack(target: Target, case: Case) -> Attempt:
    body = case.body()
    before, timeouts = container_state(target.served.container), target.worker_timeouts()
    started = time.monotonic()
    status, answer_problem = send(target.served.url, case, body)
    ended = time.monotonic()
    ping_s = target.pinger.worst(started, ended)
    after = container_state(target.served.container)
    timeouts = target.worker_timeouts() - timeouts
    return Attempt(status, answer_problem, ended - started, ping_s, before, after, timeouts)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_body_is_answered_quickly_without_harm(target: Target, case: Case):
    attempt = attack(target, case)
    problems = attempt.problems(case)
    verdict = "FAIL: " + "; ".join(problems) if problems else "ok"
    target.results.append(
        f"{case.name:44} {attempt.status}  {attempt.seconds:6.2f} s  ping {attempt.ping_s:5.2f} s"
        f"  peak {attempt.after.peak_bytes / MIB:5.0f} MiB  {verdict}"
    )
    harmed = attempt.status is None or attempt.workers_replaced or attempt.ping_s > 2
    if harmed or attempt.after.peak_bytes > MEMORY_CAP_BYTES or attempt.after.oom_kills:
        target.restart()  # the next case starts on a clean server
    assert not problems, f"{case.name}: {verdict}"


def test_the_attack_left_the_server_whole(target: Target):
    """After the whole corpus: no restart was needed, no worker timed out, nothing OOM-killed."""
    container = target.served.container
    container.reload()
    state = container_state(container)
    assert target.restarts == 0, f"{target.restarts} cases broke the server (see above)"
    assert "WORKER TIMEOUT" not in target.served.logs()
    assert not container.attrs["State"]["OOMKilled"] and state.oom_kills == 0
    assert state.peak_bytes < MEMORY_CAP_BYTES
    assert len(state.workers) == WORKERS
