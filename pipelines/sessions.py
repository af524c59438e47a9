"""The SageMaker SDK set up once per process: region, no telemetry, no hidden AWS calls, logs.

Importing `sagemaker.mlops` or `sagemaker.serve` raises NoRegionError unless a region is set, and
several SDK calls reach AWS unless told not to, so the CLIs call `prepare_environment()` first and
import the SDK (and `pipelines.abalone`) only after it.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from sagemaker.core.workflow.pipeline_context import PipelineSession

#: Where the definition is built when nothing names a region: a definition holds no region.
OFFLINE_REGION: Final = "us-east-1"

#: The SDK's defaults, given to every session: no telemetry (a request to AWS per SDK call).
SDK_CONFIG: Final[dict[str, Any]] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


class RegionMissing(RuntimeError):
    """No region from --region, AWS_REGION, AWS_DEFAULT_REGION or the AWS profile."""


def prepare_environment(region: str | None, *, offline: bool) -> str:
    """Set what the SDK reads from the environment; call it before importing the SDK.

    Args:
        region: the AWS region; None keeps the one the environment or the profile gives.
        offline: building a definition only: no instance metadata look-ups, and the offline
            region when none is set.

    Returns:
        The region the SDK will use.

    Raises:
        RegionMissing: not offline and no region anywhere.
    """
    if offline:
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    # NB: ModelTrainer and Pipeline.upsert check the role with iam:SimulatePrincipalPolicy unless
    # this is false; SageMaker checks the role itself when it creates the pipeline and its jobs.
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
    resolved = region or _environment_region() or (OFFLINE_REGION if offline else None)
    if not resolved:
        raise RegionMissing("no AWS region: pass --region or set AWS_REGION")
    os.environ["AWS_DEFAULT_REGION"] = resolved
    return resolved


def _environment_region() -> str | None:
    import boto3

    return boto3.session.Session().region_name


#: The libraries whose records the CLIs show only from a level up (the SDK sets the root to INFO).
SDK_LOGGERS: Final = frozenset({"sagemaker", "botocore", "boto3", "s3transfer", "urllib3"})


class _SdkLogFilter(logging.Filter):
    """Drop the SDK's records below a level, whatever level its loggers set for themselves."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.split(".")[0] not in SDK_LOGGERS or record.levelno >= self.level


def quiet_sdk_logs(level: int = logging.ERROR) -> None:
    """Show only the SDK's records at `level` or above.

    NB: on import the SDK configures the root logger (basicConfig) and gives some loggers their
    own level or handler, and it sets one logger to DEBUG when first used; so this imports the
    SDK first and puts a filter on every handler rather than setting loggers' levels.
    """
    import sagemaker.mlops.workflow  # noqa: F401

    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(levelname)s:%(name)s:%(message)s")
    sdk_filter = _SdkLogFilter(level)
    loggers = [logging.getLogger()] + [
        logger
        for name, logger in list(logging.root.manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and name.split(".")[0] in SDK_LOGGERS
    ]
    for logger in loggers:
        for handler in logger.handlers:
            handler.addFilter(sdk_filter)


def pipeline_session(region: str, bucket: str) -> PipelineSession:
    """A PipelineSession that makes no AWS call while a definition is built.

    `bucket` is given so the SDK never looks up its default bucket (s3:ListBuckets, sts).
    """
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    return PipelineSession(
        boto_session=boto3.Session(region_name=region),
        default_bucket=bucket,
        sagemaker_config=SDK_CONFIG,
    )
