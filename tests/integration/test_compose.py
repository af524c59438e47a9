"""The compose stack: the real image behind the SageMaker runtime gateway, driven by boto3 and the
aws CLI exactly as they would drive a cloud endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import botocore.exceptions
import pytest

from deploy.invoke import ENCODED_ROW, RAW_ROW, invoke, runtime_client
from tests.integration.dockerutil import compose_containers

pytestmark = pytest.mark.integration
#: nobody:nogroup, as docker-compose.yml runs both services.
COMPOSE_USER = "65534:65534"


@pytest.mark.parametrize("endpoint_name", ["abalone-staging", "abalone-prod"])
def test_boto3_invoke_endpoint_gets_predictions(gateway_url, endpoint_name):
    client = runtime_client(gateway_url)
    for row in (ENCODED_ROW, RAW_ROW):
        assert 1 < float(invoke(client, endpoint_name, row)) < 30


def test_boto3_sees_content_type_variant_and_custom_attributes(gateway_url):
    response = runtime_client(gateway_url).invoke_endpoint(
        EndpointName="abalone-staging",
        Body=ENCODED_ROW,
        ContentType="text/csv",
        Accept="application/json",
        CustomAttributes="trace=1",
    )
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["CustomAttributes"] == "trace=1"
    assert len(json.loads(response["Body"].read())["predictions"]) == 1


def test_container_error_is_a_model_error_424(gateway_url):
    client = runtime_client(gateway_url)
    with pytest.raises(client.exceptions.ModelError) as caught:
        client.invoke_endpoint(EndpointName="abalone-staging", Body="1,2,3", ContentType="text/csv")
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert "expected 10 features, got 3" in error["OriginalMessage"]


def test_unknown_endpoint_is_a_validation_error(gateway_url):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        invoke(runtime_client(gateway_url), "no-such-endpoint", ENCODED_ROW)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "no-such-endpoint" in caught.value.response["Error"]["Message"]


def test_aws_cli_invoke_endpoint(gateway_url, tmp_path):
    out = tmp_path / "prediction.csv"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    aws = Path(sys.executable).with_name("aws")
    result = subprocess.run(
        [
            str(aws),
            "sagemaker-runtime",
            "invoke-endpoint",
            "--endpoint-url",
            gateway_url,
            "--endpoint-name",
            "abalone-prod",
            "--content-type",
            "text/csv",
            "--body",
            RAW_ROW,
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ContentType"] == "text/csv"
    assert 1 < float(out.read_text()) < 30


def test_a_body_over_6_mib_is_a_validation_error(gateway_url):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        runtime_client(gateway_url).invoke_endpoint(
            EndpointName="abalone-staging",
            Body=b"1" * (6 * 1024 * 1024 + 1),
            ContentType="text/csv",
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert caught.value.response["Error"]["Message"].endswith(" has oversize body.")


def exec_in(container, *command: str) -> tuple[int, str]:
    result = container.exec_run(list(command))
    return result.exit_code, result.output.decode(errors="replace")


def test_both_services_run_hardened_and_still_serve(docker_client, gateway_url):
    containers = compose_containers(docker_client, gateway_url)
    assert sorted(c.labels["com.docker.compose.service"] for c in containers) == [
        "endpoint",
        "gateway",
    ]
    for container in containers:
        host = container.attrs["HostConfig"]
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"]
        assert "no-new-privileges:true" in host["SecurityOpt"]
        assert container.attrs["Config"]["User"] == COMPOSE_USER
        assert "/tmp" in host["Tmpfs"]
        # What the kernel applies to PID 1 itself (the dispatcher; gunicorn in the gateway).
        status = dict(
            line.split(":\t", 1)
            for line in exec_in(container, "cat", "/proc/1/status")[1].splitlines()
        )
        assert status["Uid"].split() == ["65534"] * 4
        assert status["CapEff"] == status["CapPrm"] == "0000000000000000"
        assert status["NoNewPrivs"] == "1"
        code, output = exec_in(container, "touch", "/opt/program/written")
        assert code != 0 and "Read-only file system" in output
        assert exec_in(container, "touch", "/tmp/written")[0] == 0
    assert 1 < float(invoke(runtime_client(gateway_url), "abalone-prod", ENCODED_ROW)) < 30
