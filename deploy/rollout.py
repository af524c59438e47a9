"""What an endpoint deploy adds to a stack deploy: traffic while the new fleet bakes, and proof
afterwards that the endpoint serves what the stack says.

A blue/green update is judged by the rollback alarms during the bake; without requests the 5xx
and latency alarms see no data (TreatMissingData: notBreaching) and a broken model passes.
`BakeTraffic` sends a few smoke requests at every poll of the stack while it updates.

After an automatic rollback SageMaker leaves the endpoint InService on the *old* config, and the
stack can still end UPDATE_COMPLETE. `check_serving` compares DescribeEndpoint's
EndpointConfigName with the stack's EndpointConfigName output and fails loudly when they differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploy.cli import DeployError
from deploy.invoke import ENCODED_ROW, invoke

#: Requests per poll of the stack (every 15 s by default): about 20 a minute, enough for the
#: one-minute alarm periods to have data points, small against any real traffic.
REQUESTS_PER_TICK = 5


@dataclass
class BakeTraffic:
    """Smoke requests to `endpoint_name`, a few per call; failures are counted, not raised
    (the endpoint may not exist yet on a first create, and the alarms judge the answers)."""

    runtime: Any
    endpoint_name: str
    per_tick: int = REQUESTS_PER_TICK
    answered: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def __call__(self) -> None:
        for _ in range(self.per_tick):
            try:
                invoke(self.runtime, self.endpoint_name, ENCODED_ROW)
                self.answered += 1
            except (BotoCoreError, ClientError) as exc:
                self.failed += 1
                kind = type(exc).__name__
                self.errors[kind] = self.errors.get(kind, 0) + 1

    def summary(self) -> str:
        errors = ", ".join(f"{kind} x{count}" for kind, count in sorted(self.errors.items()))
        text = f"bake traffic to {self.endpoint_name}: {self.answered} answered"
        return f"{text}, {self.failed} failed ({errors})" if self.failed else text


def check_serving(sagemaker: Any, outputs: Mapping[str, str]) -> str:
    """The endpoint's config when it is the stack's and the endpoint is InService; else
    DeployError (a SageMaker-side rollback, or an update still under way)."""
    name, expected = outputs["EndpointName"], outputs["EndpointConfigName"]
    described = sagemaker.describe_endpoint(EndpointName=name)
    actual, status = described["EndpointConfigName"], described["EndpointStatus"]
    if actual != expected:
        raise DeployError(
            f"endpoint {name} serves config {actual}, not the stack's {expected}: SageMaker "
            "rolled the update back (a rollback alarm fired during the bake?) although the stack "
            "reports success. See the endpoint's events and alarms; the old model is serving."
        )
    if status != "InService":
        reason = described.get("FailureReason", "")
        raise DeployError(f"endpoint {name} is {status}, not InService: {reason}")
    return f"endpoint {name} InService on the stack's config {actual}"


def is_endpoint_stack(outputs: Mapping[str, str]) -> bool:
    return {"EndpointName", "EndpointConfigName"} <= set(outputs)
