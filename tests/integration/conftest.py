"""Fixtures for the Docker tests: containers of the built image serving the real-data model
(tests/conftest.py provides the image and the model), mounted read-only as SageMaker does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from devtools.containers import Served, serving_containers


@pytest.fixture()
def serve(docker_client: docker.DockerClient, image: str, real_model_dir: Path) -> Iterator:
    """Factory: start `serve` with extra docker options; every container is removed afterwards."""
    with serving_containers(docker_client, image, real_model_dir) as start:
        yield start


@pytest.fixture(scope="module")
def endpoint(
    docker_client: docker.DockerClient, image: str, real_model_dir: Path
) -> Iterator[Served]:
    """One shared, default `serve` container for the read-only request tests."""
    with serving_containers(docker_client, image, real_model_dir) as start:
        yield start()
