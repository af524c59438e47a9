"""The loaded model: a booster in XGBoost's own format plus, when present, the fitted
preprocessing, so the endpoint takes raw abalone rows as well as encoded feature rows."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

from container.codecs import Rows
from container.errors import InvalidPayload
from container.treepredict import CompiledTrees, compile_trees
from training import schema
from training.artifact import ARTIFACT_FILES, load_booster, sha256_file
from training.features import FeatureTransform, read_transform

log = logging.getLogger(__name__)
#: Up to this many rows the tree walker (treepredict.py) beats XGBoost's fixed per-call cost on
#: the benchmark's model, caches warm or flushed (figures: README, "Where the time went").
WALKER_MAX_ROWS = 32
#: A manifest entry: sha256 as hashlib's hexdigest() writes it.
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class ModelLoadError(Exception):
    """The model directory cannot be served; the message is the one log line an operator reads."""


@dataclass(frozen=True)
class Predictor:
    booster: xgb.Booster
    n_features: int
    transform: FeatureTransform | None = None
    #: Exact tree walker for small batches (see treepredict.py); None: XGBoost for everything.
    walker: CompiledTrees | None = None

    @property
    def max_fields(self) -> int:
        """The widest row this model takes: its features, or the raw fields when it has the
        preprocessing (decoders refuse wider rows before parsing them)."""
        return max(self.n_features, schema.N_RAW_FIELDS if self.transform is not None else 0)

    def features(self, rows: Rows) -> np.ndarray:
        """Validate decoded rows and return the float32 feature matrix the booster expects."""
        width = rows.values.shape[1]
        if rows.categories is not None:
            return self._encode_raw(rows)
        if rows.sparse and width <= self.n_features:
            padded = np.full((len(rows), self.n_features), np.nan, dtype=np.float32)
            padded[:, :width] = rows.values
            return padded
        if width != self.n_features:
            raise InvalidPayload(
                f"expected {self.n_features} features, got {width}{self._raw_hint()}"
            )
        return rows.values.astype(np.float32)

    def _raw_hint(self) -> str:
        if self.transform is None:
            return ""
        return f" (or {schema.N_RAW_FIELDS} raw fields: {','.join(schema.RAW_COLUMNS)})"

    def _encode_raw(self, rows: Rows) -> np.ndarray:
        assert rows.categories is not None
        if self.transform is None:
            raise InvalidPayload(
                f"this model has no preprocessing, so it takes only {self.n_features} "
                f"numeric features; row 1 starts with {rows.categories[0][:20]!r}"
            )
        width = rows.values.shape[1] + 1
        if width != schema.N_RAW_FIELDS:
            raise InvalidPayload(
                f"expected {schema.N_RAW_FIELDS} raw fields ({','.join(schema.RAW_COLUMNS)}), "
                f"got {width}"
            )
        categories = self.transform.sex_categories
        codes = [code.upper() for code in rows.categories]
        if not set(codes) <= set(categories):  # the first unknown one is named
            for number, code in enumerate(codes):
                if code not in categories:
                    raise InvalidPayload(
                        f"row {number + rows.first_row}, column 1: unknown sex "
                        f"{rows.categories[number][:20]!r} (expected one of "
                        f"{', '.join(categories)})"
                    )
        return self.transform.encode(codes, rows.values)

    def predict(self, features: np.ndarray, *, small_batch: bool = True) -> np.ndarray:
        """small_batch=False: XGBoost whatever the rows (the chunks of one large body: every
        row of it predicted by the same code, so the answer is the whole body's byte for byte)."""
        if small_batch and self.walker is not None and features.shape[0] <= WALKER_MAX_ROWS:
            return self.walker.predict(features)
        return np.asarray(self.booster.inplace_predict(features, validate_features=False))

    def warm_up(self) -> None:
        """Predict through both paths once, so the first request pays no lazy initialisation."""
        for rows in (1, WALKER_MAX_ROWS + 1):
            self.predict(np.zeros((rows, self.n_features), dtype=np.float32))


def load_model(model_dir: Path) -> Predictor:
    """Load and validate model_dir; ModelLoadError with a one-line reason when it cannot serve."""
    booster_path = _booster_path(model_dir)
    verify_manifest(model_dir)
    if booster_path.stat().st_size == 0:  # XGBoost aborts the process on an empty buffer
        raise ModelLoadError(f"cannot load {booster_path}: the file is empty")
    try:
        booster = load_booster(booster_path)
    except (xgb.core.XGBoostError, OSError, ValueError) as exc:  # ValueError: undecodable junk
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"cannot load {booster_path} as an XGBoost model: {first_line}"
        ) from None
    booster.set_param({"nthread": 1})  # one OpenMP thread per worker; workers give the parallelism
    transform = _load_transform(model_dir)
    n_features = booster.num_features()
    if transform is not None and n_features != schema.N_FEATURES:
        raise ModelLoadError(
            f"{booster_path} expects {n_features} features but the preprocessing produces "
            f"{schema.N_FEATURES}"
        )
    predictor = Predictor(
        booster=booster, n_features=n_features, transform=transform, walker=compile_trees(booster)
    )
    try:
        predictor.warm_up()
    except xgb.core.XGBoostError as exc:
        raise ModelLoadError(f"warm-up prediction failed: {str(exc).strip()[:200]}") from None
    return predictor


