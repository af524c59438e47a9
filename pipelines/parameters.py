"""The pipeline's parameters: what an execution may change without a new definition."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final

from sagemaker.core.workflow.parameters import (
    Parameter,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)

from training import report

IMAGE_URI: Final = "ImageUri"
INPUT_DATA_URI: Final = "InputDataUri"
PROCESSING_INSTANCE_TYPE: Final = "ProcessingInstanceType"
PROCESSING_INSTANCE_COUNT: Final = "ProcessingInstanceCount"
TRAINING_INSTANCE_TYPE: Final = "TrainingInstanceType"
TRAINING_INSTANCE_COUNT: Final = "TrainingInstanceCount"
INFERENCE_INSTANCE_TYPE: Final = "InferenceInstanceType"
TRANSFORM_INSTANCE_TYPE: Final = "TransformInstanceType"
RMSE_THRESHOLD: Final = "RmseThreshold"
RMSE_TOLERANCE: Final = "RmseTolerance"
MODEL_APPROVAL_STATUS: Final = "ModelApprovalStatus"
#: The incumbent's model.tar.gz (run-pipeline resolves the newest Approved package's). Its
#: default, and the value that means "no incumbent", is InputDataUri's default: a Processing
#: input must name an S3 object that exists (an empty URI is invalid, an empty prefix fails the
#: job), and the data file exists in every execution. See pipelines/steps.evaluate_step.
INCUMBENT_MODEL_URL: Final = "IncumbentModelUrl"

DEFAULT_INSTANCE_TYPE: Final = "ml.m5.large"
#: The seed template's gate was MSE <= 6.0; as an RMSE that is sqrt(6.0) = 2.449 rings. The
#: recipe's cross-validated RMSE is about 2.14, so a healthy model passes with room to spare.
DEFAULT_RMSE_THRESHOLD: Final = 2.45
#: A challenger may be at most this much worse than the incumbent (relative RMSE).
DEFAULT_RMSE_TOLERANCE: Final = report.DEFAULT_RMSE_TOLERANCE
APPROVAL_STATUSES: Final = ("PendingManualApproval", "Approved", "Rejected")


@dataclass(frozen=True)
class PipelineParameters:
    """The parameters, in the order the definition lists them."""

    image_uri: ParameterString
    input_data_uri: ParameterString
    processing_instance_type: ParameterString
    processing_instance_count: ParameterInteger
    training_instance_type: ParameterString
    training_instance_count: ParameterInteger
    inference_instance_type: ParameterString
    transform_instance_type: ParameterString
    rmse_threshold: ParameterFloat
    rmse_tolerance: ParameterFloat
    model_approval_status: ParameterString
    incumbent_model_url: ParameterString

    @classmethod
    def create(cls, *, image_uri: str, input_data_uri: str) -> PipelineParameters:
        """The parameters with their defaults; the image and the input come from the caller.
        IncumbentModelUrl defaults to the input: no incumbent."""
        return cls(
            image_uri=ParameterString(IMAGE_URI, default_value=image_uri),
            input_data_uri=ParameterString(INPUT_DATA_URI, default_value=input_data_uri),
            processing_instance_type=_instance_type(PROCESSING_INSTANCE_TYPE),
            processing_instance_count=ParameterInteger(PROCESSING_INSTANCE_COUNT, default_value=1),
            training_instance_type=_instance_type(TRAINING_INSTANCE_TYPE),
            training_instance_count=ParameterInteger(TRAINING_INSTANCE_COUNT, default_value=1),
            inference_instance_type=_instance_type(INFERENCE_INSTANCE_TYPE),
            transform_instance_type=_instance_type(TRANSFORM_INSTANCE_TYPE),
            rmse_threshold=ParameterFloat(RMSE_THRESHOLD, default_value=DEFAULT_RMSE_THRESHOLD),
            rmse_tolerance=ParameterFloat(RMSE_TOLERANCE, default_value=DEFAULT_RMSE_TOLERANCE),
            model_approval_status=ParameterString(
                MODEL_APPROVAL_STATUS,
                default_value=APPROVAL_STATUSES[0],
                enum_values=list(APPROVAL_STATUSES),
            ),
            incumbent_model_url=ParameterString(INCUMBENT_MODEL_URL, default_value=input_data_uri),
        )

    def all(self) -> list[Parameter]:
        return [getattr(self, field.name) for field in fields(self)]


def _instance_type(name: str) -> ParameterString:
    return ParameterString(name, default_value=DEFAULT_INSTANCE_TYPE)
