"""The champion/challenger evaluation: the gate arithmetic, scoring the incumbent on the same rows
through its own transform, and the report a person reads (both models, two matplotlib PNGs)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training import artifact, evaluate, processing, report, schema, splits, stages
from training.errors import DataError
from training.features import FeatureTransform, read_transform
from training.hyperparameters import Hyperparameters
from training.train import train_booster

# --- the gate arithmetic --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rmse", "incumbent", "tolerance", "within"),
    [
        (2.00, 2.00, 0.01, True),  # the same model again
        (2.02, 2.00, 0.01, True),  # 1% worse: inside the tolerance
        (2.0201, 2.00, 0.01, False),  # just over it
        (2.10, 2.00, 0.0, False),
        (1.50, 2.00, 0.0, True),  # better
        (2.10, 2.00, 0.05, True),
    ],
)
def test_the_relative_limit_is_the_incumbents_rmse_times_one_plus_tolerance(
    rmse, incumbent, tolerance, within
):
    gate = report.gate_section(rmse, incumbent, tolerance)
    assert gate["rmse_limit"] == pytest.approx(incumbent * (1 + tolerance))
    assert (rmse <= gate["rmse_limit"]) is within
    assert gate["challenger_within_limit"] is within
    assert gate["incumbent_rmse"] == incumbent
    assert f"incumbent RMSE {incumbent:.4f}" in gate["relative_check"]


def test_with_no_incumbent_the_relative_check_passes_and_says_so():
    gate = report.gate_section(3.7, None, 0.01)
    assert gate["rmse_limit"] == 3.7  # the condition RMSE <= limit holds exactly
    assert gate["incumbent_rmse"] is None
    assert gate["relative_check"] == report.NO_INCUMBENT
    assert "no incumbent" in gate["relative_check"]


@pytest.mark.parametrize("tolerance", [-0.01, 1.0, 2.5, float("nan")])
def test_a_tolerance_outside_zero_to_one_is_refused(tolerance):
    with pytest.raises(ValueError, match="tolerance"):
        report.gate_section(2.0, 2.0, tolerance)


def test_the_gate_paths_read_what_compare_writes():
    challenger = report.build_report(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    incumbent = report.build_report(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    both = report.compare(challenger, incumbent, tolerance=0.01, incumbent_source="s3://b/m")
    assert report.metric_at(both) == pytest.approx((4 / 3) ** 0.5)
    assert report.metric_at(both, report.GATE_LIMIT_JSON_PATH) == pytest.approx(
        (1 / 3) ** 0.5 * 1.01
    )
    assert both["incumbent"]["model_data"] == "s3://b/m"
    alone = report.compare(challenger, None, tolerance=0.01)
    assert alone["incumbent"] is None
    assert report.metric_at(alone, report.GATE_LIMIT_JSON_PATH) == report.metric_at(alone)


# --- scoring the incumbent --------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_transform(small_frame: pd.DataFrame) -> FeatureTransform:
    """A transform fitted on other rows than the challenger's: other means and scales."""
    return FeatureTransform.fit(small_frame.tail(120))


def test_reencode_gives_what_the_other_transform_gives_the_raw_rows(small_frame, other_transform):
    raw = small_frame.head(40)
    mine = FeatureTransform.fit(small_frame.head(150))
    assert mine != other_transform
    encoded = mine.transform(raw)
    np.testing.assert_allclose(
        evaluate.reencode(encoded, mine, other_transform),
        other_transform.transform(raw),
        atol=1e-5,
    )
    assert evaluate.reencode(encoded, mine, mine) is encoded


@pytest.fixture(scope="module")
def weak_incumbent(trained_workdir: Path, other_transform, tmp_path_factory) -> Path:
    """A few-round model trained with its own transform on the same train rows."""
    features, labels = splits.read_split(trained_workdir / "train", splits.TRAIN)
    mine = read_transform(trained_workdir / "model" / schema.PREPROCESSING_FILENAME)
    rows = evaluate.reencode(features, mine, other_transform)
    hp = Hyperparameters(num_round=3, early_stopping_rounds=0, eta=0.3, max_depth=2)
    booster = train_booster((rows, labels), None, hp, emit=lambda _: None)
    model_dir = tmp_path_factory.mktemp("incumbent") / "model"
    artifact.write_model_dir(model_dir, booster, other_transform)
    return model_dir


