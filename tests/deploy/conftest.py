"""Fixtures for the deployment tests: moto_server on a free 127.0.0.1 port (reset before every
test) with boto3 pointed at it, and helpers that build real model packages in its registry."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.dockerutil import free_port, poll

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
GROUP = "abalone"
#: moto_server, with the change-set outputs fix described in the file.
LAUNCHER = Path(__file__).with_name("moto_launcher.py")


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, str(LAUNCHER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"moto_server exited: {log_path.read_text()[-2000:]}")
        try:
            return requests.get(f"{url}/moto-api/", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        poll(answers, 30, "moto_server to answer")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture()
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto account for this test; every boto3 client in the process goes there."""
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    return moto_url


@pytest.fixture()
def boto(aws: str):
    import boto3

    return lambda service: boto3.client(service, endpoint_url=aws, region_name=REGION)


def add_package(sagemaker, group: str = GROUP, *, status: str = "PendingManualApproval") -> str:
    """Register one version in `group` (the group is created when missing); return its ARN."""
    try:
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
    except sagemaker.exceptions.ClientError as exc:
        if "already exists" not in str(exc):
            raise
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/abalone-byom:abc",
                        "ModelDataUrl": "s3://bucket/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
    )
