"""Following a pipeline execution: its steps' statuses as they change, and how it ended."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TextIO

from botocore.exceptions import BotoCoreError, ClientError

TERMINAL_STATUSES: Final = frozenset({"Succeeded", "Failed", "Stopped"})


@dataclass(frozen=True)
class StepReport:
    """One step of an execution, as ListPipelineExecutionSteps reports it."""

    name: str
    status: str
    failure_reason: str | None = None
    outcome: bool | None = None

    @classmethod
    def from_response(cls, item: Mapping[str, Any]) -> StepReport:
        outcome = item.get("Metadata", {}).get("Condition", {}).get("Outcome")
        return cls(
            name=item["StepName"],
            status=item.get("StepStatus", "Unknown"),
            failure_reason=item.get("FailureReason"),
            # SageMaker reports "True"/"False"; local mode reports booleans.
            outcome=None if outcome is None else str(outcome).lower() == "true",
        )

    def line(self) -> str:
        text = f"  {self.name}: {self.status}"
        if self.outcome is not None:
            text += " (condition met)" if self.outcome else " (condition not met)"
        return f"{text}: {self.failure_reason}" if self.failure_reason else text


@dataclass(frozen=True)
class ExecutionResult:
    arn: str
    status: str
    failure_reason: str | None
    steps: list[StepReport]
    steps_known: bool

    @property
    def failed_steps(self) -> list[StepReport]:
        return [s for s in self.steps if s.status in ("Failed", "Stopped")]


def print_steps(steps: Iterable[StepReport], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    for step in steps:
        print(step.line(), file=out)


def list_steps(client: Any, arn: str) -> list[StepReport]:
    """The execution's steps, oldest first (the API's default order is newest first)."""
    pages = client.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=arn, SortOrder="Ascending"
    )
    return [
        StepReport.from_response(item) for page in pages for item in page["PipelineExecutionSteps"]
    ]


class ExecutionTimeout(RuntimeError):
    """The execution was still running when the wait ran out."""


def wait_for_execution(
    client: Any,
    arn: str,
    *,
    poll_seconds: float,
    timeout_seconds: float,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ExecutionResult:
    """Poll until the execution ends, printing each step's status when it changes.

    When the steps cannot be listed (moto has no ListPipelineExecutionSteps), say so once and
    follow the execution's own status.

    Raises:
        ExecutionTimeout: still running after timeout_seconds.
    """
    out = out or sys.stdout  # looked up now: tests and callers may have replaced it
    deadline = clock() + timeout_seconds
    printed: dict[str, str] = {}
    steps_known = True
    last_status = None
    while True:
        described = client.describe_pipeline_execution(PipelineExecutionArn=arn)
        status = described["PipelineExecutionStatus"]
        steps: list[StepReport] = []
        if steps_known:
            try:
                steps = list_steps(client, arn)
            except (ClientError, BotoCoreError) as exc:
                steps_known = False
                reason = str(exc).splitlines()[0]
                print(f"steps unavailable ({reason}); following the execution only", file=out)
        for step in steps:
            if printed.get(step.name) != step.line():
                printed[step.name] = step.line()
                print(step.line(), file=out)
        if status != last_status:
            print(f"execution: {status}", file=out)
            last_status = status
        if status in TERMINAL_STATUSES:
            reason = described.get("FailureReason")
            return ExecutionResult(arn, status, reason, steps, steps_known)
        if clock() >= deadline:
            raise ExecutionTimeout(f"{arn} still {status} after {timeout_seconds:.0f} s")
        sleep(poll_seconds)
