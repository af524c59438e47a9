"""Drive a server with one POST body, bounded in time and in count: wrk (Debian's package), or
the project's Python load generator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests

from bench.workload import Payload
from container import contract
from devtools.load import Load

LUA = Path(__file__).with_name("wrk.lua")


class LoadError(RuntimeError):
    pass


@dataclass(frozen=True)
class LoadResult:
    requests: int
    duration_s: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    #: wrk stopped on the count: its duration is still the full -d, so the rate is a lower bound.
    capped: bool = False

    @property
    def req_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise LoadError(
            "wrk is not installed: run scripts/install-bench-tools.sh (make bench does)"
        )
    return path


def warm_up(url: str, payload: Payload, count: int = 20) -> None:
    """A few requests on one keep-alive connection; fail early if the server answers an error."""
    body = payload.path.read_bytes()
    headers = {"Content-Type": payload.content_type, "Accept": contract.CSV}
    with requests.Session() as session:
        for _ in range(count):
            response = session.post(f"{url}/invocations", data=body, headers=headers, timeout=60)
            if response.status_code != 200:
                raise LoadError(
                    f"{payload.name}: {url} answered {response.status_code}: {response.text[:200]}"
                )


def run_wrk(
    url: str, payload: Payload, connections: int, duration_s: int, max_requests: int
) -> LoadResult:
    env = {
        **os.environ,
        "BENCH_BODY": str(payload.path),
        "BENCH_CONTENT_TYPE": payload.content_type,
        "BENCH_MAX_REQUESTS": str(max_requests),
    }
    command = [
        wrk_path(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, int(duration_s))}s",
        "--timeout",
        "60s",
        "-s",
        str(LUA),
        f"{url}/invocations",
    ]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration_s + 90, check=False
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise LoadError(
            f"wrk failed ({done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}"
        )
    data = json.loads(line.removeprefix("BENCH_JSON "))
    latency = data["latency_us"]
    return LoadResult(
        requests=int(data["requests"]),
        duration_s=data["duration_us"] / 1e6,
        errors=sum(int(v) for v in data["errors"].values()),
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        p999_ms=latency["p999"] / 1000,
        max_ms=latency["max"] / 1000,
        capped=max_requests > 0 and int(data["requests"]) >= max_requests,
    )


def run_python(
    url: str, payload: Payload, connections: int, duration_s: float, max_requests: int
) -> LoadResult:
    """The project's Python load generator (devtools.load), keep-alive, ended on the count or
    the time: the fallback where wrk is missing (smoke runs) and the client of count-bounded
    scenarios; its own overhead is far higher than wrk's, so its rates are not the benchmark's."""
    sent = [(payload.path.read_bytes(), payload.content_type, 200)]
    headers = {"Accept": contract.CSV}
    started = time.perf_counter()
    with Load(
        url, connections, payloads=sent, max_requests=max_requests, timeout_s=60, headers=headers
    ) as load:
        load.run_out(duration_s)
    took = time.perf_counter() - started
    outcomes = load.snapshot()
    ms = np.asarray([o.ended - o.started for o in outcomes] or [0.0]) * 1000
    p50, p90, p99, p999 = (float(v) for v in np.percentile(ms, [50, 90, 99, 99.9]))
    errors = sum(not o.ok for o in outcomes)
    return LoadResult(len(outcomes), took, errors, p50, p90, p99, p999, float(ms.max()))
