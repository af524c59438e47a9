"""Model quality on the real, full abalone data set (a few seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from container.codecs import Rows
from container.model import Predictor, load_model
from training import cv, preprocess, report, schema, splits
from training.hyperparameters import Hyperparameters
from training.workflow import run_all

pytestmark = pytest.mark.model

#: The recipe's 5-fold CV RMSE on the real data (it measures about 2.141).
MAX_CV_RMSE = 2.15


@pytest.fixture(scope="module")
def full_run(abalone_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """run_all on the real data with the default hyperparameters (and the sha256 check)."""
    work_dir = tmp_path_factory.mktemp("full-run")
    return work_dir, run_all(str(abalone_path), work_dir)


@pytest.fixture(scope="module")
def full_predictor(full_run: tuple[Path, dict]) -> Predictor:
    return load_model(full_run[0] / "model")


def test_cv_rmse_beats_the_aws_template(abalone_frame: pd.DataFrame):
    ours = cv.fold_rmses(abalone_frame, Hyperparameters())
    template = cv.fold_rmses(abalone_frame, cv.AWS_TEMPLATE)
    assert len(ours) == len(template) == 5
    assert np.mean(ours) <= MAX_CV_RMSE
    assert np.mean(ours) < np.mean(template)


def test_held_out_test_split_rmse(full_run: tuple[Path, dict]):
    _, result = full_run
    assert result["n_samples"] == 627
    assert report.metric_at(result) < 2.4
    assert result["regression_metrics"]["r2"]["value"] > 0.5


def _predict_raw(predictor: Predictor, frame: pd.DataFrame) -> np.ndarray:
    rows = Rows(
        values=frame[list(schema.NUMERIC_COLUMNS)].to_numpy(dtype=np.float64),
        categories=frame[schema.SEX].tolist(),
    )
    return predictor.predict(predictor.features(rows))


@pytest.mark.parametrize("factor", [1.2, 1.5])
def test_heavier_shells_predict_more_rings(
    full_predictor: Predictor, abalone_frame: pd.DataFrame, factor: float
):
    test_rows = preprocess.split_frame(abalone_frame)[splits.TEST]
    heavier = test_rows.copy()
    heavier["shell_weight"] = heavier["shell_weight"] * factor
    base = _predict_raw(full_predictor, test_rows)
    shifted = _predict_raw(full_predictor, heavier)
    assert shifted.mean() > base.mean() + 0.25
    assert (shifted >= base).mean() > 0.8
