"""container.model: loading and validating a model directory, and row validation."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from container import codecs
from container.app import ModelState, create_app
from container.codecs import Rows
from container.errors import InvalidPayload
from container.model import ModelLoadError, Predictor, load_model
from training import schema
from training.artifact import load_booster, sha256_file
from training.features import FeatureTransform

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = schema.MODEL_FILENAME
PREPROCESSING = schema.PREPROCESSING_FILENAME
MANIFEST = schema.MANIFEST_FILENAME


def copy_dir(source: Path, target: Path, names=(MODEL, PREPROCESSING, MANIFEST)) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(source / name, target / name)
    return target


def write_manifest(model_dir: Path) -> Path:
    """A manifest that matches the files as they are now: the test's damage is in the artifact."""
    names = [name for name in (MODEL, PREPROCESSING) if (model_dir / name).is_file()]
    manifest = {name: sha256_file(model_dir / name) for name in names}
    (model_dir / MANIFEST).write_text(json.dumps(manifest))
    return model_dir


def raw_csv(frame: pd.DataFrame) -> bytes:
    lines = [
        ",".join([row[schema.SEX], *(repr(float(row[c])) for c in schema.NUMERIC_COLUMNS)])
        for _, row in frame.iterrows()
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def transform(model_dir: Path) -> FeatureTransform:
    return FeatureTransform.from_dict(json.loads((model_dir / PREPROCESSING).read_text()))


@pytest.fixture(scope="module")
def booster_only_dir(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only xgboost-model, as the official SageMaker XGBoost image writes it."""
    return copy_dir(model_dir, tmp_path_factory.mktemp("booster-only"), names=(MODEL,))


# --- loading --------------------------------------------------------------------------------


def test_load_model_on_the_trained_dir(predictor: Predictor):
    assert predictor.n_features == schema.N_FEATURES
    assert predictor.transform is not None
    assert predictor.transform.sex_categories == schema.SEX_CATEGORIES


def test_raw_rows_predict_like_the_booster_on_encoded_rows(
    predictor: Predictor, model_dir: Path, transform: FeatureTransform, small_frame: pd.DataFrame
):
    rows = codecs.decode_csv(raw_csv(small_frame))
    served = predictor.predict(predictor.features(rows))
    booster = load_booster(model_dir / MODEL)
    direct = booster.inplace_predict(transform.transform(small_frame))
    assert served.shape == (len(small_frame),)
    np.testing.assert_allclose(served, direct, rtol=0, atol=1e-6)


def test_encoded_rows_from_the_test_split_predict_like_the_booster(
    predictor: Predictor, trained_workdir: Path, model_dir: Path
):
    table = np.loadtxt(trained_workdir / "test" / "test.csv", delimiter=",", ndmin=2)
    body = "\n".join(",".join(repr(v) for v in row[1:]) for row in table.tolist()).encode()
    served = predictor.predict(predictor.features(codecs.decode_csv(body)))
    direct = load_booster(model_dir / MODEL).inplace_predict(table[:, 1:].astype(np.float32))
    np.testing.assert_allclose(served, direct, rtol=0, atol=1e-6)


def test_booster_json_format_loads_too(model_dir: Path, tmp_path: Path, predictor: Predictor):
    target = copy_dir(model_dir, tmp_path, names=(PREPROCESSING,))
    (target / MODEL).write_bytes(bytes(predictor.booster.save_raw("json")))
    write_manifest(target)
    features = np.zeros((3, schema.N_FEATURES), dtype=np.float32)
    np.testing.assert_allclose(
        load_model(target).predict(features), predictor.predict(features), rtol=0, atol=1e-6
    )


@pytest.mark.parametrize(
    ("setup", "fragments"),
    [
        ("missing-dir", ["does not exist"]),
        ("empty-dir", ["no model file", "holds []"]),
        ("no-booster", ["no model file", PREPROCESSING]),
        ("garbage", ["cannot load", "XGBoost model"]),
        ("truncated", ["cannot load"]),
        ("one-byte", ["cannot load"]),
        ("pickle-like", ["cannot load"]),
        ("booster-is-dir", ["no model file"]),
    ],
)
def test_load_model_refuses_unusable_booster(
    setup: str, fragments, model_dir: Path, tmp_path: Path
):
    target = tmp_path / "model"
    booster_bytes = (model_dir / MODEL).read_bytes()
    if setup != "missing-dir":
        target.mkdir()
    if setup == "no-booster":
        copy_dir(model_dir, target, names=(PREPROCESSING,))
    contents = {
        "garbage": b"this is not a model",
        "truncated": booster_bytes[: len(booster_bytes) // 2],
        "one-byte": booster_bytes[:1],
        "pickle-like": b"\x80\x04\x95" + b"\x00" * 64,
    }
    if setup in contents:
        copy_dir(model_dir, target, names=(PREPROCESSING,))
        (target / MODEL).write_bytes(contents[setup])
        write_manifest(target)
    if setup == "booster-is-dir":
        (target / MODEL).mkdir()
    with pytest.raises(ModelLoadError) as caught:
        load_model(target)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_load_model_refuses_empty_booster_file(model_dir: Path, tmp_path: Path):
    # Run in a child process: loading zero bytes must be a ModelLoadError, not a crash.
    copy_dir(model_dir, tmp_path, names=(PREPROCESSING,))
    (tmp_path / MODEL).write_bytes(b"")
    write_manifest(tmp_path)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from container.model import ModelLoadError, load_model\n"
        "try:\n"
        "    load_model(Path(sys.argv[1]))\n"
        "except ModelLoadError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 3, (
        f"exit status {result.returncode}; stderr: {result.stderr.strip()[-300:]}"
    )
    assert "cannot load" in result.stdout


def test_load_model_refuses_booster_with_wrong_feature_count(model_dir: Path, tmp_path: Path):
    rng = np.random.default_rng(0)
    features = rng.random((40, 5), dtype=np.float32)
    tiny = xgb.train({"nthread": 1}, xgb.DMatrix(features, label=rng.random(40)), 2)
    copy_dir(model_dir, tmp_path, names=(PREPROCESSING,))
    (tmp_path / MODEL).write_bytes(bytes(tiny.save_raw("ubj")))
    write_manifest(tmp_path)
    with pytest.raises(
        ModelLoadError, match="expects 5 features but the preprocessing produces 10"
    ):
        load_model(tmp_path)


def _preprocessing(model_dir: Path) -> dict:
    return json.loads((model_dir / PREPROCESSING).read_text())


def _edited(**changes) -> Callable[[Path], str]:
    return lambda model_dir: json.dumps({**_preprocessing(model_dir), **changes})


PREPROCESSING_CONTENTS = {
    "not-json": lambda _: "{not json",
    "empty": lambda _: "",
    "format-version": _edited(format_version=2),
    "feature-names": _edited(feature_names=["a"] * 10),
    "missing-means": lambda d: json.dumps(
        {k: v for k, v in _preprocessing(d).items() if k != "means"}
    ),
    "short-medians": _edited(medians=[0.0]),
    "zero-scale": _edited(scales=[0.0] * 7),
    "text-in-means": _edited(means=["x"] * 7),
    "null-means": _edited(means=None),
    "json-list": lambda _: "[]",
    "json-null": lambda _: "null",
}


@pytest.mark.parametrize("name", list(PREPROCESSING_CONTENTS))
def test_load_model_refuses_unreadable_preprocessing(name: str, model_dir: Path, tmp_path: Path):
    copy_dir(model_dir, tmp_path, names=(MODEL,))
    (tmp_path / PREPROCESSING).write_text(PREPROCESSING_CONTENTS[name](model_dir))
    write_manifest(tmp_path)
    with pytest.raises(ModelLoadError, match="unreadable preprocessing"):
        load_model(tmp_path)


@pytest.mark.parametrize("tampered", [MODEL, PREPROCESSING])
def test_load_model_refuses_files_that_differ_from_the_manifest(
    tampered: str, model_dir: Path, tmp_path: Path
):
    copy_dir(model_dir, tmp_path)
    if tampered == PREPROCESSING:
        data = _preprocessing(model_dir)
        data["means"][0] += 1.0
        (tmp_path / PREPROCESSING).write_text(json.dumps(data))
    else:
        (tmp_path / MODEL).write_bytes((model_dir / MODEL).read_bytes() + b" ")
    with pytest.raises(ModelLoadError, match=f"{tampered} does not match its sha256"):
        load_model(tmp_path)


ZEROS = "0" * 64


@pytest.mark.parametrize(
    ("manifest", "fragment"),
    [
        ("{", "unreadable manifest"),
        ("", "unreadable manifest"),
        ("[]", "not a JSON object"),
        ("null", "not a JSON object"),
        ('"xgboost-model"', "not a JSON object"),
        ("{}", f"does not list {MODEL}, {PREPROCESSING}: refusing to load unchecked files"),
        (json.dumps({MODEL: ZEROS}), f"does not list {PREPROCESSING}:"),
        (json.dumps({PREPROCESSING: ZEROS}), f"does not list {MODEL}:"),
        (json.dumps({"extra-file": ZEROS, MODEL: ZEROS, PREPROCESSING: ZEROS}), "'extra-file'"),
        (json.dumps({f"../{MODEL}": ZEROS, MODEL: ZEROS, PREPROCESSING: ZEROS}), "not in"),
        (json.dumps({MODEL: ZEROS, PREPROCESSING: ZEROS}), "does not match its sha256"),
        (json.dumps({MODEL: "0000", PREPROCESSING: ZEROS}), "'0000', not a sha256"),
        (json.dumps({MODEL: "A" * 64, PREPROCESSING: ZEROS}), "not a sha256"),
        (json.dumps({MODEL: ZEROS + "\n", PREPROCESSING: ZEROS}), "not a sha256"),
        (json.dumps({MODEL: None, PREPROCESSING: ZEROS}), "'None', not a sha256"),
        (json.dumps({MODEL: 0, PREPROCESSING: ZEROS}), "not a sha256"),
        (json.dumps({MODEL: [ZEROS], PREPROCESSING: ZEROS}), "not a sha256"),
    ],
)
def test_load_model_refuses_bad_manifest(
    manifest: str, fragment: str, model_dir: Path, tmp_path: Path
):
    copy_dir(model_dir, tmp_path)
    (tmp_path / MANIFEST).write_text(manifest)
    with pytest.raises(ModelLoadError, match=re.escape(fragment)) as caught:
        load_model(tmp_path)
    assert "\n" not in str(caught.value)


def test_load_model_refuses_the_projects_layout_without_manifest(model_dir: Path, tmp_path: Path):
    copy_dir(model_dir, tmp_path, names=(MODEL, PREPROCESSING))
    with pytest.raises(ModelLoadError, match=f"has {PREPROCESSING} but no {MANIFEST}"):
        load_model(tmp_path)


def test_load_model_refuses_a_baseline_without_manifest(model_dir: Path, tmp_path: Path):
    baseline = schema.BASELINE_FILENAME
    copy_dir(model_dir, tmp_path, names=(MODEL, baseline))
    with pytest.raises(ModelLoadError, match=f"has {re.escape(baseline)} but no {MANIFEST}"):
        load_model(tmp_path)


def test_load_model_refuses_the_correct_manifest_when_a_listed_file_is_gone(
    model_dir: Path, tmp_path: Path
):
    copy_dir(model_dir, tmp_path)
    (tmp_path / PREPROCESSING).unlink()
    with pytest.raises(ModelLoadError, match=f"manifest lists '{PREPROCESSING}', which is not in"):
        load_model(tmp_path)


def test_the_official_layout_loads_without_manifest(booster_only_dir: Path):
    assert not (booster_only_dir / MANIFEST).exists()
    assert load_model(booster_only_dir).transform is None


def test_a_booster_with_its_own_manifest_loads(model_dir: Path, tmp_path: Path):
    copy_dir(model_dir, tmp_path, names=(MODEL,))
    (tmp_path / MANIFEST).write_text(json.dumps({MODEL: sha256_file(tmp_path / MODEL)}))
    assert load_model(tmp_path).transform is None


@pytest.mark.parametrize("manifest", ["{}", json.dumps({PREPROCESSING: ZEROS})])
def test_a_booster_with_a_manifest_that_leaves_it_out_is_refused(
    manifest: str, model_dir: Path, tmp_path: Path
):
    copy_dir(model_dir, tmp_path, names=(MODEL,))
    (tmp_path / MANIFEST).write_text(manifest)
    with pytest.raises(ModelLoadError, match=f"does not list {MODEL}:"):
        load_model(tmp_path)


def test_manifest_matches_the_files(model_dir: Path):
    manifest = json.loads((model_dir / MANIFEST).read_text())
    names = (MODEL, PREPROCESSING, schema.BASELINE_FILENAME)
    assert manifest == {name: sha256_file(model_dir / name) for name in names}


# --- a model directory with only the booster ------------------------------------------------


def test_booster_only_dir_accepts_encoded_rows(booster_only_dir: Path, predictor: Predictor):
    bare = load_model(booster_only_dir)
    assert bare.transform is None
    assert bare.n_features == schema.N_FEATURES
    features = np.random.default_rng(1).normal(size=(4, schema.N_FEATURES))
    rows = Rows(values=features)
    np.testing.assert_allclose(
        bare.predict(bare.features(rows)), predictor.predict(predictor.features(rows)), atol=1e-6
    )


def test_booster_only_dir_refuses_raw_rows(booster_only_dir: Path):
    bare = load_model(booster_only_dir)
    rows = codecs.decode_csv(b"M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\n")
    with pytest.raises(InvalidPayload, match="no preprocessing") as caught:
        bare.features(rows)
    assert "10 numeric features" in caught.value.message
    assert "'M'" in caught.value.message


def test_booster_only_dir_answers_raw_rows_with_400(booster_only_dir: Path, settings):
    bare = load_model(booster_only_dir)
    client = create_app(settings, ModelState(predictor=bare, ready=True)).test_client()
    response = client.post(
        "/invocations",
        data=b"M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\n",
        content_type="text/csv",
    )
    assert response.status_code == 400
    assert "no preprocessing" in response.get_json()["error"]
    hint = client.post("/invocations", data=b"1,2,3\n", content_type="text/csv")
    assert hint.get_json()["error"] == "expected 10 features, got 3"


# --- Predictor.features ---------------------------------------------------------------------

RAW = [0.455, 0.365, 0.095, 0.514, 0.2245, 0.101, 0.15]


def test_features_encodes_raw_rows_with_the_transform(predictor: Predictor):
    rows = Rows(values=np.array([RAW, RAW, RAW]), categories=["M", "f", "I"])
    features = predictor.features(rows)
    assert features.dtype == np.float32
    assert features.shape == (3, schema.N_FEATURES)
    np.testing.assert_array_equal(features[:, 7:], [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    expected = predictor.transform.encode(["M", "F", "I"], np.array([RAW] * 3))
    np.testing.assert_array_equal(features, expected)


def test_features_imputes_missing_raw_values_with_training_medians(predictor: Predictor):
    values = np.array([[np.nan] * 7])
    features = predictor.features(Rows(values=values, categories=["I"]))
    transform = predictor.transform
    expected = (np.array(transform.medians) - np.array(transform.means)) / np.array(
        transform.scales
    )
    np.testing.assert_allclose(features[0, :7], expected, rtol=1e-6)


def test_features_passes_encoded_rows_through(predictor: Predictor):
    values = np.arange(20, dtype=np.float64).reshape(2, 10)
    features = predictor.features(Rows(values=values))
    assert features.dtype == np.float32
    np.testing.assert_array_equal(features, values.astype(np.float32))


def test_features_pads_narrow_sparse_rows_with_nan(predictor: Predictor):
    features = predictor.features(Rows(values=np.array([[1.0, np.nan, 3.0]]), sparse=True))
    assert features.shape == (1, schema.N_FEATURES)
    assert features[0, 0] == 1.0
    assert features[0, 2] == 3.0
    assert np.isnan(features[0, 3:]).all()


@pytest.mark.parametrize(
    ("rows", "fragments"),
    [
        (Rows(values=np.zeros((1, 9))), ["expected 10 features, got 9", "or 8 raw fields"]),
        (Rows(values=np.zeros((2, 11))), ["expected 10 features, got 11"]),
        (Rows(values=np.zeros((1, 0))), ["expected 10 features, got 0"]),
        (Rows(values=np.zeros((1, 12)), sparse=True), ["expected 10 features, got 12"]),
        (Rows(values=np.zeros((1, 6)), categories=["M"]), ["expected 8 raw fields", "got 7"]),
        (Rows(values=np.zeros((1, 9)), categories=["M"]), ["expected 8 raw fields", "got 10"]),
        (
            Rows(values=np.zeros((2, 7)), categories=["M", "X"]),
            ["row 2, column 1", "unknown sex 'X'", "F, I, M"],
        ),
        (Rows(values=np.zeros((1, 7)), categories=["male"]), ["row 1, column 1", "'male'"]),
        (Rows(values=np.zeros((1, 7)), categories=["0.5x"]), ["unknown sex"]),
    ],
    ids=[
        "nine",
        "eleven",
        "none",
        "sparse-too-wide",
        "raw-short",
        "raw-long",
        "unknown-sex",
        "word-sex",
        "junk-sex",
    ],
)
def test_features_refuses_wrong_rows(predictor: Predictor, rows: Rows, fragments):
    with pytest.raises(InvalidPayload) as caught:
        predictor.features(rows)
    for fragment in fragments:
        assert fragment in caught.value.message


def test_warm_up_predicts_once(predictor: Predictor):
    predictor.warm_up()
