"""The local model registry: versions, the latest pointer, safe unpacking."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from pipelines import registry


def make_archive(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def model_files(tmp_path: Path) -> tuple[Path, Path]:
    archive = make_archive(
        tmp_path / "model.tar.gz",
        {"xgboost-model": b"booster", ".preprocessing.json": b"{}", "./.manifest.json": b"{}"},
    )
    evaluation = tmp_path / "evaluation.json"
    evaluation.write_text(json.dumps({"regression_metrics": {"rmse": {"value": 2.1}}}))
    return archive, evaluation


def test_records_versions_and_points_latest_at_the_newest(tmp_path, model_files):
    archive, evaluation = model_files
    root = tmp_path / "registry"
    assert registry.latest_model_dir(root) is None
    first = registry.record(root, model_archive=archive, evaluation=evaluation, facts={"rmse": 2.1})
    second = registry.record(
        root, model_archive=archive, evaluation=evaluation, facts={"rmse": 2.0}
    )
    assert (first.name, second.name) == ("1", "2")
    assert registry.versions(root) == [1, 2]
    assert (root / registry.LATEST).read_text() == "2\n"
    assert registry.latest_model_dir(root) == second / "model"
    assert registry.read_version(second) == {"version": 2, "rmse": 2.0}
    model = second / "model"
    assert sorted(p.name for p in model.iterdir()) == [
        ".manifest.json",
        ".preprocessing.json",
        "xgboost-model",
    ]
    assert (model / "xgboost-model").read_bytes() == b"booster"
    assert (second / "model.tar.gz").read_bytes() == archive.read_bytes()
    assert json.loads((second / "evaluation.json").read_text())["regression_metrics"]
    assert not list(root.glob(".staging-*"))


def test_refuses_an_archive_that_leaves_the_model_folder(tmp_path, model_files):
    _, evaluation = model_files
    bad = make_archive(tmp_path / "bad.tar.gz", {"../escape": b"x"})
    root = tmp_path / "registry"
    with pytest.raises(registry.RegistryError, match="outside the model"):
        registry.record(root, model_archive=bad, evaluation=evaluation, facts={})
    assert registry.versions(root) == []
    assert registry.latest_version(root) is None
    assert not (tmp_path / "escape").exists()
    assert not list(root.glob(".staging-*"))


def test_a_missing_archive_records_nothing(tmp_path, model_files):
    _, evaluation = model_files
    root = tmp_path / "registry"
    with pytest.raises(registry.RegistryError, match="cannot unpack"):
        registry.record(
            root, model_archive=tmp_path / "nope.tar.gz", evaluation=evaluation, facts={}
        )
    assert registry.versions(root) == []
