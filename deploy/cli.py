"""What every deploy command shares: expected failures as one readable line, and the AWS clients."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


class DeployError(Exception):
    """An expected failure (nothing approved, a stack rolled back, a bad config): no traceback."""


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
