"""deploy.batch against moto_server: the transform job that SageMaker receives."""

from __future__ import annotations

import pytest

from deploy import batch
from tests.deploy.conftest import add_package

ROLE = "arn:aws:iam::123456789012:role/abalone-sagemaker-execution"


def test_batch_job_uses_the_newest_approved_package_multi_record_line_split(boto, capsys):
    sagemaker = boto("sagemaker")
    add_package(sagemaker, status="Approved")
    newest = add_package(sagemaker, status="Approved")
    add_package(sagemaker)  # newer but pending
    code = batch.main(
        [
            "--input",
            "s3://bucket/batch/in/",
            "--output",
            "s3://bucket/batch/out/",
            "--role-arn",
            ROLE,
            "--job-name",
            "abalone-batch-test",
            "--instance-count",
            "2",
        ]
    )
    assert code == 0
    assert "started abalone-batch-test" in capsys.readouterr().out
    job = sagemaker.describe_transform_job(TransformJobName="abalone-batch-test")
    assert job["ModelName"] == "abalone-batch-test"
    assert job["BatchStrategy"] == "MULTI_RECORD"
    assert job["TransformInput"] == {
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/batch/in/"}
        },
        "ContentType": "text/csv",
        "CompressionType": "None",
        "SplitType": "Line",
    }
    assert job["TransformOutput"] == {
        "S3OutputPath": "s3://bucket/batch/out/",
        "Accept": "text/csv",
        "AssembleWith": "Line",
    }
    assert job["TransformResources"]["InstanceCount"] == 2
    model = sagemaker.describe_model(ModelName="abalone-batch-test")
    assert model["PrimaryContainer"] == {"ModelPackageName": newest}
    assert model["ExecutionRoleArn"] == ROLE


def test_payload_size_and_concurrency_are_left_to_the_container():
    settings = batch.settings_from(["--input", "s3://b/i/", "--output", "s3://b/o/"])
    request = batch.transform_request(settings, "m")
    assert "MaxPayloadInMB" not in request and "MaxConcurrentTransforms" not in request
    assert settings.job_name.startswith("abalone-batch-")


def test_nothing_is_created_for_a_bad_prefix(boto, capsys):
    sagemaker = boto("sagemaker")
    add_package(sagemaker, status="Approved")
    code = batch.main(["--input", "bucket/in/", "--output", "s3://b/o/", "--role-arn", ROLE])
    assert code == 1
    assert "--input must be an s3:// URI" in capsys.readouterr().err
    assert sagemaker.list_models()["Models"] == []


def test_failed_job_is_reported(monkeypatch):
    class Finished:
        def describe_transform_job(self, **_kwargs):
            return {"TransformJobStatus": "Failed", "FailureReason": "ClientError: bad row"}

    with pytest.raises(batch.DeployError, match="Failed: ClientError: bad row"):
        batch.wait_for_job(Finished(), "job", poll_s=0)


def test_the_jobs_model_is_deleted_when_the_job_ends(boto, capsys):
    """moto reports a transform job Completed at once; the model was made for it only."""
    sagemaker = boto("sagemaker")
    add_package(sagemaker, status="Approved")
    flags = [
        "--role-arn",
        ROLE,
        "--job-name",
        "abalone-batch-wait",
        "--wait",
        "--poll-seconds",
        "0",
    ]
    code = batch.main(["--input", "s3://b/in/", "--output", "s3://b/out/", *flags])
    assert code == 0
    assert "deleted the job's model abalone-batch-wait" in capsys.readouterr().out
    assert sagemaker.list_models(NameContains="abalone-batch-wait")["Models"] == []
    job = sagemaker.describe_transform_job(TransformJobName="abalone-batch-wait")
    assert job["TransformJobStatus"] == "Completed"


def test_the_model_is_deleted_after_a_failed_job_too():
    deleted = []

    class Failing:
        def describe_transform_job(self, **_kwargs):
            return {"TransformJobStatus": "Failed", "FailureReason": "ClientError: bad row"}

        def delete_model(self, ModelName):
            deleted.append(ModelName)

    with pytest.raises(batch.DeployError, match="bad row"):
        batch.wait_and_clean_up(Failing(), "job-1", poll_s=0)
    assert deleted == ["job-1"]


@pytest.mark.parametrize("count", ["0", "101", "-1", "2.5", "x", ""])
def test_an_instance_count_outside_1_to_100_is_a_usage_error(count, capsys):
    with pytest.raises(SystemExit) as stopped:
        batch.settings_from(
            ["--input", "s3://b/i/", "--output", "s3://b/o/", "--instance-count", count]
        )
    assert stopped.value.code == 2
    assert "is not a number from 1 to 100" in capsys.readouterr().err
