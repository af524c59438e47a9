"""Fixtures for the reliability tests: the built image (docker_client and image come from
tests/conftest.py) serving the session's small model in Docker on 127.0.0.1, started by a factory
that removes every container afterwards."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from devtools.containers import serving_containers


@pytest.fixture(scope="session")
def served_model_dir(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's small trained model, in a folder every container user can read."""
    target = tmp_path_factory.mktemp("served-model")
    for path in model_dir.iterdir():
        if path.is_file():
            shutil.copyfile(path, target / path.name)
            (target / path.name).chmod(0o644)
    target.chmod(0o755)
    return target


@pytest.fixture()
def launch(docker_client: docker.DockerClient, image: str, served_model_dir: Path) -> Iterator:
    """Factory: run `serve` with docker options (model_dir=None mounts nothing)."""
    with serving_containers(docker_client, image, served_model_dir) as start:
        yield start
