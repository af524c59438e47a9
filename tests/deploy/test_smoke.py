"""deploy.smoke against the local compose endpoint, through its SageMaker runtime gateway: the same
checks `make smoke` runs against a real endpoint with boto3."""

from __future__ import annotations

import json

import pytest

from deploy import smoke

pytestmark = pytest.mark.integration


def test_smoke_passes_against_the_compose_endpoint(gateway_url, tmp_path, capsys):
    report = tmp_path / "smoke.json"
    code = smoke.main(
        [
            "--endpoint-name",
            "abalone-staging",
            "--endpoint-url",
            gateway_url,
            "--latency-requests",
            "10",
            "--report",
            str(report),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    body = json.loads(report.read_text())
    assert body["passed"] is True
    names = [item["name"] for item in body["checks"]]
    assert names == [
        "ping-equivalent: encoded row",
        "raw row",
        "one prediction per row",
        "bad payload refused",
        "latency",
    ]
    assert "400: expected 10 features, got 3" in out
    assert "p95" in out


def test_smoke_fails_for_an_endpoint_that_does_not_exist(gateway_url, capsys):
    code = smoke.main(
        [
            "--endpoint-name",
            "abalone-nowhere",
            "--endpoint-url",
            gateway_url,
            "--latency-requests",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL raw row: ValidationError" in out and "abalone-nowhere" in out


def test_smoke_fails_when_latency_is_over_the_limit(gateway_url, capsys):
    code = smoke.main(
        [
            "--endpoint-name",
            "abalone-prod",
            "--endpoint-url",
            gateway_url,
            "--latency-requests",
            "3",
            "--max-p95-ms",
            "0",
        ]
    )
    assert code == 1
    assert "FAIL latency" in capsys.readouterr().out
