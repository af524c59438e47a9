"""The drift monitor as SageMaker Processing runs it: the real image, `process monitor`, a model
archive and a capture tree mounted at the job's default paths."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from container import contract
from devtools.containers import TEST_LABELS
from monitoring import metrics
from tests.captures import capture_lines, predictor_of, shifted, write_capture_file
from training import artifact, schema

pytestmark = pytest.mark.integration
START = datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
SHIFTS = {"shell_weight": 1.7, "diameter": 1.3}


def run_monitor(docker_client, image: str, mounts: dict[Path, str]) -> tuple[int, str]:
    for host in mounts:
        host.mkdir(parents=True, exist_ok=True)
        host.chmod(0o777)
    volumes = {str(host): {"bind": target, "mode": "rw"} for host, target in mounts.items()}
    end = (START + timedelta(hours=1)).isoformat()
    container = docker_client.containers.run(
        image,
        ["process", "monitor", "--window-end", end, "--window-hours", "2"],
        detach=True,
        volumes=volumes,
        network_mode="none",
        labels=TEST_LABELS,
    )
    try:
        code = container.wait(timeout=120)["StatusCode"]
        return code, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


def test_the_monitor_job_in_the_image_flags_the_shifted_features(
    docker_client, image, real_model_dir, abalone_frame, tmp_path
):
    from container.model import load_model

    model_input = tmp_path / "model"
    model_input.mkdir()
    artifact.package_model(real_model_dir, model_input / schema.MODEL_ARCHIVE_FILENAME)
    captures = tmp_path / "captures"
    predict = predictor_of(load_model(real_model_dir))
    rows = abalone_frame.sample(300, random_state=3)
    lines = capture_lines(shifted(rows, SHIFTS), predict, START)
    write_capture_file(captures, [*lines, "{truncated"], START, "abalone-prod")
    out = tmp_path / "out"
    code, logs = run_monitor(
        docker_client,
        image,
        {
            captures: str(contract.CAPTURES_INPUT),
            model_input: str(contract.MODEL_INPUT),
            out: str(contract.SPLITS_OUTPUT),
            tmp_path / "opt-output": "/opt/ml/output",
        },
    )
    assert code == 0, logs
    monitor = out / contract.MONITOR
    drift = json.loads((monitor / "drift.json").read_text())
    violations = json.loads((monitor / "violations.json").read_text())
    assert {v["feature"] for v in violations["violations"]} == set(SHIFTS)
    summary = drift["summary"]
    assert (summary["records"], summary["rows"], summary["malformed"]) == (30, 300, 1)
    assert "features in violation: diameter, shell_weight" in logs
    # The metrics line for CloudWatch, its endpoint read from the capture tree's path.
    line = next(json.loads(x) for x in logs.splitlines() if metrics.EVENT in x)
    assert line["endpoint_name"] == "abalone-prod" and line["features_in_violation"] == 2
    assert (monitor / "report.html").is_file() and (monitor / "drift-shell_weight.png").is_file()


def test_a_model_without_a_baseline_fails_the_job_with_a_reason(
    docker_client, image, real_model_dir, tmp_path
):
    model_input = tmp_path / "model"
    model_input.mkdir()
    for name in (schema.MODEL_FILENAME, schema.PREPROCESSING_FILENAME, schema.MANIFEST_FILENAME):
        (model_input / name).write_bytes((real_model_dir / name).read_bytes())
    opt_output = tmp_path / "opt-output"
    code, logs = run_monitor(
        docker_client,
        image,
        {
            tmp_path / "captures": str(contract.CAPTURES_INPUT),
            model_input: str(contract.MODEL_INPUT),
            tmp_path / "out": str(contract.SPLITS_OUTPUT),
            opt_output: "/opt/ml/output",
        },
    )
    assert code == 1, logs
    assert "has no .baseline.json" in (opt_output / "message").read_text()
