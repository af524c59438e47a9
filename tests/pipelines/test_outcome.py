"""What a local run does with its model, for each way a run can end (no Docker: the runs are
built from the records local mode leaves), and the IAM run-pipeline's incumbent look-up needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines import registry
from pipelines.executions import StepReport
from pipelines.local import LocalRun, LocalSettings
from pipelines.outcome import EXIT_KEPT, report_outcome
from training import report

EXECUTION = "EXEC1"


def local_run(
    tmp_path: Path,
    *,
    gate: bool | None,
    incumbent_version: int | None,
    archive: bytes = b"model-bytes",
    rmse: float = 2.2,
    incumbent_rmse: float | None = None,
) -> LocalRun:
    """A run as _summarize returns it, with its model archive and evaluation.json on disk."""
    root = tmp_path / "runs" / EXECUTION
    (root / "Train" / "model").mkdir(parents=True)
    (root / "Train" / "model" / "model.tar.gz").write_bytes(archive)
    (root / "Evaluate" / "evaluation").mkdir(parents=True)
    written = {
        "regression_metrics": {"rmse": {"value": rmse}},
        "gate": report.gate_section(rmse, incumbent_rmse, 0.01),
    }
    (root / "Evaluate" / "evaluation" / report.REPORT_FILENAME).write_text(json.dumps(written))
    steps = [StepReport("Evaluate", "Succeeded")]
    if gate is not None:
        steps.append(StepReport("CheckRmse", "Succeeded", outcome=gate))
    failed = gate is not True
    return LocalRun(
        execution_id=EXECUTION,
        status="Failed" if failed else "Succeeded",
        failure_reason="Step 'RmseTooHigh' failed with message: Model RMSE ..." if failed else None,
        steps=steps,
        outputs={
            "Train": {"model": (root / "Train" / "model").as_uri()},
            "Evaluate": {"evaluation": (root / "Evaluate" / "evaluation").as_uri()},
        },
        parameters={
            "RmseThreshold": 2.45,
            "ModelApprovalStatus": "PendingManualApproval",
            "InputDataUri": "file:///data",
        },
        model_data=(root / "Train" / "model" / "model.tar.gz").as_uri(),
        incumbent_version=incumbent_version,
    )


@pytest.fixture
def settings(tmp_path: Path, offline_env) -> LocalSettings:
    """Settings of a run in tmp_path (offline: LocalRun reads step names from the SDK side)."""
    return LocalSettings(data="x", registry_dir=tmp_path / "registry", work_dir=tmp_path / "runs")


def record_incumbent(settings: LocalSettings, archive: bytes) -> None:
    """Version 1 in the registry as an earlier run leaves it (what report_outcome reads)."""
    version = settings.registry_dir / "1"
    (version / registry.MODEL_DIR).mkdir(parents=True)
    (version / registry.MODEL_ARCHIVE).write_bytes(archive)
    (settings.registry_dir / registry.LATEST).write_text("1\n")


def test_a_stopped_challenger_with_an_incumbent_keeps_it_exit_3(tmp_path, settings, capsys):
    record_incumbent(settings, b"old")
    run = local_run(tmp_path, gate=False, incumbent_version=1, rmse=2.4, incumbent_rmse=2.2)
    assert report_outcome(run, settings) == EXIT_KEPT
    out = capsys.readouterr().out.splitlines()
    assert "incumbent: local version 1" in out
    assert out[1].startswith("not recorded: Step 'RmseTooHigh' failed")
    model_dir = settings.registry_dir / "1" / "model"
    assert out[2] == f"version 1 stays the newest recorded model (make up serves it): {model_dir}"
    assert registry.versions(settings.registry_dir) == [1]


def test_a_stopped_first_model_is_a_failure_exit_1(tmp_path, settings, capsys):
    run = local_run(tmp_path, gate=False, incumbent_version=None, rmse=3.0)
    assert report_outcome(run, settings) == 1
    assert "incumbent: none" in capsys.readouterr().out
    assert registry.versions(settings.registry_dir) == []


def test_a_failed_job_is_a_failure_even_with_an_incumbent(tmp_path, settings):
    record_incumbent(settings, b"old")
    run = local_run(tmp_path, gate=None, incumbent_version=1)  # the gate never ran
    assert report_outcome(run, settings) == 1


def test_the_incumbents_own_model_again_is_not_recorded_twice(tmp_path, settings, capsys):
    record_incumbent(settings, b"same")
    run = local_run(tmp_path, gate=True, incumbent_version=1, archive=b"same", incumbent_rmse=2.2)
    assert report_outcome(run, settings) == 0
    out = capsys.readouterr().out
    assert "gate passed: RMSE 2.2000 <= 2.45 and <= 2.2220 (version 1: limit 2.2220" in out
    assert "the same model as version 1 (identical model.tar.gz): nothing new recorded" in out
    assert registry.versions(settings.registry_dir) == [1]


def test_the_build_role_may_find_the_incumbent_and_nothing_more():
    from tests.deploy.test_templates import resources

    role = resources("bootstrap.yaml", "AWS::IAM::Role")["GitHubBuildRole"]
    grants = {
        action: statement["Resource"]
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if action.endswith("ModelPackages") or action.endswith("ModelPackage")
    }
    assert set(grants) == {"sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"}
    assert grants["sagemaker:ListModelPackages"] == "*"  # no resource-level permissions
    described = json.dumps(grants["sagemaker:DescribeModelPackage"])
    assert ":model-package/${ModelPackageGroupName}/*" in described
