"""What every deploy command shares: expected failures as one readable line, the AWS clients, and
the checks on values that come from users (workflow inputs, make variables)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Any, Final

#: A versioned model package ARN: botocore's ModelPackageArn pattern narrowed to <group>/<version>
#: (the group is an EntityName, the version is VersionedArnOrName's 1-9 digits). Kept in step
#: with the check in .github/workflows/deploy.yml (tests/deploy/test_injection.py compares them).
MODEL_PACKAGE_ARN_PATTERN: Final = (
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]{9,16}:[0-9]{12}:"
    r"model-package/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/[0-9]{1,9}$"
)
#: A stage name: it becomes a file name (deploy/params/<stage>.json) and part of endpoint names.
STAGE_PATTERN: Final = r"^[a-z][a-z0-9-]{0,30}$"


class DeployError(Exception):
    """An expected failure (nothing approved, a stack rolled back, a bad config): no traceback."""


def checked(value: str, pattern: str, what: str) -> str:
    """`value` when the whole of it matches `pattern`, else DeployError naming both."""
    if re.fullmatch(pattern, value) is None:
        raise DeployError(f"{what} {value!r} does not match {pattern}")
    return value


def model_package_arn(value: str) -> str:
    """argparse type: a versioned model package ARN ("" for none), else a usage error that
    names the value and the pattern."""
    if not value:
        return value
    try:
        return checked(value, MODEL_PACKAGE_ARN_PATTERN, "model package ARN")
    except DeployError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def stage_names(value: str) -> list[str]:
    """argparse type: one or more whitespace-separated stage names (make's STAGES)."""
    try:
        return [checked(name, STAGE_PATTERN, "stage") for name in value.split() or [value]]
    except DeployError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def instance_count(value: str) -> int:
    """argparse type: a transform job's instance count, 1 to 100 (botocore's
    TransformInstanceCount: min 1; its documentation: at most 100)."""
    if re.fullmatch(r"[0-9]{1,3}", value) is None or not 1 <= int(value) <= 100:
        raise argparse.ArgumentTypeError(f"instance count {value!r} is not a number from 1 to 100")
    return int(value)


def client(service: str) -> Any:
    """A boto3 client configured by the environment (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL)."""
    import boto3  # host-side only

    return boto3.client(service)


def run(command: Callable[[], int]) -> int:
    """Run a command; DeployError and AWS errors become `error: ...` on stderr and exit 1."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return command()
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except (BotoCoreError, ClientError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1
