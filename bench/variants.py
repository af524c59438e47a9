"""Server settings side by side (`python -m bench.variants`): the same image, model and loads,
one container per variant (environment variables or Docker options only, no code change),
interleaved over rounds, medians reported, next to the framework floor.

Reads the model and payloads `make bench` wrote under build/bench/work.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import docker

from bench import load, servers
from bench.workload import Payload
from container import contract

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "build" / "bench" / "work"

#: gc.collect() + gc.freeze() in the gunicorn master after the model is loaded, before the
#: workers fork: the collector never walks the import-time heap again, and copy-on-write pages
#: stay shared.
GC_FREEZE = (
    "import gc, container.server as s; run = s.run; "
    "s.run = lambda *a: (gc.collect(), gc.freeze(), run(*a))[-1]; "
)
SERVE = "import sys; from container.__main__ import main; sys.exit(main(['serve']))"


def _python(code: str) -> dict[str, Any]:
    return {"entrypoint": ["python", "-c", code + SERVE]}


#: name -> (role, environment, docker options)
VARIANTS: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {
    "default": ("real", {}, {}),
    f"{contract.FAST_PATH.name}=false (via Flask)": (
        "real",
        {contract.FAST_PATH.name: "false"},
        {},
    ),
    f"{contract.ACCESS_LOG.name}=false": ("real", {contract.ACCESS_LOG.name: "false"}, {}),
    "docker --log-driver none": ("real", {}, {"log_config": {"type": "none", "config": {}}}),
    f"{contract.THREADS.name}=2": ("real", {contract.THREADS.name: "2"}, {}),
    f"{contract.THREADS.name}=1": ("real", {contract.THREADS.name: "1"}, {}),
    "1 worker": ("real", {contract.WORKERS.name: "1"}, {}),
    "3 workers": ("real", {contract.WORKERS.name: "3"}, {}),
    "gc.freeze() before fork": ("real", {}, _python(GC_FREEZE)),
    "framework floor": ("floor", {}, {}),
}
LOADS = (("csv1", 1), ("csv1", 8), ("csv1000", 4))


def _payload(work: Path, name: str) -> Payload:
    path = work / "payloads" / f"{name}.body"
    rows = 1 if name.endswith("1") else 1000
    return Payload(name, path, contract.CSV, rows, "encoded", path.stat().st_size)


def main(argv: list[str] | None = None) -> int:
    from container.settings import usable_cpus

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", default="abalone-byom:local")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--workers", type=int, default=usable_cpus())
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args(argv)
    variants = {k: v for k, v in VARIANTS.items() if not args.only or k in args.only}
    client = docker.from_env()
    image = client.images.get(args.image).id
    run_id = "variants-" + time.strftime("%Y%m%d-%H%M%S")
    model_dir = (args.work / "model").resolve()
    results: dict[tuple[str, str], list[load.LoadResult]] = {}
    starts: dict[str, list[tuple[float, float]]] = {}
    try:
        for number in range(args.rounds):
            names = list(variants)
            names = names[number % len(names) :] + names[: number % len(names)]
            for name in names:
                role, env, options = variants[name]
                server = servers.start_docker(
                    client,
                    image,
                    role,
                    model_dir,
                    args.workers,
                    "host",
                    run_id,
                    env=env,
                    docker_options=options,
                    name=name,
                )
                try:
                    time.sleep(1)  # every worker up
                    load.warm_up(server.url, _payload(args.work, "csv1"))
                    idle = servers.memory(server.pids())["pss_mib"]
                    starts.setdefault(name, []).append((server.cold_start_s, idle))
                    for payload_name, connections in LOADS:
                        payload = _payload(args.work, payload_name)
                        load.warm_up(server.url, payload)
                        outcome = load.run_wrk(
                            server.url, payload, connections, args.duration, 100_000
                        )
                        results.setdefault((name, f"{payload_name} c{connections}"), []).append(
                            outcome
                        )
                finally:
                    server.stop()
                print(f"round {number + 1}: {name} done", file=sys.stderr, flush=True)
    finally:
        servers.remove_leftovers(client, run_id)
    columns = [f"{p} c{c}" for p, c in LOADS]
    print(f"\nmedians of {args.rounds} rounds, {args.duration} s loads, {args.workers} workers")
    print(
        f"{'variant':<26}{'start s':>8}{'PSS MiB':>8}"
        + "".join(f"{c + ' req/s':>16}{'p50':>8}{'p99':>8}" for c in columns)
    )
    for name in variants:
        cells = []
        for column in columns:
            samples = results.get((name, column), [])
            cells.append(
                f"{statistics.median(s.req_per_s for s in samples):>16,.0f}"
                f"{statistics.median(s.p50_ms for s in samples):>8.2f}"
                f"{statistics.median(s.p99_ms for s in samples):>8.2f}"
            )
        start = statistics.median(s for s, _ in starts[name])
        pss = statistics.median(m for _, m in starts[name])
        print(f"{name:<26}{start:>8.2f}{pss:>8.0f}" + "".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
