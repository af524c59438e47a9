"""The pipeline CLIs, compatible with the SageMaker project seed's (same flags, same --kwargs).

    get-pipeline-definition [-f FILE] [--train-mode processing|training] [options]
        prints the definition JSON; no AWS call at all (no credentials, no network, no telemetry).
    run-pipeline --role-arn ARN --image-uri URI --bucket NAME [options]
        upserts the pipeline, starts an execution and (unless --no-wait) follows it, printing each
        step's status as it changes.

Before starting, run-pipeline resolves the incumbent (the newest Approved package of the model
package group) and passes its model data as IncumbentModelUrl, or none (pipelines/incumbent.py).

Exit codes: 0 the execution succeeded (or started, with --no-wait); 1 it failed or was stopped
(the reason and each failed step's reason are printed); 2 bad arguments or settings, or an
incumbent that cannot be scored; 3 still running when --timeout-minutes ran out; 4 an AWS call
failed.

Settings come from the flags, then the seed's --kwargs (a Python dict literal, with its names:
role, default_bucket, region, pipeline_name, model_package_group_name, base_job_prefix), then the
seed's environment variables: SAGEMAKER_PIPELINE_ROLE_ARN, ARTIFACT_BUCKET, IMAGE_URI, AWS_REGION.
"""

from __future__ import annotations

import argparse
import ast
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from pipelines.executions import ExecutionResult

#: What get-pipeline-definition uses when nothing names them (run-pipeline needs real ones).
PLACEHOLDERS: Final = {
    "role": "arn:aws:iam::000000000000:role/SageMakerPipelineExecutionRole",
    "image_uri": "000000000000.dkr.ecr.us-east-1.amazonaws.com/abalone-byom:latest",
    "bucket": "sagemaker-abalone-byom-artifacts",
}
#: The seed's --kwargs names that differ from get_pipeline's, and those it has no use for (the
#: project's name reaches SageMaker as the seed's --tags).
SEED_KWARG_NAMES: Final = {"default_bucket": "bucket"}
SEED_ONLY_KWARGS: Final = frozenset({"sagemaker_project_name", "sagemaker_project_arn"})
#: The seed's environment variables (its CodeBuild project sets them).
ENV_DEFAULTS: Final = {
    "role": "SAGEMAKER_PIPELINE_ROLE_ARN",
    "bucket": "ARTIFACT_BUCKET",
    "image_uri": "IMAGE_URI",
}
FLAG_FOR: Final = {"role": "--role-arn", "bucket": "--bucket", "image_uri": "--image-uri"}

EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT, EXIT_AWS = 1, 2, 3, 4


class UsageError(ValueError):
    """Missing or contradictory settings (exit code 2)."""


@dataclass(frozen=True)
class PipelineSettings:
    """What building the pipeline takes: get_pipeline's keyword arguments and the region."""

    module_name: str
    kwargs: dict[str, Any]
    region: str | None
    placeholders: tuple[str, ...] = ()


def _pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-n", "--module-name", default="pipelines.abalone", help="module with get_pipeline()")
    add("-kwargs", "--kwargs", default=None, help="dict literal of get_pipeline() arguments")
    add("-role-arn", "--role-arn", help="the pipeline's and the jobs' execution role ARN")
    add("--image-uri", help="the project's image in ECR (ImageUri's default)")
    add("--bucket", help="S3 bucket for the outputs")
    add("--region", help="AWS region (default: the environment's)")
    add("--train-mode", choices=("processing", "training"), help="the Train step's job kind")
    add("--pipeline-name")
    add("--model-package-group-name")
    add("--input-data-uri", help="InputDataUri's default")
    add("-v", "--verbose", action="store_true", help="show the SDK's logs")


def settings_from_args(
    args: argparse.Namespace, environ: Mapping[str, str], *, allow_placeholders: bool
) -> PipelineSettings:
    """Merge flags over --kwargs over the environment; placeholders only for a preview."""
    try:
        given = ast.literal_eval(args.kwargs) if args.kwargs else {}
    except (ValueError, SyntaxError) as exc:
        raise UsageError(f"--kwargs is not a Python dict literal: {exc}") from None
    if not isinstance(given, dict):
        raise UsageError("--kwargs must be a dict literal")
    kwargs = {SEED_KWARG_NAMES.get(k, k): v for k, v in given.items() if k not in SEED_ONLY_KWARGS}
    region = args.region or kwargs.pop("region", None)
    flags = {
        "role": args.role_arn,
        "image_uri": args.image_uri,
        "bucket": args.bucket,
        "train_mode": args.train_mode,
        "pipeline_name": args.pipeline_name,
        "model_package_group_name": args.model_package_group_name,
        "input_data_uri": args.input_data_uri,
    }
    kwargs.update({k: v for k, v in flags.items() if v is not None})
    placeholders = []
    for name, variable in ENV_DEFAULTS.items():
        kwargs.setdefault(name, environ.get(variable) or None)
        if kwargs[name] is None and allow_placeholders:
            kwargs[name] = PLACEHOLDERS[name]
            placeholders.append(name)
        elif kwargs[name] is None:
            raise UsageError(f"no {name}: pass {FLAG_FOR[name]} or set {variable}")
    return PipelineSettings(args.module_name, kwargs, region, tuple(placeholders))


def build_pipeline(settings: PipelineSettings, *, offline: bool, verbose: bool = False) -> Any:
    """Prepare the SDK's environment, then import the module and call its get_pipeline()."""
    import importlib

    from pipelines.sessions import pipeline_session, prepare_environment, quiet_sdk_logs

    region = prepare_environment(settings.region, offline=offline)
    quiet_sdk_logs(logging.INFO if verbose else logging.ERROR)
    try:
        module = importlib.import_module(settings.module_name)
    except ModuleNotFoundError as exc:
        raise UsageError(f"--module-name {settings.module_name}: {exc}") from None
    session = pipeline_session(region, settings.kwargs["bucket"])
    try:
        return module.get_pipeline(session=session, **settings.kwargs)
    except TypeError as exc:
        raise UsageError(f"{settings.module_name}.get_pipeline(): {exc}") from None


