"""`make bench`: the real image under load, next to its floors, in interleaved rounds.

Each round: the in-process floor (CSV parse + `inplace_predict`, one thread, one core), then every
server started fresh (cold start: container start to the first 200 on /ping), its idle memory,
then each scenario on each server in turn (the server order rotates between rounds), a batch
transform run with its peak memory, and the servers stopped. The report gives medians over the
rounds, each server figure also as a ratio to the same round's floors, and is written as JSON to
build/bench/<timestamp>.json with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import load, machine, report, servers, workload
from bench.servers import Server

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = "../shared/data/abalone.data"


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    payload: str
    connections: int
    servers: tuple[str, ...]
    max_requests: int
    #: The in-process floor that applies (JSON rows are compared with the same rows as CSV).
    floor_payload: str
    #: Seconds this load may run (None: --duration).
    duration_s: int | None = None
    #: "python": the count-bounded client (wrk ends on time only: its rate assumes the full -d).
    client: str | None = None


ONE_ROW_SERVERS = ("real/docker", "floor/docker", "real/host", "floor/host")


def scenarios(workers: int) -> list[Scenario]:
    return [
        Scenario("csv1_c1", "1 row CSV, 1 client", "csv1", 1, ONE_ROW_SERVERS, 50_000, "csv1"),
        Scenario("csv1_c8", "1 row CSV, 8 clients", "csv1", 8, ONE_ROW_SERVERS, 100_000, "csv1"),
        Scenario(
            "csv1000_c4",
            "1,000 rows CSV, 4 clients",
            "csv1000",
            4,
            ("real/docker", "floor/docker", "real/host"),
            20_000,
            "csv1000",
        ),
        Scenario(
            "raw1_c8", "1 raw row CSV, 8 clients", "raw1", 8, ("real/docker",), 100_000, "raw1"
        ),
        Scenario(
            "json1_c8", "1 row JSON, 8 clients", "json1", 8, ("real/docker",), 100_000, "csv1"
        ),
        Scenario(
            "raw1000_c4",
            "1,000 raw rows CSV, 4 clients",
            "raw1000",
            4,
            ("real/docker",),
            20_000,
            "raw1000",
        ),
        Scenario(
            "json1000_c4",
            "1,000 rows JSON, 4 clients",
            "json1000",
            4,
            ("real/docker",),
            20_000,
            "csv1000",
        ),
        Scenario(
            "batch",
            f"batch transform: ~6 MB raw CSV (MULTI_RECORD), {workers} clients",
            "batch6mb",
            workers,
            ("batch/docker",),
            2 * workers,  # two requests per client: ends on a count (each takes ~1 s)
            "batch6mb",
            duration_s=60,
            client="python",  # ~1 s requests: the client's own cost is negligible
        ),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from container.settings import usable_cpus

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--image", default=os.environ.get("IMAGE", "abalone-byom:local"))
    parser.add_argument("--data", default=os.environ.get("ABALONE_DATA", DEFAULT_DATA))
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median of)")
    parser.add_argument("--duration", type=int, default=3, help="seconds per load")
    parser.add_argument("--workers", type=int, default=usable_cpus(), help="gunicorn workers")
    parser.add_argument(
        "--network",
        choices=("host", "bridge"),
        default="host",
        help="Docker network: host (no docker-proxy on the path) or bridge (published port)",
    )
    parser.add_argument("--no-host", action="store_true", help="skip the servers outside Docker")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench")
    parser.add_argument("--floor-budget", type=float, default=0.4, help="seconds per floor item")
    parser.add_argument("--batch-bytes", type=int, default=workload.BATCH_BYTES)
    parser.add_argument("--load", choices=("wrk", "python"), default=None, help="default: wrk")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="check the harness fast: 1 round of 1 s loads, a small batch, no host servers",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.duration, args.no_host = 1, 1, True
        args.floor_budget, args.batch_bytes = 0.05, min(args.batch_bytes, 300_000)
    if args.load is None:
        args.load = "wrk" if (not args.smoke or _has_wrk()) else "python"
    return args


def _has_wrk() -> bool:
    try:
        load.wrk_path()
    except load.LoadError:
        return False
    return True


def run_floor(model_dir: Path, index: Path, budget_s: float) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "bench.floor", "--model-dir", str(model_dir)]
    command += ["--payloads", str(index), "--budget-s", str(budget_s)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"in-process floor failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout))


def _wait_workers(server: Server, workers: int, timeout_s: float = 20) -> None:
    """Until master + every worker exist (the first /ping 200 needs only one worker)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(server.pids()) >= workers + 1:
            return
        time.sleep(0.05)


