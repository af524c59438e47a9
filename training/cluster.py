"""The job's cluster as SageMaker describes it, and which rows each host trains on.

Pure functions over SageMaker's JSON files: the resource config names the hosts and this host
(`{"current_host": "algo-1", "hosts": ["algo-1", "algo-2"], ...}`, the same keys in Training and
Processing), and each input's S3 distribution says whether SageMaker already split the files
between hosts (ShardedByS3Key) or gave every host all of them (FullyReplicated).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

from container import contract
from training.errors import TrainingError

#: The one host of a job with no resource config (a local run, `docker run`, a unit test).
LOCAL_HOST: Final = "localhost"
#: How long a host waits for the cluster to form (resolving, connecting, every host joining).
DEFAULT_TIMEOUT_S: Final = 300


@dataclass(frozen=True)
class Cluster:
    """The hosts of one job (sorted, as SageMaker numbers them algo-1..n) and this host."""

    hosts: tuple[str, ...]
    current_host: str

    @property
    def size(self) -> int:
        return len(self.hosts)

    @property
    def rank(self) -> int:
        return self.hosts.index(self.current_host)

    @property
    def master(self) -> str:
        """The host that runs the tracker and writes the model: the first one."""
        return self.hosts[0]

    @property
    def is_master(self) -> bool:
        return self.current_host == self.master

    @property
    def is_distributed(self) -> bool:
        return self.size > 1


SINGLE_HOST: Final = Cluster(hosts=(LOCAL_HOST,), current_host=LOCAL_HOST)


def _sort_key(host: str) -> tuple[str, int]:
    """algo-2 before algo-10, as SageMaker numbers its hosts."""
    stem, _, number = host.rpartition("-")
    return (stem, int(number)) if number.isdigit() else (host, -1)


def parse_cluster(config: Any) -> Cluster:
    """The cluster in a resource config's JSON; TrainingError when it is malformed."""
    if not isinstance(config, dict):
        raise TrainingError("resource config is not a JSON object")
    hosts, current = config.get("hosts"), config.get("current_host")
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) for h in hosts):
        raise TrainingError(f"resource config: 'hosts' is not a list of host names: {hosts!r}")
    if len(set(hosts)) != len(hosts):
        raise TrainingError(f"resource config: duplicate host names in {hosts}")
    if current not in hosts:
        raise TrainingError(f"resource config: current_host {current!r} is not in {hosts}")
    return Cluster(hosts=tuple(sorted(hosts, key=_sort_key)), current_host=current)


def read_cluster(path: Path) -> Cluster:
    """The cluster in SageMaker's resource config file; one local host when there is none."""
    if not path.is_file():
        return SINGLE_HOST
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TrainingError(f"unreadable resource config {path}: {exc}") from None
    return parse_cluster(config)


def training_distributions(input_data_config: Any) -> dict[str, str]:
    """Channel name -> S3DistributionType from a Training job's inputdataconfig.json."""
    if not isinstance(input_data_config, dict):
        return {}
    return {
        name: str(channel.get("S3DistributionType", contract.FULLY_REPLICATED))
        for name, channel in input_data_config.items()
        if isinstance(channel, dict)
    }


def processing_distributions(job_config: Any) -> dict[PurePosixPath, str]:
    """Local input path -> S3DataDistributionType from a Processing job's config."""
    inputs = job_config.get("ProcessingInputs", []) if isinstance(job_config, dict) else []
    found: dict[PurePosixPath, str] = {}
    for item in inputs if isinstance(inputs, list) else []:
        s3 = item.get("S3Input") if isinstance(item, dict) else None
        if isinstance(s3, dict) and isinstance(s3.get("LocalPath"), str):
            kind = s3.get("S3DataDistributionType", contract.FULLY_REPLICATED)
            found[PurePosixPath(s3["LocalPath"])] = str(kind)
    return found


def read_json(path: Path) -> Any:
    """A SageMaker config file's JSON, or None when it is absent or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def row_share(n_rows: int, cluster: Cluster, distribution: str) -> slice:
    """The rows of an input this host trains on, so that no row counts twice.

    ShardedByS3Key: SageMaker gave each host its own files, so all of them. FullyReplicated:
    every host has every row, so each takes every n-th row starting at its rank.
    """
    if not cluster.is_distributed or distribution == contract.SHARDED_BY_S3_KEY:
        return slice(0, n_rows)
    return slice(cluster.rank, n_rows, cluster.size)


@dataclass(frozen=True)
class Placement:
    """Where this host stands in a training job: the cluster and how each input was spread."""

    cluster: Cluster = SINGLE_HOST
    train_distribution: str = contract.FULLY_REPLICATED
    validation_distribution: str = contract.FULLY_REPLICATED
    timeout_s: int = DEFAULT_TIMEOUT_S
    tracker_port: int = contract.TRACKER_PORT


def parse_timeout(text: str) -> int:
    """The cluster timeout setting (whole seconds, 1-3600); TrainingError when it is not."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 3600:
        raise TrainingError(f"cluster timeout must be whole seconds from 1 to 3600, got {text!r}")
    return value


def training_placement(resource_config: Path, input_data_config: Path, timeout_s: int) -> Placement:
    """A Training job's placement, from its resourceconfig.json and inputdataconfig.json."""
    kinds = training_distributions(read_json(input_data_config))
    return Placement(
        cluster=read_cluster(resource_config),
        train_distribution=kinds.get(contract.TRAIN_CHANNEL, contract.FULLY_REPLICATED),
        validation_distribution=kinds.get(contract.VALIDATION_CHANNEL, contract.FULLY_REPLICATED),
        timeout_s=timeout_s,
    )


def processing_placement(
    resource_config: Path, job_config: Path, train_dir: Path, validation_dir: Path, timeout_s: int
) -> Placement:
    """A Processing job's placement: the inputs found by the local paths the stage reads."""
    kinds = processing_distributions(read_json(job_config))
    return Placement(
        cluster=read_cluster(resource_config),
        train_distribution=kinds.get(PurePosixPath(train_dir), contract.FULLY_REPLICATED),
        validation_distribution=kinds.get(PurePosixPath(validation_dir), contract.FULLY_REPLICATED),
        timeout_s=timeout_s,
    )
