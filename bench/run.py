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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench import load, machine, report, servers, workload
from bench.servers import Server
from devtools.adversarial import MIB, container_state

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
    #: The models (workload.MODELS) it runs on; on any but the first its name gets "<model>:".
    models: tuple[str, ...] = ("quick",)
    model: str = "quick"
    #: Also measure the peak memory of one request in a fresh container (6 MiB bodies).
    request_memory: bool = False


ONE_ROW_SERVERS = ("real/docker", "floor/docker", "real/host", "floor/host")
BOTH_MODELS = tuple(workload.MODELS)


def _batch(name: str, label: str, payload: str, workers: int) -> Scenario:
    return Scenario(
        name,
        f"{label} (MULTI_RECORD), {workers} clients",
        payload,
        workers,
        ("batch/docker", "reference/docker"),
        2 * workers,  # two requests per client: ends on a count (each takes ~1 s)
        payload,
        duration_s=60,
        client="python",  # ~1 s requests: the client's own cost is negligible
        models=BOTH_MODELS,
        request_memory=True,
    )


def base_scenarios(workers: int) -> list[Scenario]:
    return [
        Scenario("csv1_c1", "1 row CSV, 1 client", "csv1", 1, ONE_ROW_SERVERS, 50_000, "csv1"),
        Scenario("csv1_c8", "1 row CSV, 8 clients", "csv1", 8, ONE_ROW_SERVERS, 100_000, "csv1"),
        Scenario(
            "csv1000_c4",
            "1,000 rows CSV, 4 clients",
            "csv1000",
            4,
            ("real/docker", "reference/docker", "floor/docker", "real/host"),
            20_000,
            "csv1000",
            models=BOTH_MODELS,
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
        _batch("batch", "batch transform: ~6 MB raw CSV", "batch6mb", workers),
        _batch("batch_enc", "batch transform: ~6 MB encoded CSV", "enc6mb", workers),
    ]


def scenarios(
    workers: int, models: tuple[str, ...] = BOTH_MODELS, only: tuple[str, ...] = ()
) -> list[Scenario]:
    """Every scenario (of `only`, when given) once per model it runs on (in `models`); the
    first model's keep their names, the others' are prefixed "<model>:", as do their floor
    payloads."""
    out = []
    for model in models:
        for scenario in base_scenarios(workers):
            if model not in scenario.models or (only and scenario.name not in only):
                continue
            if model == BOTH_MODELS[0]:
                out.append(scenario)
                continue
            trees, depth = workload.MODELS[model]
            out.append(
                replace(
                    scenario,
                    name=f"{model}:{scenario.name}",
                    label=f"{scenario.label} [{trees} trees depth {depth}]",
                    floor_payload=f"{model}:{scenario.floor_payload}",
                    model=model,
                )
            )
    return out


def model_prefix(model: str) -> str:
    return "" if model == BOTH_MODELS[0] else f"{model}:"


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
        "--models",
        nargs="+",
        choices=BOTH_MODELS,
        default=list(BOTH_MODELS),
        help="the benchmark's models to run (smoke: quick only)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="check the harness fast: 1 round of 1 s loads, a small batch, no host servers",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=(),
        choices=[s.name for s in base_scenarios(1)],
        help="run these scenarios only (e.g. to repeat the multi-row ones)",
    )
    args = parser.parse_args(argv)
    args.only = tuple(args.only)
    if args.smoke:
        args.rounds, args.duration, args.no_host = 1, 1, True
        args.floor_budget, args.batch_bytes = 0.05, min(args.batch_bytes, 300_000)
        args.models = [BOTH_MODELS[0]]
    args.models = tuple(m for m in BOTH_MODELS if m in args.models)
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
    args: argparse.Namespace,
    client: Any,
    image_id: str,
    model_dir: Path,
    run_id: str,
    names: set[str],
) -> dict[str, Server]:
    """The servers named ("<role>/<where>") that this run has, each with all its workers up."""
    wanted = [("real", "docker"), ("reference", "docker"), ("floor", "docker")]
    wanted += [("batch", "docker")]
    if not args.no_host:
        wanted += [("real", "host"), ("floor", "host")]
    started: dict[str, Server] = {}
    try:
        for role, where in wanted:
            if f"{role}/{where}" not in names:
                continue
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


def request_memory(
    args: argparse.Namespace,
    client: Any,
    image_id: str,
    model_dir: Path,
    run_id: str,
    server_name: str,
    payload: workload.Payload,
    warm: workload.Payload,
) -> dict[str, float]:
    """The peak memory one request of `payload` takes above idle, in a fresh container: the
    cgroup's memory.peak after it minus memory.current once every worker is up and idle."""
    role = server_name.split("/")[0]
    server = servers.start_docker(
        client, image_id, role, model_dir, args.workers, args.network, run_id
    )
    try:
        _wait_workers(server, args.workers)
        assert server.container is not None
        load.warm_up(server.url, warm, count=2 * args.workers)  # lazy imports, first-call setup
        time.sleep(0.3)
        idle = container_state(server.container)
        load.warm_up(server.url, payload, count=1)
        after = container_state(server.container)
    finally:
        server.stop()
    above = max(0, after.peak_bytes - idle.current_bytes)
    return {
        "body_bytes": payload.nbytes,
        "idle_mib": idle.current_bytes / MIB,
        "peak_above_idle_mib": above / MIB,
        "x_body": above / payload.nbytes,
    }


