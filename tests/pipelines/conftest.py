"""Fixtures for the pipeline tests: an offline SDK environment and the definitions built in it.

The SDK is imported inside fixtures, after the environment is set: importing `sagemaker.mlops`
needs a region. Every variable the pipeline code sets is set through monkeypatch first, so each
test leaves the environment as it found it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/abalone-pipeline"
IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/abalone-byom:test"
BUCKET = "abalone-test-bucket"
SAMPLE_HYPERPARAMETERS = {"max_depth": "3", "num_round": "20"}
#: What an offline test sees: a region, no credentials anywhere, no instance metadata.
OFFLINE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_VALIDATE_ROLE": "false",
}
CLEARED_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
)


def offline(monkeypatch: pytest.MonkeyPatch, tmp_dir: Path) -> list[Any]:
    """Set the offline environment and refuse every socket connection; returns the attempts."""
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_dir / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_dir / "no-config"))
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    attempts: list[Any] = []

    def refuse(sock: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError(f"network access in an offline test: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def build_definition(**options: Any) -> dict[str, Any]:
    from pipelines.abalone import get_pipeline

    pipeline = get_pipeline(role=ROLE, image_uri=IMAGE_URI, bucket=BUCKET, **options)
    return dict(json.loads(pipeline.definition()))


@pytest.fixture(scope="session")
def definitions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The definition in both train modes, built fully offline (the training one for samples)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        attempts = offline(monkeypatch, tmp_path_factory.mktemp("offline"))
        built = {
            "processing": build_definition(),
            "training": build_definition(
                train_mode="training", verify_data=False, hyperparameters=SAMPLE_HYPERPARAMETERS
            ),
        }
    assert attempts == [], f"building the definition tried the network: {attempts}"
    return built


@pytest.fixture
def offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    return offline(monkeypatch, tmp_path)


@pytest.fixture(scope="session")
def image() -> str:
    """The project's image, built (the local-mode tests run it; `make test` builds it)."""
    name = os.environ.get("IMAGE", "abalone-byom:local")
    found = subprocess.run(["docker", "image", "inspect", name], capture_output=True, timeout=60)
    if found.returncode != 0:
        pytest.fail(f"image {name} is not built; run `make build` (make test does)")
    return name


@dataclass(frozen=True)
class LocalRun:
    """One `python -m pipelines.local` run: its exit, its output, and where its steps wrote."""

    returncode: int
    stdout: str
    stderr: str
    execution_id: str
    outputs: Path

    def describe(self) -> str:
        return f"exit code {self.returncode}\n{self.stdout[-6000:]}\n{self.stderr[-3000:]}"


def run_locally(
    workspace: Path, image: str, data: Path, *options: str, timeout_s: int = 900
) -> LocalRun:
    """Run the pipeline with the SDK's local mode in `workspace` (runs/, registry/), without the
    caller's AWS settings; `options` are pipelines.local's own flags."""
    command = [
        sys.executable, "-m", "pipelines.local",
        "--data", str(data), "--no-verify",
        "--image", image,
        "--work-dir", str(workspace / "runs"),
        "--registry-dir", str(workspace / "registry"),
        *options,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout_s
    )
    # stdout holds the jobs' logs (local mode streams them), then the run's own report.
    summary = [line for line in done.stdout.splitlines() if line.startswith("execution ")]
    assert summary, f"no execution ran:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    execution_id = summary[0].split()[1].rstrip(":")
    outputs = workspace / "runs" / execution_id
    return LocalRun(done.returncode, done.stdout, done.stderr, execution_id, outputs)


@pytest.fixture(scope="module")
def created(docker_client, foreign) -> Iterator[list[dict[str, str]]]:
    """Every container Docker creates while the module runs (local mode's jobs among them),
    with the foreign objects present."""
    from tests.integration.dockerutil import watch_created_containers

    with watch_created_containers(docker_client) as containers:
        yield containers
