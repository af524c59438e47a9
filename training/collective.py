"""Join the job's hosts into one XGBoost training group: the tracker on the first host, every host
a worker through `xgboost.collective`, as the official SageMaker XGBoost image does.

Inside `joined(...)`, `xgboost.train` on each host's own rows trains one model together (the
histograms and the evaluation metrics are summed over the hosts). Every wait is bounded: a host
that cannot resolve or reach the tracker, or a tracker that does not hear from every host, fails
with ClusterError after `timeout_s` instead of hanging.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import time
import warnings
from collections.abc import Iterator
from typing import Final

from xgboost import collective
from xgboost.core import XGBoostError
from xgboost.tracker import RabitTracker

from container import contract
from training.cluster import DEFAULT_TIMEOUT_S, Cluster
from training.errors import TrainingError

log = logging.getLogger(__name__)

_RETRY_PAUSE_S: Final = 1.0


class ClusterError(TrainingError):
    """The hosts could not form (or cleanly leave) the training group."""


def _cause(exc: BaseException) -> str:
    """XGBoost's innermost reason, e.g. "Failed to connect to 10.0.0.2:9099", without the
    source locations and the native stack trace."""
    text = str(exc).split("Stack trace:")[0]
    reasons = [re.sub(r"^-?\s*\[[^\]]*\]:?\s*", "", line.strip()) for line in text.splitlines()]
    reasons = [reason for reason in reasons if reason]
    return reasons[-1] if reasons else type(exc).__name__


def _resolve(host: str, deadline: float) -> str:
    """The host's address; SageMaker's host names can take a moment to appear in DNS."""
    while True:
        try:
            return socket.gethostbyname(host)
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise ClusterError(f"cannot resolve the tracker host {host}: {exc}") from None
            time.sleep(_RETRY_PAUSE_S)


def _start_tracker(address: str, cluster: Cluster, port: int, timeout_s: int) -> RabitTracker:
    # sortby="task" with dmlc_task_id = rank: ranks follow the resource config's host order.
    try:
        tracker = RabitTracker(
            n_workers=cluster.size, host_ip=address, port=port, sortby="task", timeout=timeout_s
        )
        tracker.start()
    except XGBoostError as exc:
        raise ClusterError(f"cannot start the tracker on {address}:{port}: {_cause(exc)}") from None
    log.info("tracker for %d hosts listening on %s:%d", cluster.size, address, port)
    return tracker


def _enter_quietly(context: collective.CommunicatorContext) -> None:
    """XGBoost reports each failed connection attempt as a warning; the retry loop reports the
    outcome, so they go to the debug log."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            context.__enter__()
        finally:
            for warning in caught:
                log.debug("xgboost: %s", warning.message)


def _join_failure(cluster: Cluster, port: int, timeout_s: int, exc: BaseException) -> str:
    if cluster.is_master:
        what = f"not every one of the {cluster.size} hosts reached its tracker"
    else:
        what = f"tracker {cluster.master}:{port} not reachable"
    return (
        f"host {cluster.current_host} could not join the training cluster: {what} "
        f"within {timeout_s} s ({_cause(exc)})"
    )


def _connect(
    address: str, port: int, cluster: Cluster, deadline: float, timeout_s: int
) -> collective.CommunicatorContext:
    """Join the group, retrying while the tracker is not up yet (the first host may still be
    loading its data); XGBoost itself only retries a few times."""
    args = {
        "dmlc_communicator": "rabit",
        "dmlc_tracker_uri": address,
        "dmlc_tracker_port": port,
        "dmlc_task_id": str(cluster.rank),
        "dmlc_timeout": timeout_s,
        "dmlc_retry": 3,
    }
    while True:
        context = collective.CommunicatorContext(**args)
        try:
            _enter_quietly(context)
            return context
        except XGBoostError as exc:
            if time.monotonic() >= deadline:
                raise ClusterError(_join_failure(cluster, port, timeout_s, exc)) from None
            time.sleep(_RETRY_PAUSE_S)


def _stop_tracker(tracker: RabitTracker, timeout_s: int) -> None:
    try:
        tracker.wait_for(timeout=timeout_s)
    except (XGBoostError, ValueError) as exc:
        raise ClusterError(f"the tracker did not shut down cleanly: {_cause(exc)}") from None
    finally:
        with contextlib.suppress(XGBoostError):
            tracker.free()


@contextlib.contextmanager
def joined(
    cluster: Cluster, *, timeout_s: int = DEFAULT_TIMEOUT_S, port: int = contract.TRACKER_PORT
) -> Iterator[None]:
    """Train as one group of all the cluster's hosts; on one host, nothing to do."""
    if not cluster.is_distributed:
        yield
        return
    deadline = time.monotonic() + timeout_s
    address = _resolve(cluster.master, deadline)
    tracker = _start_tracker(address, cluster, port, timeout_s) if cluster.is_master else None
    try:
        context = _connect(address, port, cluster, deadline, timeout_s)
        log.info(
            "host %s joined as rank %d of %d", cluster.current_host, cluster.rank, cluster.size
        )
        try:
            yield
        finally:
            context.__exit__(None, None, None)
    except BaseException:
        if tracker is not None:  # the first error is the one to report
            with contextlib.suppress(ClusterError):
                _stop_tracker(tracker, 1)
        raise
    if tracker is not None:
        _stop_tracker(tracker, timeout_s)