@pytest.fixture(scope="module")
def compared(trained_workdir: Path, weak_incumbent: Path, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("compared")
    incumbent = evaluate.Incumbent(weak_incumbent, "s3://bucket/abalone-pipeline/e1/Train/model")
    evaluate.run(trained_workdir / "model", trained_workdir / "test", output, incumbent=incumbent)
    return output


def test_the_incumbent_is_scored_on_the_same_rows_with_the_same_metric_code(
    compared, trained_workdir, weak_incumbent
):
    written = json.loads((compared / report.REPORT_FILENAME).read_text())
    features, labels = splits.read_split(trained_workdir / "test", splits.TEST)
    rows = evaluate.reencode(
        features,
        read_transform(trained_workdir / "model" / schema.PREPROCESSING_FILENAME),
        read_transform(weak_incumbent / schema.PREPROCESSING_FILENAME),
    )
    booster = artifact.load_booster(weak_incumbent / schema.MODEL_FILENAME)
    expected = report.build_report(labels, booster.inplace_predict(rows))
    for name, values in expected["regression_metrics"].items():
        assert written["incumbent"]["regression_metrics"][name] == pytest.approx(values), name
    assert written["incumbent"]["n_samples"] == written["n_samples"] == len(labels)
    gate = written["gate"]
    assert gate["incumbent_rmse"] == report.metric_at(written["incumbent"])
    assert gate["rmse"] == report.metric_at(written)
    # 3 rounds at depth 2 cannot match the trained model: the challenger is within the limit.
    assert gate["rmse"] < gate["incumbent_rmse"]
    assert gate["challenger_within_limit"] is True


def test_the_same_model_as_incumbent_scores_the_same(trained_workdir, tmp_path):
    model = trained_workdir / "model"
    result = evaluate.run(
        model, trained_workdir / "test", tmp_path, incumbent=evaluate.Incumbent(model, "x")
    )
    assert result["incumbent"]["regression_metrics"] == result["regression_metrics"]
    assert result["gate"]["rmse_limit"] == pytest.approx(report.metric_at(result) * 1.01)


# --- the report -------------------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("name", [evaluate.PREDICTED_VS_ACTUAL_PNG, evaluate.RESIDUALS_PNG])
def test_the_plots_are_pngs_of_a_sane_size(compared, name):
    path = compared / name
    assert png_size(path) == (640, 480)
    # Drawn axes, ticks, labels, a legend and ~90 points of two colours, compressed.
    assert 15_000 < path.stat().st_size < 400_000


def test_the_html_shows_both_models_side_by_side(compared):
    page = (compared / evaluate.REPORT_HTML).read_text()
    assert "<th>challenger</th><th>incumbent</th>" in page
    assert "s3://bucket/abalone-pipeline/e1/Train/model" in page
    assert "incumbent RMSE" in page
    for name in (evaluate.PREDICTED_VS_ACTUAL_PNG, evaluate.RESIDUALS_PNG):
        assert f'<img src="{name}"' in page
    assert "no incumbent" not in page


def test_with_no_incumbent_the_report_says_so(trained_workdir, tmp_path):
    result = evaluate.run(trained_workdir / "model", trained_workdir / "test", tmp_path)
    assert result["incumbent"] is None
    assert result["gate"]["relative_check"] == report.NO_INCUMBENT
    page = (tmp_path / evaluate.REPORT_HTML).read_text()
    assert report.NO_INCUMBENT in page
    assert "<th>incumbent</th>" not in page
    assert png_size(tmp_path / evaluate.PREDICTED_VS_ACTUAL_PNG) == (640, 480)


def test_the_plots_have_labelled_axes_titles_and_legends(trained_workdir, tmp_path, monkeypatch):
    """What the PNGs hold, read back from the figures before they are saved."""
    from matplotlib.figure import Figure

    from training import plots

    saved: list[Figure] = []
    original = Figure.savefig

    def keep(self, *args, **kwargs):
        saved.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    labels = np.array([5.0, 9.0, 12.0])
    series = [
        plots.Series("challenger", labels, np.array([6.0, 9.5, 11.0])),
        plots.Series("incumbent", labels, np.array([7.0, 8.0, 10.0])),
    ]
    plots.predicted_vs_actual_png(series, tmp_path / "a.png")
    plots.residuals_png(series, tmp_path / "b.png")
    for figure, x_label, y_label in zip(
        saved,
        ("actual rings", "predicted rings"),
        ("predicted rings", "predicted - actual rings"),
        strict=True,
    ):
        (axes,) = figure.axes
        assert (axes.get_xlabel(), axes.get_ylabel()) == (x_label, y_label)
        assert axes.get_title()
        assert len(axes.get_xticks()) >= 3 and len(axes.get_yticks()) >= 3
        legend = [text.get_text() for text in axes.get_legend().get_texts()]
        assert {"challenger", "incumbent"} <= set(legend)


# --- the job's command line -----------------------------------------------------------------


def test_the_placeholder_url_means_no_incumbent():
    assert stages.has_incumbent("s3://b/e1/Train/model/model.tar.gz", "s3://b/data/abalone.data")
    assert not stages.has_incumbent("s3://b/data/abalone.data", "s3://b/data/abalone.data")
    assert not stages.has_incumbent("", "s3://b/data/abalone.data")


def test_process_evaluate_scores_the_incumbent_input(trained_workdir, tmp_path):
    archive_dir = tmp_path / "incumbent"
    archive_dir.mkdir()
    artifact.package_model(trained_workdir / "model", archive_dir / schema.MODEL_ARCHIVE_FILENAME)
    processing.run_processing(
        [
            "evaluate", "--model", str(trained_workdir / "model"),
            "--test", str(trained_workdir / "test"), "--output", str(tmp_path / "out"),
            "--incumbent", str(archive_dir), "--incumbent-url", "s3://b/e1/model.tar.gz",
            "--placeholder-url", "s3://b/data/abalone.data", "--rmse-tolerance", "0.02",
        ]
    )  # fmt: skip
    written = json.loads((tmp_path / "out" / report.REPORT_FILENAME).read_text())
    assert written["incumbent"]["model_data"] == "s3://b/e1/model.tar.gz"
    assert written["gate"]["tolerance"] == 0.02


def test_an_incumbent_url_that_gave_no_model_is_a_data_error(trained_workdir, tmp_path):
    (tmp_path / "incumbent").mkdir()
    (tmp_path / "incumbent" / "abalone.data").write_text("M,1,2\n")
    with pytest.raises(DataError, match=r"the incumbent \(s3://b/wrong/\).*no model.tar.gz"):
        stages.run_evaluate(
            trained_workdir / "model",
            trained_workdir / "test",
            tmp_path / "out",
            incumbent_input=tmp_path / "incumbent",
            incumbent_url="s3://b/wrong/",
        )
    assert not (tmp_path / "out" / report.REPORT_FILENAME).exists()


@pytest.mark.parametrize("tolerance", ["-0.1", "1", "abc"])
def test_a_bad_tolerance_is_a_training_error(trained_workdir, tmp_path, tolerance):
    from training.errors import TrainingError

    with pytest.raises(TrainingError, match="--rmse-tolerance"):
        processing.run_processing(["evaluate", "--rmse-tolerance", tolerance])


def test_an_incumbent_with_an_unusable_transform_is_a_data_error(trained_workdir, tmp_path):
    incumbent = tmp_path / "incumbent"
    artifact.copy_model_dir(trained_workdir / "model", incumbent)
    (incumbent / schema.PREPROCESSING_FILENAME).write_text('{"format_version": 99}')
    with pytest.raises(DataError, match=r"incumbent.*unusable preprocessing.*format 99"):
        evaluate.run(
            trained_workdir / "model",
            trained_workdir / "test",
            tmp_path / "out",
            incumbent=evaluate.Incumbent(incumbent, "s3://b/old/model.tar.gz"),
        )
