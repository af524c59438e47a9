"""Fixtures for the Docker tests: the built image (make build), and a model trained on the real
data set, mounted read-only the way SageMaker mounts /opt/ml/model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.integration.dockerutil import Served, run_image
from training import workflow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"Docker is not running ({exc}); `make test` starts it")
    return client


@pytest.fixture(scope="session")
def image(docker_client: docker.DockerClient) -> str:
    name = os.environ.get("IMAGE", "abalone-byom:local")
    try:
        docker_client.images.get(name)
    except docker.errors.ImageNotFound:
        pytest.fail(f"image {name} is not built; run `make build` (make test does)")
    return name


@pytest.fixture(scope="session")
def data_path(abalone_path: Path) -> str:
    return str(abalone_path)


@pytest.fixture(scope="session")
def real_model_dir(tmp_path_factory: pytest.TempPathFactory, data_path: str) -> Path:
    work_dir = tmp_path_factory.mktemp("real-model")
    workflow.run_all(data_path, work_dir)
    model_dir = work_dir / "model"
    model_dir.chmod(0o755)  # readable by the container's non-root users too
    return model_dir


@pytest.fixture()
def serve(docker_client: docker.DockerClient, image: str, real_model_dir: Path) -> Iterator:
    """Factory: start `serve` with extra docker options; every container is removed afterwards."""
    started: list[Served] = []

    def start(*, model_dir: Path | None = real_model_dir, wait: bool = True, **options) -> Served:
        volumes = options.pop("volumes", {})
        if model_dir is not None:
            volumes[str(model_dir)] = {"bind": "/opt/ml/model", "mode": "ro"}
        served = run_image(docker_client, image, "serve", volumes=volumes, **options)
        started.append(served)
        if wait:
            served.wait_ready()
        return served

    yield start
    for served in started:
        served.container.remove(force=True)


@pytest.fixture(scope="module")
def endpoint(
    docker_client: docker.DockerClient, image: str, real_model_dir: Path
) -> Iterator[Served]:
    """One shared, default `serve` container for the read-only request tests."""
    volumes = {str(real_model_dir): {"bind": "/opt/ml/model", "mode": "ro"}}
    served = run_image(docker_client, image, "serve", volumes=volumes)
    try:
        served.wait_ready()
        yield served
    finally:
        served.container.remove(force=True)
