"""monitoring.metrics: the one JSON line a monitor run prints for CloudWatch Logs metric filters."""

from __future__ import annotations

import io
import json
import math

import pytest

from monitoring import metrics

SUMMARY = {"records": 480, "malformed": 3, "max_psi": 0.27, "features_in_violation": 2}


def test_the_line_is_one_json_object_with_the_event_the_endpoint_and_every_metric():
    line = metrics.metric_line({**SUMMARY, "extra": 1.0}, "abalone-prod")
    assert "\n" not in line
    assert json.loads(line) == {"event": metrics.EVENT, "endpoint_name": "abalone-prod", **SUMMARY}


def test_the_line_is_not_an_embedded_metric_format_document():
    """No `_aws` member: were CloudWatch to extract EMF from it, nothing would publish twice."""
    assert "_aws" not in json.loads(metrics.metric_line(SUMMARY, "abalone-prod"))


def test_publish_writes_the_line_and_flushes_it():
    class Stream(io.StringIO):
        flushed = False

        def flush(self) -> None:
            self.flushed = True

    stream = Stream()
    metrics.publish_drift_metrics(SUMMARY, "abalone-staging", stream)
    assert stream.flushed
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["endpoint_name"] == "abalone-staging"


def test_publish_goes_to_stdout_by_default(capsys):
    metrics.publish_drift_metrics(SUMMARY, "abalone-prod")
    assert json.loads(capsys.readouterr().out)["max_psi"] == 0.27


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"records": None}, "records is not a number"),
        ({"max_psi": math.nan}, "max_psi is not finite"),
        ({"max_psi": math.inf}, "max_psi is not finite"),
        ({"malformed": True}, "malformed is not a number"),
        ({"features_in_violation": "2"}, "features_in_violation is not a number"),
    ],
)
def test_a_value_a_metric_filter_could_not_publish_is_refused(change, message):
    with pytest.raises(ValueError, match=message):
        metrics.metric_line({**SUMMARY, **change}, "abalone-prod")


def test_a_missing_key_is_named():
    summary = {key: value for key, value in SUMMARY.items() if key != "max_psi"}
    with pytest.raises(ValueError, match="lacks max_psi"):
        metrics.metric_line(summary, "abalone-prod")


@pytest.mark.parametrize("name", ["", "-abalone", "abalone_prod", "a" * 64, 'x", "event": "y'])
def test_a_name_sagemaker_would_not_accept_as_an_endpoint_is_refused(name):
    with pytest.raises(ValueError, match="not a SageMaker endpoint name"):
        metrics.metric_line(SUMMARY, name)


def test_every_summary_key_has_a_metric_name_and_a_cloudwatch_unit():
    assert set(metrics.METRICS) == {"records", "malformed", "max_psi", "features_in_violation"}
    names = [name for name, _ in metrics.METRICS.values()]
    assert len(set(names)) == len(names)
    assert {unit for _, unit in metrics.METRICS.values()} <= {"Count", "None"}