def start_servers(
    args: argparse.Namespace, client: Any, image_id: str, model_dir: Path, run_id: str
) -> dict[str, Server]:
    wanted = [("real", "docker"), ("floor", "docker"), ("batch", "docker")]
    if not args.no_host:
        wanted += [("real", "host"), ("floor", "host")]
    started: dict[str, Server] = {}
    try:
        for role, where in wanted:
            if where == "docker":
                server = servers.start_docker(
                    client, image_id, role, model_dir, args.workers, args.network, run_id
                )
            else:
                server = servers.start_host(role, model_dir, args.workers, args.out / "logs")
            started[server.name] = server
            _wait_workers(server, args.workers)
    except BaseException:
        for server in started.values():
            server.stop()
        raise
    return started


def one_round(
    number: int,
    args: argparse.Namespace,
    client: Any,
    image_id: str,
    model_dir: Path,
    payloads: dict[str, workload.Payload],
    index: Path,
    run_id: str,
    runner: Callable[..., load.LoadResult],
) -> dict[str, Any]:
    result: dict[str, Any] = {"round": number, "loads": {}, "servers": {}}
    print(f"round {number + 1}/{args.rounds}: in-process floor", file=sys.stderr, flush=True)
    result["floor"] = run_floor(model_dir, index, args.floor_budget)
    print(f"round {number + 1}/{args.rounds}: starting servers", file=sys.stderr, flush=True)
    started = start_servers(args, client, image_id, model_dir, run_id)
    try:
        for name, server in started.items():
            warm = payloads["csv1"] if server.role != "batch" else payloads["raw1"]
            load.warm_up(server.url, warm)
            time.sleep(0.3)
            result["servers"][name] = {
                "cold_start_s": server.cold_start_s,
                "idle_memory": servers.memory(server.pids()),
            }
        for scenario in scenarios(args.workers):
            names = [n for n in scenario.servers if n in started]
            shift = number % len(names) if names else 0
            for name in names[shift:] + names[:shift]:  # rotate the order between rounds
                server = started[name]
                payload = payloads[scenario.payload]
                load.warm_up(server.url, payload, count=2 if payload.rows > 1000 else 20)
                drive = load.run_python if scenario.client == "python" else runner
                with servers.MemorySampler(server) as sampler:
                    outcome = drive(
                        server.url,
                        payload,
                        scenario.connections,
                        scenario.duration_s or args.duration,
                        scenario.max_requests,
                    )
                entry = asdict(outcome)
                entry.update(
                    req_per_s=outcome.req_per_s,
                    rows_per_s=outcome.req_per_s * payload.rows,
                    peak_memory=sampler.peak,
                )
                result["loads"].setdefault(scenario.name, {})[name] = entry
                print(
                    f"  {scenario.name:<12} {name:<13} {outcome.req_per_s:>9.1f} req/s "
                    f"p50 {outcome.p50_ms:7.2f} ms p99 {outcome.p99_ms:7.2f} ms"
                    + (f" errors {outcome.errors}" if outcome.errors else ""),
                    file=sys.stderr,
                    flush=True,
                )
        for name, server in started.items():
            result["servers"][name]["idle_memory_after"] = servers.memory(server.pids())
    finally:
        for server in started.values():
            server.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    import docker

    args = parse_args(argv)
    runner = load.run_wrk if args.load == "wrk" else load.run_python
    if args.load == "wrk":
        load.wrk_path()
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(args.out / "logs", ignore_errors=True)  # host servers' logs: this run's only
    client = docker.from_env()
    image = client.images.get(args.image)
    run_id = time.strftime("%Y%m%d-%H%M%S")
    data = args.data
    if not data.startswith(("http://", "https://", "s3://")) and not Path(data).is_absolute():
        data = str((REPO / data).resolve())
    work = args.out / "work"
    print(f"training the benchmark model on {data}", file=sys.stderr, flush=True)
    booster, transform, raw = workload.train_model(data, work / "model")
    model_dir = (work / "model").resolve()
    payloads = workload.write_payloads(work / "payloads", transform, raw, args.batch_bytes)
    index = work / "payloads.json"
    index.write_text(json.dumps(workload.payload_index(payloads)))
    described = machine.describe(client, image, args.load)
    rounds = []
    try:
        for number in range(args.rounds):
            rounds.append(
                one_round(
                    number, args, client, image.id, model_dir, payloads, index, run_id, runner
                )
            )
    finally:
        servers.remove_leftovers(client, run_id)
    described["load_average_end"] = machine.load_average()
    settings = {
        "rounds": args.rounds,
        "duration_s": args.duration,
        "workers": args.workers,
        "network": args.network,
        "load_generator": args.load,
        "smoke": args.smoke,
        "model": {"trees": booster.num_boosted_rounds(), "max_depth": workload.DEPTH},
        "scenarios": [asdict(s) for s in scenarios(args.workers)],
        "payloads": workload.payload_index(payloads),
    }
    summary = report.summarise(rounds, settings, described)
    path = args.out / f"{run_id}.json"
    document = {"run_id": run_id, "machine": described, "settings": settings}
    document.update(summary=summary, rounds=rounds)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(report.render(summary, settings, described))
    print(f"\nwritten: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0
