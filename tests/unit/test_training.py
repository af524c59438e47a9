"""The training core: data, features, hyperparameters, splits, report, artifact, workflow."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import json
import math
import os
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training import artifact, cv, preprocess, report, schema, splits, workflow
from training.data import load_abalone, parse_rows, read_source
from training.errors import DataError, HyperparameterError, TrainingError
from training.features import FeatureTransform
from training.hyperparameters import Hyperparameters
from training.train import predict, train_booster

GOOD_LINE = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15"


# --- data loading ---------------------------------------------------------------------------


def test_load_abalone_reads_the_real_file(abalone_frame: pd.DataFrame):
    assert len(abalone_frame) == 4177
    assert tuple(abalone_frame.columns) == schema.FILE_COLUMNS
    assert set(abalone_frame[schema.SEX]) == set(schema.SEX_CATEGORIES)
    numeric = abalone_frame[[*schema.NUMERIC_COLUMNS, schema.TARGET]]
    assert (numeric.dtypes == np.float64).all()
    assert np.isfinite(numeric.to_numpy()).all()
    assert abalone_frame.iloc[0].tolist() == [
        "M",
        0.455,
        0.365,
        0.095,
        0.514,
        0.2245,
        0.101,
        0.15,
        15.0,
    ]


@pytest.mark.parametrize("member", ["abalone.data", "abalone/abalone.data"])
def test_load_abalone_unzips_a_uci_archive(
    member: str, abalone_path: Path, abalone_frame: pd.DataFrame, tmp_path: Path
):
    archive = tmp_path / "abalone.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("abalone.names", "not the data")
        handle.writestr(member, abalone_path.read_bytes())
    frame = load_abalone(str(archive))  # the sha256 is checked on the unzipped bytes
    pd.testing.assert_frame_equal(frame, abalone_frame)


def test_zip_archive_without_the_data_file(tmp_path: Path):
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("readme.txt", "hello")
    with pytest.raises(DataError, match=re.escape("zip archive has no abalone.data")) as caught:
        read_source(str(archive))
    assert str(archive) in str(caught.value)


def test_sha256_mismatch_names_the_source(sample_data_file: Path):
    with pytest.raises(DataError, match="sha256 mismatch") as caught:
        load_abalone(str(sample_data_file))
    assert str(sample_data_file) in str(caught.value)
    assert schema.ABALONE_SHA256 in str(caught.value)


def test_sha256_can_be_skipped_or_replaced(sample_data_file: Path):
    import hashlib

    digest = hashlib.sha256(sample_data_file.read_bytes()).hexdigest()
    assert len(load_abalone(str(sample_data_file), expected_sha256=None)) == 600
    assert len(load_abalone(str(sample_data_file), expected_sha256=digest)) == 600


def test_missing_file_is_a_data_error(tmp_path: Path):
    with pytest.raises(DataError, match="no such file"):
        load_abalone(str(tmp_path / "nope.data"))


def test_parse_rows_skips_blank_lines_and_normalizes_sex():
    raw = f"\n{GOOD_LINE}\r\n\r\n f ,0.5,0.4,0.1,0.5,0.2,0.1,0.15,9\n,,\n".encode()
    frame = parse_rows(raw, "mem", columns=schema.FILE_COLUMNS)
    assert frame[schema.SEX].tolist() == ["M", "F"]
    assert frame[schema.TARGET].tolist() == [15.0, 9.0]


@pytest.mark.parametrize(
    ("content", "line", "fragments"),
    [
        (b"M,0.1,0.2\n", 1, ["expected 9 fields", "got 3"]),
        (f"{GOOD_LINE}\n{GOOD_LINE},1\n".encode(), 2, ["expected 9 fields", "got 10"]),
        (f"{GOOD_LINE}\nX{GOOD_LINE[1:]}\n".encode(), 2, ["unknown sex code 'X'", "F, I, M"]),
        (
            f"{GOOD_LINE}\n\n{GOOD_LINE}\nM,0.4,abc,0.1,0.5,0.2,0.1,0.15,9\n".encode(),
            4,
            ["column diameter", "'abc' is not a number"],
        ),
        (b"M,0.4,0.3,0.1,0.5,0.2,0.1,0.15,\n", 1, ["column rings", "is not a number"]),
        (b"M,0.4,0.3,nan,0.5,0.2,0.1,0.15,9\n", 1, ["column height", "not finite"]),
        (b"M,0.4,0.3,0.1,inf,0.2,0.1,0.15,9\n", 1, ["column whole_weight", "not finite"]),
        (b"", None, ["no data rows"]),
        (b"\n\n \n", None, ["no data rows"]),
        (b"M,0.4,\xff\n", None, ["not UTF-8"]),
    ],
    ids=[
        "too-few-fields",
        "too-many-fields",
        "unknown-sex",
        "non-numeric",
        "empty-target",
        "nan",
        "inf",
        "empty-file",
        "blank-file",
        "not-utf8",
    ],
)
def test_bad_data_names_file_and_line(content: bytes, line, fragments, tmp_path: Path):
    path = tmp_path / "bad.data"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        load_abalone(str(path), expected_sha256=None)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert caught.value.source == str(path)
    assert caught.value.line == line
    if line is not None:
        assert f"{path}, line {line}: " in message
    for fragment in fragments:
        assert fragment in message
    assert isinstance(caught.value, TrainingError)


@pytest.mark.parametrize(
    ("source", "line", "expected"),
    [
        ("f.csv", 3, "f.csv, line 3: bad"),
        (None, 3, "line 3: bad"),
        ("f.csv", None, "f.csv: bad"),
        (None, None, "bad"),
    ],
)
def test_data_error_message(source, line, expected: str):
    assert str(DataError("bad", source=source, line=line)) == expected


# --- feature transform ----------------------------------------------------------------------


def _frame(rows: list[list]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(schema.RAW_COLUMNS))


def test_fit_computes_medians_means_and_scales():
    frame = _frame(
        [
            ["M", 1.0, 2.0, 0.1, 1.0, 5.0, 1.0, 3.0],
            ["F", 3.0, 2.0, 0.2, np.nan, 5.0, 2.0, 4.0],
            ["I", 5.0, 2.0, 0.3, 3.0, 5.0, 6.0, 5.0],
        ]
    )
    transform = FeatureTransform.fit(frame)
    assert transform.medians[0] == 3.0
    assert transform.medians[3] == 2.0  # median of the present values
    assert transform.means[0] == pytest.approx(3.0)
    assert transform.means[3] == pytest.approx(2.0)  # the missing value counts as the median
    assert transform.scales[0] == pytest.approx(np.std([1.0, 3.0, 5.0]))
    assert transform.scales[1] == 1.0  # constant column
    assert transform.scales[4] == 1.0


def test_transform_scales_numbers_and_one_hot_encodes_sex():
    frame = _frame(
        [
            ["M", 1.0, 2.0, 0.1, 1.0, 5.0, 1.0, 3.0],
            ["F", 3.0, 2.0, 0.2, 2.0, 5.0, 2.0, 4.0],
            ["I", 5.0, 2.0, 0.3, 3.0, 5.0, 6.0, 5.0],
        ]
    )
    transform = FeatureTransform.fit(frame)
    features = transform.transform(frame)
    assert features.dtype == np.float32
    assert features.shape == (3, schema.N_FEATURES)
    np.testing.assert_allclose(features[:, :7].mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_array_equal(features[:, 1], 0.0)
    np.testing.assert_array_equal(features[:, 7:], [[0, 0, 1], [1, 0, 0], [0, 1, 0]])


def test_transform_fills_missing_values_with_the_median(small_frame: pd.DataFrame):
    transform = FeatureTransform.fit(small_frame)
    frame = small_frame.head(2).copy()
    frame.loc[:, "length"] = np.nan
    features = transform.transform(frame)
    expected = (transform.medians[0] - transform.means[0]) / transform.scales[0]
    np.testing.assert_allclose(features[:, 0], expected, rtol=1e-6)


def test_decode_is_the_inverse_of_encode(small_frame: pd.DataFrame):
    transform = FeatureTransform.fit(small_frame)
    frame = small_frame.head(50)
    sex, numeric = transform.decode(transform.transform(frame))
    assert sex == list(frame[schema.SEX])
    raw = frame[list(schema.NUMERIC_COLUMNS)].to_numpy(dtype=np.float64)
    np.testing.assert_allclose(numeric, raw, rtol=1e-6, atol=1e-6)  # float32 features


def test_decode_gives_no_sex_where_the_sex_columns_are_not_one_hot(small_frame: pd.DataFrame):
    transform = FeatureTransform.fit(small_frame)
    features = transform.transform(small_frame.head(3))
    n_numeric = len(schema.NUMERIC_COLUMNS)
    features[0, n_numeric:] = 0.0  # none set
    features[1, n_numeric:] = 1.0  # all set
    sex, _ = transform.decode(features)
    assert sex[:2] == [None, None] and sex[2] == small_frame[schema.SEX].iloc[2]


def test_transform_json_round_trip(small_frame: pd.DataFrame):
    transform = FeatureTransform.fit(small_frame)
    data = json.loads(json.dumps(transform.to_dict()))
    assert data["feature_names"] == list(schema.FEATURE_NAMES)
    assert data["raw_columns"] == list(schema.RAW_COLUMNS)
    restored = FeatureTransform.from_dict(data)
    assert restored == transform
    np.testing.assert_array_equal(restored.transform(small_frame), transform.transform(small_frame))


def _transform_dict(**changes) -> dict:
    data = FeatureTransform(medians=(1.0,) * 7, means=(0.5,) * 7, scales=(2.0,) * 7).to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"format_version": 2}, ValueError),
        ({"format_version": None}, ValueError),
        ({"feature_names": list(schema.FEATURE_NAMES)[::-1]}, ValueError),
        ({"feature_names": [*schema.FEATURE_NAMES, "extra"]}, ValueError),
        ({"medians": [1.0] * 6}, ValueError),
        ({"means": [1.0] * 8}, ValueError),
        ({"scales": [1.0] * 6 + [0.0]}, ValueError),
        ({"scales": [1.0] * 6 + [-1.0]}, ValueError),
        ({"means": ["a"] * 7}, ValueError),
        ({"means": None}, TypeError),
    ],
)
def test_from_dict_rejects_wrong_schema(changes: dict, error: type[Exception]):
    with pytest.raises(error):
        FeatureTransform.from_dict(_transform_dict(**changes))


@pytest.mark.parametrize("missing", ["medians", "means", "scales", "sex_categories"])
def test_from_dict_rejects_missing_keys(missing: str):
    data = _transform_dict()
    del data[missing]
    with pytest.raises(KeyError):
        FeatureTransform.from_dict(data)


@pytest.mark.parametrize(
    "categories",
    [["M", "I", "F"], ["F", "I"], ["F", "I", "M", "X"]],
    ids=["reordered", "short", "long"],
)
def test_from_dict_rejects_sex_categories_that_contradict_feature_names(categories: list[str]):
    # feature_names fixes the one-hot columns as sex_F, sex_I, sex_M; other categories would
    # silently swap columns (wrong predictions) or change the width (a 500 on every raw row).
    with pytest.raises(ValueError):
        FeatureTransform.from_dict(_transform_dict(sex_categories=categories))


def test_preprocess_fits_the_transform_on_the_train_split_only(
    small_frame: pd.DataFrame, tmp_path: Path
):
    transform = preprocess.run(small_frame, tmp_path, seed=7)
    parts = preprocess.split_frame(small_frame, seed=7)
    assert transform == FeatureTransform.fit(parts[splits.TRAIN])
    assert transform != FeatureTransform.fit(small_frame)
    assert preprocess.read_preprocessing(tmp_path / "preprocessing") == transform
    for name, part in parts.items():
        features, labels = splits.read_split(tmp_path / name, name)
        np.testing.assert_array_equal(features, transform.transform(part))
        np.testing.assert_array_equal(labels, part[schema.TARGET].to_numpy())


def test_preprocess_parts_hold_the_same_rows_and_one_transform(
    small_frame: pd.DataFrame, tmp_path: Path
):
    whole = preprocess.run(small_frame, tmp_path / "one", seed=7)
    sharded = preprocess.run(small_frame, tmp_path / "three", seed=7, parts=3)
    assert sharded == whole  # fitted on the whole train split, before it is cut into parts
    for name in splits.SPLITS:
        assert len(list((tmp_path / "three" / name).glob(f"{name}-part-*.csv"))) == 3
        one = splits.read_split(tmp_path / "one" / name, name)
        three = splits.read_split(tmp_path / "three" / name, name)
        np.testing.assert_array_equal(three[0], one[0])
        np.testing.assert_array_equal(three[1], one[1])


def test_split_frame_partitions_rows_reproducibly(small_frame: pd.DataFrame):
    parts = preprocess.split_frame(small_frame, seed=3)
    sizes = {name: len(part) for name, part in parts.items()}
    assert sizes == {splits.TRAIN: 210, splits.VALIDATION: 45, splits.TEST: 45}
    indexes = [set(part.index) for part in parts.values()]
    assert set.union(*indexes) == set(small_frame.index)
    assert sum(len(i) for i in indexes) == len(small_frame)
    again = preprocess.split_frame(small_frame, seed=3)
    assert all(parts[n].index.equals(again[n].index) for n in splits.SPLITS)
    other = preprocess.split_frame(small_frame, seed=4)
    assert not parts[splits.TEST].index.equals(other[splits.TEST].index)


def test_read_transform_errors(tmp_path: Path):
    with pytest.raises(DataError, match=re.escape("missing .preprocessing.json")):
        preprocess.read_preprocessing(tmp_path)
    (tmp_path / schema.PREPROCESSING_FILENAME).write_text("{bad")
    with pytest.raises(DataError, match="unreadable preprocessing"):
        preprocess.read_preprocessing(tmp_path)


# --- hyperparameters ------------------------------------------------------------------------


def test_default_hyperparameters_are_valid():
    hp = Hyperparameters()
    assert hp.objective == "reg:tweedie"
    assert Hyperparameters.from_strings({}) == hp


def test_from_strings_coerces_sagemaker_strings():
    hp = Hyperparameters.from_strings(
        {
            "objective": "reg:squarederror",
            "num_round": "100",
            "early_stopping_rounds": "0",
            "eta": "0.1",
            "max_depth": "6.0",
            "min_child_weight": "1",
            "subsample": "1",
            "lambda": "2.5",
            "seed": "7",
        }
    )
    assert hp.num_round == 100
    assert isinstance(hp.num_round, int)
    assert hp.max_depth == 6
    assert isinstance(hp.max_depth, int)
    assert hp.eta == 0.1
    assert isinstance(hp.min_child_weight, float)
    assert hp.reg_lambda == 2.5
    assert hp.seed == 7
    assert hp.early_stopping_rounds == 0


def test_from_strings_accepts_numbers_and_reg_lambda():
    hp = Hyperparameters.from_strings({"num_round": 10, "eta": 0.5, "reg_lambda": 3})
    assert (hp.num_round, hp.eta, hp.reg_lambda) == (10, 0.5, 3.0)


def test_booster_params_use_xgboost_names():
    params = Hyperparameters.from_strings({"lambda": "4"}).booster_params()
    assert params["lambda"] == 4.0
    assert "reg_lambda" not in params
    assert params["eval_metric"] == "rmse"
    assert params["nthread"] == 1


@pytest.mark.parametrize("name", ["num_rounds", "learning_rate", "Lambda", "alpha"])
def test_unknown_hyperparameter(name: str):
    with pytest.raises(HyperparameterError, match=f"unknown hyperparameter '{name}'") as caught:
        Hyperparameters.from_strings({name: "1"})
    assert "lambda" in str(caught.value)
    assert "reg_lambda" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("num_round", "abc"),
        ("num_round", "3.5"),
        ("num_round", "inf"),
        ("num_round", "nan"),
        ("num_round", ""),
        ("num_round", None),
        ("max_depth", [5]),
        ("eta", "fast"),
        ("lambda", "x"),
        ("seed", "1e400"),
    ],
)
def test_badly_typed_hyperparameter(name: str, value):
    with pytest.raises(HyperparameterError, match=f"hyperparameter {name}=") as caught:
        Hyperparameters.from_strings({name: value})
    assert "is not a valid" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("objective", "binary:logistic"),
        ("num_round", "0"),
        ("early_stopping_rounds", "-1"),
        ("eta", "0"),
        ("eta", "1.5"),
        ("eta", "nan"),
        ("max_depth", "0"),
        ("max_depth", "33"),
        ("min_child_weight", "-0.1"),
        ("subsample", "0"),
        ("subsample", "1.01"),
        ("colsample_bytree", "0"),
        ("lambda", "-1"),
        ("gamma", "-1"),
        ("nthread", "0"),
    ],
)
def test_out_of_range_hyperparameter(name: str, value: str):
    field = "reg_lambda" if name == "lambda" else name
    with pytest.raises(HyperparameterError, match="out of range") as caught:
        Hyperparameters.from_strings({name: value})
    assert f"{field}=" in str(caught.value)


def test_out_of_range_lists_every_bad_value():
    with pytest.raises(HyperparameterError) as caught:
        Hyperparameters(eta=0, max_depth=0)
    assert "eta=0" in str(caught.value)
    assert "max_depth=0" in str(caught.value)


# --- splits ---------------------------------------------------------------------------------


def test_split_round_trip(tmp_path: Path):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(20, schema.N_FEATURES)).astype(np.float32)
    labels = rng.integers(1, 30, size=20).astype(float)
    path = splits.write_split(tmp_path / "train", splits.TRAIN, features, labels)
    assert path == tmp_path / "train" / "train.csv"
    assert not list((tmp_path / "train").glob("*.partial"))
    read_features, read_labels = splits.read_split(tmp_path / "train", splits.TRAIN)
    assert read_features.dtype == np.float32
    np.testing.assert_array_equal(read_features, features)
    np.testing.assert_array_equal(read_labels, labels)


def test_read_split_accepts_one_csv_of_any_name(tmp_path: Path):
    table = np.hstack([np.ones((3, 1)), np.zeros((3, schema.N_FEATURES))])
    np.savetxt(tmp_path / "part-0001.csv", table, delimiter=",")
    features, labels = splits.read_split(tmp_path, splits.TEST)
    assert features.shape == (3, schema.N_FEATURES)
    np.testing.assert_array_equal(labels, 1.0)


def test_read_split_joins_part_files_in_name_order(tmp_path: Path):
    for part, label in ((1, 2.0), (0, 1.0), (2, 3.0)):
        table = np.hstack([np.full((part + 1, 1), label), np.zeros((part + 1, schema.N_FEATURES))])
        np.savetxt(splits.part_file(tmp_path, splits.TRAIN, part), table, delimiter=",")
    _, labels = splits.read_split(tmp_path, splits.TRAIN)
    np.testing.assert_array_equal(labels, [1.0, 2.0, 2.0, 3.0, 3.0, 3.0])


@pytest.mark.parametrize("parts", [1, 3, 7])
def test_split_parts_round_trip(tmp_path: Path, parts: int):
    features = np.arange(20 * schema.N_FEATURES, dtype=np.float64).reshape(20, -1)
    labels = np.arange(20, dtype=np.float64)
    written = splits.write_split_parts(tmp_path, splits.TRAIN, features, labels, parts)
    assert len(written) == parts == len(list(tmp_path.glob("*.csv")))
    assert (parts == 1) == (written == [splits.split_file(tmp_path, splits.TRAIN)])
    got_features, got_labels = splits.read_split(tmp_path, splits.TRAIN)
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_array_equal(got_features, features.astype(np.float32))


@pytest.mark.parametrize("parts", [0, 21])
def test_split_parts_refuses_impossible_counts(tmp_path: Path, parts: int):
    with pytest.raises(DataError, match="part files"):
        splits.write_split_parts(tmp_path, splits.TRAIN, np.zeros((20, 2)), np.zeros(20), parts)


def _row(n: int = schema.N_FEATURES + 1, value: str = "1") -> str:
    return ",".join([value] * n)


@pytest.mark.parametrize(
    ("files", "fragments"),
    [
        ({}, ["expected test.csv (or .csv part files)"]),
        ({"a.csv": _row(), "b.csv": _row(10)}, ["b.csv", "got 10"]),
        ({"test.csv": _row(10)}, ["expected 11 columns", "got 10"]),
        ({"test.csv": f"{_row()}\n1,2,x,4,5,6,7,8,9,10,11\n"}, ["not a numeric label-first CSV"]),
        ({"test.csv": f"{_row()}\n{_row()}\n{_row(value='inf')}\n"}, ["line 3", "not finite"]),
        ({"test.csv": f"{_row(value='nan')}\n"}, ["line 1", "not finite"]),
    ],
    ids=["no-csv", "bad-second-part", "columns", "non-numeric", "inf", "nan"],
)
def test_read_split_errors(files: dict[str, str], fragments, tmp_path: Path):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(DataError) as caught:
        splits.read_split(tmp_path, splits.TEST)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_read_split_missing_directory(tmp_path: Path):
    with pytest.raises(DataError, match=re.escape("expected train.csv")):
        splits.read_split(tmp_path / "absent", splits.TRAIN)


@pytest.mark.filterwarnings("ignore:loadtxt. input contained no data:UserWarning")
def test_read_split_empty_file(tmp_path: Path):
    (tmp_path / "test.csv").write_text("")
    with pytest.raises(DataError, match="no data rows"):
        splits.read_split(tmp_path, splits.TEST)


# --- report ---------------------------------------------------------------------------------


def test_build_report_against_hand_computed_values():
    result = report.build_report(np.array([1, 2, 3, 4]), np.array([1, 3, 2, 6]))
    metrics = result["regression_metrics"]
    # errors 0, 1, -1, 2; squared 0, 1, 1, 4; total sum of squares 5.
    assert metrics["mse"]["value"] == pytest.approx(1.5)
    assert metrics["mse"]["standard_deviation"] == pytest.approx(1.5)
    assert metrics["rmse"]["value"] == pytest.approx(math.sqrt(1.5))
    assert metrics["mae"]["value"] == pytest.approx(1.0)
    assert metrics["r2"]["value"] == pytest.approx(1 - 6 / 5)
    assert result["n_samples"] == 4
    json.dumps(result)  # plain JSON types only


def test_build_report_perfect_and_constant():
    perfect = report.build_report(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    assert perfect["regression_metrics"]["rmse"]["value"] == 0.0
    assert perfect["regression_metrics"]["r2"]["value"] == 1.0
    constant = report.build_report(np.array([3.0, 3.0]), np.array([2.0, 4.0]))
    assert constant["regression_metrics"]["r2"]["value"] == 0.0


def test_metric_at_reads_the_pipeline_path():
    result = report.build_report(np.array([1, 2, 3, 4]), np.array([1, 3, 2, 6]))
    assert report.METRIC_JSON_PATH == "regression_metrics.rmse.value"
    assert report.metric_at(result) == pytest.approx(math.sqrt(1.5))
    assert report.metric_at(result, "regression_metrics.mae.value") == pytest.approx(1.0)
    assert report.metric_at(result, "n_samples") == 4.0
    with pytest.raises(KeyError):
        report.metric_at(result, "regression_metrics.mape.value")


# --- train and evaluate ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoded_splits(small_frame: pd.DataFrame):
    parts = preprocess.split_frame(small_frame)
    transform = FeatureTransform.fit(parts[splits.TRAIN])
    return {
        name: (transform.transform(part), part[schema.TARGET].to_numpy(dtype=float))
        for name, part in parts.items()
    }


def test_train_without_validation_runs_every_round(encoded_splits):
    lines: list[str] = []
    hp = Hyperparameters(num_round=12, early_stopping_rounds=5)
    booster = train_booster(encoded_splits[splits.TRAIN], None, hp, emit=lines.append)
    assert booster.num_boosted_rounds() == 12
    assert lines[0].startswith("train-rmse:")
    assert lines[-1] == "num_rounds:12"
    assert len(lines) == 2


def test_train_with_validation_keeps_the_best_rounds(encoded_splits):
    lines: list[str] = []
    hp = Hyperparameters(num_round=400, early_stopping_rounds=5, eta=0.5)
    booster = train_booster(
        encoded_splits[splits.TRAIN], encoded_splits[splits.VALIDATION], hp, emit=lines.append
    )
    rounds = booster.num_boosted_rounds()
    assert rounds < 400
    assert lines[-1] == f"num_rounds:{rounds}"
    assert [line.split(":")[0] for line in lines] == ["train-rmse", "validation-rmse", "num_rounds"]
    validation_rmse = float(lines[1].split(":")[1])
    features, labels = encoded_splits[splits.VALIDATION]
    errors = predict(booster, features) - labels
    assert math.sqrt(np.mean(errors**2)) == pytest.approx(validation_rmse, abs=1e-4)


def test_evaluation_report_matches_the_test_split(trained_workdir: Path):
    written = json.loads((trained_workdir / "evaluation" / report.REPORT_FILENAME).read_text())
    features, labels = splits.read_split(trained_workdir / "test", splits.TEST)
    booster = artifact.load_booster(trained_workdir / "model" / schema.MODEL_FILENAME)
    errors = predict(booster, features) - labels
    assert report.metric_at(written) == pytest.approx(math.sqrt(np.mean(errors**2)))
    assert written["n_samples"] == len(labels)


def test_cv_fold_rmses_on_a_small_frame(small_frame: pd.DataFrame):
    quick = Hyperparameters(num_round=15, early_stopping_rounds=5, eta=0.3)
    scores = cv.fold_rmses(small_frame, quick, folds=3, seed=1)
    assert len(scores) == 3
    assert all(0 < s < 10 for s in scores)
    fixed = dataclasses.replace(cv.AWS_TEMPLATE, num_round=10)
    assert len(cv.fold_rmses(small_frame, fixed, folds=3, seed=1)) == 3


# --- artifact -------------------------------------------------------------------------------


ARTIFACT_NAMES = {schema.MODEL_FILENAME, schema.PREPROCESSING_FILENAME, schema.MANIFEST_FILENAME}
#: A trained model also ships the drift baseline (training/baseline.py).
TRAINED_NAMES = {*ARTIFACT_NAMES, schema.BASELINE_FILENAME}


def test_write_model_dir_writes_only_the_artifact_files(model_dir: Path, predictor, tmp_path: Path):
    target = tmp_path / "out" / "model"
    artifact.write_model_dir(target, predictor.booster, predictor.transform)
    assert {p.name for p in target.iterdir()} == ARTIFACT_NAMES
    assert [p.name for p in target.iterdir() if not p.name.startswith(".")] == ["xgboost-model"]
    assert all(p.is_file() for p in target.iterdir())
    assert [p.name for p in target.parent.iterdir()] == ["model"]  # no staging directory left
    manifest = json.loads((target / schema.MANIFEST_FILENAME).read_text())
    assert manifest == {
        name: artifact.sha256_file(target / name)
        for name in (schema.MODEL_FILENAME, schema.PREPROCESSING_FILENAME)
    }


def test_trained_model_dir_holds_only_the_artifact_files(model_dir: Path):
    assert {p.name for p in model_dir.iterdir()} == TRAINED_NAMES
    manifest = json.loads((model_dir / schema.MANIFEST_FILENAME).read_text())
    assert set(manifest) == TRAINED_NAMES - {schema.MANIFEST_FILENAME}
    assert not [p for p in model_dir.parent.iterdir() if p.name.startswith(".model-")]


def test_write_model_dir_replaces_an_existing_model(predictor, tmp_path: Path):
    artifact.write_model_dir(tmp_path / "m", predictor.booster, predictor.transform)
    first = (tmp_path / "m" / schema.MODEL_FILENAME).read_bytes()
    smaller = predictor.booster[:1]
    artifact.write_model_dir(tmp_path / "m", smaller, predictor.transform)
    assert (tmp_path / "m" / schema.MODEL_FILENAME).read_bytes() != first
    assert {p.name for p in (tmp_path / "m").iterdir()} == ARTIFACT_NAMES


def test_written_booster_loads_back(predictor, tmp_path: Path):
    artifact.write_model_dir(tmp_path, predictor.booster, predictor.transform)
    loaded = artifact.load_booster(tmp_path / schema.MODEL_FILENAME)
    features = np.random.default_rng(2).normal(size=(5, schema.N_FEATURES)).astype(np.float32)
    np.testing.assert_array_equal(
        loaded.inplace_predict(features), predictor.booster.inplace_predict(features)
    )


def test_package_model_is_byte_reproducible(model_dir: Path, tmp_path: Path):
    first = tmp_path / "a" / schema.MODEL_ARCHIVE_FILENAME
    second = tmp_path / "b" / schema.MODEL_ARCHIVE_FILENAME
    first.parent.mkdir()
    second.parent.mkdir()
    artifact.package_model(model_dir, first)
    copy = tmp_path / "copy"
    artifact.copy_model_dir(model_dir, copy)
    for path in copy.iterdir():
        os.utime(path, (1_000_000_000, 1_000_000_000))
    artifact.package_model(copy, second)
    assert first.read_bytes() == second.read_bytes()
    assert not list(first.parent.glob("*.partial"))


def test_package_model_archive_members(model_dir: Path, tmp_path: Path):
    archive = tmp_path / schema.MODEL_ARCHIVE_FILENAME
    artifact.package_model(model_dir, archive)
    with gzip.open(archive) as handle:
        assert handle.read()  # valid gzip
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(TRAINED_NAMES)
    for member in members:
        assert member.isfile()
        assert member.mode == 0o644
        assert member.mtime == 0
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")


def test_unpack_round_trip(model_dir: Path, tmp_path: Path):
    archive = tmp_path / schema.MODEL_ARCHIVE_FILENAME
    artifact.package_model(model_dir, archive)
    target = tmp_path / "unpacked"
    artifact.unpack_model(archive, target)
    assert {p.name for p in target.iterdir()} == TRAINED_NAMES
    for name in TRAINED_NAMES:
        assert (target / name).read_bytes() == (model_dir / name).read_bytes()


def _tar_with(path: Path, members: list[tarfile.TarInfo], data: bytes = b"x") -> None:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(data) if member.isfile() else None)


def test_unpack_skips_links_and_directories(tmp_path: Path):
    regular = tarfile.TarInfo("xgboost-model")
    regular.size = 1
    link = tarfile.TarInfo("link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    folder = tarfile.TarInfo("folder")
    folder.type = tarfile.DIRTYPE
    archive = tmp_path / "model.tar.gz"
    _tar_with(archive, [regular, link, folder])
    artifact.unpack_model(archive, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["xgboost-model"]


@pytest.mark.parametrize("name", ["../escaped", "/tmp/absolute-escape-test"])
def test_unpack_never_writes_outside_the_model_dir(name: str, tmp_path: Path):
    member = tarfile.TarInfo(name)
    member.size = 1
    archive = tmp_path / "model.tar.gz"
    _tar_with(archive, [member])
    target = tmp_path / "deep" / "out"
    with contextlib.suppress(tarfile.FilterError, DataError):
        artifact.unpack_model(archive, target)
    assert not (tmp_path / "deep" / "escaped").exists()
    assert not Path("/tmp/absolute-escape-test").exists()
    for path in target.rglob("*") if target.exists() else []:
        assert path.resolve().is_relative_to(target.resolve())


def test_copy_model_dir_copies_the_artifact_files(model_dir: Path, tmp_path: Path):
    (tmp_path / "src").mkdir()
    for name in TRAINED_NAMES:
        (tmp_path / "src" / name).write_bytes((model_dir / name).read_bytes())
    (tmp_path / "src" / "notes.txt").write_text("not copied")
    artifact.copy_model_dir(tmp_path / "src", tmp_path / "dst")
    assert {p.name for p in (tmp_path / "dst").iterdir()} == TRAINED_NAMES


# --- workflow -------------------------------------------------------------------------------


def test_workflow_writes_every_stage(trained_workdir: Path):
    for name in splits.SPLITS:
        assert (trained_workdir / name / f"{name}.csv").is_file()
    assert (trained_workdir / "preprocessing" / schema.PREPROCESSING_FILENAME).is_file()
    assert (trained_workdir / "model" / schema.MODEL_FILENAME).is_file()
    assert (trained_workdir / "evaluation" / report.REPORT_FILENAME).is_file()


def test_workflow_is_deterministic(sample_data_file: Path, small_hyperparameters, tmp_path: Path):
    results = [
        workflow.run_all(
            str(sample_data_file), tmp_path / run, hp=small_hyperparameters, expected_sha256=None
        )
        for run in ("one", "two")
    ]
    model = Path("model") / schema.MODEL_FILENAME
    assert (tmp_path / "one" / model).read_bytes() == (tmp_path / "two" / model).read_bytes()
    assert results[0] == results[1]
    for name in (schema.PREPROCESSING_FILENAME, schema.BASELINE_FILENAME, schema.MANIFEST_FILENAME):
        one = (tmp_path / "one" / "model" / name).read_bytes()
        assert one == (tmp_path / "two" / "model" / name).read_bytes()


def test_workflow_matches_the_session_model(
    trained_workdir: Path, sample_data_file, tmp_path, small_hyperparameters
):
    workflow.run_all(
        str(sample_data_file), tmp_path, hp=small_hyperparameters, expected_sha256=None
    )
    model = Path("model") / schema.MODEL_FILENAME
    assert (tmp_path / model).read_bytes() == (trained_workdir / model).read_bytes()


def test_workflow_cli(sample_data_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    code = workflow.main(
        [
            "--data",
            str(sample_data_file),
            "--output-dir",
            str(tmp_path),
            "--no-verify",
            "--hyperparameters",
            '{"num_round": "5", "early_stopping_rounds": "0"}',
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "num_rounds:5" in out
    assert f"model: {tmp_path / 'model'}" in out
    assert (tmp_path / "model" / schema.MODEL_FILENAME).is_file()


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--no-verify", "--hyperparameters", '{"depth": "3"}'], "unknown hyperparameter"),
        (["--no-verify", "--hyperparameters", '{"eta": "2"}'], "out of range"),
        ([], "sha256 mismatch"),
    ],
)
def test_workflow_cli_reports_user_errors(
    extra: list[str], fragment: str, sample_data_file: Path, tmp_path: Path, capsys
):
    code = workflow.main(["--data", str(sample_data_file), "--output-dir", str(tmp_path), *extra])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ")
    assert fragment in err
    assert not (tmp_path / "model").exists()
