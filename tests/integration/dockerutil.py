"""Helpers for the Docker tests: the compose stack, polling, and what a run left behind.

The containers themselves come from devtools.containers. What the suite starts carries
TEST_LABELS (a label with this run's id), and every leftover check looks only at what its own run
created: by id, by that label, or by compose project.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
from docker.models.containers import Container

from deploy.invoke import wait_until_ready
from devtools.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The project's one choice of Docker Compose: v2 (`docker compose`) where it works, else v1.
COMPOSE = ("bash", str(REPO_ROOT / "scripts" / "compose.sh"))
PROJECT_LABEL = "com.docker.compose.project"
#: Compose (v1 and v2) records the folder of the compose file on every container it creates.
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"


def poll(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Call check() until it returns True; return the seconds it took, fail after timeout_s."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@contextlib.contextmanager
def compose_stack(
    image: str,
    model_dir: Path,
    project: str,
    capture_dir: Path | None = None,
    capture_percent: int = 0,
) -> Iterator[str]:
    """The repository's docker-compose.yml on free ports; yield the runtime gateway's URL once it
    answers (polled), take the stack down on exit and check its project left nothing behind.
    The gateway's capture folder is `capture_dir`, else a temporary one this removes: never the
    repository's build/datacapture, nor a relative CAPTURE_DIR from the environment (`make test`
    exports one, which compose would take for a named volume)."""
    gateway_port, endpoint_port = free_port(), free_port()
    with contextlib.ExitStack() as cleanup:
        if capture_dir is None:
            capture_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
            capture_dir.chmod(0o777)  # what `make up` does: the gateway runs as nobody
        env = {
            **os.environ,
            "IMAGE": image,
            "MODEL_DIR": str(model_dir),
            "GATEWAY_PORT": str(gateway_port),
            "ENDPOINT_PORT": str(endpoint_port),
            "CAPTURE_DIR": str(capture_dir.resolve()),
            "CAPTURE_PERCENT": str(capture_percent),
        }
        yield from _compose_up(project, env, gateway_port, endpoint_port)


def _compose_up(
    project: str, env: dict[str, str], gateway_port: int, endpoint_port: int
) -> Iterator[str]:
    compose = [*COMPOSE, "-p", project, "-f", str(REPO_ROOT / "docker-compose.yml")]
    try:
        up = subprocess.run(
            [*compose, "up", "-d"], env=env, capture_output=True, text=True, timeout=180
        )
        assert up.returncode == 0, (
            f"compose up failed (GATEWAY_PORT={gateway_port}, ENDPOINT_PORT={endpoint_port}):"
            f"\n{up.stderr}"
        )
        url = f"http://127.0.0.1:{gateway_port}"
        wait_until_ready(f"{url}/ping", timeout_s=120)
        yield url
    finally:
        subprocess.run(
            [*compose, "down", "--remove-orphans", "--timeout", "30"],
            env=env,
            capture_output=True,
            timeout=120,
        )
    left = project_leftovers(docker.from_env(), project)
    assert left == [], f"compose down left {left} of project {project}"


def project_leftovers(client: docker.DockerClient, project: str) -> list[str]:
    """The containers, networks and volumes still labelled with compose project `project`."""
    label = {"label": f"{PROJECT_LABEL}={project}"}
    containers = client.containers.list(all=True, sparse=True, filters=label)
    return [
        *(f"container {c.attrs['Names'][0]}" for c in containers),
        *(f"network {n.name}" for n in client.networks.list(filters=label)),
        *(f"volume {v.name}" for v in client.volumes.list(filters=label)),
    ]


def removed(client: docker.DockerClient, container_id: str) -> bool:
    """Whether the container with this id no longer exists."""
    try:
        client.containers.get(container_id)
    except docker.errors.NotFound:
        return True
    return False


def compose_containers_under(client: docker.DockerClient, root: Path) -> list[str]:
    """Names of the containers (running or not) that compose created from a file under `root`,
    as the SDK's local mode does for each job in its container_root."""
    found = client.containers.list(all=True, sparse=True, filters={"label": WORKING_DIR_LABEL})
    return [
        c.attrs["Names"][0].lstrip("/")
        for c in found
        if Path(c.attrs["Labels"][WORKING_DIR_LABEL]).is_relative_to(root)
    ]


@contextlib.contextmanager
def watch_created_containers(client: docker.DockerClient) -> Iterator[list[dict[str, str]]]:
    """Record each container Docker creates while the block runs: {"id", "name", labels...}.

    From Docker's event stream, so containers created and removed inside the block (local mode's
    jobs) are seen too; the list grows while the block runs.
    """
    stream = client.events(decode=True, filters={"type": "container", "event": "create"})
    created: list[dict[str, str]] = []

    def record() -> None:
        # NB: closing the stream ends the iteration with a socket error, which is the way out.
        with contextlib.suppress(Exception):
            for event in stream:
                created.append({"id": event["id"], **event["Actor"]["Attributes"]})

    thread = threading.Thread(target=record, daemon=True)
    thread.start()
    try:
        yield created
    finally:
        stream.close()
        thread.join(timeout=10)


def compose_containers(client: docker.DockerClient, url: str) -> list[Container]:
    """Every container of the compose project that publishes `url`'s port (found through that
    port, so a test sees only the stack it started)."""
    port = url.rsplit(":", 1)[1]
    publishing = client.containers.list(filters={"publish": port})
    assert len(publishing) == 1, f"{len(publishing)} containers publish port {port}"
    project = publishing[0].labels[PROJECT_LABEL]
    return list(client.containers.list(filters={"label": f"{PROJECT_LABEL}={project}"}))
