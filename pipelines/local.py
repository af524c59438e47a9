"""Run the pipeline on this machine: the same definition, the SDK's local mode, the image in Docker.

    python -m pipelines.local --data ../shared/data/abalone.data [--rmse-threshold 2.45]
        [--train-mode training --training-instance-count 2]

What differs from a run on SageMaker, and why:
- No Register step: local mode cannot run one ("not supported in local mode"). When the gate
  passes, this run records the model in the local registry folder instead (`registry`), and the
  compose endpoint serves the latest recorded model. When it fails, the Fail step's message is
  the reason and nothing is recorded.
- The incumbent is the registry's latest version (what `make up` serves; approval is recorded
  locally, not enforced, so "newest Approved" would never be found). Its model.tar.gz is
  copied next to the run's input and scored by Evaluate; with an empty registry, none.
- A model byte-identical to the incumbent's (same data, same code: training is reproducible)
  passes the gate but is not recorded again.

Exit codes (pipelines/outcome.py): 0 a model was recorded, or it is the incumbent's again; 1
the run failed, or the gate stopped the model and nothing was recorded before; 3 the gate
stopped the model and the incumbent stays the newest version (make run goes on serving it).
- Instance types are "local" (Docker on this machine); inputs and outputs are file:// under the
  work folder: <work>/<execution id>/<step>/<output>.
- Several training instances are several containers of the image on one Docker network, each
  given every input whole (local mode supports only FullyReplicated): each trains on every n-th
  row of the train split, one model together, written by algo-1.
- The job containers get dummy AWS credentials: local mode copies the session's credentials
  into every container and into the job's docker-compose.yaml, and this run needs none.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse
from urllib.request import url2pathname

from pipelines import registry
from pipelines.executions import StepReport, print_steps

DEFAULT_WORK_DIR: Final = Path("build/pipeline-local")
DEFAULT_REGISTRY_DIR: Final = Path("build/registry")
DEFAULT_IMAGE: Final = "abalone-byom:local"
#: Never used by local mode; the builder wants a role and a bucket.
LOCAL_ROLE: Final = "arn:aws:iam::000000000000:role/local-mode"
LOCAL_BUCKET: Final = "local-mode"
LOCAL_REGION: Final = "us-east-1"
JOBS_DIR: Final = ".jobs"
#: The project's one choice of Docker Compose, the one local mode also takes: v2 where it works.
COMPOSE_SCRIPT: Final = Path(__file__).resolve().parents[1] / "scripts" / "compose.sh"


@dataclass(frozen=True)
class LocalSettings:
    """Everything a local run needs, read once from argv (and IMAGE from the environment)."""

    data: str
    image: str = DEFAULT_IMAGE
    work_dir: Path = DEFAULT_WORK_DIR
    registry_dir: Path = DEFAULT_REGISTRY_DIR
    rmse_threshold: float | None = None
    rmse_tolerance: float | None = None
    approval_status: str = "PendingManualApproval"
    verify_data: bool = True
    hyperparameters: dict[str, str] = field(default_factory=dict)
    train_mode: str = "processing"  # pipelines.abalone.TRAIN_MODES (imported after the env is set)
    training_instance_count: int = 1
    verbose: bool = False

    @classmethod
    def from_argv(cls, argv: Sequence[str] | None, environ: dict[str, str]) -> LocalSettings:
        parser = argparse.ArgumentParser(prog="python -m pipelines.local", description=__doc__)
        parser.add_argument("--data", required=True, help="abalone file: a path or http(s) URL")
        parser.add_argument("--image", default=environ.get("IMAGE", DEFAULT_IMAGE))
        parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
        parser.add_argument("--registry-dir", type=Path, default=DEFAULT_REGISTRY_DIR)
        parser.add_argument("--rmse-threshold", type=float, help="RmseThreshold for this run")
        parser.add_argument("--rmse-tolerance", type=float, help="RmseTolerance for this run")
        parser.add_argument("--approval-status", default="PendingManualApproval")
        parser.add_argument("--no-verify", action="store_true", help="skip the sha256 check")
        parser.add_argument("--hyperparameters", type=json.loads, default={}, help="JSON object")
        parser.add_argument(
            "--train-mode",
            choices=("processing", "training"),
            default="processing",
            help="the Train step's job",
        )
        parser.add_argument(
            "--training-instance-count",
            type=_positive_int,
            default=1,
            help="TrainingInstanceCount for this run (containers on one Docker network)",
        )
        parser.add_argument("-v", "--verbose", action="store_true", help="show the SDK's logs")
        args = parser.parse_args(argv)
        return cls(
            data=args.data,
            image=args.image,
            work_dir=args.work_dir.resolve(),
            registry_dir=args.registry_dir.resolve(),
            rmse_threshold=args.rmse_threshold,
            rmse_tolerance=args.rmse_tolerance,
            approval_status=args.approval_status,
            verify_data=not args.no_verify,
            hyperparameters={str(k): str(v) for k, v in args.hyperparameters.items()},
            train_mode=args.train_mode,
            training_instance_count=args.training_instance_count,
            verbose=args.verbose,
        )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class LocalRun:
    """What a local execution did: its status, its steps, and where its outputs are."""

    execution_id: str
    status: str
    failure_reason: str | None
    steps: list[StepReport]
    outputs: dict[str, dict[str, str]]
    parameters: dict[str, Any]
    #: The Train step's model.tar.gz (a file:// URI), in either train mode; None if it did not run.
    model_data: str | None = None
    #: The registry version scored as the incumbent; None on a first run.
    incumbent_version: int | None = None

    @property
    def gate_passed(self) -> bool:
        from pipelines.steps import GATE

        return self.status == "Succeeded" and any(
            s.name == GATE and s.outcome is True for s in self.steps
        )

    @property
    def gate_stopped(self) -> bool:
        """The gate ran and its condition was not met (the Fail step then ends the run)."""
        from pipelines.steps import GATE

        return any(s.name == GATE and s.outcome is False for s in self.steps)

    def output_path(self, step: str, output: str) -> Path:
        """The local folder a step wrote an output to (outputs are file:// URIs locally)."""
        return Path(url2pathname(urlparse(self.outputs[step][output]).path))

    @property
    def model_archive(self) -> Path:
        """The local model.tar.gz the Train step wrote (KeyError when it wrote none)."""
        if self.model_data is None:
            raise KeyError("the Train step wrote no model")
        return Path(url2pathname(urlparse(self.model_data).path))


def stage_input(data: str, inputs_dir: Path) -> str:
    """Copy (or download) the data into a new folder of its own; return the folder's file:// URI.

    A copy because local mode mounts file:// inputs read-write and refuses folders under the
    home directory; a folder per run so the registry's record of a model's input stays true.
    """
    input_dir = inputs_dir / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    input_dir.mkdir(parents=True)
    if data.startswith(("http://", "https://")):
        target = input_dir / (Path(data.split("?")[0]).name or "abalone.data")
        with urllib.request.urlopen(data, timeout=60) as response:
            target.write_bytes(response.read())
    else:
        shutil.copyfile(Path(data).expanduser(), input_dir / Path(data).name)
    return input_dir.as_uri()


def stage_incumbent(registry_dir: Path, inputs_dir: Path) -> tuple[int, str] | None:
    """The registry's latest version and a file:// URI of a copy of its model.tar.gz in a folder
    of its own (local mode mounts an input's folder); None when nothing was recorded."""
    version = registry.latest_version(registry_dir)
    if version is None:
        return None
    target = inputs_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-incumbent" / registry.MODEL_ARCHIVE
    target.parent.mkdir(parents=True)
    shutil.copyfile(registry_dir / str(version) / registry.MODEL_ARCHIVE, target)
    return version, target.as_uri()


def run_local(settings: LocalSettings) -> LocalRun:
    """Build the pipeline for local mode and run it once (synchronously)."""
    import boto3

    from pipelines.abalone import describe, get_pipeline
    from pipelines.localmode import LocalRunSession

    settings.work_dir.mkdir(parents=True, exist_ok=True)
    jobs_dir = settings.work_dir / JOBS_DIR
    jobs_dir.mkdir(exist_ok=True)
    boto_session = boto3.Session(
        region_name=LOCAL_REGION, aws_access_key_id="local", aws_secret_access_key="local"
    )
    session = LocalRunSession(boto_session=boto_session, container_root=jobs_dir)
    pipeline = get_pipeline(
        role=LOCAL_ROLE,
        image_uri=settings.image,
        bucket=LOCAL_BUCKET,
        session=session,
        input_data_uri=stage_input(settings.data, settings.work_dir / "inputs"),
        output_root=settings.work_dir.as_uri(),
        hyperparameters=settings.hyperparameters,
        verify_data=settings.verify_data,
        register=False,
        train_mode=settings.train_mode,
    )
    description = describe(settings.train_mode) + " Local mode: no Register step."
    session.create_pipeline(pipeline, description)
    incumbent = stage_incumbent(settings.registry_dir, settings.work_dir / "inputs")
    try:
        execution = session.start_pipeline_execution(
            PipelineName=pipeline.name,
            PipelineParameters=_local_parameters(settings, incumbent[1] if incumbent else None),
        )
    finally:
        remove_job_containers(jobs_dir)
    return _summarize(execution, incumbent[0] if incumbent else None)


def _local_parameters(settings: LocalSettings, incumbent_uri: str | None = None) -> dict[str, Any]:
    """This run's parameters; with no incumbent, IncumbentModelUrl keeps its default (the
    input: none)."""
    from pipelines import parameters as p

    values: dict[str, Any] = {
        p.PROCESSING_INSTANCE_TYPE: "local",
        p.TRAINING_INSTANCE_TYPE: "local",
        p.TRAINING_INSTANCE_COUNT: settings.training_instance_count,
        p.MODEL_APPROVAL_STATUS: settings.approval_status,
    }
    if settings.rmse_threshold is not None:
        values[p.RMSE_THRESHOLD] = float(settings.rmse_threshold)
    if settings.rmse_tolerance is not None:
        values[p.RMSE_TOLERANCE] = float(settings.rmse_tolerance)
    if incumbent_uri is not None:
        values[p.INCUMBENT_MODEL_URL] = incumbent_uri
    return values


def _summarize(execution: Any, incumbent_version: int | None = None) -> LocalRun:
    from pipelines.steps import TRAIN

    described = execution.describe()
    steps = [StepReport.from_response(s) for s in execution.list_steps()["PipelineExecutionSteps"]]
    outputs = {
        name: {
            output: spec["S3Output"]["S3Uri"]
            for output, spec in step.properties.get("ProcessingOutputConfig", {})
            .get("Outputs", {})
            .items()
        }
        for name, step in execution.step_execution.items()
    }
    train = execution.step_execution.get(TRAIN)
    return LocalRun(
        execution_id=execution.pipeline_execution_name,
        status=described["PipelineExecutionStatus"],
        failure_reason=described.get("FailureReason"),
        steps=steps,
        outputs=outputs,
        parameters=dict(execution.pipeline_parameters),
        model_data=model_data_of(outputs.get(TRAIN, {}), train.properties if train else {}),
        incumbent_version=incumbent_version,
    )


def model_data_of(train_outputs: dict[str, str], train_properties: dict[str, Any]) -> str | None:
    """The model.tar.gz URI of a Train step: a Processing job's model output holds the archive;
    a Training job (local mode tars /opt/ml/model of every host) names it in ModelArtifacts."""
    from pipelines.steps import MODEL
    from training import schema

    if MODEL in train_outputs:
        return f"{train_outputs[MODEL].rstrip('/')}/{schema.MODEL_ARCHIVE_FILENAME}"
    artifacts = train_properties.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    return str(artifacts) if artifacts else None


def remove_job_containers(jobs_dir: Path) -> None:
    """`compose down` each job local mode ran, then drop their folders.

    Local mode leaves an exited container per job, the `sagemaker-local` network and a folder
    per job holding its docker-compose.yaml (with the containers' credentials in plain text).
    """
    for compose_file in sorted(jobs_dir.glob("*/docker-compose.yaml")):
        command = ["bash", str(COMPOSE_SCRIPT), "-f", str(compose_file), "down", "--remove-orphans"]
        subprocess.run(command, capture_output=True, check=False, timeout=120)
    shutil.rmtree(jobs_dir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run locally; the exit code of pipelines.outcome.report_outcome."""
    settings = LocalSettings.from_argv(argv, dict(os.environ))
    from pipelines.sessions import prepare_environment, quiet_sdk_logs

    prepare_environment(LOCAL_REGION, offline=True)
    quiet_sdk_logs(logging.INFO if settings.verbose else logging.ERROR)
    run = run_local(settings)
    print(f"execution {run.execution_id}: {run.status} (outputs in {settings.work_dir})")
    print_steps(run.steps)
    from pipelines.outcome import report_outcome

    return report_outcome(run, settings)


if __name__ == "__main__":
    sys.exit(main())
