"""Start the servers under test, time their cold start, and read their memory.

The real server and the framework floor run `container.server.gunicorn_options(settings)`: the
real one through the image's entry point (`python -m container serve`), the framework floor
through `python -m bench.floor_app`, in Docker (the same image, this package mounted read-only)
and, to separate Docker's own cost, the same commands on the host from .venv. The naive
reference (bench/reference_app.py) runs in the same image under gunicorn's defaults: `sync`
workers, as many as the others.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.models.containers import Container

from container import contract
from deploy.invoke import wait_until_ready
from devtools.containers import SERVING_PORT, create_container
from devtools.ports import free_port

REPO = Path(__file__).resolve().parents[1]
LABEL = "abalone-bench"


class StartError(RuntimeError):
    pass


@dataclass
class Server:
    name: str  # e.g. "real/docker"
    role: str  # "real", "floor" or "batch"
    where: str  # "docker" or "host"
    url: str
    port: int
    cold_start_s: float = 0.0
    container: Container | None = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log: object | None = field(default=None, repr=False)

    def pids(self) -> list[int]:
        if self.container is not None:
            top = self.container.top(ps_args="-eo pid")
            return [int(row[0]) for row in top.get("Processes") or []]
        assert self.process is not None
        return [self.process.pid, *descendants(self.process.pid)]

    def stop(self) -> None:
        if self.container is not None:
            with contextlib.suppress(docker.errors.NotFound):
                self.container.remove(force=True)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_ready(server: Server, started: float, timeout_s: float) -> float:
    """Poll /ping every 10 ms; seconds from `started` to the first 200."""

    def still_running() -> None:
        if server.container is not None:
            server.container.reload()
            if server.container.status == "exited":
                raise StartError(f"{server.name} exited{_tail(server)}")
        elif server.process is not None and server.process.poll() is not None:
            raise StartError(f"{server.name} exited{_tail(server)}")

    url = f"{server.url}{contract.PING}"
    remaining = timeout_s - (time.perf_counter() - started)
    try:
        wait_until_ready(url, remaining, interval_s=0.01, check=still_running)
    except TimeoutError:
        raise StartError(
            f"{server.name}: no 200 on /ping within {timeout_s} s{_tail(server)}"
        ) from None
    return time.perf_counter() - started


def _tail(server: Server) -> str:
    if server.container is not None:
        return ":\n" + server.container.logs(tail=20).decode(errors="replace")
    if server.log_path is not None and server.log_path.exists():
        return ":\n" + "\n".join(server.log_path.read_text(errors="replace").splitlines()[-20:])
    return ""


def server_env(role: str, workers: int, port: int) -> dict[str, str]:
    env = {contract.WORKERS.name: str(workers), contract.BIND_TO_PORT.name: str(port)}
    if role == "batch":
        env.update(SAGEMAKER_BATCH="true", SAGEMAKER_MAX_PAYLOAD_IN_MB="6")
    return env


def start_docker(
    client: docker.DockerClient,
    image: str,
    role: str,
    model_dir: Path,
    workers: int,
    network: str,
    run_id: str,
    timeout_s: float = 60,
    env: dict[str, str] | None = None,
    docker_options: dict[str, object] | None = None,
    name: str | None = None,
) -> Server:
    """Create the container, then time `start` -> first 200 on /ping."""
    port = free_port()
    environment = server_env(role, workers, port if network == "host" else SERVING_PORT)
    environment.update(env or {})
    options: dict[str, Any] = dict(docker_options or {})
    command: tuple[str, ...] = ("serve",)
    if role in ("floor", "reference"):
        options["volumes"] = {str(REPO / "bench"): {"bind": "/opt/bench/bench", "mode": "ro"}}
        environment["PYTHONPATH"] = "/opt/program:/opt/bench"
        options["entrypoint"] = ["python", "-m", "bench.floor_app"]
        command = ()
    if role == "reference":
        bind = f"0.0.0.0:{environment[contract.BIND_TO_PORT.name]}"
        options["entrypoint"] = ["python", "-m", "gunicorn", "--worker-class", "sync"]
        options["entrypoint"] += ["--workers", str(workers), "--bind", bind, "--timeout", "120"]
        options["entrypoint"].append("bench.reference_app:app")
    if network == "host":
        options["network_mode"] = "host"
    served = create_container(
        client,
        image,
        *command,
        model_dir=model_dir,
        host_port=port,
        environment=environment,
        labels={LABEL: run_id},
        **options,
    )
    container = served.container
    server = Server(name or f"{role}/docker", role, "docker", served.url, port, container=container)
    return _start_timed(server, container.start, timeout_s)


def start_host(
    role: str, model_dir: Path, workers: int, log_dir: Path, timeout_s: float = 60
) -> Server:
    """The same server from .venv on the host: Popen -> first 200 on /ping."""
    port = free_port()
    env = {**os.environ, **server_env(role, workers, port)}
    env.update(SM_MODEL_DIR=str(model_dir), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    module = ["-m", "bench.floor_app"] if role == "floor" else ["-m", "container", "serve"]
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{role}-host-{port}.log"
    log = log_path.open("wb")
    server = Server(
        f"{role}/host", role, "host", f"http://127.0.0.1:{port}", port, log_path=log_path
    )
    server._log = log

    def launch() -> None:
        server.process = subprocess.Popen(
            [sys.executable, *module], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    return _start_timed(server, launch, timeout_s)


def _start_timed(server: Server, launch: Callable[[], None], timeout_s: float) -> Server:
    """Run `launch` and time it to the first 200 on /ping; a server that never answers is
    stopped before the error goes up."""
    started = time.perf_counter()
    launch()
    try:
        server.cold_start_s = _wait_ready(server, started, timeout_s)
    except StartError:
        server.stop()
        raise
    return server


def remove_leftovers(client: docker.DockerClient, run_id: str) -> None:
    for container in client.containers.list(all=True, filters={"label": f"{LABEL}={run_id}"}):
        container.remove(force=True)


# --- memory -------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _kib_fields(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in names:
            values[key] = int(rest.split()[0])
    return values


def memory(pids: list[int]) -> dict[str, float]:
    """RSS, PSS and summed peak RSS (VmHWM) of these processes, in MiB."""
    rss = pss = hwm = 0
    counted = 0
    for pid in pids:
        try:
            rollup = _kib_fields(Path(f"/proc/{pid}/smaps_rollup"), ("Rss", "Pss"))
            status = _kib_fields(Path(f"/proc/{pid}/status"), ("VmHWM",))
        except (OSError, ValueError):
            continue  # exited meanwhile
        rss += rollup.get("Rss", 0)
        pss += rollup.get("Pss", 0)
        hwm += status.get("VmHWM", 0)
        counted += 1
    if not counted:
        raise RuntimeError(f"cannot read /proc/<pid>/smaps_rollup of {pids} (not root?)")
    return {
        "rss_mib": rss / 1024,
        "pss_mib": pss / 1024,
        "hwm_mib": hwm / 1024,
        "processes": counted,
    }


class MemorySampler:
    """Sample a server's memory every `interval_s` in a thread; keep the peaks."""

    def __init__(self, server: Server, interval_s: float = 0.2):
        self._server = server
        self._interval = interval_s
        self._stop = threading.Event()
        self._pids = server.pids()
        self.peak: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def _sample(self) -> None:
        try:
            now = memory(self._pids)
        except RuntimeError:
            return
        for key, value in now.items():
            self.peak[key] = max(self.peak.get(key, 0.0), value)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
