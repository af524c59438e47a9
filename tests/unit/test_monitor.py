"""The drift monitor (monitoring/) on capture trees written in the gateway's format, against the
session model's baseline: shifted features flagged and only those, no drift no violation,
malformed lines counted and skipped, the window honoured, encoded rows read back as raw values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from container import contract
from container.capture import Exchange, capture_record
from monitoring import job, report
from monitoring.captures import Malformed, Payload, Window, capture_files, parse_line
from monitoring.drift import MIN_ROWS, PSI_THRESHOLD, ks_against_sketch, psi
from monitoring.observations import decode_inputs
from tests.captures import capture_lines, predictor_of, shifted, write_capture_file
from training import schema
from training.artifact import ARTIFACT_FILES
from training.baseline import numeric_sketch, read_baseline

START = datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
WINDOW = Window.ending(START + timedelta(hours=1), 2)
#: Two features, shifted hard enough that no noise hides it.
SHIFTS = {"whole_weight": 1.8, "height": 1.5}


@pytest.fixture(scope="module")
def rows(sample_data_file: Path) -> pd.DataFrame:
    """Rows of the file the session model was trained from (its baseline's population)."""
    from training.data import load_abalone

    return load_abalone(str(sample_data_file), expected_sha256=None).sample(400, random_state=7)


def monitor(tmp_path: Path, model_dir: Path, lines: list[str]) -> dict:
    captures = tmp_path / "captures"
    write_capture_file(captures, lines, START, "abalone-test")
    return job.run(captures, model_dir, tmp_path / "out", WINDOW)


def flagged(drift: dict) -> set[str]:
    return {v["feature"] for v in drift["violations"]}


def test_traffic_like_the_training_split_raises_no_violation(tmp_path, model_dir, predictor, rows):
    drift = monitor(tmp_path, model_dir, capture_lines(rows, predictor_of(predictor), START))
    summary = drift["summary"]
    assert (summary["records"], summary["rows"], summary["malformed"]) == (40, 400, 0)
    assert drift["violations"] == [] and summary["features_in_violation"] == 0
    assert 0 < summary["max_psi"] < PSI_THRESHOLD
    assert drift["prediction"]["psi"] < PSI_THRESHOLD
    assert (
        json.loads((tmp_path / "out" / report.VIOLATIONS_FILENAME).read_text())["violations"] == []
    )


def test_exactly_the_shifted_features_are_flagged(tmp_path, model_dir, predictor, rows):
    lines = capture_lines(shifted(rows, SHIFTS), predictor_of(predictor), START)
    drift = monitor(tmp_path, model_dir, lines)
    assert flagged(drift) == set(SHIFTS)
    assert drift["summary"]["features_in_violation"] == 2
    for name in SHIFTS:
        assert drift["features"][name]["psi"] > PSI_THRESHOLD
    out = tmp_path / "out"
    saved = json.loads((out / report.VIOLATIONS_FILENAME).read_text())
    assert {v["feature"] for v in saved["violations"]} == set(SHIFTS)
    assert json.loads((out / report.DRIFT_FILENAME).read_text())["summary"] == drift["summary"]
    page = (out / report.REPORT_FILENAME).read_text()
    assert "2 feature(s) in violation: height, whole_weight" in page
    for name in (*schema.NUMERIC_COLUMNS, schema.SEX, "prediction"):
        png = out / f"drift-{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f'src="{png.name}"' in page


def test_malformed_lines_are_counted_and_skipped(tmp_path, model_dir, predictor, rows):
    good = capture_lines(rows.head(MIN_ROWS + 50), predictor_of(predictor), START)
    wrong_count = json.loads(good[0])
    wrong_count["captureData"]["endpointOutput"]["data"] = "1.0\n"  # 10 rows, 1 prediction
    bad_input = json.loads(good[1])
    bad_input["captureData"]["endpointInput"]["data"] = "M,not-a-number,1,2,3,4,5,6"
    bad_base64 = json.loads(good[2])
    bad_base64["captureData"]["endpointInput"].update(encoding="BASE64", data="%%%")
    malformed = [
        "{not json",
        json.dumps({"captureData": {}, "eventMetadata": {}}),
        json.dumps(wrong_count),
        json.dumps(bad_input),
        json.dumps(bad_base64),
    ]
    drift = monitor(tmp_path, model_dir, [*malformed, *good[3:]])
    assert drift["summary"]["malformed"] == 5
    assert drift["summary"]["records"] == len(good) - 3
    reasons = "\n".join(drift["malformed_examples"])
    for expected in (
        "not JSON",
        "endpointInput is missing",
        "10 rows but 1 predictions",
        "not-a-number",
        "bad base64",
    ):
        assert expected in reasons


def test_only_the_window_is_read(tmp_path, model_dir, predictor, rows):
    predict = predictor_of(predictor)
    captures = tmp_path / "captures"
    inside = capture_lines(rows.head(200), predict, START)
    write_capture_file(captures, inside, START, "abalone-test")
    # An hour folder before the window, and records in a window hour but after its end.
    early = START - timedelta(hours=3)
    write_capture_file(
        captures, capture_lines(rows.head(30), predict, early), early, "abalone-test"
    )
    late = WINDOW.end + timedelta(minutes=10)
    write_capture_file(captures, capture_lines(rows.head(30), predict, late), late, "abalone-test")
    assert len(capture_files(captures, WINDOW)) == 2  # the early hour's file is not even read
    drift = job.run(captures, model_dir, tmp_path / "out", WINDOW)
    assert drift["summary"]["rows"] == 200
    assert drift["summary"]["endpoint_name"] == "abalone-test"


def test_a_quiet_window_reports_zero_records_and_flags_nothing(tmp_path, model_dir):
    (tmp_path / "captures").mkdir()
    drift = job.run(tmp_path / "captures", model_dir, tmp_path / "out", WINDOW)
    assert drift["summary"]["records"] == 0 and drift["summary"]["max_psi"] == 0.0
    assert drift["violations"] == []
    assert (tmp_path / "out" / report.REPORT_FILENAME).is_file()


def test_encoded_rows_read_back_as_the_raw_values(model_dir, rows):
    from training.features import read_transform

    transform = read_transform(model_dir / schema.PREPROCESSING_FILENAME)
    sample = rows.head(5)
    encoded = transform.transform(sample)
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in encoded).encode()
    numeric, sex = decode_inputs(Payload(body, contract.CSV), transform)
    expected = sample[list(schema.NUMERIC_COLUMNS)].to_numpy()
    np.testing.assert_allclose(numeric, expected, rtol=1e-5, atol=1e-6)
    assert sex == list(sample[schema.SEX])
    raw = json.dumps(
        [
            dict(zip(schema.RAW_COLUMNS, r, strict=True))
            for r in sample[list(schema.RAW_COLUMNS)].itertuples(index=False)
        ]
    )
    numeric, sex = decode_inputs(Payload(raw.encode(), contract.JSON), transform)
    np.testing.assert_allclose(numeric, expected)