def _booster_path(model_dir: Path) -> Path:
    """The booster's path; ModelLoadError when it is missing or the directory is unreadable (a
    non-root server meets a model directory that only its owner may read)."""
    booster_path = model_dir / schema.MODEL_FILENAME
    try:
        if booster_path.is_file():
            return booster_path
        found = sorted(p.name for p in model_dir.iterdir()) if model_dir.is_dir() else None
    except OSError as exc:
        raise ModelLoadError(f"cannot read the model directory {model_dir}: {exc}") from None
    where = f"{model_dir} holds {found}" if found is not None else f"{model_dir} does not exist"
    raise ModelLoadError(f"no model file {schema.MODEL_FILENAME!r} in {model_dir} ({where})")


def _load_transform(model_dir: Path) -> FeatureTransform | None:
    path = model_dir / schema.PREPROCESSING_FILENAME
    if not path.exists():
        log.warning("no %s in %s: only encoded feature rows are accepted", path.name, model_dir)
        return None
    try:
        return read_transform(path)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"unreadable preprocessing file {path}: {exc}") from None


def verify_manifest(model_dir: Path) -> None:
    """Check the model files against the sha256 manifest written at training time (the server
    before it loads them, the drift monitor before it reads the baseline).

    A manifest must list every model file present. The project's own layout (with its
    preprocessing or baseline) must have one; a bare booster, the official image's layout, may
    go without.
    """
    path = model_dir / schema.MANIFEST_FILENAME
    present = [name for name in ARTIFACT_FILES if (model_dir / name).exists()]
    if not path.exists():
        own = [n for n in (schema.PREPROCESSING_FILENAME, schema.BASELINE_FILENAME) if n in present]
        if own:
            raise ModelLoadError(
                f"{model_dir} has {own[0]} but no {path.name}: "
                "refusing to load files whose sha256 cannot be checked"
            )
        log.warning("no %s in %s: artifact digests not checked", path.name, model_dir)
        return
    expected = _read_manifest(path)
    unlisted = [name for name in present if name not in expected]
    if unlisted:
        raise ModelLoadError(
            f"{path} does not list {', '.join(unlisted)}: refusing to load unchecked files"
        )
    for name, digest in expected.items():
        _check_digest(model_dir, name, digest, path.name)


def _read_manifest(path: Path) -> dict[str, str]:
    """The manifest's {file name: sha256 hex}; ModelLoadError for anything else."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"unreadable manifest {path}: {exc}") from None
    if not isinstance(manifest, dict):
        raise ModelLoadError(f"unreadable manifest {path}: not a JSON object of file: sha256")
    for name, digest in manifest.items():
        if not isinstance(digest, str) or not SHA256_HEX.fullmatch(digest):
            raise ModelLoadError(
                f"manifest {path} gives {name!r} the digest {str(digest)[:80]!r}, "
                "not a sha256 (64 lowercase hex digits)"
            )
    return manifest


def _check_digest(model_dir: Path, name: str, digest: str, manifest_name: str) -> None:
    target = model_dir / name
    if "/" in name or not target.is_file():
        raise ModelLoadError(f"manifest lists {name!r}, which is not in {model_dir}")
    try:
        actual = sha256_file(target)
    except OSError as exc:
        raise ModelLoadError(f"cannot read {target} to check its sha256: {exc}") from None
    if actual != digest:
        raise ModelLoadError(
            f"{target} does not match its sha256 in {manifest_name}: refusing to load"
        )
