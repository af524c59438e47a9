"""Fixtures for the deployment tests: moto_server on a free 127.0.0.1 port (reset before every
test) with boto3 pointed at it, and helpers that build real model packages in its registry."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
GROUP = "abalone"


@pytest.fixture(scope="session")
def moto_url(moto_server_url: str) -> str:
    """The session's moto_server (tests/conftest.py), shared with the other test folders."""
    return moto_server_url


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
