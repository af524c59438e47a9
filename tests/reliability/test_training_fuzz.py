"""Malformed data files through the training stages, as a Processing or Training job runs them:
every failure is a clear message in the failure file and a non-zero exit (never an internal
error), and no model is left behind. Deterministic: derandomized, no example database."""

from __future__ import annotations

import json
import shutil
import signal
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from container import contract
from container.jobs import MAX_MESSAGE_BYTES, run_job
from training import processing, schema, stages

SAMPLE_LINES = 80
HYPERPARAMETERS = '{"num_round": "5", "early_stopping_rounds": "2"}'
GOOD = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15"
FIELDS = GOOD.split(",")
#: Lines that break the UCI format in one way each; st.text and st.binary add the rest.
BAD_LINES = (
    "M,0.455",
    ",".join(FIELDS[:-1]),  # no rings
    GOOD + ",3",  # one field too many
    "X" + GOOD[1:],
    ",".join(["M", "nan", *FIELDS[2:]]),
    ",".join(["M", "inf", *FIELDS[2:]]),
    ",".join(["M", "1e400", *FIELDS[2:]]),
    ",".join(["M", *["1e308"] * 8]),
    ",".join(["M", *["-1e308"] * 7, "1e308"]),
    ",".join(["M", *["5e-324"] * 8]),
    "Sex,Length,Diameter,Height,Whole,Shucked,Viscera,Shell,Rings",
    GOOD.replace(",", ";"),
    GOOD.replace("0.455", ""),
    GOOD.replace("0.455", "0x1"),
    GOOD.replace("M", "\u00e9"),
    '"M,0.455",0.365',
    "\x00" * 5,
)


@st.composite
def malformed_files(draw: st.DrawFn, sample: list[bytes]) -> bytes:
    lines = list(sample)
    bad = draw(
        st.one_of(
            st.sampled_from(BAD_LINES).map(str.encode),
            st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
            st.binary(max_size=40),
        )
    )
    how = draw(st.sampled_from(["replace", "insert", "truncate", "only", "latin-1"]))
    at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
    if how == "replace":
        lines[at] = bad
    elif how == "insert":
        lines.insert(at, bad)
    elif how == "only":
        lines = [bad]
    elif how == "latin-1":
        lines[at] = GOOD.replace("M", "\u00e9").encode("latin-1")
    body = b"\n".join(lines) + b"\n"
    if how == "truncate":
        body = body[: draw(st.integers(min_value=0, max_value=len(body) - 1))]
    return body


@pytest.fixture()
def restore_signals() -> Iterator[None]:
    """run_job installs SIGTERM/SIGINT handlers, as the job's PID 1 does; give pytest its own."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def job(work: Callable[[], None], failure_file: Path) -> int:
    """run_job as the image runs it: warnings are printed, not raised (pytest raises them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_job(work, failure_file)


def run_processing(args: list[str], output: Path, failure_file: Path) -> int:
    """What `python -m container process ...` does, with the failure file moved to tmp."""
    code = job(lambda: processing.run_processing(args), failure_file)
    if code:
        stages.clear_partial_outputs(output)
    return code


def assert_clear_failure(code: int, failure_file: Path) -> str:
    assert code in (1, 2), f"exit {code}: {failure_file.read_text() if code else ''}"
    message = failure_file.read_text(encoding="utf-8").strip()
    assert message and len(message.encode()) <= MAX_MESSAGE_BYTES
    assert not message.startswith("internal error") and "Traceback" not in message
    return message


def leftovers(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.name.endswith(".partial") or ".model-" in p.name]


def test_processing_on_malformed_raw_data(sample_data_file, tmp_path, restore_signals):
    sample = sample_data_file.read_bytes().splitlines()[:SAMPLE_LINES]
    runs = {"failed": 0}

    @settings(
        max_examples=400,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=malformed_files(sample))
    def fails_clearly_or_trains(body: bytes) -> None:
        work = tmp_path / "run"
        shutil.rmtree(work, ignore_errors=True)
        (work / "input").mkdir(parents=True)
        (work / "input" / "abalone.data").write_bytes(body)
        failure_file = work / "message"
        args = ["all", "--input", str(work / "input"), "--output", str(work / "out")]
        code = run_processing(
            [*args, "--no-verify", "--hyperparameters", HYPERPARAMETERS], work / "out", failure_file
        )
        model = work / "out" / "model" / schema.MODEL_ARCHIVE_FILENAME
        if code == 0:
            assert model.is_file() and not failure_file.exists()
            return
        runs["failed"] += 1
        assert_clear_failure(code, failure_file)
        assert not model.exists(), "a failed job left a model behind"
        assert not leftovers(work / "out")

    fails_clearly_or_trains()
    assert runs["failed"] > 200  # most mutations really are malformed


@pytest.fixture(scope="module")
def split_dirs(trained_workdir: Path) -> Path:
    return trained_workdir  # train/, validation/, test/, preprocessing/ of the session workflow


split_bodies = st.one_of(
    st.sampled_from(
        [b"", b"1,2,3\n", b"nan" + b",0" * 10 + b"\n", b"1" + b",inf" * 10 + b"\n", b"\xff\xfe"]
    ),
    st.lists(
        st.lists(st.sampled_from(["1", "0", "-1e308", "nan", "x", "", "1e400"]), max_size=12),
        max_size=4,
    ).map(lambda rows: "\n".join(",".join(r) for r in rows).encode()),
    st.binary(max_size=80),
)


def test_training_job_on_malformed_channels(split_dirs, tmp_path, restore_signals):
    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        channel=st.sampled_from(
            [contract.TRAIN_CHANNEL, contract.VALIDATION_CHANNEL, "preprocessing"]
        ),
        body=split_bodies,
    )
    def fails_clearly(channel: str, body: bytes) -> None:
        work = tmp_path / "job"
        shutil.rmtree(work, ignore_errors=True)
        channels = work / "input" / "data"
        for name in (contract.TRAIN_CHANNEL, contract.VALIDATION_CHANNEL, "preprocessing"):
            shutil.copytree(split_dirs / name, channels / name)
        target = next((channels / channel).iterdir())
        target.write_bytes(body)
        (work / "hyperparameters.json").write_text(HYPERPARAMETERS)
        model_dir, failure_file = work / "model", work / "failure"
        code = job(
            lambda: stages.run_training_job(work / "hyperparameters.json", channels, model_dir),
            failure_file,
        )
        if code == 0:  # e.g. a validation file that is still a valid split
            assert (model_dir / schema.MODEL_FILENAME).is_file()
            return
        message = assert_clear_failure(code, failure_file)
        assert target.name in message or channel in message or "preprocessing" in message
        assert not model_dir.exists() or not any(model_dir.iterdir())

    fails_clearly()


def test_hyperparameters_reach_the_failure_file_as_json_errors(tmp_path, restore_signals):
    failure_file = tmp_path / "message"
    args = ["train", "--train", str(tmp_path), "--hyperparameters", "{not json"]
    code = run_processing(args, tmp_path, failure_file)
    assert "--hyperparameters is not JSON" in assert_clear_failure(code, failure_file)
    assert json.loads('"ok"') == "ok"
