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

pytestmark = pytest.mark.integration


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
