"""The incumbent a pipeline execution's challenger must beat: the newest Approved package of the
model package group, resolved by run-pipeline and passed as the IncumbentModelUrl parameter.

With no Approved package (a first run), IncumbentModelUrl is set to the execution's InputDataUri,
the value that means "none" (pipelines/parameters.py says why it cannot be empty). So is an
IncumbentModelUrl given empty on the command line (`-p IncumbentModelUrl=`). A non-empty one
given there is used as it is, without a look-up.

Calls (the build role is granted exactly these, deploy/templates/bootstrap.yaml):
    ListModelPackages(ModelPackageGroupName, ModelApprovalStatus=Approved, SortBy=CreationTime,
                      SortOrder=Descending, MaxResults=1)       no resource-level permissions
    DescribeModelPackage(ModelPackageName=<arn>)                model-package/<group>/*
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from deploy.registry import newest_approved
from pipelines import parameters as p

#: SageMaker's limit on one ContainerArgument; Evaluate receives the URL as one.
MAX_URL_LENGTH: Final = 256


class IncumbentError(RuntimeError):
    """An Approved package whose model data cannot be scored by the Evaluate step."""


@dataclass(frozen=True)
class Incumbent:
    package_arn: str
    model_data_url: str


def resolve(sagemaker: Any, group: str) -> Incumbent | None:
    """The newest Approved package of `group` and its model data; None when there is none."""
    package = newest_approved(sagemaker, group)
    if package is None:
        return None
    described = sagemaker.describe_model_package(ModelPackageName=package.arn)
    containers = described.get("InferenceSpecification", {}).get("Containers", [])
    first = containers[0] if containers else {}
    # ModelDataUrl (a model.tar.gz), or the newer ModelDataSource (an archive or a prefix).
    url = first.get("ModelDataUrl") or (
        first.get("ModelDataSource", {}).get("S3DataSource", {}).get("S3Uri")
    )
    if not url:
        raise IncumbentError(f"{package.arn} names no model data: it cannot be the incumbent")
    if len(url) > MAX_URL_LENGTH:
        raise IncumbentError(
            f"{package.arn}'s model data URL is over {MAX_URL_LENGTH} characters (the longest "
            "job argument SageMaker takes): pass -p IncumbentModelUrl= to compare with none"
        )
    return Incumbent(package.arn, url)


def execution_parameters(
    sagemaker: Any, group: str, given: Mapping[str, str], input_data_default: str
) -> tuple[dict[str, str], str]:
    """The execution's parameters with IncumbentModelUrl set, and a line saying which."""
    chosen = dict(given)
    placeholder = chosen.get(p.INPUT_DATA_URI) or input_data_default
    explicit = chosen.get(p.INCUMBENT_MODEL_URL)
    if explicit:
        return chosen, f"incumbent: {explicit} (given)"
    if explicit is None:
        incumbent = resolve(sagemaker, group)
        if incumbent is not None:
            chosen[p.INCUMBENT_MODEL_URL] = incumbent.model_data_url
            return chosen, f"incumbent: {incumbent.package_arn} ({incumbent.model_data_url})"
        why = f"no Approved package in group {group!r}"
    else:
        why = f"{p.INCUMBENT_MODEL_URL} given empty"
    chosen[p.INCUMBENT_MODEL_URL] = placeholder
    return chosen, f"incumbent: none ({why}): only RmseThreshold applies"
