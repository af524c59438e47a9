"""`make up` and `make run` with GATEWAY_PORT or ENDPOINT_PORT taken: they stop before starting
anything and name the port, its variable and how to choose another (scripts/ports-free.sh); a port
the compose project itself publishes is not in the way. Only ports this test holds are used."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator

import pytest

from devtools.containers import TEST_RUN_ID, run_image
from devtools.ports import free_port
from tests.integration.dockerutil import PROJECT_LABEL, REPO_ROOT

pytestmark = pytest.mark.integration
PORTS_FREE = ["bash", str(REPO_ROOT / "scripts" / "ports-free.sh")]


@pytest.fixture()
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 this test listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def make(*args: str, timeout_s: float = 60) -> tuple[int, str]:
    """Run make in the repository; on a timeout, stop it and everything it started."""
    with subprocess.Popen(
        ["make", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            pytest.fail(f"make {' '.join(args)} ran past {timeout_s} s:\n{output}")
    return process.returncode, output


def test_make_up_names_a_taken_gateway_port(busy_port):
    code, output = make(
        "up", f"GATEWAY_PORT={busy_port}", f"ENDPOINT_PORT={free_port()}", "MODEL_DIR=/nowhere"
    )
    assert code != 0
    assert f"Port {busy_port} (GATEWAY_PORT) on 127.0.0.1 is already in use" in output
    assert "e.g.: make up GATEWAY_PORT=" in output
    assert "no model in" not in output  # stopped before anything else


def test_make_run_stops_before_building_when_the_endpoint_port_is_taken(busy_port):
    code, output = make("run", f"ENDPOINT_PORT={busy_port}", f"GATEWAY_PORT={free_port()}")
    assert code != 0
    assert f"Port {busy_port} (ENDPOINT_PORT) on 127.0.0.1 is already in use" in output
    assert "make up ENDPOINT_PORT=" in output
    assert "docker build" not in output and "pipelines.local" not in output


def test_a_port_its_own_compose_project_publishes_is_not_in_the_way(docker_client, image):
    project = f"abalone-ports-{TEST_RUN_ID[:12]}"
    holder = run_image(
        docker_client, image, "900", entrypoint=["sleep"], labels={PROJECT_LABEL: project}
    )
    try:
        port = holder.url.rsplit(":", 1)[1]
        own = subprocess.run([*PORTS_FREE, project, f"GATEWAY_PORT={port}"], capture_output=True)
        other = subprocess.run(
            [*PORTS_FREE, f"{project}-other", f"GATEWAY_PORT={port}"], capture_output=True
        )
    finally:
        holder.container.remove(force=True)
    assert own.returncode == 0, own.stderr
    assert other.returncode == 1
    assert f"Port {port} (GATEWAY_PORT)" in other.stderr.decode()


@pytest.mark.parametrize("value", ["", "http", "0", "65536", "80 81"])
def test_a_value_that_is_not_a_port_is_refused_by_name(value):
    done = subprocess.run(
        [*PORTS_FREE, "abalone-ports-test", f"ENDPOINT_PORT={value}"], capture_output=True
    )
    assert done.returncode == 2
    assert f"ENDPOINT_PORT='{value}' is not a port number" in done.stderr.decode()
