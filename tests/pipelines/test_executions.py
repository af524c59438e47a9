"""Following an execution and reporting how it ended, against stubbed SageMaker responses.

moto cannot produce a failing or a running execution (its executions succeed at once and it
has no ListPipelineExecutionSteps), so the failure path of run-pipeline is checked here with
botocore's Stubber: real request validation, scripted answers.
"""

from __future__ import annotations

import io
from datetime import datetime

import boto3
import pytest
from botocore.stub import Stubber

from pipelines.executions import ExecutionTimeout, StepReport, wait_for_execution
from pipelines.run import report

ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/abalone-pipeline/execution/abc123"
NOW = datetime(2026, 1, 1)


@pytest.fixture
def stubbed():
    client = boto3.client(
        "sagemaker",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def describe(stubber: Stubber, status: str, reason: str | None = None) -> None:
    response = {"PipelineExecutionArn": ARN, "PipelineExecutionStatus": status}
    if reason:
        response["FailureReason"] = reason
    stubber.add_response("describe_pipeline_execution", response, {"PipelineExecutionArn": ARN})


def steps(stubber: Stubber, *items: dict) -> None:
    expected = {"PipelineExecutionArn": ARN, "SortOrder": "Ascending"}
    response = {"PipelineExecutionSteps": [{"StartTime": NOW, **item} for item in items]}
    stubber.add_response("list_pipeline_execution_steps", response, expected)


def step(name: str, status: str, **extra) -> dict:
    return {"StepName": name, "StepStatus": status, **extra}


def test_prints_each_step_once_per_status_and_reports_the_gate_failure(stubbed):
    client, stubber = stubbed
    describe(stubber, "Executing")
    steps(stubber, step("Preprocess", "Executing"))
    describe(stubber, "Executing")
    steps(stubber, step("Preprocess", "Succeeded"), step("Train", "Executing"))
    describe(stubber, "Failed", "Step failure: One or multiple steps failed.")
    gate = step("CheckRmse", "Succeeded", Metadata={"Condition": {"Outcome": "False"}})
    failed = step(
        "RmseTooHigh", "Failed", FailureReason="Model RMSE ... is above the threshold 2.0"
    )
    steps(stubber, step("Preprocess", "Succeeded"), step("Train", "Succeeded"), gate, failed)
    out = io.StringIO()
    result = wait_for_execution(
        client, ARN, poll_seconds=0, timeout_seconds=60, out=out, sleep=lambda _: None
    )
    assert out.getvalue().splitlines() == [
        "  Preprocess: Executing",
        "execution: Executing",
        "  Preprocess: Succeeded",
        "  Train: Executing",
        "  Train: Succeeded",
        "  CheckRmse: Succeeded (condition not met)",
        "  RmseTooHigh: Failed: Model RMSE ... is above the threshold 2.0",
        "execution: Failed",
    ]
    assert result.status == "Failed"
    assert [s.name for s in result.failed_steps] == ["RmseTooHigh"]


def test_report_gives_exit_codes_and_reasons(capsys):
    from pipelines.executions import ExecutionResult

    failed = StepReport("Train", "Failed", "AlgorithmError: see /opt/ml/output/message")
    result = ExecutionResult(ARN, "Failed", "Step failure", [failed], steps_known=True)
    assert report(result) == 1
    printed = capsys.readouterr().out
    assert f"execution {ARN} Failed: Step failure" in printed
    assert "failed step Train: AlgorithmError: see /opt/ml/output/message" in printed
    assert report(ExecutionResult(ARN, "Succeeded", None, [], steps_known=True)) == 0
    assert report(ExecutionResult(ARN, "Stopped", None, [], steps_known=False)) == 1
    assert "the steps could not be listed" in capsys.readouterr().out


def test_without_step_listing_it_follows_the_execution_alone(stubbed):
    client, stubber = stubbed
    describe(stubber, "Executing")
    stubber.add_client_error(
        "list_pipeline_execution_steps", "InternalFailure", http_status_code=500
    )
    describe(stubber, "Succeeded")
    out = io.StringIO()
    result = wait_for_execution(
        client, ARN, poll_seconds=0, timeout_seconds=60, out=out, sleep=lambda _: None
    )
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("steps unavailable (")
    assert lines[1:] == ["execution: Executing", "execution: Succeeded"]
    assert (result.status, result.steps_known, result.steps) == ("Succeeded", False, [])


def test_gives_up_after_the_timeout(stubbed):
    client, stubber = stubbed
    describe(stubber, "Executing")
    steps(stubber)
    ticks = iter([0.0, 61.0])
    with pytest.raises(ExecutionTimeout, match="still Executing"):
        wait_for_execution(
            client, ARN, poll_seconds=0, timeout_seconds=60, out=io.StringIO(),
            sleep=lambda _: None, clock=lambda: next(ticks),
        )  # fmt: skip


def test_condition_outcomes_read_the_same_from_sagemaker_and_local_mode():
    remote = StepReport.from_response(
        {
            "StepName": "CheckRmse",
            "StepStatus": "Succeeded",
            "Metadata": {"Condition": {"Outcome": "True"}},
        }
    )
    local = StepReport.from_response(
        {
            "StepName": "CheckRmse",
            "StepStatus": "Succeeded",
            "Metadata": {"Condition": {"Outcome": True}},
        }
    )
    assert remote == local
    assert remote.outcome is True
