"""Create or update a CloudFormation stack through a change set, and say clearly how it ended.

python -m deploy.stacks deploy --template deploy/templates/endpoint.yaml \
    --config build/deploy/staging.json
python -m deploy.stacks deploy --template deploy/templates/bootstrap.yaml \
    --stack-name abalone-bootstrap --parameter GitHubRepository=owner/repo \
    --capability CAPABILITY_NAMED_IAM
python -m deploy.stacks outputs --stack-name abalone-endpoint-staging

"No changes" is success. A rollback fails with the stack events that caused it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy import rollout
from deploy.cli import DeployError, client, run

#: AWS's StatusReason for a change set without changes (two wordings are in use).
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
#: A stack in one of these states has never been created successfully: delete, then create.
DEAD_STATES = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED")
FAILED_SUFFIXES = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "_FAILED")
MAX_EVENT_PAGES = 20


@dataclass(frozen=True)
class StackSpec:
    name: str
    template_body: str
    parameters: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    role_arn: str | None = None


@dataclass(frozen=True)
class Waiting:
    poll_s: float = 15.0
    timeout_s: float = 3600.0


def stack_status(cfn: Any, name: str) -> str | None:
    """The stack's status, or None when there is no such stack."""
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except cfn.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return str(stacks[0]["StackStatus"]) if stacks else None


def stack_outputs(cfn: Any, name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}


def wait_until_settled(
    cfn: Any, name: str, waiting: Waiting, tick: Callable[[], None] | None = None
) -> str | None:
    """Poll until the stack leaves every *_IN_PROGRESS state; return that status. `tick` runs
    before each poll (bake traffic while an endpoint updates)."""
    deadline = time.monotonic() + waiting.timeout_s
    while True:
        if tick is not None:
            tick()
        status = stack_status(cfn, name)
        if status is None or not status.endswith("_IN_PROGRESS"):
            return status
        if time.monotonic() > deadline:
            raise DeployError(f"stack {name} still {status} after {waiting.timeout_s:.0f} s")
        time.sleep(waiting.poll_s)


def _change_set_type(cfn: Any, spec: StackSpec, waiting: Waiting) -> str:
    """CREATE or UPDATE, after clearing a stack that never got created."""
    status = stack_status(cfn, spec.name)
    if status is not None and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {spec.name} is busy ({status}); run again when it settles")
    if status in DEAD_STATES:
        print(f"stack {spec.name} is {status} from a failed create: deleting it first")
        cfn.delete_stack(StackName=spec.name, **_role(spec))
        wait_until_settled(cfn, spec.name, waiting)
        status = None
    if status == "UPDATE_ROLLBACK_FAILED":
        raise DeployError(
            f"stack {spec.name} is UPDATE_ROLLBACK_FAILED: continue the rollback first"
        )
    return "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"


def _role(spec: StackSpec) -> dict[str, str]:
    return {"RoleARN": spec.role_arn} if spec.role_arn else {}


def _is_no_change(message: str) -> bool:
    return any(text in message for text in NO_CHANGES)


def create_change_set(cfn: Any, spec: StackSpec, kind: str, waiting: Waiting) -> str | None:
    """Create the change set and wait for it; None when it holds no changes."""
    try:
        change_set_id = cfn.create_change_set(
            StackName=spec.name,
            ChangeSetName=f"deploy-{uuid.uuid4().hex[:12]}",
            ChangeSetType=kind,
            TemplateBody=spec.template_body,
            Parameters=[
                {"ParameterKey": k, "ParameterValue": v} for k, v in spec.parameters.items()
            ],
            Tags=[{"Key": k, "Value": v} for k, v in spec.tags.items()],
            Capabilities=list(spec.capabilities),
            **_role(spec),
        )["Id"]
    except cfn.exceptions.ClientError as exc:
        if _is_no_change(str(exc)):  # some implementations refuse the empty change set outright
            return None
        raise
    return _wait_for_change_set(cfn, change_set_id, waiting)


def _wait_for_change_set(cfn: Any, change_set_id: str, waiting: Waiting) -> str | None:
    deadline = time.monotonic() + waiting.timeout_s
    while True:
        described = cfn.describe_change_set(ChangeSetName=change_set_id)
        status, reason = described["Status"], described.get("StatusReason", "")
        if status == "CREATE_COMPLETE":
            return change_set_id
        if status == "FAILED":
            if _is_no_change(reason):
                cfn.delete_change_set(ChangeSetName=change_set_id)
                return None
            raise DeployError(f"change set failed: {reason}")
        if time.monotonic() > deadline:
            raise DeployError(f"change set still {status} after {waiting.timeout_s:.0f} s")
        time.sleep(min(waiting.poll_s, 5))


def failure_events(cfn: Any, name: str) -> list[dict[str, Any]]:
    """The *_FAILED events of the latest operation, oldest first. Events come newest first; the
    operation starts at the stack's own "User Initiated" IN_PROGRESS event."""
    failed: list[dict[str, Any]] = []
    pages = cfn.get_paginator("describe_stack_events").paginate(StackName=name)
    for page_number, page in enumerate(pages):
        for event in page["StackEvents"]:
            if event.get("ResourceStatus", "").endswith("_FAILED"):
                failed.append(event)
            if _starts_operation(event, name):
                return failed[::-1]
        if page_number >= MAX_EVENT_PAGES:
            break
    return failed[::-1]


