"""The pipeline's steps: jobs on the project's image, with the container paths of training.paths.

Each job runs the image's ENTRYPOINT (`python -m container`) with ContainerArguments; no code
is uploaded and nothing is installed at run time.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Final

from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.processing import Processor
from sagemaker.core.shapes import (
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
)
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.mlops.workflow import ModelStep, ProcessingStep, TrainingStep

from container import contract
from training import schema

if TYPE_CHECKING:
    from sagemaker.core.helper.pipeline_variable import PipelineVariable
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile

    from pipelines.parameters import PipelineParameters

#: Step names.
PREPROCESS: Final = "Preprocess"
TRAIN: Final = "Train"
EVALUATE: Final = "Evaluate"
GATE: Final = "CheckRmse"
REGISTER: Final = "Register"
FAIL: Final = "RmseTooHigh"

#: Output names (each one also the last part of its S3 location), as the image writes them.
TRAIN_SPLIT: Final = contract.TRAIN_SPLIT
VALIDATION_SPLIT: Final = contract.VALIDATION_SPLIT
TEST_SPLIT: Final = contract.TEST_SPLIT
PREPROCESSING: Final = contract.PREPROCESSING
MODEL: Final = contract.MODEL
EVALUATION: Final = contract.EVALUATION

#: The image's exec-form ENTRYPOINT (container/Dockerfile; a test checks they agree). Given
#: explicitly: SageMaker would use the image's own, but local mode fails on ContainerArguments
#: without a ContainerEntrypoint (KeyError 'entrypoint' in sagemaker 3.27).
IMAGE_ENTRYPOINT: Final = ("python", "-m", "container")

#: What the image's server reads and writes (its codec registries are tested against these).
CONTENT_TYPES: Final = contract.REQUEST_TYPES
RESPONSE_TYPES: Final = contract.RESPONSE_TYPES


@dataclass(frozen=True)
class StepContext:
    """What every step needs: the role, the session, the parameters and the output root."""

    role: str
    session: PipelineSession
    params: PipelineParameters
    output_root: str
    prefix: str
    model_package_group: str
    #: Part files per split (preprocess --parts). Above 1 the train input is sharded by S3 key:
    #: each training instance downloads only its own parts. With one part every instance gets
    #: the whole split and trains on every n-th row. Either way TrainingInstanceCount may vary.
    train_parts: int = 1

    @property
    def train_distribution(self) -> str:
        return contract.SHARDED_BY_S3_KEY if self.train_parts > 1 else contract.FULLY_REPLICATED

    def output_uri(self, step: str, output: str) -> Join:
        """<root>/<execution id>/<step>/<output>: unique per execution."""
        execution_id = ExecutionVariables.PIPELINE_EXECUTION_ID
        return Join(on="/", values=[self.output_root, execution_id, step, output])

    def processor(self, job: str, *, training: bool = False) -> Processor:
        params = self.params
        return Processor(
            role=self.role,
            image_uri=params.image_uri,
            entrypoint=list(IMAGE_ENTRYPOINT),
            instance_type=params.training_instance_type
            if training
            else params.processing_instance_type,
            instance_count=params.training_instance_count
            if training
            else params.processing_instance_count,
            base_job_name=f"{self.prefix}-{job}",
            sagemaker_session=self.session,
        )


def output_uri_of(step: ProcessingStep, output: str) -> PipelineVariable:
    """The S3 location a processing step wrote `output` to (known at execution time)."""
    return step.properties.ProcessingOutputConfig.Outputs[output].S3Output.S3Uri


def preprocess_step(ctx: StepContext, *, verify_data: bool) -> ProcessingStep:
    splits = {
        TRAIN_SPLIT: contract.TRAIN_OUTPUT,
        VALIDATION_SPLIT: contract.VALIDATION_OUTPUT,
        TEST_SPLIT: contract.TEST_OUTPUT,
        PREPROCESSING: contract.PREPROCESSING_OUTPUT,
    }
    arguments = ["process", "preprocess", "--input", str(contract.RAW_DATA_INPUT)]
    arguments += ["--output", str(contract.SPLITS_OUTPUT)] + (
        [] if verify_data else ["--no-verify"]
    )
    if ctx.train_parts > 1:
        arguments += ["--parts", str(ctx.train_parts)]
    step_args = _deferred(
        ctx.processor("preprocess").run,
        inputs=[_input("data", ctx.params.input_data_uri, contract.RAW_DATA_INPUT)],
        outputs=[_output(ctx, PREPROCESS, name, path) for name, path in splits.items()],
        arguments=arguments,
    )
    return ProcessingStep(name=PREPROCESS, step_args=step_args, description="split and encode")


def train_processing_step(
    ctx: StepContext, preprocess: ProcessingStep, hyperparameters_json: str | None
) -> tuple[ProcessingStep, PipelineVariable]:
    """Train as a Processing job; returns the step and the S3 URI of its model.tar.gz."""
    arguments = ["process", "train", "--train", str(contract.TRAIN_INPUT)]
    arguments += ["--validation", str(contract.VALIDATION_INPUT)]
    arguments += ["--preprocessing", str(contract.PREPROCESSING_INPUT)]
    arguments += ["--output", str(contract.MODEL_OUTPUT)]
    if hyperparameters_json is not None:
        arguments += ["--hyperparameters", hyperparameters_json]
    step_args = _deferred(
        ctx.processor("train", training=True).run,
        inputs=[
            _input(
                TRAIN_SPLIT,
                output_uri_of(preprocess, TRAIN_SPLIT),
                contract.TRAIN_INPUT,
                ctx.train_distribution,
            ),
            *_split_inputs(
                preprocess,
                {
                    VALIDATION_SPLIT: contract.VALIDATION_INPUT,
                    PREPROCESSING: contract.PREPROCESSING_INPUT,
                },
            ),
        ],
        outputs=[_output(ctx, TRAIN, MODEL, contract.MODEL_OUTPUT)],
        arguments=arguments,
    )
    step = ProcessingStep(
        name=TRAIN, step_args=step_args, description="XGBoost, trained in a Processing job"
    )
    model_data = Join(on="/", values=[output_uri_of(step, MODEL), schema.MODEL_ARCHIVE_FILENAME])
    return step, model_data


def train_training_step(
    ctx: StepContext, preprocess: ProcessingStep, hyperparameters: Mapping[str, str]
) -> tuple[TrainingStep, PipelineVariable]:
    """Train as a Training job (`docker run image train`, channels, /opt/ml/model)."""
    from sagemaker.core.shapes import S3DataSource
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.train.model_trainer import ModelTrainer

    trainer = ModelTrainer(
        training_image=ctx.params.image_uri,
        role=ctx.role,
        sagemaker_session=ctx.session,
        base_job_name=f"{ctx.prefix}-train",
        compute=Compute(
            instance_type=ctx.params.training_instance_type,
            instance_count=ctx.params.training_instance_count,
        ),
        output_data_config=OutputDataConfig(
            s3_output_path=ctx.output_uri(TRAIN, MODEL), compression_type="GZIP"
        ),
        hyperparameters=dict(hyperparameters),
    )
    channels = {
        contract.TRAIN_CHANNEL: TRAIN_SPLIT,
        contract.VALIDATION_CHANNEL: VALIDATION_SPLIT,
        contract.PREPROCESSING_CHANNEL: PREPROCESSING,
    }
    inputs = [
        InputData(channel_name=channel, data_source=output_uri_of(preprocess, output))
        for channel, output in channels.items()
    ]
    if ctx.train_distribution == contract.SHARDED_BY_S3_KEY:
        inputs[0] = InputData(
            channel_name=contract.TRAIN_CHANNEL,
            data_source=S3DataSource(
                s3_data_type="S3Prefix",
                s3_uri=output_uri_of(preprocess, TRAIN_SPLIT),
                s3_data_distribution_type=contract.SHARDED_BY_S3_KEY,
            ),
        )
    step_args = _deferred(trainer.train, input_data_config=inputs)
    step = TrainingStep(
        name=TRAIN, step_args=step_args, description="XGBoost, trained in a Training job"
    )
    return step, step.properties.ModelArtifacts.S3ModelArtifacts


def evaluate_step(
    ctx: StepContext,
    preprocess: ProcessingStep,
    model_data: PipelineVariable,
    evaluation_file: PropertyFile,
) -> ProcessingStep:
    """Evaluate the model, and the incumbent, on the test split; its report is the gate's
    property file.

    The incumbent input is always present: a pipeline has no "if" for a step's inputs, an empty
    S3Uri is invalid, and a prefix with no object fails the job. So "no incumbent" is spelled
    IncumbentModelUrl == InputDataUri (the data file, which every execution has: Preprocess
    reads it), and the job is told both URLs and compares them (training.stages.has_incumbent):
    it then downloads the data file once more (200 KB) and ignores it. Any other URL must hold a
    model.tar.gz, or the job fails naming the URL: a wrong URL never silently drops the check.
    """
    params = ctx.params
    arguments = ["process", "evaluate", "--model", str(contract.MODEL_INPUT)]
    arguments += ["--test", str(contract.TEST_INPUT), "--output", str(contract.EVALUATION_OUTPUT)]
    arguments += ["--incumbent", str(contract.INCUMBENT_INPUT)]
    arguments += ["--incumbent-url", params.incumbent_model_url]
    arguments += ["--placeholder-url", params.input_data_uri]
    # NB: ContainerArguments are strings: a one-value Join turns the Float parameter into one.
    arguments += ["--rmse-tolerance", Join(on="", values=[params.rmse_tolerance])]
    step_args = _deferred(
        ctx.processor("evaluate").run,
        inputs=[
            # The model.tar.gz object itself: SageMaker puts it in MODEL_INPUT/model.tar.gz.
            _input(MODEL, model_data, contract.MODEL_INPUT),
            *_split_inputs(preprocess, {TEST_SPLIT: contract.TEST_INPUT}),
            _input(contract.INCUMBENT, params.incumbent_model_url, contract.INCUMBENT_INPUT),
        ],
        outputs=[_output(ctx, EVALUATE, EVALUATION, contract.EVALUATION_OUTPUT)],
        arguments=arguments,
    )
    return ProcessingStep(
        name=EVALUATE,
        step_args=step_args,
        property_files=[evaluation_file],
        description="metrics on the test split",
    )


def register_step(ctx: StepContext, model_data: PipelineVariable, report_uri: Join) -> ModelStep:
    """A model package version: the image, the model data, content types, metrics."""
    from sagemaker.serve.model_builder import ModelBuilder

    params = ctx.params
    builder = ModelBuilder(
        image_uri=params.image_uri,
        s3_model_data_url=model_data,
        role_arn=ctx.role,
        sagemaker_session=ctx.session,
        # NB: the default dependencies make ModelBuilder upload code; the image holds it all.
        dependencies={},
    )
    step_args = _deferred(
        builder.register,
        model_package_group_name=ctx.model_package_group,
        content_types=list(CONTENT_TYPES),
        response_types=list(RESPONSE_TYPES),
        inference_instances=[params.inference_instance_type],
        transform_instances=[params.transform_instance_type],
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(content_type=contract.JSON, s3_uri=report_uri)
        ),
        approval_status=params.model_approval_status,
        description="abalone XGBoost on the project's image, gated on RMSE",
    )
    return ModelStep(name=REGISTER, step_args=step_args)


def _input(
    name: str,
    source: Any,
    local_path: PurePosixPath,
    distribution: str = contract.FULLY_REPLICATED,
) -> ProcessingInput:
    s3_input = ProcessingS3Input(
        s3_uri=source,
        local_path=str(local_path),
        s3_data_type="S3Prefix",
        s3_input_mode="File",
        s3_data_distribution_type=distribution,
    )
    return ProcessingInput(input_name=name, s3_input=s3_input)


def _output(ctx: StepContext, step: str, name: str, local_path: PurePosixPath) -> ProcessingOutput:
    s3_output = ProcessingS3Output(
        s3_uri=ctx.output_uri(step, name), local_path=str(local_path), s3_upload_mode="EndOfJob"
    )
    return ProcessingOutput(output_name=name, s3_output=s3_output)


def _split_inputs(
    preprocess: ProcessingStep, wanted: Mapping[str, PurePosixPath]
) -> list[ProcessingInput]:
    return [_input(name, output_uri_of(preprocess, name), path) for name, path in wanted.items()]


def _deferred(job_call: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a job method under the pipeline session: it returns step arguments, runs nothing."""
    with warnings.catch_warnings():
        # NB: the SDK warns on every such call that no job starts: that is the point here.
        warnings.filterwarnings("ignore", "Running within a PipelineSession", UserWarning)
        return job_call(**kwargs)
