"""The pipeline end to end with the SDK's local mode: the built image in Docker, a sample of the
real data, the champion/challenger gate, the local registry, and the compose endpoint serving
the gated model.

Four runs share one workspace under build/ (local mode refuses inputs under the home
directory) and so one registry, in order; the threshold passes any model, so only the
relative check decides:
    first   a deliberately weak model (few shallow rounds): no incumbent, recorded as version 1
    better  the default recipe: beats version 1, recorded as version 2
    worse   the weak model again: more than RmseTolerance worse than version 2, stopped; exit 3
    again   the default recipe again: the same model.tar.gz as version 2, nothing recorded
The endpoint then serves version 2.

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
from pipelines.outcome import EXIT_KEPT
from tests.integration.dockerutil import (
    WORKING_DIR_LABEL,
    compose_containers_under,
    compose_stack,
    removed,
)
from tests.pipelines.conftest import REPO, LocalRun, run_locally
from training import evaluate, report, schema

pytestmark = pytest.mark.integration

SAMPLE_ROWS = 600
THRESHOLD = 100.0  # any model passes the absolute check: the relative one decides
#: 4 rounds of depth-1 trees: RMSE about 3.1 on the sample's test rows, the default about 2.7.
WEAK_HYPERPARAMETERS = {"num_round": "4", "eta": "0.3", "max_depth": "1"}
#: Local mode runs one container per job: Preprocess, Train and Evaluate, in each of four runs.
JOB_CONTAINERS = 12


@pytest.fixture(scope="module")
def workspace(abalone_path: Path) -> Iterator[Path]:
    (REPO / "build").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pipeline-local-test-", dir=REPO / "build"))
    lines = abalone_path.read_bytes().splitlines(keepends=True)[:SAMPLE_ROWS]
    (root / "abalone-sample.data").write_bytes(b"".join(lines))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run_pipeline(workspace: Path, image: str, hyperparameters: dict | None = None) -> LocalRun:
    data = workspace / "abalone-sample.data"
    options = ["--rmse-threshold", str(THRESHOLD)]
    if hyperparameters:
        options += ["--hyperparameters", json.dumps(hyperparameters)]
    return run_locally(workspace, image, data, *options)


@pytest.fixture(scope="module")
def first(workspace: Path, image: str, created) -> LocalRun:
    return run_pipeline(workspace, image, WEAK_HYPERPARAMETERS)


@pytest.fixture(scope="module")
def better(workspace: Path, image: str, first: LocalRun) -> LocalRun:
    return run_pipeline(workspace, image)


@pytest.fixture(scope="module")
def worse(workspace: Path, image: str, better: LocalRun) -> LocalRun:
    return run_pipeline(workspace, image, WEAK_HYPERPARAMETERS)


@pytest.fixture(scope="module")
def again(workspace: Path, image: str, worse: LocalRun) -> LocalRun:
    return run_pipeline(workspace, image)


def evaluation_of(run: LocalRun) -> dict:
    return json.loads(
        (run.outputs / "Evaluate" / "evaluation" / report.REPORT_FILENAME).read_text()
    )


def archive_of(run: LocalRun) -> Path:
    return run.outputs / "Train" / "model" / schema.MODEL_ARCHIVE_FILENAME


def test_every_step_writes_its_artifacts(first):
    assert first.returncode == 0, first.describe()
    preprocess = first.outputs / "Preprocess"
    for split in ("train", "validation", "test"):
        assert (preprocess / split / f"{split}.csv").stat().st_size > 0
    assert json.loads((preprocess / "preprocessing" / schema.PREPROCESSING_FILENAME).read_text())
    with archive_of(first).open("rb") as archive:
        assert archive.read(2) == b"\x1f\x8b"  # gzip
    evaluation = first.outputs / "Evaluate" / "evaluation"
    assert 1.0 < report.metric_at(evaluation_of(first)) < 4.0
    for name in (evaluate.PREDICTED_VS_ACTUAL_PNG, evaluate.RESIDUALS_PNG):
        assert (evaluation / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_first_run_passes_without_an_incumbent(first, workspace):
    assert first.returncode == 0, first.describe()
    lines = first.stdout.splitlines()
    for line in ("  Preprocess: Succeeded", "  Train: Succeeded", "  Evaluate: Succeeded"):
        assert line in lines
    assert "  CheckRmse: Succeeded (condition met)" in lines
    assert "incumbent: none" in lines
    rmse = report.metric_at(evaluation_of(first))
    assert f"gate passed: RMSE {rmse:.4f} <= {THRESHOLD}; {report.NO_INCUMBENT}" in lines
    written = evaluation_of(first)
    assert written["incumbent"] is None
    assert written["gate"]["relative_check"] == report.NO_INCUMBENT
    page = (first.outputs / "Evaluate" / "evaluation" / evaluate.REPORT_HTML).read_text()
    assert report.NO_INCUMBENT in page
    root = workspace / "registry"
    recorded = registry.read_version(root / "1")
    assert recorded["execution_id"] == first.execution_id
    assert recorded["rmse"] == pytest.approx(rmse)
    assert recorded["rmse_threshold"] == THRESHOLD
    assert recorded["incumbent_version"] is None
    assert recorded["approval_status"] == "PendingManualApproval"
    assert recorded["model_data"] == archive_of(first).as_uri()
    assert (root / "1" / registry.MODEL_ARCHIVE).read_bytes() == archive_of(first).read_bytes()
    model_files = sorted(p.name for p in (root / "1" / registry.MODEL_DIR).iterdir())
    assert schema.MODEL_FILENAME in model_files and schema.MANIFEST_FILENAME in model_files
    assert f"recorded as local version 1: {root / '1' / 'model'}" in first.stdout


def test_a_better_challenger_is_compared_with_the_incumbent_and_recorded(first, better, workspace):
    assert better.returncode == 0, better.describe()
    written = evaluation_of(better)
    incumbent_rmse = report.metric_at(evaluation_of(first))
    # Same data, same split: the incumbent scores on the Evaluate step exactly as it did.
    assert report.metric_at(written["incumbent"]) == pytest.approx(incumbent_rmse)
    assert report.metric_at(written) < incumbent_rmse / 1.01
    assert written["gate"]["rmse_limit"] == pytest.approx(incumbent_rmse * 1.01)
    assert "incumbent: local version 1" in better.stdout.splitlines()
    assert f"(version 1: limit {incumbent_rmse * 1.01:.4f} = incumbent RMSE" in better.stdout
    page = (better.outputs / "Evaluate" / "evaluation" / evaluate.REPORT_HTML).read_text()
    assert "<th>challenger</th><th>incumbent</th>" in page
    root = workspace / "registry"
    recorded = registry.read_version(root / "2")
    assert (recorded["incumbent_version"], recorded["execution_id"]) == (1, better.execution_id)
    assert recorded["incumbent_rmse"] == pytest.approx(incumbent_rmse)
    assert registry.latest_version(root) == 2


def test_a_worse_challenger_is_stopped_and_the_incumbent_stays(better, worse, workspace):
    assert worse.returncode == EXIT_KEPT, worse.describe()
    lines = worse.stdout.splitlines()
    assert f"execution {worse.execution_id}: Failed (outputs in {workspace / 'runs'})" in lines
    assert "  CheckRmse: Succeeded (condition not met)" in lines
    written = evaluation_of(worse)
    rmse, limit = report.metric_at(written), written["gate"]["rmse_limit"]
    assert rmse > limit == pytest.approx(report.metric_at(evaluation_of(better)) * 1.01)
    fail_line = next(line for line in lines if line.startswith("  RmseTooHigh: Failed: "))
    # The Fail step's message names the challenger's RMSE and both limits, with the numbers.
    assert f"Model RMSE {rmse} must be <= RmseThreshold {THRESHOLD}" in fail_line
    assert f"<= the relative limit ({written['gate']['relative_check']})" in fail_line
    assert (
        f"limit {limit:.4f} = incumbent RMSE {written['gate']['incumbent_rmse']:.4f}" in fail_line
    )
    assert "the model is not registered" in fail_line
    report_uri = (worse.outputs / "Evaluate" / "evaluation" / report.REPORT_FILENAME).as_uri()
    assert report_uri in fail_line
    model_dir = workspace / "registry" / "2" / "model"
    assert f"version 2 stays the newest recorded model (make up serves it): {model_dir}" in lines
    assert registry.versions(workspace / "registry") == [1, 2]
    assert registry.latest_version(workspace / "registry") == 2


def test_the_same_model_again_records_nothing_new(better, again, workspace):
    assert again.returncode == 0, again.describe()
    assert archive_of(again).read_bytes() == archive_of(better).read_bytes()
    assert "  CheckRmse: Succeeded (condition met)" in again.stdout.splitlines()
    assert (
        "the same model as version 2 (identical model.tar.gz): nothing new recorded; "
        "make up serves version 2"
    ) in again.stdout
    assert registry.versions(workspace / "registry") == [1, 2]


def test_local_mode_leaves_no_containers_or_job_folders(
    again, workspace, created, docker_client, foreign
):
    jobs_dir = workspace / "runs" / ".jobs"
    jobs = [c for c in created if Path(c.get(WORKING_DIR_LABEL, "/")).is_relative_to(jobs_dir)]
    assert len(jobs) == JOB_CONTAINERS, [c["name"] for c in jobs]
    assert all("-algo-" in c["name"] for c in jobs), [c["name"] for c in jobs]
    assert [c["name"] for c in jobs if not removed(docker_client, c["id"])] == []
    assert compose_containers_under(docker_client, workspace) == []
    assert not jobs_dir.exists()
    assert foreign.changes() == []


def test_the_compose_endpoint_serves_the_gated_model(better, worse, again, workspace, image):
    from container.invocations import predict_payload
    from container.model import load_model
    from deploy.invoke import RAW_ROW, invoke, runtime_client

    gated, rejected = archive_of(better), archive_of(worse)
    assert gated.read_bytes() != rejected.read_bytes(), "the two runs must train different models"
    model_dir = registry.latest_model_dir(workspace / "registry")
    assert model_dir == workspace / "registry" / "2" / "model"
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