def _starts_operation(event: dict[str, Any], name: str) -> bool:
    return (
        event.get("LogicalResourceId") == name
        and event.get("ResourceType") == "AWS::CloudFormation::Stack"
        and event.get("ResourceStatus") in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS")
        and event.get("ResourceStatusReason", "User Initiated") == "User Initiated"
    )


def format_events(events: list[dict[str, Any]]) -> str:
    lines = [
        f"  {e.get('Timestamp', '')} {e.get('LogicalResourceId')} ({e.get('ResourceType')}) "
        f"{e.get('ResourceStatus')}: {e.get('ResourceStatusReason', '')}"
        for e in events
    ]
    return "\n".join(lines) or "  (no failed resource events; see the stack's events)"


def deploy(
    cfn: Any, spec: StackSpec, waiting: Waiting, tick: Callable[[], None] | None = None
) -> dict[str, str]:
    """Create or update `spec`; return the stack's outputs. DeployError on rollback. `tick`
    runs while the change set executes (see wait_until_settled)."""
    kind = _change_set_type(cfn, spec, waiting)
    change_set_id = create_change_set(cfn, spec, kind, waiting)
    if change_set_id is None:
        print(f"stack {spec.name}: no changes, nothing to deploy")
        return stack_outputs(cfn, spec.name)
    print(f"stack {spec.name}: executing {kind.lower()} change set")
    cfn.execute_change_set(ChangeSetName=change_set_id)
    status = wait_until_settled(cfn, spec.name, waiting, tick)
    if status is None or status.endswith(FAILED_SUFFIXES):
        events = format_events(failure_events(cfn, spec.name))
        raise DeployError(f"stack {spec.name} ended {status}; what failed:\n{events}")
    print(f"stack {spec.name}: {status}")
    return stack_outputs(cfn, spec.name)


def spec_from_args(args: argparse.Namespace) -> StackSpec:
    """The stack to deploy: a config file from deploy.configs, or --stack-name and --parameter."""
    template_body = Path(args.template).read_text()
    config: dict[str, Any] = {}
    if args.config:
        try:
            config = json.loads(Path(args.config).read_text())
        except (OSError, ValueError) as exc:
            raise DeployError(f"cannot read config {args.config}: {exc}") from exc
    name = args.stack_name or config.get("StackName")
    if not name:
        raise DeployError("give --stack-name or a --config with StackName")
    secrets = {key: _env(variable) for key, variable in _pairs(args.secret_parameter)}
    parameters = {**config.get("Parameters", {}), **dict(_pairs(args.parameter)), **secrets}
    return StackSpec(
        name=name,
        template_body=template_body,
        parameters={key: str(value) for key, value in parameters.items()},
        tags={**config.get("Tags", {}), **dict(_pairs(args.tag))},
        capabilities=tuple(args.capability),
        role_arn=args.role_arn or config.get("RoleArn"),
    )


def _bake_traffic(spec: StackSpec) -> rollout.BakeTraffic:
    from deploy.invoke import runtime_client

    if "EndpointName" not in spec.parameters:
        raise DeployError(f"--bake-traffic: stack {spec.name} has no EndpointName parameter")
    return rollout.BakeTraffic(runtime_client(None), spec.parameters["EndpointName"])


def _env(variable: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise DeployError(f"environment variable {variable} is empty or not set")
    return value


def _pairs(items: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise DeployError(f"expected KEY=VALUE, got {item!r}")
        pairs.append((key, value))
    return pairs


def print_outputs(name: str, outputs: dict[str, str]) -> None:
    print(f"outputs of {name}:")
    for key, value in sorted(outputs.items()):
        print(f"  {key} = {value}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("deploy", help="create or update a stack through a change set")
    up.add_argument("--template", required=True)
    up.add_argument("--config", help="a stage config written by deploy.configs")
    up.add_argument("--stack-name")
    up.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    up.add_argument(
        "--secret-parameter",
        action="append",
        default=[],
        metavar="KEY=ENV_VAR",
        help="a parameter read from an environment variable (kept off command lines)",
    )
    up.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    up.add_argument("--capability", action="append", default=[])
    up.add_argument("--role-arn", help="service role CloudFormation assumes")
    up.add_argument(
        "--bake-traffic",
        action="store_true",
        help="send smoke requests to the EndpointName parameter while the stack updates",
    )
    up.add_argument("--poll-seconds", type=float, default=15)
    up.add_argument("--timeout-minutes", type=float, default=90)
    out = commands.add_parser("outputs", help="print a stack's outputs")
    out.add_argument("--stack-name", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def command() -> int:
        cfn = client("cloudformation")
        if args.command == "outputs":
            print_outputs(args.stack_name, stack_outputs(cfn, args.stack_name))
            return 0
        spec = spec_from_args(args)
        waiting = Waiting(poll_s=args.poll_seconds, timeout_s=args.timeout_minutes * 60)
        traffic = _bake_traffic(spec) if args.bake_traffic else None
        outputs = deploy(cfn, spec, waiting, traffic)
        if traffic is not None:
            print(traffic.summary())
        print_outputs(spec.name, outputs)
        if rollout.is_endpoint_stack(outputs):
            print(rollout.check_serving(client("sagemaker"), outputs))
        return 0

    return run(command)


if __name__ == "__main__":
    sys.exit(main())
