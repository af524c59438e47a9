"""Run a training-side job the way SageMaker reads its outcome: exit 0 on success; otherwise a
short reason in the failure file (Processing: /opt/ml/output/message, Training: .../failure),
the same reason on stderr, and a non-zero exit."""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from container import contract
from training.errors import TrainingError

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 1024  # SageMaker keeps the first 1 KiB as FailureReason / ExitMessage


class JobStopped(Exception):
    """SIGTERM or SIGINT: the platform is stopping the job."""


def _raise_stopped(signum: int, _frame: FrameType | None) -> None:
    raise JobStopped(f"stopped by {signal.Signals(signum).name}")


def write_failure(path: Path, message: str) -> None:
    data = message.encode("utf-8")[:MAX_MESSAGE_BYTES].decode("utf-8", "ignore")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data + "\n", encoding="utf-8")
    except OSError as exc:  # the reason still reaches the logs
        log.error("cannot write %s: %s", path, exc)


def run_job(work: Callable[[], None], failure_file: Path) -> int:
    """Run `work`, turning every way it can fail into a failure file and an exit code."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_stopped)
    try:
        work()
        return 0
    except TrainingError as exc:
        message, code = str(exc), 1
    except JobStopped as exc:
        message, code = str(exc), 143
    except SystemExit as exc:  # argparse: usage already printed to stderr
        if not exc.code:
            return 0
        message, code = "invalid job arguments (see the usage message in the log)", 2
    except Exception as exc:
        log.exception("unexpected error")
        message, code = f"internal error: {type(exc).__name__}: {exc}", 3
    print(f"error: {message}", file=sys.stderr)
    write_failure(failure_file, message)
    return code


def log_processing_job(config_path: Path = Path(contract.PROCESSING_JOB_CONFIG)) -> None:
    """Name the Processing job in the log when SageMaker provides its config."""
    try:
        config = json.loads(config_path.read_text())
        log.info("processing job %s", config.get("ProcessingJobName", "?"))
    except (OSError, ValueError, AttributeError):
        pass
