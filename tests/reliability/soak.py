"""Soak the served image at saturation and report failures, latency and memory growth.

`make soak` runs it (SOAK_SECONDS, default 180): the built image serving MODEL_DIR exactly as the
compose endpoint does (read-only model, 127.0.0.1 only), closed-loop keep-alive clients, memory
sampled as the sum of the container processes' PSS. Exits 1 on any failed request or on memory
growth of 10% or more between the end of the warm-up and the end of the run.

    python -m tests.reliability.soak --seconds 180 --model-dir build/model-run/model
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import docker

from deploy.invoke import ENCODED_ROW
from devtools.containers import Served, serve_model
from devtools.load import MIXED, Load

MAX_GROWTH = 0.10
SAMPLE_EVERY_S = 5.0
PAYLOADS = (*MIXED, (("\n".join([ENCODED_ROW] * 1000) + "\n").encode(), "text/csv", 200))
#: Sum of Pss over every process in the container (shared copy-on-write pages counted once).
PSS = (
    "import os\n"
    "total = 0\n"
    "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
    "    if int(pid) == os.getpid():\n"
    "        continue\n"
    "    try:\n"
    "        for line in open(f'/proc/{pid}/smaps_rollup'):\n"
    "            if line.startswith('Pss:'):\n"
    "                total += int(line.split()[1])\n"
    "    except OSError:\n"
    "        pass\n"
    "print(total)\n"
)


def memory_kib(served: Served) -> int:
    result = served.container.exec_run(["python", "-c", PSS])
    return int(result.output.decode().split()[-1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def soak(served: Served, seconds: float, clients: int) -> dict:
    warm_up = max(10.0, seconds * 0.1)
    samples: list[tuple[float, int]] = []
    with Load(served.url, clients, payloads=PAYLOADS) as load:
        started = time.monotonic()
        time.sleep(warm_up)
        while time.monotonic() - started < seconds:
            samples.append((round(time.monotonic() - started, 1), memory_kib(served)))
            time.sleep(min(SAMPLE_EVERY_S, max(0.0, seconds - (time.monotonic() - started))))
        samples.append((round(time.monotonic() - started, 1), memory_kib(served)))
    outcomes = load.snapshot()
    elapsed = max(o.ended for o in outcomes) - min(o.started for o in outcomes)
    latencies = [o.ended - o.started for o in outcomes]
    failed = [o for o in outcomes if not o.ok]
    # In-flight requests move memory by a few MiB: compare the first and last fifth's means.
    fifth = max(1, len(samples) // 5)
    baseline = round(statistics.mean(m for _, m in samples[:fifth]))
    final = round(statistics.mean(m for _, m in samples[-fifth:]))
    return {
        "seconds": round(elapsed, 1),
        "clients": clients,
        "requests": len(outcomes),
        "failed": len(failed),
        "failures": sorted({f"{o.status} {o.error}" for o in failed}),
        "throughput_rps": round(len(outcomes) / elapsed, 1),
        "latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 2),
            "p99": round(percentile(latencies, 0.99) * 1000, 2),
            "max": round(max(latencies) * 1000, 2),
        },
        "memory_kib": {
            "after_warm_up": baseline,
            "final": final,
            "max": max(m for _, m in samples),
        },
        "memory_growth": round((final - baseline) / baseline, 4),
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 180)))
    parser.add_argument("--model-dir", type=Path, default=Path("build/model-run/model"))
    parser.add_argument("--image", default=os.environ.get("IMAGE", "abalone-byom:local"))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--output", type=Path, default=Path("build/soak.json"))
    args = parser.parse_args(argv)
    client = docker.from_env()
    served = serve_model(client, args.image, args.model_dir.resolve())
    try:
        served.wait_ready()
        report = soak(served, args.seconds, args.clients)
        report["server"] = next(
            (line.split(": ", 1)[-1] for line in served.logs().splitlines() if "serving" in line),
            "",
        )
    finally:
        served.container.remove(force=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))
    ok = report["failed"] == 0 and report["memory_growth"] < MAX_GROWTH
    print(f"soak {'passed' if ok else 'FAILED'}: report in {args.output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
