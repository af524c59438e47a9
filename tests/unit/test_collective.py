"""Two hosts as two local processes on 127.0.0.1: one model together, and bounded failures."""

from __future__ import annotations

import multiprocessing
import socket
import time
from pathlib import Path

import pandas as pd
import pytest

from container import contract
from training import preprocess, splits, stages
from training.cluster import Cluster, Placement
from training.collective import ClusterError, joined
from training.evaluate import run as evaluate
from training.hyperparameters import Hyperparameters

# Two names of this machine; the first in sorted order runs the tracker.
HOSTS = ("127.0.0.1", "localhost")
HP = {"num_round": "60", "max_depth": "3", "early_stopping_rounds": "10"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _train(splits_dir: Path, model_dir: Path, placement: Placement) -> bool:
    return stages.build_model_dir(
        splits_dir / splits.TRAIN,
        splits_dir / splits.VALIDATION,
        splits_dir / preprocess.PREPROCESSING_DIR,
        model_dir,
        Hyperparameters.from_strings(HP),
        placement,
    )


def _host(splits_dir: Path, model_dir: Path, placement: Placement, results) -> None:
    results.put((placement.cluster.current_host, _train(splits_dir, model_dir, placement)))


@pytest.fixture()
def two_part_splits(small_frame: pd.DataFrame, tmp_path: Path) -> Path:
    preprocess.run(small_frame, tmp_path / "splits", seed=5, parts=2)
    return tmp_path / "splits"


def _host_dir(splits_dir: Path, part: int, root: Path) -> Path:
    """What ShardedByS3Key gives one host: its own part of train, everything else."""
    host_dir = root / f"host-{part}"
    (host_dir / splits.TRAIN).mkdir(parents=True)
    name = splits.part_file(splits_dir / splits.TRAIN, splits.TRAIN, part).name
    (host_dir / splits.TRAIN / name).write_bytes((splits_dir / splits.TRAIN / name).read_bytes())
    for other in (splits.VALIDATION, preprocess.PREPROCESSING_DIR):
        (host_dir / other).symlink_to(splits_dir / other)
    return host_dir


def test_two_hosts_train_one_model_as_good_as_one(two_part_splits: Path, tmp_path: Path):
    port, context = _free_port(), multiprocessing.get_context("spawn")
    results = context.Queue()
    hosts = []
    for part, host in enumerate(HOSTS):
        placement = Placement(
            Cluster(HOSTS, host), contract.SHARDED_BY_S3_KEY, timeout_s=60, tracker_port=port
        )
        args = (_host_dir(two_part_splits, part, tmp_path), tmp_path / f"model-{part}", placement)
        hosts.append(context.Process(target=_host, args=(*args, results)))
    for process in hosts:
        process.start()
    for process in hosts:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert dict(results.get(timeout=5) for _ in hosts) == {HOSTS[0]: True, HOSTS[1]: False}
    assert not (tmp_path / "model-1").exists()

    assert _train(two_part_splits, tmp_path / "single", Placement())
    test_dir = two_part_splits / splits.TEST
    together = evaluate(tmp_path / "model-0", test_dir, tmp_path / "eval-0")
    alone = evaluate(tmp_path / "single", test_dir, tmp_path / "eval-1")
    rmse = [r["regression_metrics"]["rmse"]["value"] for r in (together, alone)]
    assert abs(rmse[0] - rmse[1]) <= 0.1 * rmse[1], rmse


def test_a_host_that_cannot_reach_the_tracker_fails_in_bounded_time():
    started = time.monotonic()
    with (
        pytest.raises(ClusterError, match=r"could not join .* not reachable within 3 s"),
        joined(Cluster(HOSTS, HOSTS[1]), timeout_s=3, port=_free_port()),
    ):
        pytest.fail("joined a cluster with no tracker")
    assert time.monotonic() - started < 3 + 15


def test_a_tracker_whose_other_host_never_comes_fails_in_bounded_time():
    started = time.monotonic()
    with (
        pytest.raises(ClusterError, match="within 3 s"),
        joined(Cluster(HOSTS, HOSTS[0]), timeout_s=3, port=_free_port()),
    ):
        pytest.fail("formed a cluster with one of two hosts")
    assert time.monotonic() - started < 3 + 15


def test_one_host_joins_nothing():
    with joined(Cluster(("solo",), "solo"), timeout_s=1, port=1):
        pass


def test_a_busy_tracker_port_is_a_clear_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with (
            pytest.raises(ClusterError, match=f"cannot start the tracker on 127.0.0.1:{port}"),
            joined(Cluster(HOSTS, HOSTS[0]), timeout_s=3, port=port),
        ):
            pytest.fail("started a tracker on a busy port")
