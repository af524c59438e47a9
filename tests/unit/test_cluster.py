"""The cluster and the row shares read from SageMaker's resource and input configs."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from container import contract
from training import cluster
from training.cluster import Cluster, Placement
from training.errors import TrainingError

SHARDED, REPLICATED = contract.SHARDED_BY_S3_KEY, contract.FULLY_REPLICATED


def test_no_resource_config_is_one_local_host(tmp_path: Path):
    found = cluster.read_cluster(tmp_path / "resourceconfig.json")
    assert found == cluster.SINGLE_HOST
    assert (found.size, found.rank, found.is_master, found.is_distributed) == (1, 0, True, False)


def test_resource_config_names_the_hosts_in_sagemaker_order(tmp_path: Path):
    path = tmp_path / "resourceconfig.json"
    hosts = ["algo-10", "algo-2", "algo-1"]
    path.write_text(json.dumps({"current_host": "algo-2", "hosts": hosts, "x": 1}))
    found = cluster.read_cluster(path)
    assert found.hosts == ("algo-1", "algo-2", "algo-10")
    assert (found.master, found.rank, found.is_master, found.is_distributed) == (
        "algo-1",
        1,
        False,
        True,
    )


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ([], "not a JSON object"),
        ({"current_host": "a"}, "'hosts' is not a list"),
        ({"current_host": "a", "hosts": []}, "'hosts' is not a list"),
        ({"current_host": "a", "hosts": ["a", 2]}, "'hosts' is not a list"),
        ({"current_host": "c", "hosts": ["a", "b"]}, "current_host 'c' is not in"),
        ({"current_host": "a", "hosts": ["a", "a"]}, "duplicate host names"),
    ],
)
def test_malformed_resource_config(config: object, fragment: str):
    with pytest.raises(TrainingError, match=fragment):
        cluster.parse_cluster(config)


def test_unreadable_resource_config(tmp_path: Path):
    path = tmp_path / "resourceconfig.json"
    path.write_text("{not json")
    with pytest.raises(TrainingError, match="unreadable resource config"):
        cluster.read_cluster(path)


def _two(current: str) -> Cluster:
    return Cluster(hosts=("algo-1", "algo-2"), current_host=current)


@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("n_rows", [0, 1, 7, 100])
def test_replicated_rows_are_shared_once_each(size: int, n_rows: int):
    hosts = tuple(f"algo-{i}" for i in range(1, size + 1))
    rows = list(range(n_rows))
    shares = [rows[cluster.row_share(n_rows, Cluster(hosts, host), REPLICATED)] for host in hosts]
    assert sorted(row for share in shares for row in share) == rows
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_sharded_input_is_all_this_hosts_rows():
    assert cluster.row_share(10, _two("algo-2"), SHARDED) == slice(0, 10)
    assert cluster.row_share(10, cluster.SINGLE_HOST, REPLICATED) == slice(0, 10)


def test_training_distributions_default_to_fully_replicated(tmp_path: Path):
    config = {
        contract.TRAIN_CHANNEL: {"TrainingInputMode": "File", "S3DistributionType": SHARDED},
        contract.VALIDATION_CHANNEL: {"TrainingInputMode": "File"},  # what local mode writes
    }
    (tmp_path / "inputdataconfig.json").write_text(json.dumps(config))
    (tmp_path / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]})
    )
    placement = cluster.training_placement(
        tmp_path / "resourceconfig.json", tmp_path / "inputdataconfig.json", 9
    )
    assert placement == Placement(_two("algo-1"), SHARDED, REPLICATED, 9)


def test_processing_distributions_by_local_path(tmp_path: Path):
    def item(name: str, path: PurePosixPath, kind: str | None) -> dict:
        s3 = {"S3Uri": f"s3://b/{name}", "LocalPath": str(path)}
        return {
            "InputName": name,
            "S3Input": s3 | ({"S3DataDistributionType": kind} if kind else {}),
        }

    job = {
        "ProcessingInputs": [
            item("train", contract.TRAIN_INPUT, SHARDED),
            item("validation", contract.VALIDATION_INPUT, None),
            {"InputName": "code"},
        ]
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    placement = cluster.processing_placement(
        tmp_path / "none.json",
        tmp_path / "job.json",
        Path(contract.TRAIN_INPUT),
        Path(contract.VALIDATION_INPUT),
        5,
    )
    assert placement == Placement(cluster.SINGLE_HOST, SHARDED, REPLICATED, 5)
    assert cluster.processing_distributions("not a config") == {}


@pytest.mark.parametrize(("text", "ok"), [("1", True), ("3600", True), ("0", False), ("x", False)])
def test_cluster_timeout_setting(text: str, ok: bool):
    if ok:
        assert cluster.parse_timeout(text) == int(text)
    else:
        with pytest.raises(TrainingError, match="cluster timeout"):
            cluster.parse_timeout(text)


def test_the_all_in_one_job_refuses_several_instances(tmp_path: Path):
    from training import processing

    config = tmp_path / "resourceconfig.json"
    config.write_text(json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}))
    argv = ["all", "--resource-config", str(config), "--input", str(tmp_path / "raw")]
    with pytest.raises(TrainingError, match="runs on one instance"):
        processing.run_processing([*argv, "--output", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()
