"""The image's training side, run in Docker as SageMaker Processing and Training jobs would."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from container import contract
from devtools.containers import TEST_LABELS
from training import schema
from training.report import METRIC_JSON_PATH, REPORT_FILENAME, metric_at

pytestmark = pytest.mark.integration


@pytest.fixture()
def job(docker_client, image):
    """Run the image to completion with host folders mounted; return (exit code, logs)."""

    def run(args: list[str], mounts: dict[Path, str], **options) -> tuple[int, str]:
        for host in mounts:
            host.mkdir(parents=True, exist_ok=True)
            host.chmod(0o777)
        volumes = {str(host): {"bind": target, "mode": "rw"} for host, target in mounts.items()}
        container = docker_client.containers.run(
            image,
            args,
            detach=True,
            volumes=volumes,
            network_mode="none",
            labels=TEST_LABELS,
            **options,
        )
        try:
            code = container.wait(timeout=300)["StatusCode"]
            return code, container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)

    return run


@pytest.fixture()
def raw_input(tmp_path, data_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "abalone.data").write_bytes(Path(data_path).read_bytes())
    return folder


def processing_mounts(tmp_path: Path, raw: Path) -> dict[Path, str]:
    return {
        raw: str(contract.RAW_DATA_INPUT),
        tmp_path / "out": str(contract.SPLITS_OUTPUT),
        tmp_path / "opt-output": "/opt/ml/output",
    }


def test_processing_stages_one_by_one(job, tmp_path, raw_input):
    out = tmp_path / "out"
    code, logs = job(["process", "preprocess"], processing_mounts(tmp_path, raw_input))
    assert code == 0, logs
    for split in ("train", "validation", "test"):
        assert (out / split / f"{split}.csv").is_file()
    assert (out / "preprocessing" / schema.PREPROCESSING_FILENAME).is_file()

    code, logs = job(
        ["process", "train", "--hyperparameters", '{"max_depth": "4", "num_round": "200"}'],
        {
            out / "train": str(contract.TRAIN_INPUT),
            out / "validation": str(contract.VALIDATION_INPUT),
            out / "preprocessing": str(contract.PREPROCESSING_INPUT),
            tmp_path / "model": str(contract.MODEL_OUTPUT),
        },
    )
    assert code == 0, logs
    assert "validation-rmse:" in logs
    archive = tmp_path / "model" / schema.MODEL_ARCHIVE_FILENAME
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == sorted(
            [
                schema.MODEL_FILENAME,
                schema.PREPROCESSING_FILENAME,
                schema.BASELINE_FILENAME,
                schema.MANIFEST_FILENAME,
            ]
        )

    code, logs = job(
        ["process", "evaluate"],
        {
            tmp_path / "model": str(contract.MODEL_INPUT),
            out / "test": str(contract.TEST_INPUT),
            tmp_path / "evaluation": str(contract.EVALUATION_OUTPUT),
        },
    )
    assert code == 0, logs
    report = json.loads((tmp_path / "evaluation" / REPORT_FILENAME).read_text())
    assert 1.0 < metric_at(report, METRIC_JSON_PATH) < 3.0
    for name in ("predicted_vs_actual.png", "residuals.png", "report.html"):
        assert (tmp_path / "evaluation" / name).stat().st_size > 0


def test_processing_without_a_verb_runs_all_stages(job, tmp_path, raw_input):
    code, logs = job([], processing_mounts(tmp_path, raw_input))
    assert code == 0, logs
    assert (tmp_path / "out" / "model" / schema.MODEL_ARCHIVE_FILENAME).is_file()
    assert (tmp_path / "out" / "evaluation" / REPORT_FILENAME).is_file()
    assert not list((tmp_path / "out").rglob("*.partial"))


def test_processing_bad_data_names_file_and_line(job, tmp_path, raw_input):
    data = raw_input / "abalone.data"
    lines = data.read_text().splitlines()
    lines[6] = "X" + lines[6][1:]
    data.write_text("\n".join(lines) + "\n")
    code, logs = job(["process", "all", "--no-verify"], processing_mounts(tmp_path, raw_input))
    assert code != 0
    message = (tmp_path / "opt-output" / "message").read_text()
    assert "abalone.data, line 7" in message and "unknown sex code 'X'" in message
    assert "Traceback" not in logs
    assert not (tmp_path / "out" / "model").exists()


def training_tree(tmp_path: Path, splits_dir: Path, hyperparameters: dict[str, str]) -> dict:
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    data = tmp_path / "input" / "data"
    data.mkdir()
    for channel in (
        contract.TRAIN_CHANNEL,
        contract.VALIDATION_CHANNEL,
        contract.PREPROCESSING_CHANNEL,
    ):
        (data / channel).mkdir()
        for file in (splits_dir / channel).iterdir():
            (data / channel / file.name).write_bytes(file.read_bytes())
    return {
        tmp_path / "input": "/opt/ml/input",
        tmp_path / "model": "/opt/ml/model",
        tmp_path / "output": "/opt/ml/output",
    }


@pytest.fixture(scope="module")
def splits_dir(real_model_dir) -> Path:
    return real_model_dir.parent  # train/, validation/, test/, preprocessing/ from the workflow


def test_training_job_writes_the_model_and_metrics(job, tmp_path, splits_dir):
    mounts = training_tree(tmp_path, splits_dir, {"max_depth": "4", "eta": "0.1"})
    code, logs = job(["train"], mounts)
    assert code == 0, logs
    assert "validation-rmse:" in logs and "train-rmse:" in logs
    names = {p.name for p in (tmp_path / "model").iterdir()}
    assert names == {
        schema.MODEL_FILENAME,
        schema.PREPROCESSING_FILENAME,
        schema.BASELINE_FILENAME,
        schema.MANIFEST_FILENAME,
    }


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        ({"max_depth": "deep"}, "max_depth='deep' is not a valid int"),
        ({"eta": "7"}, "out of range: eta=7.0"),
        ({"colour": "blue"}, "unknown hyperparameter 'colour'"),
    ],
)
def test_training_job_bad_hyperparameter_fails_clearly(
    job, tmp_path, splits_dir, hyperparameters, reason
):
    code, logs = job(["train"], training_tree(tmp_path, splits_dir, hyperparameters))
    assert code != 0
    assert reason in (tmp_path / "output" / "failure").read_text()
    assert not any((tmp_path / "model").iterdir())
    assert "Traceback" not in logs
