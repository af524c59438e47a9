"""5-fold cross-validation of the training recipe against the AWS template's hyperparameters.

Each fold repeats what the pipeline does: fit the transform on the fold's training rows, hold out
a validation part for early stopping, train, and score the held-out fold.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, train_test_split

from training import schema
from training.data import load_abalone
from training.features import FeatureTransform
from training.hyperparameters import Hyperparameters
from training.train import predict, train_booster

#: The AWS SageMaker Projects abalone template: fixed 50 rounds, no early stopping.
AWS_TEMPLATE = Hyperparameters(
    objective="reg:squarederror",
    num_round=50,
    early_stopping_rounds=0,
    eta=0.2,
    max_depth=5,
    min_child_weight=6,
    subsample=0.7,
    colsample_bytree=1.0,
    reg_lambda=1.0,
    gamma=4.0,
)
VALIDATION_FRACTION = 0.15


def fold_rmses(
    frame: pd.DataFrame, hp: Hyperparameters, *, folds: int = 5, seed: int = 42
) -> list[float]:
    """RMSE on each held-out fold (fixed seed, so both recipes see the same folds)."""
    labels = frame[schema.TARGET].to_numpy(dtype=float)
    scores = []
    for train_idx, test_idx in KFold(folds, shuffle=True, random_state=seed).split(frame):
        fitted = FeatureTransform.fit(frame.iloc[train_idx])
        features = fitted.transform(frame.iloc[train_idx])
        if hp.early_stopping_rounds:
            x_fit, x_val, y_fit, y_val = train_test_split(
                features, labels[train_idx], test_size=VALIDATION_FRACTION, random_state=seed
            )
            booster = train_booster((x_fit, y_fit), (x_val, y_val), hp, emit=lambda _: None)
        else:
            booster = train_booster((features, labels[train_idx]), None, hp, emit=lambda _: None)
        errors = predict(booster, fitted.transform(frame.iloc[test_idx])) - labels[test_idx]
        scores.append(float(np.sqrt(np.mean(errors**2))))
    return scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="path, http(s) URL or s3:// URI")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    frame = load_abalone(args.data)
    for name, hp in (("this project", Hyperparameters()), ("AWS template", AWS_TEMPLATE)):
        scores = fold_rmses(frame, hp, folds=args.folds, seed=args.seed)
        print(
            f"{name:>14}: mean RMSE {np.mean(scores):.4f} rings "
            f"(folds: {', '.join(f'{s:.3f}' for s in scores)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
