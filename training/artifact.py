"""The servable model directory: booster, fitted preprocessing, the drift baseline, and a sha256
manifest of them.

Written into a temporary sibling directory and moved into place file by file, so a failed run
never leaves a half-written model behind.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Final

import xgboost as xgb

from training import schema
from training.baseline import write_baseline
from training.errors import DataError
from training.features import FeatureTransform, write_transform

#: The model's files; the manifest lists each one present with its sha256. The server loads the
#: first two; the baseline is the drift monitor's (older models may lack it).
ARTIFACT_FILES: Final = (
    schema.MODEL_FILENAME,
    schema.PREPROCESSING_FILENAME,
    schema.BASELINE_FILENAME,
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_model_dir(
    model_dir: Path,
    booster: xgb.Booster,
    transform: FeatureTransform,
    baseline: Mapping[str, Any] | None = None,
) -> None:
    """Save booster + preprocessing (+ baseline) + manifest into model_dir (created if missing)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=model_dir.parent, prefix=".model-") as tmp:
        staging = Path(tmp)
        # Raw UBJSON bytes, written under the official name (no extension), as that image does.
        (staging / schema.MODEL_FILENAME).write_bytes(bytes(booster.save_raw("ubj")))
        write_transform(staging / schema.PREPROCESSING_FILENAME, transform)
        if baseline is not None:
            write_baseline(staging / schema.BASELINE_FILENAME, baseline)
        written = [name for name in ARTIFACT_FILES if (staging / name).is_file()]
        manifest = {name: sha256_file(staging / name) for name in written}
        (staging / schema.MANIFEST_FILENAME).write_text(json.dumps(manifest, indent=2) + "\n")
        for name in (*written, schema.MANIFEST_FILENAME):
            os.replace(staging / name, model_dir / name)


def package_model(model_dir: Path, archive_path: Path) -> None:
    """Write model_dir's files into a reproducible model.tar.gz (sorted, zero mtimes, no owner)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(p for p in model_dir.iterdir() if p.is_file()):
            info = tarfile.TarInfo(path.name)
            info.size = path.stat().st_size
            info.mode = 0o644
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    partial = archive_path.with_name(archive_path.name + ".partial")
    with partial.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(buffer.getvalue())
    os.replace(partial, archive_path)


def unpack_model(archive_path: Path, model_dir: Path) -> None:
    """Unpack the top-level regular files of a model.tar.gz; links, folders and nested files are
    skipped, and a name that would leave model_dir is refused.

    (tarfile's extraction filters arrived in Python 3.11.4; Debian's 3.11.2 lacks them.)
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive_path) as tar:
        for member in tar.getmembers():
            name = PurePosixPath(member.name)
            if name.is_absolute() or ".." in name.parts:
                raise DataError(f"{archive_path}: refusing entry {member.name!r} outside the model")
            parts = [p for p in name.parts if p != "."]
            if not member.isfile() or len(parts) != 1:
                continue
            source = tar.extractfile(member)
            assert source is not None
            (model_dir / parts[0]).write_bytes(source.read())


def load_booster(path: Path) -> xgb.Booster:
    """Load a booster in any of XGBoost's own formats (never pickle), detected from its bytes."""
    booster = xgb.Booster()
    booster.load_model(bytearray(path.read_bytes()))
    return booster


def copy_model_dir(source_dir: Path, target_dir: Path) -> None:
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in (*ARTIFACT_FILES, schema.MANIFEST_FILENAME):
        if (source_dir / name).is_file():
            shutil.copyfile(source_dir / name, target_dir / name)
