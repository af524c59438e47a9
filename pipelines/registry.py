"""The local model registry: one folder per gated model, and a `latest` pointer.

SageMaker's Model Registry has no local mode, so a local pipeline run that passes the quality
gate records the model here instead, with the facts a model package would hold:

    <registry>/<n>/model/           the servable model directory (model.tar.gz unpacked)
    <registry>/<n>/model.tar.gz     the archive the Train step wrote (the model data)
    <registry>/<n>/evaluation.json  the Evaluate step's report (the model metrics)
    <registry>/<n>/version.json     version, approval status, execution, image, input, RMSE
    <registry>/latest               the newest version's number (the endpoint serves it)
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Final

from training import artifact
from training.errors import DataError

LATEST: Final = "latest"
MODEL_DIR: Final = "model"
MODEL_ARCHIVE: Final = "model.tar.gz"
EVALUATION: Final = "evaluation.json"
VERSION_FILE: Final = "version.json"


class RegistryError(RuntimeError):
    """A model that cannot be recorded (unreadable archive, an entry outside the model)."""


def record(
    registry_dir: Path, *, model_archive: Path, evaluation: Path, facts: dict[str, Any]
) -> Path:
    """Record a gated model as the next version and point `latest` at it.

    Args:
        registry_dir: the registry folder (created when missing).
        model_archive: the model.tar.gz the pipeline wrote.
        evaluation: the evaluation report of that model.
        facts: what version.json holds besides the version number.

    Returns:
        The new version's folder.
    """
    registry_dir.mkdir(parents=True, exist_ok=True)
    version = next_version(registry_dir)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=registry_dir))
    try:
        unpack_model(model_archive, staging / MODEL_DIR)
        shutil.copyfile(model_archive, staging / MODEL_ARCHIVE)
        shutil.copyfile(evaluation, staging / EVALUATION)
        record_json = {"version": version, **facts}
        (staging / VERSION_FILE).write_text(json.dumps(record_json, indent=2) + "\n")
        staging.chmod(0o755)  # readable by the serving container's non-root users too
        target = registry_dir / str(version)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _write_atomically(registry_dir / LATEST, f"{version}\n")
    return target


def versions(registry_dir: Path) -> list[int]:
    """The recorded version numbers, oldest first."""
    if not registry_dir.is_dir():
        return []
    return sorted(int(p.name) for p in registry_dir.iterdir() if p.is_dir() and p.name.isdigit())


def next_version(registry_dir: Path) -> int:
    return max(versions(registry_dir), default=0) + 1


def latest_version(registry_dir: Path) -> int | None:
    """The version `latest` points at, or None when nothing was recorded."""
    pointer = registry_dir / LATEST
    return int(pointer.read_text().strip()) if pointer.is_file() else None


def latest_model_dir(registry_dir: Path) -> Path | None:
    version = latest_version(registry_dir)
    return None if version is None else registry_dir / str(version) / MODEL_DIR


def read_version(version_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((version_dir / VERSION_FILE).read_text())
    return data


def unpack_model(archive: Path, model_dir: Path) -> None:
    """Unpack a model archive (training.artifact's safe unpacking) into a new model_dir."""
    try:
        artifact.unpack_model(archive, model_dir)
    except DataError as exc:  # already names the archive
        raise RegistryError(f"cannot unpack: {exc}") from exc
    except (OSError, tarfile.TarError) as exc:
        raise RegistryError(f"cannot unpack {archive}: {exc}") from exc
    model_dir.chmod(0o755)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)
