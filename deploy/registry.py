"""The Model Registry side of a deployment: which approved model package to serve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deploy.cli import DeployError

APPROVED = "Approved"


@dataclass(frozen=True)
class Package:
    arn: str
    group: str
    version: int
    created: str


def _package(summary: dict[str, Any]) -> Package:
    return Package(
        arn=summary["ModelPackageArn"],
        group=summary["ModelPackageGroupName"],
        version=int(summary.get("ModelPackageVersion", 0)),
        created=str(summary["CreationTime"]),
    )


def newest_approved(sagemaker: Any, group: str) -> Package | None:
    """The newest Approved package of `group`, or None. The API sorts ascending by default: ask
    for descending explicitly, or the oldest approved model would come first."""
    response = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus=APPROVED,
        ModelPackageType="Versioned",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    summaries = response["ModelPackageSummaryList"]
    return _package(summaries[0]) if summaries else None


def latest_approved(sagemaker: Any, group: str) -> Package:
    """The newest Approved package of `group`; DeployError when there is none."""
    package = newest_approved(sagemaker, group)
    if package is None:
        raise DeployError(
            f"no Approved model package in group {group!r}: approve one in SageMaker Studio or "
            "with `aws sagemaker update-model-package --model-approval-status Approved ...`"
        )
    return package


def approved_package(sagemaker: Any, arn: str, group: str) -> Package:
    """A package named explicitly (prod re-deploying what passed staging, or a manual rollback):
    it must belong to `group` and still be Approved."""
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    package = _package(described)
    if package.group != group:
        raise DeployError(f"{arn} belongs to group {package.group!r}, not {group!r}")
    status = described.get("ModelApprovalStatus")
    if status != APPROVED:
        raise DeployError(f"{arn} is {status}, not {APPROVED}: it cannot be deployed")
    return package
