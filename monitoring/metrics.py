"""The drift metrics a monitor run publishes: one JSON line on stdout that CloudWatch Logs turns
into metrics through the metric filters of deploy/templates/monitoring.yaml.

Why a metric filter and not boto3's PutMetricData or the Embedded Metric Format (EMF):
- The image has no boto3 (it stays under 500 MB, and the server does not need it).
- SageMaker Processing ships the container's stdout/stderr to the log group
  /aws/sagemaker/ProcessingJobs, one log event per line
  (https://docs.aws.amazon.com/sagemaker/latest/dg/byoc-logs-and-metrics.html,
  https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html). AWS documents EMF
  extraction for log events sent with PutLogEvents, where the `x-amzn-logs-format: json/emf`
  header is now optional
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Generation_PutLogEvents.html),
  and for the agents and runtimes that speak it (Lambda, the CloudWatch agent, ECS/EKS); no
  SageMaker page says that the Processing log shipper keeps a line EMF-intact or that metrics
  are extracted from it. An alarm must not hang on undocumented behaviour.
- A metric filter (AWS::Logs::MetricFilter) on that log group is documented for any log event:
  a JSON filter pattern selects our line, `$.<field>` gives the value and the EndpointName
  dimension (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html,
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/MonitoringPolicyExamples.html).
  The line carries no `_aws` member, so an EMF extraction, were it to happen, cannot publish the
  same metric twice.

Standard library only: the image imports it in the monitor job, deploy and the tests read the
names (NAMESPACE, DIMENSION, METRICS, EVENT) from here.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from typing import Final, TextIO

#: CloudWatch namespace of the drift metrics (the alarm in monitoring.yaml reads it).
NAMESPACE: Final = "AbaloneByom/Drift"
#: The one dimension: which endpoint's traffic was measured.
DIMENSION: Final = "EndpointName"
#: Marks our line among everything the job logs; the metric filters select on it.
EVENT: Final = "abalone-drift-metrics"
#: Summary key -> CloudWatch metric name (and the metric's unit).
METRICS: Final[Mapping[str, tuple[str, str]]] = {
    "records": ("Records", "Count"),
    "malformed": ("MalformedRecords", "Count"),
    "max_psi": ("MaxPSI", "None"),
    "features_in_violation": ("FeaturesInViolation", "Count"),
}
#: SageMaker's endpoint name pattern (CreateEndpoint's EndpointName).
_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


def metric_line(summary: Mapping[str, float | int], endpoint_name: str) -> str:
    """The JSON line for one monitor run.

    Args:
        summary: records, malformed, max_psi, features_in_violation (other keys are ignored).
        endpoint_name: the endpoint whose captures were measured (the metrics' dimension).

    Returns:
        One line of JSON without a newline: {"event": EVENT, "endpoint_name": ..., <keys>...}.

    Raises:
        ValueError: a key is missing, a value is not a finite number, or the endpoint name is
            not one SageMaker accepts (a metric filter would silently publish nothing).
    """
    if not _ENDPOINT_NAME.fullmatch(endpoint_name):
        raise ValueError(f"not a SageMaker endpoint name: {endpoint_name!r}")
    missing = [key for key in METRICS if key not in summary]
    if missing:
        raise ValueError(f"drift summary lacks {', '.join(missing)}")
    values = {key: _finite(key, summary[key]) for key in METRICS}
    return json.dumps({"event": EVENT, "endpoint_name": endpoint_name, **values})


def publish_drift_metrics(
    summary: Mapping[str, float | int], endpoint_name: str, stream: TextIO | None = None
) -> None:
    """Print the metric line (stdout by default) and flush it, so it reaches the job's log even
    when the job fails right after."""
    out = sys.stdout if stream is None else stream
    out.write(metric_line(summary, endpoint_name) + "\n")
    out.flush()


def _finite(key: str, value: object) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"drift summary {key} is not a number: {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"drift summary {key} is not finite: {value!r}")
    return value
