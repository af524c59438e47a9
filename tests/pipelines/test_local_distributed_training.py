"""The SDK's local mode runs the pipeline's Train step as a Training job on two instances: two
containers of the real image on local mode's Docker network, each given the whole train split
(local mode supports only FullyReplicated), each training on every second row, one model
together that algo-1 writes. That model must be as good as one instance's on the same splits
(the test-split RMSE within the tolerance of tests/integration/test_distributed_training.py,
where two hosts are laid out by hand with ShardedByS3Key input).

One pipeline run (`python -m pipelines.local --train-mode training --training-instance-count 2`)
on the real data; the one-instance model is trained in this process on that run's own
Preprocess outputs, with the same hyperparameters. The run shares the machine with foreign
containers and a `sagemaker-local` network (the `foreign` fixture); only the containers local
mode created for this run's jobs are checked and removed.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines import registry
from tests.integration.dockerutil import (
    WORKING_DIR_LABEL,
    compose_containers_under,
    removed,
)
from tests.integration.test_distributed_training import HYPERPARAMETERS, RMSE_TOLERANCE
from tests.pipelines.conftest import REPO, LocalRun, run_locally
from training import preprocess, report, schema, splits, stages
from training.hyperparameters import Hyperparameters

pytestmark = pytest.mark.integration

INSTANCES = 2
#: Preprocess and Evaluate run one container each; Train one per instance.
JOB_CONTAINERS = 2 + INSTANCES


@pytest.fixture(scope="module")
def workspace(abalone_path: Path) -> Iterator[Path]:
    (REPO / "build").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pipeline-local-2-instances-", dir=REPO / "build"))
    shutil.copyfile(abalone_path, root / "abalone.data")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def run(workspace: Path, image: str, created) -> LocalRun:
    options = (
        "--rmse-threshold", "100",
        "--hyperparameters", json.dumps(HYPERPARAMETERS),
        "--train-mode", "training",
        "--training-instance-count", str(INSTANCES),
    )  # fmt: skip
    return run_locally(workspace, image, workspace / "abalone.data", *options, timeout_s=600)


def _log_lines(run: LocalRun, pattern: str) -> list[re.Match[str]]:
    return [m for line in run.stdout.splitlines() if (m := re.search(pattern, line))]


def test_the_training_mode_pipeline_succeeds_and_records_the_model(run, workspace):
    assert run.returncode == 0, run.describe()
    lines = run.stdout.splitlines()
    for step in ("Preprocess", "Train", "Evaluate"):
        assert f"  {step}: Succeeded" in lines, run.describe()
    assert "  CheckRmse: Succeeded (condition met)" in lines
    recorded = registry.read_version(workspace / "registry" / "1")
    archive = run.outputs / "Train" / "model" / schema.MODEL_ARCHIVE_FILENAME
    assert recorded["model_data"] == archive.as_uri()
    assert recorded["input_data_uri"].startswith((workspace / "runs" / "inputs").as_uri())


def test_the_two_instances_join_one_cluster_and_only_algo_1_writes_the_model(run):
    assert run.returncode == 0, run.describe()
    joined = _log_lines(run, r"host (algo-\d+)\S* joined as rank (\d+) of (\d+)")
    assert sorted((m[1], m[2], m[3]) for m in joined) == [
        ("algo-1", "0", str(INSTANCES)),
        ("algo-2", "1", str(INSTANCES)),
    ], run.describe()
    assert len(_log_lines(run, rf"tracker for {INSTANCES} hosts listening on")) == 1
    shares = _log_lines(run, r"host (algo-\d+)\S* trained its share; the first host writes")
    assert [m[1] for m in shares] == ["algo-2"]
    # Local mode tars /opt/ml/model of every host into one archive: the model files, once.
    with tarfile.open(run.outputs / "Train" / "model" / schema.MODEL_ARCHIVE_FILENAME) as tar:
        names = sorted(Path(n).name for n in tar.getnames() if n not in (".", ""))
    assert names == sorted(
        [
            schema.MODEL_FILENAME,
            schema.PREPROCESSING_FILENAME,
            schema.BASELINE_FILENAME,
            schema.MANIFEST_FILENAME,
        ]
    )


def test_the_model_is_as_good_as_one_instances(run, tmp_path):
    assert run.returncode == 0, run.describe()
    evaluation = run.outputs / "Evaluate" / "evaluation" / report.REPORT_FILENAME
    two = report.metric_at(json.loads(evaluation.read_text()))
    prep = run.outputs / "Preprocess"
    model_dir = tmp_path / "one" / "model"
    stages.build_model_dir(
        prep / splits.TRAIN,
        prep / splits.VALIDATION,
        prep / preprocess.PREPROCESSING_DIR,
        model_dir,
        Hyperparameters.from_strings(HYPERPARAMETERS),
    )
    evaluated = stages.run_evaluate(model_dir, prep / splits.TEST, tmp_path / "eval")
    one = float(evaluated["regression_metrics"]["rmse"]["value"])
    print(f"test-split RMSE: two instances {two:.4f}, one instance {one:.4f}")
    assert 1.0 < one < 4.0
    assert abs(two - one) <= RMSE_TOLERANCE * one, (two, one)
    booster = (model_dir / schema.MODEL_FILENAME).read_bytes()
    with tarfile.open(run.outputs / "Train" / "model" / schema.MODEL_ARCHIVE_FILENAME) as tar:
        member = next(m for m in tar.getmembers() if Path(m.name).name == schema.MODEL_FILENAME)
        two_booster = tar.extractfile(member).read()
    assert two_booster != booster, "two hosts on their halves cannot train one host's model"


def test_local_mode_leaves_no_containers_or_job_folders(
    run, workspace, created, docker_client, foreign
):
    jobs_dir = workspace / "runs" / ".jobs"
    jobs = [c for c in created if Path(c.get(WORKING_DIR_LABEL, "/")).is_relative_to(jobs_dir)]
    assert len(jobs) == JOB_CONTAINERS, [c["name"] for c in jobs]
    hosts = sorted(re.search(r"-(algo-\d+)-", c["name"])[1] for c in jobs)
    assert hosts == ["algo-1", "algo-1", "algo-1", "algo-2"], [c["name"] for c in jobs]
    assert [c["name"] for c in jobs if not removed(docker_client, c["id"])] == []
    assert compose_containers_under(docker_client, workspace) == []
    assert not jobs_dir.exists()
    assert foreign.changes() == []
