"""run-pipeline against moto_server: a real HTTP server, started here, that speaks SageMaker.

What moto can and cannot show, honestly:
- It stores pipelines and executions: upsert (create, then update), start, the parameters an
  execution was started with, the stored definition, role, description and tags. That is what
  these tests check, against the definition built offline.
- Its executions are fake: they are Succeeded the moment they start, nothing runs, no model
  package appears, and ListPipelineExecutionSteps is not implemented (HTTP 500). So a run here
  proves the upsert/start contract and that run-pipeline copes with the missing step list (it
  says so and follows the execution's own status); it proves nothing about the pipeline's jobs.
  Those run in tests/pipelines/test_local_pipeline.py (the image, in Docker), and failure
  reporting is checked against scripted responses in tests/pipelines/test_executions.py.

run-pipeline runs in this process (its main()), with the environment set through monkeypatch
and an endpoint URL pointing every AWS client at moto; sockets to anywhere else are refused.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import requests

from tests.pipelines.conftest import BUCKET, IMAGE_URI, ROLE, build_definition, offline

PIPELINE_FLAGS = ["--role-arn", ROLE, "--image-uri", IMAGE_URI, "--bucket", BUCKET]


@pytest.fixture(scope="session")
def moto_url(moto_server_url: str) -> str:
    """The session's moto_server (tests/conftest.py), shared with the other test folders."""
    return moto_server_url


@pytest.fixture
def moto_env(moto_url, monkeypatch, tmp_path) -> dict[str, Any]:
    """An empty moto, dummy credentials, every AWS client pointed at it, other sockets refused."""
    requests.post(f"{moto_url}/moto-api/reset", timeout=5).raise_for_status()
    elsewhere = offline(monkeypatch, tmp_path)
    monkeypatch.setattr(socket.socket, "connect", _only_to(moto_url, elsewhere))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # The CLI puts log filters on the root logger's handlers: here those are pytest's own.
    monkeypatch.setattr("pipelines.sessions.quiet_sdk_logs", _keep_pytests_log_handlers)
    return {"url": moto_url, "elsewhere": elsewhere}


_REAL_CONNECT = socket.socket.connect


def _keep_pytests_log_handlers(level: int = 0) -> None:
    """Stands in for quiet_sdk_logs(): no filters on the handlers pytest owns."""


def _only_to(url: str, elsewhere: list[Any]) -> Any:
    port = int(url.rsplit(":", 1)[1])

    def connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[:2] == ("127.0.0.1", port):
            return _REAL_CONNECT(sock, address)
        elsewhere.append(address)
        raise OSError(f"only moto_server may be reached, not {address}")

    return connect


def sagemaker(url: str) -> Any:
    import boto3

    return boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def run_pipeline(*args: str) -> int:
    from pipelines.run import main

    return main([*PIPELINE_FLAGS, "--poll-seconds", "0.2", *args])


def test_upserts_starts_and_follows_the_execution(moto_env, capsys):
    assert run_pipeline("-p", "RmseThreshold=2.3", "-p", "TrainingInstanceType=ml.m5.xlarge") == 0
    out = capsys.readouterr().out
    assert "upserted pipeline abalone-pipeline" in out
    assert "started execution arn:aws:sagemaker:us-east-1:" in out
    # moto's gap, reported rather than hidden: no step statuses, the execution's status only.
    assert "steps unavailable (" in out
    assert "execution: Succeeded" in out
    client = sagemaker(moto_env["url"])
    stored = client.describe_pipeline(PipelineName="abalone-pipeline")
    assert stored["RoleArn"] == ROLE
    assert "Processing job" in stored["PipelineDescription"]
    assert json.loads(stored["PipelineDefinition"]) == offline_definition()
    executions = client.list_pipeline_executions(PipelineName="abalone-pipeline")
    arn = executions["PipelineExecutionSummaries"][0]["PipelineExecutionArn"]
    parameters = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    assert {p["Name"]: p["Value"] for p in parameters["PipelineParameters"]} == {
        "RmseThreshold": "2.3",
        "TrainingInstanceType": "ml.m5.xlarge",
        # No Approved package in moto's empty registry: the value that means none.
        "IncumbentModelUrl": DEFAULT_INPUT,
    }
    assert "incumbent: none (no Approved package in group 'abalone'): only RmseThreshold" in out
    assert moto_env["elsewhere"] == []


DEFAULT_INPUT = f"s3://{BUCKET}/abalone-pipeline/data/abalone.data"