def definition_main(argv: Sequence[str] | None = None) -> int:
    """get-pipeline-definition: print (and optionally write) the definition; no AWS call."""
    import os

    parser = argparse.ArgumentParser(prog="get-pipeline-definition", description=__doc__)
    _pipeline_arguments(parser)
    parser.add_argument("-f", "--file-name", type=Path, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args, dict(os.environ), allow_placeholders=True)
        definition = build_pipeline(settings, offline=True, verbose=args.verbose).definition()
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if settings.placeholders:
        names = ", ".join(FLAG_FOR[name] for name in settings.placeholders)
        print(f"note: placeholder values for {names} (a preview)", file=sys.stderr)
    if args.file_name:
        args.file_name.write_text(definition + "\n")
    print(definition)
    return 0


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-description", "--description", help="the pipeline's description")
    add("-tags", "--tags", help="list literal: [{'Key': 'k', 'Value': 'v'}, ...]")
    add(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pipeline parameter for this execution, e.g. RmseThreshold=2.3 (repeatable)",
    )
    add("--no-wait", action="store_true", help="return once the execution has started")
    add("--poll-seconds", type=float, default=30.0, help="how often to check the execution")
    add("--timeout-minutes", type=float, default=180.0, help="how long to wait for it")


def parse_parameters(items: Sequence[str]) -> dict[str, str]:
    """NAME=VALUE pairs; SageMaker takes every parameter value as a string."""
    pairs = [item.partition("=") for item in items]
    bad = [item for item, (_, sep, _) in zip(items, pairs, strict=True) if not sep]
    if bad:
        raise UsageError(f"--parameter takes NAME=VALUE, got {bad[0]!r}")
    return {name: value for name, _, value in pairs}


def parse_tags(text: str | None) -> list[dict[str, str]] | None:
    if not text:
        return None
    try:
        tags = ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise UsageError(f"--tags is not a list literal: {exc}") from None
    if not isinstance(tags, list) or not all(isinstance(t, dict) for t in tags):
        raise UsageError("--tags must be a list of {'Key': ..., 'Value': ...}")
    return tags


def pipeline_description(settings: PipelineSettings, given: str | None) -> str | None:
    """The given description, else the abalone pipeline's own (it names the train mode)."""
    if given or settings.module_name != "pipelines.abalone":
        return given
    from pipelines.abalone import describe

    return describe(settings.kwargs.get("train_mode", "processing"))


def with_incumbent(
    pipeline: Any, settings: PipelineSettings, parameters: dict[str, str]
) -> dict[str, str]:
    """Set IncumbentModelUrl to the newest Approved package's model data (or to none) for a
    pipeline that declares it; print which. AWS errors propagate (exit code 4)."""
    from pipelines import parameters as p
    from pipelines.abalone import DEFAULT_MODEL_PACKAGE_GROUP
    from pipelines.incumbent import execution_parameters

    defaults = {param.name: param.default_value for param in pipeline.parameters}
    if p.INCUMBENT_MODEL_URL not in defaults:
        return parameters
    group = settings.kwargs.get("model_package_group_name", DEFAULT_MODEL_PACKAGE_GROUP)
    client = pipeline.sagemaker_session.sagemaker_client
    chosen, line = execution_parameters(client, group, parameters, defaults[p.INPUT_DATA_URI])
    print(line)
    return chosen


def report(result: ExecutionResult) -> int:
    """Print how the execution ended; the exit code."""
    if result.status == "Succeeded":
        print(f"execution {result.arn} succeeded")
        return 0
    print(f"execution {result.arn} {result.status}: {result.failure_reason or 'no reason given'}")
    for step in result.failed_steps:
        print(f"  failed step {step.name}: {step.failure_reason or 'no reason given'}")
    if not result.steps_known:
        print("  (the steps could not be listed, so no step's reason is known)")
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """run-pipeline: upsert the pipeline, start an execution, follow it (unless --no-wait)."""
    import os

    from botocore.exceptions import BotoCoreError, ClientError

    from pipelines.executions import ExecutionTimeout, wait_for_execution
    from pipelines.incumbent import IncumbentError
    from pipelines.sessions import RegionMissing

    parser = argparse.ArgumentParser(prog="run-pipeline", description=__doc__)
    _pipeline_arguments(parser)
    _run_arguments(parser)
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args, dict(os.environ), allow_placeholders=False)
        tags, parameters = parse_tags(args.tags), parse_parameters(args.parameter)
        pipeline = build_pipeline(settings, offline=False, verbose=args.verbose)
    except (UsageError, RegionMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    description = pipeline_description(settings, args.description)
    try:
        parameters = with_incumbent(pipeline, settings, parameters)
        pipeline.upsert(role_arn=settings.kwargs["role"], description=description, tags=tags)
        print(f"upserted pipeline {pipeline.name}")
        arn = pipeline.start(parameters=parameters or None).arn
        print(f"started execution {arn}")
        if args.no_wait:
            return 0
        client = pipeline.sagemaker_session.sagemaker_client
        wait = {"poll_seconds": args.poll_seconds, "timeout_seconds": args.timeout_minutes * 60}
        return report(wait_for_execution(client, arn, **wait))
    except IncumbentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ExecutionTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    except (ClientError, BotoCoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_AWS


if __name__ == "__main__":
    sys.exit(main())
