"""The numpy tree walker predicts what XGBoost predicts (same margins, outputs within one
float32 ulp, far inside the 1e-5 parity bar), or declines the model."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from container.treepredict import compile_trees

RNG = np.random.default_rng(7)


def _data(rows: int, missing: float = 0.1) -> np.ndarray:
    x = RNG.normal(size=(rows, 10)).astype(np.float32)
    x[RNG.random(x.shape) < missing] = np.nan
    return x


def _booster(objective: str, **params) -> xgb.Booster:
    x = _data(400)
    y = np.abs(np.nan_to_num(x[:, 0]) * 3 + np.nan_to_num(x[:, 1])) + 1
    params = {"objective": objective, "max_depth": 5, "eta": 0.3, "seed": 1, **params}
    return xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=40)


@pytest.mark.parametrize(
    "objective", ["reg:squarederror", "reg:tweedie", "count:poisson", "reg:pseudohubererror"]
)
@pytest.mark.parametrize("rows", [1, 3, 8, 200])
def test_walker_matches_xgboost_to_one_ulp(objective, rows):
    booster = _booster(objective)
    walker = compile_trees(booster)
    assert walker is not None
    x = _data(rows, missing=0.2)
    expected = booster.inplace_predict(x)
    got = walker.predict(x)
    assert got.dtype == np.float32
    assert np.max(np.abs(got - expected)) <= 1e-5
    # Margins are identical; the link (exp) may round one float32 ulp apart.
    np.testing.assert_array_max_ulp(got, expected, maxulp=1)


def test_walker_declines_models_it_cannot_mirror():
    x = _data(300, missing=0)
    multi = xgb.train(
        {"objective": "multi:softprob", "num_class": 3},
        xgb.DMatrix(x, label=RNG.integers(0, 3, 300)),
        num_boost_round=3,
    )
    binary = xgb.train(
        {"objective": "binary:logistic"}, xgb.DMatrix(x, label=x[:, 0] > 0), num_boost_round=3
    )
    assert compile_trees(multi) is None
    assert compile_trees(binary) is None


def test_predictor_uses_the_walker_for_small_batches_only(predictor):
    from container.model import WALKER_MAX_ROWS

    assert predictor.walker is not None
    small = _data(WALKER_MAX_ROWS, missing=0)
    large = _data(WALKER_MAX_ROWS * 4, missing=0)
    for batch in (small, large):
        np.testing.assert_array_max_ulp(
            predictor.predict(batch), predictor.booster.inplace_predict(batch), maxulp=1
        )
