"""The pipeline end to end with the SDK's local mode: the built image in Docker, a sample of the
real data, the quality gate both ways, the local registry, and the compose endpoint serving the
gated model.

Two runs share one workspace under build/ (local mode refuses inputs under the home directory):
the first with a threshold any model passes, the second with one no model can pass and other
hyperparameters, so its model differs. After both, the registry must hold only the first run's
model, and that is the model the endpoint serves.

The runs share the machine with containers and a `sagemaker-local` network they did not create
(the `foreign` fixture), as a SageMaker user's machine has them: the leftover check looks only at
the containers local mode created for this module's jobs, and the foreign objects stay untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines import registry
from tests.integration.dockerutil import (
    WORKING_DIR_LABEL,
    compose_containers_under,
    compose_stack,
    removed,
)
from tests.pipelines.conftest import REPO, LocalRun, run_locally
from training import report, schema

pytestmark = pytest.mark.integration

SAMPLE_ROWS = 600
PASSING_THRESHOLD = 100.0  # any model passes
FAILING_THRESHOLD = 0.5  # no abalone model gets within half a ring
PASSING_HYPERPARAMETERS = {"num_round": "40", "early_stopping_rounds": "10", "eta": "0.3"}
FAILING_HYPERPARAMETERS = {"num_round": "15", "eta": "0.3", "max_depth": "2"}
#: Local mode runs one container per job: Preprocess, Train and Evaluate, in each of the two runs.
JOB_CONTAINERS = 6


@pytest.fixture(scope="module")
def workspace(abalone_path: Path) -> Iterator[Path]:
    (REPO / "build").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pipeline-local-test-", dir=REPO / "build"))
    lines = abalone_path.read_bytes().splitlines(keepends=True)[:SAMPLE_ROWS]
    (root / "abalone-sample.data").write_bytes(b"".join(lines))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run_pipeline(workspace: Path, image: str, threshold: float, hyperparameters: dict) -> LocalRun:
    data = workspace / "abalone-sample.data"
    options = ("--rmse-threshold", str(threshold), "--hyperparameters", json.dumps(hyperparameters))
    return run_locally(workspace, image, data, *options)


@pytest.fixture(scope="module")
def passed(workspace: Path, image: str, created) -> LocalRun:
    return run_pipeline(workspace, image, PASSING_THRESHOLD, PASSING_HYPERPARAMETERS)


@pytest.fixture(scope="module")
def failed(workspace: Path, image: str, passed: LocalRun) -> LocalRun:
    return run_pipeline(workspace, image, FAILING_THRESHOLD, FAILING_HYPERPARAMETERS)


def rmse_of(run: LocalRun) -> float:
    evaluation = run.outputs / "Evaluate" / "evaluation" / report.REPORT_FILENAME
    return report.metric_at(json.loads(evaluation.read_text()))


def test_every_step_writes_its_artifacts(passed):
    assert passed.returncode == 0, passed.describe()
    preprocess = passed.outputs / "Preprocess"
    for split in ("train", "validation", "test"):
        assert (preprocess / split / f"{split}.csv").stat().st_size > 0
    assert json.loads((preprocess / "preprocessing" / schema.PREPROCESSING_FILENAME).read_text())
    with (passed.outputs / "Train" / "model" / schema.MODEL_ARCHIVE_FILENAME).open("rb") as archive:
        assert archive.read(2) == b"\x1f\x8b"  # gzip
    evaluation = passed.outputs / "Evaluate" / "evaluation"
    assert 1.0 < rmse_of(passed) < 4.0
    assert list(evaluation.glob("*.png")), "evaluate writes its plots"


def test_the_gate_passes_and_the_model_is_recorded(passed, workspace):
    assert passed.returncode == 0, passed.describe()
    for line in ("  Preprocess: Succeeded", "  Train: Succeeded", "  Evaluate: Succeeded"):
        assert line in passed.stdout.splitlines()
    assert "  CheckRmse: Succeeded (condition met)" in passed.stdout.splitlines()
    assert "RmseTooHigh" not in passed.stdout
    root = workspace / "registry"
    assert registry.versions(root) == [1]
    assert registry.latest_version(root) == 1
    recorded = registry.read_version(root / "1")
    assert recorded["execution_id"] == passed.execution_id
    assert recorded["rmse"] == pytest.approx(rmse_of(passed))
    assert recorded["rmse_threshold"] == PASSING_THRESHOLD
    assert recorded["approval_status"] == "PendingManualApproval"
    archive = passed.outputs / "Train" / "model" / schema.MODEL_ARCHIVE_FILENAME
    assert recorded["model_data"] == archive.as_uri()
    assert (root / "1" / registry.MODEL_ARCHIVE).read_bytes() == archive.read_bytes()
    model_files = sorted(p.name for p in (root / "1" / registry.MODEL_DIR).iterdir())
    assert model_files == sorted(
        [
            schema.MODEL_FILENAME,
            schema.PREPROCESSING_FILENAME,
            schema.BASELINE_FILENAME,
            schema.MANIFEST_FILENAME,
        ]
    )
    assert f"recorded as local version 1: {root / '1' / 'model'}" in passed.stdout


def test_the_gate_fails_with_the_fail_steps_message_and_records_nothing(failed, workspace):
    assert failed.returncode == 1, failed.describe()
    lines = failed.stdout.splitlines()
    assert f"execution {failed.execution_id}: Failed (outputs in {workspace / 'runs'})" in lines
    assert "  CheckRmse: Succeeded (condition not met)" in lines
    fail_line = next(line for line in lines if line.startswith("  RmseTooHigh: Failed: "))
    assert f"is above the threshold {FAILING_THRESHOLD}" in fail_line
    assert "the model is not registered" in fail_line
    report_uri = (failed.outputs / "Evaluate" / "evaluation" / report.REPORT_FILENAME).as_uri()
    assert report_uri in fail_line
    assert rmse_of(failed) > FAILING_THRESHOLD
    assert registry.versions(workspace / "registry") == [1]
    assert registry.latest_version(workspace / "registry") == 1


def test_local_mode_leaves_no_containers_or_job_folders(
    passed, failed, workspace, created, docker_client, foreign
):
    jobs_dir = workspace / "runs" / ".jobs"
    jobs = [c for c in created if Path(c.get(WORKING_DIR_LABEL, "/")).is_relative_to(jobs_dir)]
    assert len(jobs) == JOB_CONTAINERS, [c["name"] for c in jobs]
    assert all("-algo-" in c["name"] for c in jobs), [c["name"] for c in jobs]
    assert [c["name"] for c in jobs if not removed(docker_client, c["id"])] == []
    assert compose_containers_under(docker_client, workspace) == []
    assert not jobs_dir.exists()
    assert foreign.changes() == []


def test_the_compose_endpoint_serves_the_gated_model(passed, failed, workspace, image):
    from container.invocations import predict_payload
    from container.model import load_model
    from deploy.invoke import RAW_ROW, invoke, runtime_client

    gated = passed.outputs / "Train" / "model" / schema.MODEL_ARCHIVE_FILENAME
    rejected = failed.outputs / "Train" / "model" / schema.MODEL_ARCHIVE_FILENAME
    assert gated.read_bytes() != rejected.read_bytes(), "the two runs must train different models"
    model_dir = registry.latest_model_dir(workspace / "registry")
    assert model_dir == workspace / "registry" / "1" / "model"
    registry.unpack_model(rejected, workspace / "rejected-model")

    def predicted(directory: Path) -> float:
        answer = predict_payload(
            RAW_ROW.encode(), "text/csv", "text/csv", load_model(directory), "text/csv"
        )
        return float(answer.body.decode())

    expected, not_expected = predicted(model_dir), predicted(workspace / "rejected-model")
    assert expected != pytest.approx(not_expected), "the rejected model must answer differently"
    with compose_stack(image, model_dir, f"abalone-pipeline-test-{os.getpid()}") as url:
        served = invoke(runtime_client(url), "abalone-staging", RAW_ROW)
    assert float(served) == pytest.approx(expected)
