"""A model directory the server cannot use: the container never reports ready, and says why in
exactly one log line (no traceback) before it exits non-zero."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from devtools.containers import Served, serve_model
from tests.integration.dockerutil import poll
from training import schema
from training.artifact import ARTIFACT_FILES, sha256_file

pytestmark = pytest.mark.integration
BOOSTER = schema.MODEL_FILENAME
PREPROCESSING = schema.PREPROCESSING_FILENAME
MANIFEST = schema.MANIFEST_FILENAME


def write_manifest(model_dir: Path) -> None:
    """A manifest that matches the broken files: the damage is in the artifact, not in transit."""
    names = [name for name in ARTIFACT_FILES if (model_dir / name).is_file()]
    manifest = {name: sha256_file(model_dir / name) for name in names}
    (model_dir / MANIFEST).write_text(json.dumps(manifest))


def five_feature_booster() -> bytes:
    rng = np.random.default_rng(0)
    data = xgb.DMatrix(rng.random((50, 5)), label=rng.random(50))
    return bytes(xgb.train({"max_depth": 2}, data, num_boost_round=2).save_raw("ubj"))


def truncate(model_dir: Path) -> None:
    raw = (model_dir / BOOSTER).read_bytes()
    (model_dir / BOOSTER).write_bytes(raw[: len(raw) // 2])


def corrupt(model_dir: Path) -> None:
    junk = random.Random(7).randbytes(4096)
    (model_dir / BOOSTER).write_bytes(junk)


def wrong_feature_count(model_dir: Path) -> None:
    (model_dir / BOOSTER).write_bytes(five_feature_booster())


def invalid_preprocessing(model_dir: Path) -> None:
    (model_dir / PREPROCESSING).write_text('{"medians": [1, 2')


def unreadable_preprocessing_in_manifest(model_dir: Path) -> None:
    (model_dir / PREPROCESSING).chmod(0o000)


def tampered_booster(model_dir: Path) -> None:
    (model_dir / BOOSTER).write_bytes((model_dir / BOOSTER).read_bytes() + b" ")


def manifest_without_booster(model_dir: Path) -> None:
    manifest = json.loads((model_dir / MANIFEST).read_text())
    del manifest[BOOSTER]
    (model_dir / MANIFEST).write_text(json.dumps(manifest))


def unreadable_model_files(model_dir: Path) -> None:
    """The files behind a folder only its owner (root) may enter: the server runs as 1000."""
    private = model_dir / "private"
    private.mkdir(mode=0o700)
    (model_dir / BOOSTER).rename(private / BOOSTER)
    (model_dir / BOOSTER).symlink_to(Path("private") / BOOSTER)


CASES: dict[str, tuple[Callable[[Path], None], bool, str]] = {
    # name: (damage, rewrite the manifest after it, the reason the log line gives)
    "missing-booster": (lambda d: (d / BOOSTER).unlink(), True, "no model file 'xgboost-model'"),
    "empty-booster": (lambda d: (d / BOOSTER).write_bytes(b""), True, "the file is empty"),
    "truncated-booster": (truncate, True, "as an XGBoost model"),
    "corrupt-booster": (corrupt, True, "as an XGBoost model"),
    "wrong-feature-count": (
        wrong_feature_count,
        True,
        "expects 5 features but the preprocessing produces 10",
    ),
    "invalid-preprocessing": (invalid_preprocessing, True, "unreadable preprocessing file"),
    "preprocessing-without-manifest": (
        lambda d: (d / MANIFEST).unlink(),
        False,
        f"has {PREPROCESSING} but no {MANIFEST}",
    ),
    "empty-manifest": (
        lambda d: (d / MANIFEST).write_text("{}"),
        False,
        f"does not list {BOOSTER}, {PREPROCESSING}",
    ),
    "manifest-without-booster": (manifest_without_booster, False, f"does not list {BOOSTER}:"),
    "tampered-booster": (tampered_booster, False, "does not match its sha256"),
    "unreadable-model-files": (
        unreadable_model_files,
        False,
        "cannot read the model directory /opt/ml/model: [Errno 13] Permission denied",
    ),
    "unreadable-preprocessing-in-manifest": (
        unreadable_preprocessing_in_manifest,
        False,
        "to check its sha256: [Errno 13] Permission denied",
    ),
}


@dataclass
class Run:
    served: Served
    pings: list[int | None] = field(default_factory=list)
    status: int | None = None
    logs: str = ""


@pytest.fixture(scope="module")
def runs(docker_client, image, served_model_dir, tmp_path_factory) -> Iterator[dict[str, Run]]:
    """Every case's container, started together (they are independent) and run until exit."""
    started: dict[str, Run] = {}
    try:
        for case, (damage, rewrite_manifest, _) in CASES.items():
            model_dir = tmp_path_factory.mktemp(case) / "model"
            shutil.copytree(served_model_dir, model_dir)
            damage(model_dir)
            if rewrite_manifest:
                write_manifest(model_dir)
            model_dir.chmod(0o755)
            # Not root, so that a file without read permission is really unreadable.
            served = serve_model(docker_client, image, model_dir, user="1000:1000")
            started[case] = Run(served)

        def all_exited() -> bool:
            for run in started.values():
                if run.status is None:
                    run.served.container.reload()
                    run.pings.append(run.served.ping_status())
                    if run.served.container.status == "exited":
                        run.status = run.served.container.wait(timeout=10)["StatusCode"]
                        run.logs = run.served.logs()
            return all(run.status is not None for run in started.values())

        poll(all_exited, 120, "every container to exit")
        yield started
    finally:
        for run in started.values():
            run.served.container.remove(force=True)


@pytest.mark.parametrize("case", CASES)
def test_a_broken_model_never_reports_ready_and_says_why(runs, case):
    run, reason = runs[case], CASES[case][2]
    assert 200 not in run.pings
    assert run.status == 1
    errors = [line for line in run.logs.splitlines() if " ERROR " in line]
    assert len(errors) == 1, run.logs
    assert "cannot serve:" in errors[0] and reason in errors[0], errors[0]
    assert "Traceback" not in run.logs
