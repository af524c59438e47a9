"""The drift monitor of a deployed endpoint on AWS (deploy/templates/monitoring.yaml).

python -m deploy.monitoring deploy --config build/deploy/prod.json [--parameter KEY=VALUE ...]
python -m deploy.monitoring run-once --endpoint-name abalone-prod

`deploy` creates or updates the stack <endpoint>-monitoring from the stage's config (written by
deploy.configs), through the stage's CloudFormation role: the image and model.tar.gz of the
package the endpoint serves, the endpoint's capture prefix, and from the bootstrap stack the
artifact bucket (reports) and the stage's monitor roles. It refuses an endpoint that captures
nothing or elsewhere than s3://<ArtifactBucket>/data-capture/<endpoint> (all its job role may
read), and creates the log group the metric filters read when it is missing.
`run-once` starts one job now with exactly the request the schedule sends.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from deploy import stacks
from deploy.cli import DeployError, checked, client, run
from deploy.configs import DEFAULT_BOOTSTRAP_STACK

TEMPLATE: Final = Path(__file__).parent / "templates" / "monitoring.yaml"
STACK_SUFFIX: Final = "-monitoring"
SCHEDULE_SUFFIX: Final = "-drift-monitor"
#: Where SageMaker Processing writes every job's stdout; the metric filters live on it.
PROCESSING_LOG_GROUP: Final = "/aws/sagemaker/ProcessingJobs"
#: The context attributes Scheduler replaces in the target's input on each attempt.
EXECUTION_ID: Final = "<aws.scheduler.execution-id>"
SCHEDULED_TIME: Final = "<aws.scheduler.scheduled-time>"
ENDPOINT_PATTERN: Final = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,39}"
_S3_URI = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+)")


def split_s3_uri(uri: str, what: str) -> tuple[str, str]:
    """(bucket, key) of s3://bucket/key, the key without a trailing slash."""
    match = _S3_URI.fullmatch(uri.rstrip("/"))
    if match is None:
        raise DeployError(f"{what} {uri!r} is not s3://<bucket>/<key>")
    return match.group(1), match.group(2)


def served_container(sagemaker: Any, package_arn: str) -> dict[str, str]:
    """The image and model archive of the package the endpoint serves."""
    described = sagemaker.describe_model_package(ModelPackageName=package_arn)
    (container, *_) = described["InferenceSpecification"]["Containers"]
    return {"Image": container["Image"], "ModelDataUrl": container["ModelDataUrl"]}


def monitoring_parameters(
    config: Mapping[str, Any], container: Mapping[str, str], bootstrap: Mapping[str, str]
) -> dict[str, str]:
    """The monitoring stack's parameters for the endpoint a stage config deploys."""
    endpoint_params = config.get("Parameters", {})
    endpoint = checked(str(endpoint_params.get("EndpointName", "")), ENDPOINT_PATTERN, "endpoint")
    stage = str(config.get("Stage", ""))
    bucket = bootstrap["ArtifactBucket"]
    expected = f"s3://{bucket}/data-capture/{endpoint}"
    capture_uri = str(endpoint_params.get("DataCaptureS3Uri", "")).rstrip("/")
    if capture_uri != expected:
        found = f"DataCaptureS3Uri is {capture_uri!r}" if capture_uri else "it captures nothing"
        raise DeployError(
            f"endpoint {endpoint}: {found} in deploy/params/{stage}.json; its monitor reads "
            f"{expected} only: set that and deploy the endpoint, then its monitor"
        )
    model_bucket, model_key = split_s3_uri(container["ModelDataUrl"], "ModelDataUrl")
    return {
        "EndpointName": endpoint,
        **_stage_roles(bootstrap, stage),
        "ImageUri": container["Image"],
        "ModelBucket": model_bucket,
        "ModelKey": model_key,
        "CaptureBucket": bucket,
        "CapturePrefix": f"data-capture/{endpoint}",
        "OutputBucket": bucket,
    }


def _stage_roles(bootstrap: Mapping[str, str], stage: str) -> dict[str, str]:
    names = {
        "MonitorJobRoleArn": f"MonitorJob{stage.capitalize()}RoleArn",
        "SchedulerRoleArn": f"MonitorScheduler{stage.capitalize()}RoleArn",
    }
    missing = [output for output in names.values() if output not in bootstrap]
    if missing:
        raise DeployError(
            f"the bootstrap stack has no {', '.join(missing)}: update it (make deploy-bootstrap)"
        )
    return {parameter: bootstrap[output] for parameter, output in names.items()}


