"""The image run in Docker on a free 127.0.0.1 port, serving a model mounted read-only as
SageMaker mounts it.

Every container created here carries TEST_LABELS (a label with this process's run id), so a test
or the bench finds, and removes, only what its own run created.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import docker
import requests
from docker.models.containers import Container

from container import contract
from deploy.invoke import wait_until_ready
from devtools.ports import free_port

#: Set on every container these helpers create, with this run's id.
TEST_RUN_LABEL: Final = "com.abalone-byom.test-run"
TEST_RUN_ID: Final = uuid.uuid4().hex
TEST_LABELS: Final = {TEST_RUN_LABEL: TEST_RUN_ID}
#: The port the image serves on inside its container.
SERVING_PORT: Final = 8080


@dataclass
class Served:
    container: Container
    url: str

    def ping_status(self) -> int | None:
        try:
            return requests.get(f"{self.url}{contract.PING}", timeout=2).status_code
        except requests.RequestException:
            return None

    def wait_ready(self, timeout_s: float = 60, interval_s: float = 0.1) -> float:
        """Poll /ping until it answers 200; the seconds it took. Fails at once if the
        container exits (with its log), TimeoutError after timeout_s."""

        def still_running() -> None:
            self.container.reload()
            if self.container.status == "exited":
                raise AssertionError(f"container exited:\n{self.logs()}")

        url = f"{self.url}{contract.PING}"
        return wait_until_ready(url, timeout_s, interval_s=interval_s, check=still_running)

    def invoke(
        self, body: bytes | str, content_type: str | None = contract.CSV, **headers: str
    ) -> Any:
        sent = dict(headers)
        if content_type is not None:
            sent["Content-Type"] = content_type
        return requests.post(
            f"{self.url}{contract.INVOCATIONS}", data=body, headers=sent, timeout=60
        )

    def logs(self) -> str:
        return str(self.container.logs().decode(errors="replace"))


def model_volume(model_dir: Path) -> dict[str, dict[str, str]]:
    """The docker-py `volumes` entry that mounts `model_dir` read-only where SageMaker does."""
    return {str(model_dir): {"bind": contract.MODEL_DIR.default, "mode": "ro"}}


def create_container(
    client: docker.DockerClient,
    image: str,
    *args: str,
    model_dir: Path | None = None,
    host_port: int | None = None,
    port: int = SERVING_PORT,
    **options: Any,
) -> Served:
    """Create (not start) a container of `image` with arguments `args`.

    Args:
        client: the Docker client.
        image: image name or id.
        *args: the container's command (the image's entry point takes e.g. "serve").
        model_dir: mounted read-only at the SageMaker model path, if given.
        host_port: where the server is reached on 127.0.0.1 (default: a free port). It is
            published from `port`, unless `ports` is given or network_mode is "host" (the server
            then binds host_port itself).
        port: the container's port to publish.
        **options: more docker-py options; `labels` and `volumes` add to the helper's own.

    Returns:
        The container and its URL.
    """
    host_port = host_port or free_port()
    volumes = options.pop("volumes", {})
    if model_dir is not None:
        volumes = {**volumes, **model_volume(model_dir)}
    if options.get("network_mode") != "host":
        options.setdefault("ports", {f"{port}/tcp": ("127.0.0.1", host_port)})
    labels = {**TEST_LABELS, **options.pop("labels", {})}
    container = client.containers.create(
        image, list(args), detach=True, labels=labels, volumes=volumes, **options
    )
    return Served(container=container, url=f"http://127.0.0.1:{host_port}")


def run_image(client: docker.DockerClient, image: str, *args: str, **options: Any) -> Served:
    """create_container(...), started."""
    served = create_container(client, image, *args, **options)
    served.container.start()
    return served


def serve_model(
    client: docker.DockerClient, image: str, model_dir: Path | None, **options: Any
) -> Served:
    """The image's `serve`, with `model_dir` mounted read-only (None: nothing mounted)."""
    return run_image(client, image, "serve", model_dir=model_dir, **options)


@contextlib.contextmanager
def serving_containers(
    client: docker.DockerClient, image: str, default_model_dir: Path | None
) -> Iterator[Callable[..., Served]]:
    """Yield `start(model_dir=..., wait=True, **docker options)`, which runs serve_model(); every
    container it started is removed on exit."""
    started: list[Served] = []

    def start(
        *, model_dir: Path | None = default_model_dir, wait: bool = True, **options: Any
    ) -> Served:
        served = serve_model(client, image, model_dir, **options)
        started.append(served)
        if wait:
            served.wait_ready()
        return served

    try:
        yield start
    finally:
        for served in started:
            served.container.remove(force=True)
