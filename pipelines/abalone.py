"""The abalone pipeline: every step runs the project's own image (no script upload, no AWS image).

          InputDataUri (parameter)
                |
          [Preprocess]   process preprocess       -> train/ validation/ test/ preprocessing/
                |
            [Train]      process train  (Processing job: --train-mode processing, the default)
                |        train          (Training job:   --train-mode training)
                |                                 -> model.tar.gz
          [Evaluate]     process evaluate         -> evaluation/evaluation.json, plots
                |
          <CheckRmse>    RMSE <= RmseThreshold, and
                |        RMSE <= incumbent RMSE x (1 + RmseTolerance)  (skipped: no incumbent)
                |
                +-- met -----> [Register]     a version in the model package group: the image,
                |                             the model data, content types, instance types,
                |                             the evaluation as model metrics, and
                |                             ModelApprovalStatus (PendingManualApproval)
                +-- not met -> [RmseTooHigh]  Fail step: both RMSEs, both limits, the report

Evaluate scores the incumbent (IncumbentModelUrl: run-pipeline resolves the newest Approved
package's model data) on the same test split with the same metric code.

The train step's kind is fixed when the definition is built (`train_mode`): a pipeline parameter
cannot change the step graph at execution time. The kind is recorded in the pipeline's and the
Train step's descriptions, and a training-mode pipeline gets its own default name, so upserting
one mode never silently swaps the graph of the pipeline that runs the other.

Every output goes to <output root>/<execution id>/<step>/<output>, so no two executions share a
location. Building makes no AWS call, given a session whose default bucket is set
(`sessions.pipeline_session`) and `SAGEMAKER_VALIDATE_ROLE=false` for the training mode.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow import ConditionStep, FailStep, Pipeline

from pipelines import steps
from pipelines.parameters import PipelineParameters
from training import report

if TYPE_CHECKING:
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow import Step

TrainMode = Literal["processing", "training"]
TRAIN_MODES: Final[tuple[TrainMode, ...]] = ("processing", "training")

DEFAULT_PIPELINE_NAME: Final = "abalone-pipeline"
#: The group deploy/templates/bootstrap.yaml creates and its execution role may register into.
DEFAULT_MODEL_PACKAGE_GROUP: Final = "abalone"
DEFAULT_PREFIX: Final = "abalone-pipeline"
#: The evaluation output's property file, read by the quality gate.
EVALUATION_PROPERTY_FILE: Final = "EvaluationReport"


def default_pipeline_name(train_mode: TrainMode) -> str:
    """The default name; a training-job pipeline is a pipeline of its own (see module doc)."""
    return (
        DEFAULT_PIPELINE_NAME if train_mode == "processing" else f"{DEFAULT_PIPELINE_NAME}-training"
    )


def describe(train_mode: TrainMode) -> str:
    kind = "a Processing job" if train_mode == "processing" else "a Training job"
    return (
        f"Abalone XGBoost on the project's image: preprocess, train as {kind} "
        f"(--train-mode {train_mode}), evaluate, gate on RMSE, register."
    )


def get_pipeline(
    *,
    role: str,
    image_uri: str,
    bucket: str,
    session: PipelineSession | None = None,
    train_mode: TrainMode = "processing",
    pipeline_name: str | None = None,
    model_package_group_name: str = DEFAULT_MODEL_PACKAGE_GROUP,
    base_job_prefix: str = DEFAULT_PREFIX,
    input_data_uri: str | None = None,
    output_root: str | None = None,
    hyperparameters: Mapping[str, str] | None = None,
    verify_data: bool = True,
    register: bool = True,
    region: str | None = None,
    train_parts: int = 1,
) -> Pipeline:
    """Build the pipeline; no AWS call.

    Args:
        role: the execution role ARN of the jobs (and of the model package's model).
        image_uri: the project's image in ECR: ImageUri's default.
        bucket: the S3 bucket for outputs (and the session's default bucket).
        session: a PipelineSession (or a local one); default `sessions.pipeline_session`.
        train_mode: "processing" (a Processing job) or "training" (a Training job).
        pipeline_name: default `default_pipeline_name(train_mode)`.
        model_package_group_name: where Register puts model versions.
        base_job_prefix: the S3 key prefix of the outputs.
        input_data_uri: InputDataUri's default; default s3://<bucket>/<prefix>/data/abalone.data.
        output_root: where outputs go; default s3://<bucket>/<prefix> (file://... locally).
        hyperparameters: given to the train step (strings, as SageMaker passes them).
        verify_data: check the abalone file's sha256 (off for samples of it).
        register: add the Register step (local mode cannot run it).
        region: the session's region when no session is given.
        train_parts: part files preprocess writes per split; above 1 the train step's train
            input is sharded by S3 key (each of TrainingInstanceCount instances downloads
            its own parts, so keep the count at most this); with 1 every instance gets the
            whole split and trains on every n-th row.

    Returns:
        The pipeline, ready for definition(), upsert() or a local run.

    Raises:
        ValueError: an unknown train_mode, or train_parts below 1.
    """
    if train_mode not in TRAIN_MODES:
        raise ValueError(f"train_mode must be one of {TRAIN_MODES}, got {train_mode!r}")
    if train_parts < 1:
        raise ValueError(f"train_parts must be at least 1, got {train_parts}")
    if session is None:
        from pipelines.sessions import OFFLINE_REGION, pipeline_session

        session = pipeline_session(region or OFFLINE_REGION, bucket)
    root = output_root or f"s3://{bucket}/{base_job_prefix}"
    params = PipelineParameters.create(
        image_uri=image_uri,
        input_data_uri=input_data_uri or f"s3://{bucket}/{base_job_prefix}/data/abalone.data",
    )
    ctx = steps.StepContext(
        role=role,
        session=session,
        params=params,
        output_root=root,
        prefix=base_job_prefix,
        model_package_group=model_package_group_name,
        train_parts=train_parts,
    )
    preprocess = steps.preprocess_step(ctx, verify_data=verify_data)
    if train_mode == "processing":
        hp_json = json.dumps(dict(hyperparameters), sort_keys=True) if hyperparameters else None
        train, model_data = steps.train_processing_step(ctx, preprocess, hp_json)
    else:
        train, model_data = steps.train_training_step(ctx, preprocess, hyperparameters or {})
    evaluation_file = PropertyFile(
        name=EVALUATION_PROPERTY_FILE, output_name=steps.EVALUATION, path=report.REPORT_FILENAME
    )
    evaluate = steps.evaluate_step(ctx, preprocess, model_data, evaluation_file)
    gate = _gate_step(ctx, evaluate, evaluation_file, model_data, register=register)
    return Pipeline(
        name=pipeline_name or default_pipeline_name(train_mode),
        parameters=params.all(),
        steps=[preprocess, train, evaluate, gate],
        sagemaker_session=session,
        # NB: no SageMaker Experiments: the SDK's default makes every execution create an
        # experiment, a trial and trial components, which the execution role is not granted.
        # Runs are traced by the execution's own steps and the registered package's metrics.
        pipeline_experiment_config=None,
    )


def _gate_step(
    ctx: steps.StepContext,
    evaluate: Step,
    evaluation_file: PropertyFile,
    model_data: Any,
    *,
    register: bool,
) -> ConditionStep:
    """Register only when RMSE <= RmseThreshold and RMSE <= the relative limit (training.report:
    incumbent RMSE x (1 + RmseTolerance), computed by Evaluate since a condition cannot
    multiply; the challenger's own RMSE with no incumbent, so then only the threshold counts)."""

    def reported(path: str) -> JsonGet:
        return JsonGet(step_name=evaluate.name, property_file=evaluation_file, json_path=path)

    rmse = reported(report.METRIC_JSON_PATH)
    evaluation_uri = steps.output_uri_of(evaluate, steps.EVALUATION)
    report_uri = Join(on="/", values=[evaluation_uri, report.REPORT_FILENAME])
    # NB: one flat Join (no Join in it) of parameters, step properties and JsonGets of the
    # Evaluate step's property file. The SDK checks JsonGet references in any step's arguments,
    # and its own @step functions pass data to other steps as Std:JsonGet in their arguments;
    # local mode resolves them too (tests/pipelines/test_local_pipeline.py reads them).
    message = Join(
        on="",
        values=[
            "Model RMSE ",
            rmse,
            " must be <= RmseThreshold ",
            ctx.params.rmse_threshold,
            " and <= the relative limit (",
            reported(report.GATE_RELATIVE_JSON_PATH),
            "); report: ",
            evaluation_uri,
            f"/{report.REPORT_FILENAME}; the model is not registered.",
        ],
    )
    fail = FailStep(name=steps.FAIL, error_message=message)
    if_steps = [steps.register_step(ctx, model_data, report_uri)] if register else []
    return ConditionStep(
        name=steps.GATE,
        description=(
            f"{report.METRIC_JSON_PATH} <= RmseThreshold and "
            f"<= {report.GATE_LIMIT_JSON_PATH} (incumbent RMSE x (1 + RmseTolerance))"
        ),
        conditions=[
            ConditionLessThanOrEqualTo(left=rmse, right=ctx.params.rmse_threshold),
            ConditionLessThanOrEqualTo(left=rmse, right=reported(report.GATE_LIMIT_JSON_PATH)),
        ],
        if_steps=if_steps,
        else_steps=[fail],
    )
