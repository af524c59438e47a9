"""Train: an XGBoost regressor with early stopping on the validation split."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import xgboost as xgb

from training.hyperparameters import Hyperparameters

log = logging.getLogger(__name__)

MetricSink = Callable[[str], None]


def train_booster(
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray] | None,
    hp: Hyperparameters,
    *,
    emit: MetricSink = print,
) -> xgb.Booster:
    """Fit a booster; with a validation split, stop early and keep only the best rounds.

    Final metrics go to `emit` as `train-rmse:1.234` / `validation-rmse:2.345`, the form a
    SageMaker MetricDefinitions regex reads.
    """
    dtrain = xgb.DMatrix(train[0], label=train[1])
    evals = [(dtrain, "train")]
    if validation is not None:
        evals.append((xgb.DMatrix(validation[0], label=validation[1]), "validation"))
    history: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(
        hp.booster_params(),
        dtrain,
        num_boost_round=hp.num_round,
        evals=evals,
        evals_result=history,
        early_stopping_rounds=hp.early_stopping_rounds if validation is not None else None,
        verbose_eval=False,
    )
    if validation is not None and hp.early_stopping_rounds:
        # Keep only the best rounds so the saved model predicts like the early-stopped one.
        booster = booster[: booster.best_iteration + 1]
    best = booster.num_boosted_rounds() - 1
    for name, metrics in history.items():
        emit(f"{name}-rmse:{metrics['rmse'][best]:.6f}")
    emit(f"num_rounds:{best + 1}")
    return booster


def predict(booster: xgb.Booster, features: np.ndarray) -> np.ndarray:
    return np.asarray(booster.inplace_predict(features), dtype=np.float64)