def test_a_base64_capture_line_round_trips():
    body = b"1:0.5 2:0.25\n"
    exchange = Exchange("e", body, contract.LIBSVM, b"1.5\n", contract.CSV, START, "id-1")
    record = parse_line(json.dumps(capture_record(exchange, "event")).encode())
    assert record.input == Payload(body, contract.LIBSVM)
    assert record.time == START and record.event_id == "event"


def test_statistics_separate_equal_from_shifted_samples():
    rng = np.random.default_rng(0)
    sketch = numeric_sketch(rng.normal(0, 1, 5000))
    same, moved = rng.normal(0, 1, 2000), rng.normal(1, 1, 2000)
    assert ks_against_sketch(same, sketch["quantiles"]) < 0.05
    assert abs(ks_against_sketch(moved, sketch["quantiles"]) - 0.38) < 0.05  # exact: 0.383
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert psi([0.5, 0.5], [0.9, 0.1]) > PSI_THRESHOLD


def test_a_model_without_a_baseline_is_a_clear_error(tmp_path, model_dir):
    from training.errors import DataError

    old = tmp_path / "old-model"
    old.mkdir()
    for name in (schema.MODEL_FILENAME, schema.PREPROCESSING_FILENAME, schema.MANIFEST_FILENAME):
        (old / name).write_bytes((model_dir / name).read_bytes())
    (tmp_path / "captures").mkdir()
    with pytest.raises(DataError, match=r"has no \.baseline\.json"):
        job.run(tmp_path / "captures", old, tmp_path / "out", WINDOW)


@pytest.mark.parametrize("tampered", [schema.BASELINE_FILENAME, schema.PREPROCESSING_FILENAME])
def test_a_model_file_that_does_not_match_its_manifest_is_refused(tmp_path, model_dir, tampered):
    """The monitor checks what it reads as the server does: the baseline and the transform."""
    from training.errors import DataError

    copy = tmp_path / "model"
    copy.mkdir()
    for name in (*ARTIFACT_FILES, schema.MANIFEST_FILENAME):
        (copy / name).write_bytes((model_dir / name).read_bytes())
    (copy / tampered).write_text((copy / tampered).read_text().replace("}", " }", 1))
    (tmp_path / "captures").mkdir()
    with pytest.raises(DataError, match=rf"{tampered} does not match its sha256"):
        job.run(tmp_path / "captures", copy, tmp_path / "out", WINDOW)


def test_the_baseline_describes_the_training_split(model_dir, trained_workdir):
    baseline = read_baseline(model_dir / schema.BASELINE_FILENAME)
    train_rows = len((trained_workdir / "train" / "train.csv").read_text().splitlines())
    assert baseline["rows"] == train_rows
    assert baseline["prediction"]["count"] == train_rows
    assert sum(baseline["categorical"][schema.SEX]["frequencies"].values()) == pytest.approx(1)
    for sketch in baseline["numeric"].values():
        assert sketch["count"] + sketch["missing"] == train_rows
        assert sum(sketch["psi_fractions"]) == pytest.approx(1)
        assert sketch["quantiles"][0] == sketch["min"] and sketch["quantiles"][-1] == sketch["max"]


def test_malformed_counts_every_line_but_keeps_a_few_examples():
    malformed = Malformed()
    for number in range(100):
        malformed.add(f"f:{number}", "bad")
    assert malformed.count == 100 and len(malformed.examples) == 20


def test_the_command_line_runs_a_window_and_prints_the_metrics_line(
    tmp_path, model_dir, predictor, rows, capsys
):
    captures = tmp_path / "captures"
    write_capture_file(captures, capture_lines(rows, predictor_of(predictor), START), START, "ep-1")
    end = (START + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    argv = ["--captures", str(captures), "--baseline", str(model_dir), "--output"]
    job.run_cli([*argv, str(tmp_path / "out"), "--window-end", end, "--window-hours", "1"])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "40 records, 400 rows, 0 malformed; features in violation: none"
    assert json.loads(printed[1])["endpoint_name"] == "ep-1"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--window-hours", "0", "longer than 0 hours"), ("--window-end", "yesterday", "ISO 8601")],
)
def test_a_bad_window_is_a_clear_error(tmp_path, model_dir, option, value, message):
    from training.errors import DataError

    (tmp_path / "captures").mkdir()
    argv = ["--captures", str(tmp_path / "captures"), "--baseline", str(model_dir)]
    with pytest.raises(DataError, match=message):
        job.run_cli([*argv, "--output", str(tmp_path / "out"), option, value])
