"""`make bench-worstcase`: what one request of the maximum size costs, per content type.

For each content type, every body of that type in the adversarial corpus
(devtools/adversarial.py: valid bodies of the maximum size and hostile ones) is sent once
to a scanning container, to find the slowest valid body and the slowest hostile one. Each of the
two is then sent to a fresh container, three times one after another: the median time of one
request, and the container's peak memory above idle after the first (the cgroup's peak minus its
usage once the server is ready; a fresh container per body, since not every kernel lets the peak
be reset). Every container runs the image with 2 workers and the benchmark's model, under a hard
memory limit. Prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import requests

from bench import servers, workload
from bench.run import DEFAULT_DATA
from bench.servers import Server
from devtools.adversarial import CONTENT_TYPES, MIB, Case, container_state, corpus

REPO = Path(__file__).resolve().parents[1]
#: Hard limit per container: a body that needs more is reported as OOM-killed, not run away.
MEMORY_LIMIT = "4g"
#: Requests of the chosen body per fresh container: the table gives the median time.
REPEATS = 3


@dataclass(frozen=True)
class Measured:
    case: Case
    size: int
    status: int | None
    seconds: float
    peak_above_idle_mib: float
    oom_kills: int


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.worstcase", description=__doc__)
    parser.add_argument("--image", default=os.environ.get("IMAGE", "abalone-byom:local"))
    parser.add_argument("--data", default=os.environ.get("ABALONE_DATA", DEFAULT_DATA))
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--timeout", type=float, default=60, help="seconds one request may take")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench" / "worstcase")
    return parser.parse_args(argv)


def send(server: Server, case: Case, body: bytes, timeout_s: float) -> tuple[int | None, float]:
    """(status, seconds) of one request on a new connection; status None: no answer in time."""
    started = time.perf_counter()
    try:
        response = requests.post(
            f"{server.url}/invocations",
            data=body,
            headers={"Content-Type": case.content_type, "Connection": "close"},
            timeout=timeout_s,
        )
    except requests.RequestException:
        return None, time.perf_counter() - started
    return response.status_code, time.perf_counter() - started


class Fleet:
    """Starts the image's containers for one run and removes every one of them at the end."""

    def __init__(self, args: argparse.Namespace, model_dir: Path):
        self.args = args
        self.model_dir = model_dir
        self.client = docker.from_env()
        self.image_id = self.client.images.get(args.image).id
        self.run_id = f"worstcase-{time.strftime('%Y%m%d-%H%M%S')}"

    def start(self) -> Server:
        return servers.start_docker(
            self.client,
            self.image_id,
            "real",
            self.model_dir,
            self.args.workers,
            "bridge",
            self.run_id,
            docker_options={"mem_limit": MEMORY_LIMIT, "memswap_limit": MEMORY_LIMIT},
        )

    def close(self) -> None:
        servers.remove_leftovers(self.client, self.run_id)


def slowest(fleet: Fleet, cases: list[Case]) -> Iterator[Case]:
    """The slowest valid and the slowest hostile case, each sent once to a shared container
    (replaced after a request that got no answer, so one stall does not slow the rest)."""
    server = fleet.start()
    timings: dict[bool, list[tuple[float, Case]]] = {True: [], False: []}
    try:
        for case in cases:
            status, seconds = send(server, case, case.body(), fleet.args.timeout)
            timings[case.valid].append((seconds, case))
            if status is None:
                server.stop()
                server = fleet.start()
    finally:
        server.stop()
    for valid in (True, False):
        if timings[valid]:
            yield max(timings[valid], key=lambda timed: timed[0])[1]


def measure(fleet: Fleet, case: Case) -> Measured:
    """`case` sent REPEATS times, one after another, to a fresh container: the median time of
    one request, and the memory the container took above idle for the first one (later ones
    may land on the other worker, whose heap would add to the peak)."""
    server = fleet.start()
    try:
        assert server.container is not None
        idle = container_state(server.container)
        body = case.body()
        answers = [send(server, case, body, fleet.args.timeout)]
        after = container_state(server.container)
        answers += [send(server, case, body, fleet.args.timeout) for _ in range(REPEATS - 1)]
    finally:
        server.stop()
    status = answers[0][0]
    seconds = statistics.median(seconds for _, seconds in answers)
    above_idle = max(0, after.peak_bytes - idle.current_bytes) / MIB
    return Measured(case, len(body), status, seconds, above_idle, after.oom_kills)


def render(rows: list[Measured], image: str, workers: int) -> str:
    lines = [
        f"Worst case per content type: image {image}, {workers} workers, the benchmark's model "
        f"({workload.TREES} trees of depth {workload.DEPTH}), one request at a time (median of "
        f"{REPEATS}).",
        "",
        "| content type | body (corpus case) | size | answer | time | peak memory above idle |",
        "|---|---|---:|---|---:|---:|",
    ]
    for row in rows:
        kind = "valid" if row.case.valid else "hostile"
        answer = "no answer" if row.status is None else str(row.status)
        if row.oom_kills:
            answer += f" ({row.oom_kills} OOM kill)"
        lines.append(
            f"| {row.case.content_type} | {kind}: `{row.case.name}` | {row.size / MIB:.2f} MiB "
            f"| {answer} | {row.seconds:.2f} s | {row.peak_above_idle_mib:.0f} MiB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = args.data
    if not data.startswith(("http://", "https://", "s3://")) and not Path(data).is_absolute():
        data = str((REPO / data).resolve())
    print(f"training the benchmark model on {data}", file=sys.stderr, flush=True)
    workload.train_model(data, args.out / "model")
    fleet = Fleet(args, (args.out / "model").resolve())
    cases = corpus()
    rows = []
    try:
        for content_type in CONTENT_TYPES:
            of_type = [case for case in cases if case.content_type == content_type]
            print(f"{content_type}: scanning {len(of_type)} bodies", file=sys.stderr, flush=True)
            rows.extend(measure(fleet, case) for case in slowest(fleet, of_type))
    finally:
        fleet.close()
    print(render(rows, args.image, args.workers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
