"""Score S3 CSV files with the newest Approved model package: one SageMaker Batch Transform job.

python -m deploy.batch --input s3://bucket/batch/in/ --output s3://bucket/batch/out/ [--wait]

Every object under the input prefix is read as CSV (raw or encoded abalone rows, no header), split
by line and sent in MULTI_RECORD mini-batches; the output object of each input holds one
prediction per input line, in order (AssembleWith Line). The job's model is created from the
package under the job's own name; with --wait it is deleted when the job ends, however it ends.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from container import contract
from deploy.cli import DeployError, client, instance_count, model_package_arn, run
from deploy.configs import DEFAULT_BOOTSTRAP_STACK, DEFAULT_GROUP
from deploy.registry import Package, approved_package, latest_approved
from deploy.stacks import stack_outputs

FINISHED = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class Settings:
    input_prefix: str
    output_prefix: str
    group: str
    package_arn: str | None
    role_arn: str | None
    bootstrap_stack: str
    instance_type: str
    instance_count: int
    job_name: str
    wait: bool
    poll_s: float


def _s3_uri(uri: str, what: str) -> str:
    if not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise DeployError(f"{what} must be an s3:// URI, got {uri!r}")
    return uri


def model_request(name: str, package: Package, role_arn: str) -> dict[str, Any]:
    return {
        "ModelName": name,
        "ExecutionRoleArn": role_arn,
        "PrimaryContainer": {"ModelPackageName": package.arn},
        "EnableNetworkIsolation": True,
        "Tags": [{"Key": "model-package-version", "Value": str(package.version)}],
    }


def transform_request(settings: Settings, model_name: str) -> dict[str, Any]:
    """MULTI_RECORD with line splitting in, one line per record out. MaxPayloadInMB and
    MaxConcurrentTransforms are left out: SageMaker reads them from the container's
    /execution-parameters, which knows its real body limit and worker count."""
    return {
        "TransformJobName": settings.job_name,
        "ModelName": model_name,
        "BatchStrategy": "MULTI_RECORD",
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": _s3_uri(settings.input_prefix, "--input"),
                }
            },
            "ContentType": contract.CSV,
            "CompressionType": "None",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": _s3_uri(settings.output_prefix, "--output"),
            "Accept": contract.CSV,
            "AssembleWith": "Line",
        },
        "TransformResources": {
            "InstanceType": settings.instance_type,
            "InstanceCount": settings.instance_count,
        },
    }


def _role_arn(settings: Settings, cfn: Any) -> str:
    if settings.role_arn:
        return settings.role_arn
    outputs = stack_outputs(cfn, settings.bootstrap_stack)
    if "SageMakerExecutionRoleArn" not in outputs:
        raise DeployError(f"stack {settings.bootstrap_stack} has no SageMakerExecutionRoleArn")
    return outputs["SageMakerExecutionRoleArn"]


def wait_and_clean_up(sagemaker: Any, job_name: str, poll_s: float) -> None:
    """Wait for the job, then delete its model (made for this job only), however it ended."""
    try:
        wait_for_job(sagemaker, job_name, poll_s)
    finally:
        sagemaker.delete_model(ModelName=job_name)
        print(f"deleted the job's model {job_name}")


def wait_for_job(sagemaker: Any, job_name: str, poll_s: float) -> None:
    while True:
        described = sagemaker.describe_transform_job(TransformJobName=job_name)
        status = described["TransformJobStatus"]
        if status in FINISHED:
            break
        time.sleep(poll_s)
    if status != "Completed":
        raise DeployError(f"job {job_name} {status}: {described.get('FailureReason', '')}")
    print(f"job {job_name} Completed")


def start(settings: Settings, sagemaker: Any, cfn: Any) -> dict[str, Any]:
    """Create the model and the transform job; return the job request."""
    request = transform_request(settings, settings.job_name)  # validate before any AWS call
    if settings.package_arn:
        package = approved_package(sagemaker, settings.package_arn, settings.group)
    else:
        package = latest_approved(sagemaker, settings.group)
    sagemaker.create_model(**model_request(settings.job_name, package, _role_arn(settings, cfn)))
    sagemaker.create_transform_job(**request)
    print(f"started {settings.job_name}: {package.arn} (version {package.version})")
    print(f"  {settings.input_prefix} -> {settings.output_prefix}")
    return request


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="s3:// prefix of the CSV files")
    parser.add_argument("--output", required=True, help="s3:// prefix for the predictions")
    parser.add_argument("--model-package-group", default=DEFAULT_GROUP)
    parser.add_argument(
        "--model-package-arn",
        type=model_package_arn,
        help="this Approved package, not the newest (empty = the newest)",
    )
    parser.add_argument("--role-arn", help="default: the bootstrap stack's execution role")
    parser.add_argument("--bootstrap-stack", default=DEFAULT_BOOTSTRAP_STACK)
    parser.add_argument("--instance-type", default="ml.m5.large")
    parser.add_argument("--instance-count", type=instance_count, default=1)
    parser.add_argument("--job-name", help="default: abalone-batch-<UTC time>")
    parser.add_argument("--wait", action="store_true", help="wait for the job and report")
    parser.add_argument("--poll-seconds", type=float, default=30)
    return parser


def settings_from(argv: Sequence[str] | None) -> Settings:
    args = _parser().parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Settings(
        input_prefix=args.input,
        output_prefix=args.output,
        group=args.model_package_group,
        package_arn=args.model_package_arn or None,
        role_arn=args.role_arn or None,
        bootstrap_stack=args.bootstrap_stack,
        instance_type=args.instance_type,
        instance_count=args.instance_count,
        job_name=args.job_name or f"abalone-batch-{stamp}",
        wait=args.wait,
        poll_s=args.poll_seconds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = settings_from(argv)

    def command() -> int:
        sagemaker = client("sagemaker")
        start(settings, sagemaker, client("cloudformation"))
        if settings.wait:
            wait_and_clean_up(sagemaker, settings.job_name, settings.poll_s)
        else:
            print(f"  the job's model {settings.job_name} stays: delete it when the job ends")
        return 0

    return run(command)


if __name__ == "__main__":
    sys.exit(main())