def one_round(
    number: int,
    args: argparse.Namespace,
    client: Any,
    image_id: str,
    model_dirs: dict[str, Path],
    payloads: dict[str, workload.Payload],
    indexes: dict[str, Path],
    run_id: str,
    runner: Callable[..., load.LoadResult],
) -> dict[str, Any]:
    result: dict[str, Any] = {"round": number, "loads": {}, "servers": {}, "request_memory": {}}
    result["floor"] = {"payloads": {}}
    for model in args.models:
        prefix = model_prefix(model)
        print(f"round {number + 1}/{args.rounds}: {model} model", file=sys.stderr, flush=True)
        floor = run_floor(model_dirs[model], indexes[model], args.floor_budget)
        result["floor"]["cpu"] = floor["cpu"]
        for name, entry in floor["payloads"].items():
            result["floor"]["payloads"][prefix + name] = entry
        model_round(
            number,
            args,
            client,
            image_id,
            model_dirs[model],
            payloads,
            run_id,
            runner,
            model,
            result,
        )
    return result


def model_round(
    number: int,
    args: argparse.Namespace,
    client: Any,
    image_id: str,
    model_dir: Path,
    payloads: dict[str, workload.Payload],
    run_id: str,
    runner: Callable[..., load.LoadResult],
    model: str,
    result: dict[str, Any],
) -> None:
    """One model's part of a round: its servers started fresh, every scenario on each in turn
    (the order rotates between rounds), then the fresh-container request memory."""
    prefix = model_prefix(model)
    plan = [s for s in scenarios(args.workers, args.models, args.only) if s.model == model]
    started = start_servers(
        args, client, image_id, model_dir, run_id, {n for s in plan for n in s.servers}
    )
    try:
        for name, server in started.items():
            warm = payloads["raw1"] if server.role == "batch" else payloads["csv1"]
            load.warm_up(server.url, warm)
            time.sleep(0.3)
            result["servers"][prefix + name] = {
                "cold_start_s": server.cold_start_s,
                "idle_memory": servers.memory(server.pids()),
            }
        for scenario in plan:
            names = [n for n in scenario.servers if n in started]
            shift = number % len(names) if names else 0
            for name in names[shift:] + names[:shift]:  # rotate the order between rounds
                entry = _drive(args, started[name], payloads[scenario.payload], scenario, runner)
                result["loads"].setdefault(scenario.name, {})[name] = entry
                print(
                    f"  {scenario.name:<18} {name:<16} {entry['req_per_s']:>9.1f} req/s "
                    f"p50 {entry['p50_ms']:7.2f} ms p99 {entry['p99_ms']:7.2f} ms"
                    + (f" errors {entry['errors']}" if entry["errors"] else ""),
                    file=sys.stderr,
                    flush=True,
                )
        for name, server in started.items():
            result["servers"][prefix + name]["idle_memory_after"] = servers.memory(server.pids())
    finally:
        for server in started.values():
            server.stop()
    for scenario in plan:
        if not scenario.request_memory:
            continue
        for name in scenario.servers:
            warm = payloads["raw1"] if name.startswith("batch/") else payloads["csv1"]
            measured = request_memory(
                args, client, image_id, model_dir, run_id, name, payloads[scenario.payload], warm
            )
            result["request_memory"].setdefault(scenario.name, {})[name] = measured
            print(
                f"  {scenario.name:<18} {name:<16} one request: "
                f"{measured['peak_above_idle_mib']:.0f} MiB above idle "
                f"({measured['x_body']:.1f}x the body)",
                file=sys.stderr,
                flush=True,
            )


def _drive(
    args: argparse.Namespace,
    server: Server,
    payload: workload.Payload,
    scenario: Scenario,
    runner: Callable[..., load.LoadResult],
) -> dict[str, Any]:
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
    return entry


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
    print(f"training the benchmark models on {data}", file=sys.stderr, flush=True)
    booster, transform, raw = workload.train_model(data, work / "model")
    model_dirs = {"quick": (work / "model").resolve()}
    if "deep" in args.models:
        workload.train_deep_model(transform, work / "model-deep")
        model_dirs["deep"] = (work / "model-deep").resolve()
    payloads = workload.write_payloads(work / "payloads", transform, raw, args.batch_bytes)
    indexes = {}
    for model in args.models:
        # The in-process floors per model: the deep one only for the multi-row payloads.
        names = {
            s.payload for s in scenarios(args.workers, args.models, args.only) if s.model == model
        }
        names |= {
            s.floor_payload.removeprefix(model_prefix(model))
            for s in scenarios(args.workers, args.models, args.only)
            if s.model == model
        }
        index = work / f"payloads-{model}.json"
        index.write_text(
            json.dumps([p for p in workload.payload_index(payloads) if p["name"] in names])
        )
        indexes[model] = index
    described = machine.describe(client, image, args.load)
    rounds = []
    try:
        for number in range(args.rounds):
            rounds.append(
                one_round(
                    number, args, client, image.id, model_dirs, payloads, indexes, run_id, runner
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
        "models": {
            m: dict(zip(("trees", "max_depth"), workload.MODELS[m], strict=True))
            for m in args.models
        },
        "scenarios": [asdict(s) for s in scenarios(args.workers, args.models, args.only)],
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