def ensure_log_group(logs: Any) -> bool:
    """Create the Processing log group when missing (a metric filter needs it); True if made."""
    found = logs.describe_log_groups(logGroupNamePrefix=PROCESSING_LOG_GROUP)["logGroups"]
    if any(group["logGroupName"] == PROCESSING_LOG_GROUP for group in found):
        return False
    try:
        logs.create_log_group(logGroupName=PROCESSING_LOG_GROUP)
    except logs.exceptions.ResourceAlreadyExistsException:
        return False  # a job created it meanwhile
    return True


def stack_spec(
    config: Mapping[str, Any], parameters: Mapping[str, str], overrides: Mapping[str, str]
) -> stacks.StackSpec:
    return stacks.StackSpec(
        name=f"{parameters['EndpointName']}{STACK_SUFFIX}",
        template_body=TEMPLATE.read_text(),
        parameters={**parameters, **overrides},
        tags={**config.get("Tags", {}), "monitors": parameters["EndpointName"]},
        role_arn=config.get("RoleArn"),
    )


def kept_settings(cfn: Any, name: str, derived: Mapping[str, str]) -> dict[str, str]:
    """The deployed stack's settings that differ from the template's defaults (schedule, window,
    thresholds, alarm email: what is not derived from the stage config), so that a deploy
    without them, the Deploy workflow's, keeps what was set by hand with --parameter."""
    if stacks.stack_status(cfn, name) in (None, *stacks.DEAD_STATES):
        return {}
    summary = cfn.get_template_summary(StackName=name)["Parameters"]
    defaults = {item["ParameterKey"]: item.get("DefaultValue") for item in summary}
    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    return {
        item["ParameterKey"]: item["ParameterValue"]
        for item in stack.get("Parameters", [])
        if item["ParameterKey"] not in derived
        and item["ParameterValue"] != defaults.get(item["ParameterKey"])
    }


def scheduled_request(target_input: str, *, execution_id: str, scheduled_time: str) -> Any:
    """The CreateProcessingJob request of one attempt: the target's input with the context
    attributes replaced, as Scheduler does."""
    text = target_input.replace(EXECUTION_ID, execution_id)
    return json.loads(text.replace(SCHEDULED_TIME, scheduled_time))


def run_once(scheduler: Any, sagemaker: Any, endpoint: str, now: datetime) -> str:
    """Start one monitor job now with the schedule's own request; return the job name."""
    schedule = scheduler.get_schedule(Name=f"{endpoint}{SCHEDULE_SUFFIX}")
    request = scheduled_request(
        schedule["Target"]["Input"],
        execution_id=uuid.uuid4().hex[:16],
        scheduled_time=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    sagemaker.create_processing_job(**request)
    return str(request["ProcessingJobName"])


def deploy(args: argparse.Namespace) -> int:
    try:
        config = json.loads(Path(args.config).read_text())
    except (OSError, ValueError) as exc:
        raise DeployError(f"cannot read config {args.config}: {exc}") from exc
    container = served_container(client("sagemaker"), str(config.get("ModelPackageArn", "")))
    cfn = client("cloudformation")
    bootstrap = stacks.stack_outputs(cfn, args.bootstrap_stack)
    parameters = monitoring_parameters(config, container, bootstrap)
    if ensure_log_group(client("logs")):
        print(f"created log group {PROCESSING_LOG_GROUP} (no Processing job had run here yet)")
    settings = {**kept_settings(cfn, f"{parameters['EndpointName']}{STACK_SUFFIX}", parameters)}
    spec = stack_spec(config, parameters, {**settings, **dict(stacks._pairs(args.parameter))})
    outputs = stacks.deploy(cfn, spec, stacks.Waiting(poll_s=args.poll_seconds))
    stacks.print_outputs(spec.name, outputs)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("deploy", help="create or update <endpoint>-monitoring")
    up.add_argument("--config", required=True, help="a stage config written by deploy.configs")
    up.add_argument("--bootstrap-stack", default=DEFAULT_BOOTSTRAP_STACK)
    up.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    up.add_argument("--poll-seconds", type=float, default=10)
    once = commands.add_parser("run-once", help="start one monitor job now, as scheduled")
    once.add_argument("--endpoint-name", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def command() -> int:
        if args.command == "deploy":
            return deploy(args)
        endpoint = checked(args.endpoint_name, ENDPOINT_PATTERN, "endpoint")
        name = run_once(client("scheduler"), client("sagemaker"), endpoint, datetime.now(UTC))
        print(f"started processing job {name}")
        return 0

    return run(command)


if __name__ == "__main__":
    sys.exit(main())