def register(client: Any, status: str, execution: str, group: str = "abalone") -> str:
    url = f"s3://{BUCKET}/abalone-pipeline/{execution}/Train/model/model.tar.gz"
    container = {"Image": IMAGE_URI, "ModelDataUrl": url}
    return client.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def execution_parameters(client: Any, out: str) -> dict[str, str]:
    """The parameters of the execution run-pipeline last reported starting in `out`."""
    started = [line for line in out.splitlines() if line.startswith("started execution ")]
    arn = started[-1].removeprefix("started execution ")
    listed = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    return {p["Name"]: p["Value"] for p in listed["PipelineParameters"]}


def test_the_newest_approved_package_is_the_incumbent(moto_env, capsys):
    client = sagemaker(moto_env["url"])
    client.create_model_package_group(ModelPackageGroupName="abalone")
    client.create_model_package_group(ModelPackageGroupName="other")
    register(client, "Approved", "e1")
    newest = register(client, "Approved", "e2")
    register(client, "PendingManualApproval", "e3")  # newer, but not approved
    register(client, "Rejected", "e4")
    register(client, "Approved", "e5", group="other")
    assert run_pipeline("--no-wait") == 0
    url = f"s3://{BUCKET}/abalone-pipeline/e2/Train/model/model.tar.gz"
    out = capsys.readouterr().out
    assert execution_parameters(client, out)["IncumbentModelUrl"] == url
    assert f"incumbent: {newest} ({url})" in out
    assert moto_env["elsewhere"] == []


def test_an_incumbent_given_on_the_command_line_is_used_or_none_when_empty(moto_env, capsys):
    client = sagemaker(moto_env["url"])
    client.create_model_package_group(ModelPackageGroupName="abalone")
    register(client, "Approved", "e1")
    given = "s3://elsewhere/model.tar.gz"
    assert run_pipeline("--no-wait", "-p", f"IncumbentModelUrl={given}") == 0
    out = capsys.readouterr().out
    assert execution_parameters(client, out)["IncumbentModelUrl"] == given
    assert f"incumbent: {given} (given)" in out
    data = "s3://other-bucket/data/abalone.data"
    assert run_pipeline("--no-wait", "-p", "IncumbentModelUrl=", "-p", f"InputDataUri={data}") == 0
    out = capsys.readouterr().out
    # Empty means none: the execution's own input stands for it.
    assert execution_parameters(client, out)["IncumbentModelUrl"] == data
    assert "incumbent: none (IncumbentModelUrl given empty)" in out


def test_a_second_run_updates_the_pipeline_and_starts_again(moto_env, capsys):
    assert run_pipeline("--no-wait") == 0
    assert (
        run_pipeline(
            "--no-wait", "--description", "second", "--tags", "[{'Key': 'team', 'Value': 'ml'}]"
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "execution: " not in out  # --no-wait: started, not followed
    client = sagemaker(moto_env["url"])
    pipelines = client.list_pipelines()["PipelineSummaries"]
    assert [p["PipelineName"] for p in pipelines] == ["abalone-pipeline"]
    stored = client.describe_pipeline(PipelineName="abalone-pipeline")
    assert stored["PipelineDescription"] == "second"
    executions = client.list_pipeline_executions(PipelineName="abalone-pipeline")
    assert len(executions["PipelineExecutionSummaries"]) == 2


def test_training_mode_is_its_own_pipeline(moto_env, capsys):
    assert run_pipeline("--no-wait", "--train-mode", "training") == 0
    client = sagemaker(moto_env["url"])
    stored = client.describe_pipeline(PipelineName="abalone-pipeline-training")
    assert "Training job" in stored["PipelineDescription"]
    steps = {s["Name"]: s["Type"] for s in json.loads(stored["PipelineDefinition"])["Steps"]}
    assert steps["Train"] == "Training"


def test_missing_settings_stop_before_any_aws_call(moto_env, capsys):
    from pipelines.run import main

    assert main(["--image-uri", IMAGE_URI, "--bucket", BUCKET]) == 2
    assert "no role: pass --role-arn or set SAGEMAKER_PIPELINE_ROLE_ARN" in capsys.readouterr().err
    assert run_pipeline("-p", "RmseThreshold") == 2
    assert sagemaker(moto_env["url"]).list_pipelines()["PipelineSummaries"] == []


def test_a_failed_aws_call_is_exit_code_4(moto_env, monkeypatch, capsys):
    # moto accepts nearly anything SageMaker would refuse (even unknown parameter names), so
    # the failing call here is a request moto cannot route: an HTTP 404 from the endpoint.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"{moto_env['url']}/no-such-service")
    assert run_pipeline("--no-wait") == 4
    captured = capsys.readouterr()
    assert "error: An error occurred (404)" in captured.err
    assert "started execution" not in captured.out
    assert sagemaker(moto_env["url"]).list_pipelines()["PipelineSummaries"] == []


def offline_definition() -> dict[str, Any]:
    return build_definition()
