"""Shared fixtures: the real abalone data, a small trained model directory, and the Flask app.

Generic on purpose: other test folders add their own conftest.py for what only they need.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pandas as pd
import pytest

from tests.integration.dockerutil import compose_stack
from tests.integration.foreign import ForeignObjects, foreign_objects
from training import workflow

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = "../shared/data/abalone.data"
#: Rows of the real file used for the session's small trained model.
SAMPLE_ROWS = 600
#: Small, fast hyperparameters for the session model (the defaults train for thousands of rounds).
SMALL_HYPERPARAMETERS = {"num_round": 30, "early_stopping_rounds": 10, "eta": 0.3}


def default_data_file() -> Path:
    """ABALONE_DATA, or the shared copy; a relative path is taken from the repository root."""
    path = Path(os.environ.get("ABALONE_DATA") or DEFAULT_DATA).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


@pytest.fixture(scope="session")
def abalone_path() -> Path:
    path = default_data_file()
    if not path.is_file():
        pytest.fail(
            f"abalone data not found at {path}: set ABALONE_DATA to the UCI abalone.data file "
            f"(default {DEFAULT_DATA}, relative to {REPO_ROOT})",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def abalone_frame(abalone_path: Path) -> pd.DataFrame:
    from training.data import load_abalone

    return load_abalone(str(abalone_path))


@pytest.fixture(scope="session")
def small_frame(abalone_frame: pd.DataFrame) -> pd.DataFrame:
    return abalone_frame.head(300).reset_index(drop=True)


@pytest.fixture(scope="session")
def sample_data_file(abalone_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first SAMPLE_ROWS lines of the real file, written to a temporary file."""
    lines = abalone_path.read_bytes().splitlines(keepends=True)[:SAMPLE_ROWS]
    path = tmp_path_factory.mktemp("data") / "abalone-sample.data"
    path.write_bytes(b"".join(lines))
    return path


@pytest.fixture(scope="session")
def small_hyperparameters():
    from training.hyperparameters import Hyperparameters

    return Hyperparameters(**SMALL_HYPERPARAMETERS)


@pytest.fixture(scope="session")
def trained_workdir(
    sample_data_file: Path, small_hyperparameters, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """work_dir of one training.workflow.run_all on the sample (splits, model, evaluation)."""
    from training.workflow import run_all

    work_dir = tmp_path_factory.mktemp("workflow")
    run_all(str(sample_data_file), work_dir, hp=small_hyperparameters, expected_sha256=None)
    return work_dir


@pytest.fixture(scope="session")
def model_dir(trained_workdir: Path) -> Path:
    return trained_workdir / "model"


@pytest.fixture(scope="session")
def predictor(model_dir: Path):
    from container.model import load_model

    return load_model(model_dir)


@pytest.fixture(scope="session")
def settings(model_dir: Path):
    from container.settings import ServingSettings

    return ServingSettings(model_dir=model_dir)


@pytest.fixture
def app(settings, predictor):
    from container.app import ModelState, create_app

    return create_app(settings, ModelState(predictor=predictor, ready=True))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """A real moto_server on a free 127.0.0.1 port for the whole session."""
    from tests.awslocal import MotoServer

    with MotoServer() as server:
        yield server.url


@pytest.fixture()
def moto_endpoint(moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 at moto_server (dummy credentials), with its state reset for this test."""
    from tests.awslocal import aws_environment, reset_moto

    for key, value in aws_environment(moto_server_url).items():
        monkeypatch.setenv(key, value)
    reset_moto(moto_server_url)
    return moto_server_url


# --- Docker: the built image, a model trained on the real data, the compose stack ------------
# Session-wide, so every test folder shares one trained model and one compose stack.


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


@pytest.fixture(scope="module")
def foreign(docker_client: docker.DockerClient, image: str) -> Iterator[ForeignObjects]:
    """Containers and a network this run did not create, as a SageMaker user's machine has them
    (see tests/integration/foreign.py), present for the whole module; removed by id afterwards."""
    with foreign_objects(docker_client, image) as objects:
        yield objects


@pytest.fixture(scope="session")
def gateway_url(image: str, real_model_dir: Path) -> Iterator[str]:
    """The compose stack serving the real-data model, behind its runtime gateway."""
    with compose_stack(image, real_model_dir, f"abalone-test-{os.getpid()}") as url:
        yield url
