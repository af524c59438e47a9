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


def _lossguide(max_leaves: int) -> xgb.Booster:
    """Trees of exactly max_leaves leaves, as deep as they grow (the limit is on leaves)."""
    x = _data(3000, missing=0.05)
    params = {
        "grow_policy": "lossguide",
        "max_leaves": max_leaves,
        "max_depth": 0,
        "tree_method": "hist",
        "min_child_weight": 0,
        "seed": 1,
    }
    return xgb.train(params, xgb.DMatrix(x, label=RNG.normal(size=3000)), num_boost_round=3)


def test_walker_handles_trees_of_64_leaves_and_single_leaf_trees():
    full = _lossguide(64)
    assert {t.count("leaf=") for t in full.get_dump()} == {64}
    # A large gamma prunes many trees down to a single leaf, which must still be added.
    pruned = _booster("reg:squarederror", max_depth=4, gamma=3)
    assert 1 in {t.count("leaf=") for t in pruned.get_dump()}
    for booster in (full, pruned):
        walker = compile_trees(booster)
        assert walker is not None
        x = _data(64, missing=0.2)
        np.testing.assert_array_max_ulp(walker.predict(x), booster.inplace_predict(x), maxulp=1)


def test_walker_declines_trees_with_more_than_64_leaves():
    assert compile_trees(_lossguide(65)) is None


def test_walker_matches_xgboost_on_values_at_and_next_to_every_threshold():
    # A value equal to a split's threshold goes right, one float32 step below goes left: the
    # thresholds must be compared exactly as XGBoost stores them (float32).
    booster = _booster("reg:tweedie")
    walker = compile_trees(booster)
    assert walker is not None
    rows = []
    for feature, thresholds in enumerate(walker.thresholds):
        for threshold in thresholds:
            at = np.float32(threshold)
            for value in (np.nextafter(at, np.float32(-np.inf)), at, np.nextafter(at, np.inf)):
                row = _data(1, missing=0.3)[0]
                row[feature] = value
                rows.append(row)
    x = np.asarray(rows, dtype=np.float32)
    assert len(x) > 100
    np.testing.assert_array_max_ulp(walker.predict(x), booster.inplace_predict(x), maxulp=1)


def test_walker_declines_models_whose_table_would_be_too_large(monkeypatch):
    from container import treepredict

    booster = _booster("reg:squarederror")
    assert compile_trees(booster) is not None
    monkeypatch.setattr(treepredict, "MAX_TABLE_BYTES", 1024)
    assert compile_trees(booster) is None
