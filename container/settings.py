"""Serving settings: every environment variable the server honours, read once at the edge."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MIB: Final = 1024 * 1024
#: InvokeEndpoint's body limit for real-time endpoints (6 MiB).
REALTIME_MAX_PAYLOAD_MB: Final = 6
#: Batch transform: MaxPayloadInMB may not exceed 100, nor may MaxPayloadInMB x concurrency.
BATCH_PAYLOAD_BUDGET_MB: Final = 100
REALTIME_TIMEOUT_S: Final = 60
BATCH_TIMEOUT_S: Final = 600
#: SageMaker sends SIGKILL 30 s after SIGTERM; finish in-flight requests well before that.
GRACEFUL_TIMEOUT_S: Final = 25
#: The shortest valid row ("0,0,0,0,0,0,0,0,0,0\n"): the default row limit lets every body
#: within the size limit through, and refuses only more rows than such a body can hold.
MIN_ROW_BYTES: Final = 20


def default_max_rows(max_payload_mb: int) -> int:
    return max_payload_mb * MIB // MIN_ROW_BYTES


REALTIME_MAX_ROWS: Final = default_max_rows(REALTIME_MAX_PAYLOAD_MB)
BATCH_MAX_ROWS: Final = default_max_rows(BATCH_PAYLOAD_BUDGET_MB)

#: (name, default shown in docs, description): the README table is checked against this list.
ENVIRONMENT: Final = (
    ("SAGEMAKER_BIND_TO_PORT", "8080", "port the server listens on (inference pipelines set it)"),
    ("SAGEMAKER_MODEL_SERVER_WORKERS", "usable CPUs", "gunicorn worker processes"),
    ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "60 (600 in batch)", "seconds a request may take"),
    ("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv", "output type for */* or no Accept"),
    ("SAGEMAKER_BATCH", "false", "set to true by batch transform"),
    ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "6", "batch only: body limit in MiB (at most 100)"),
    ("SAGEMAKER_BATCH_STRATEGY", "MULTI_RECORD", "batch only: reported by /execution-parameters"),
    ("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", "workers", "batch only: caps workers"),
    ("SM_MODEL_DIR", "/opt/ml/model", "model directory (SageMaker unpacks model.tar.gz here)"),
    ("SERVE_THREADS", "4", "threads per gunicorn worker (gthread)"),
    ("SERVE_KEEPALIVE", "75", "seconds an idle keep-alive connection stays open"),
    ("SERVE_ACCESS_LOG", "true", "one log line per request with status and latency"),
    ("SERVE_LOG_LEVEL", "info", "log level: debug, info, warning, error"),
    ("SERVE_FAST_PATH", "true", "POST /invocations bypasses Flask's dispatch (false: via Flask)"),
    ("SERVE_MAX_ROWS", "body limit / 20 bytes", "rows one request may hold (413 above)"),
    ("SERVE_MAX_HEADER_BYTES", "8190", "bytes in one request header line (431 above)"),
    ("SERVE_MAX_HEADERS", "100", "request header fields (431 above)"),
    ("SERVE_BODY_TIMEOUT", "10", "seconds a client may take to send its body (408 after)"),
)


class SettingsError(ValueError):
    """An environment variable with a value the server cannot use."""


@dataclass(frozen=True)
class ServingSettings:
    model_dir: Path = Path("/opt/ml/model")
    port: int = 8080
    workers: int = 1
    threads: int = 4
    timeout_s: int = REALTIME_TIMEOUT_S
    keepalive_s: int = 75
    default_accept: str = "text/csv"
    batch: bool = False
    batch_strategy: str = "MULTI_RECORD"
    max_payload_mb: int = REALTIME_MAX_PAYLOAD_MB
    max_concurrent_transforms: int = 1
    access_log: bool = True
    log_level: str = "info"
    fast_path: bool = True
    max_rows: int = REALTIME_MAX_ROWS
    max_header_bytes: int = 8190
    max_headers: int = 100
    body_timeout_s: int = 10

    @property
    def max_body_bytes(self) -> int:
        return self.max_payload_mb * MIB

    @property
    def max_cells(self) -> int:
        """Values (rows x fields) one request may decode: each needs at least a character and a
        separator, so every body within the size limit fits, and the float64 matrix built from
        one request is at most 4 times the body limit."""
        return self.max_body_bytes // 2

    @property
    def logs_requests(self) -> bool:
        """Request lines are info lines: on when SERVE_ACCESS_LOG is and the level shows info."""
        return self.access_log and self.log_level in ("debug", "info")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServingSettings:
        """Build settings from the environment (os.environ by default); SettingsError if invalid."""
        env = os.environ if env is None else env
        reader = _Reader(env)
        batch = reader.boolean("SAGEMAKER_BATCH", False)
        payload_mb = (
            reader.integer("SAGEMAKER_MAX_PAYLOAD_IN_MB", REALTIME_MAX_PAYLOAD_MB, 1, 100)
            if batch
            else REALTIME_MAX_PAYLOAD_MB
        )
        workers = reader.integer("SAGEMAKER_MODEL_SERVER_WORKERS", usable_cpus(), 1, 256)
        concurrency = min(workers, max(1, BATCH_PAYLOAD_BUDGET_MB // payload_mb))
        if batch:
            concurrency = reader.integer("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", concurrency, 1, 256)
            if concurrency * payload_mb > BATCH_PAYLOAD_BUDGET_MB:
                raise SettingsError(
                    f"SAGEMAKER_MAX_CONCURRENT_TRANSFORMS={concurrency} x "
                    f"SAGEMAKER_MAX_PAYLOAD_IN_MB={payload_mb} exceeds SageMaker's "
                    f"{BATCH_PAYLOAD_BUDGET_MB} MB budget"
                )
            workers = min(workers, concurrency)
        default_timeout = BATCH_TIMEOUT_S if batch else REALTIME_TIMEOUT_S
        return cls(
            model_dir=Path(env.get("SM_MODEL_DIR", "/opt/ml/model")),
            port=reader.integer("SAGEMAKER_BIND_TO_PORT", 8080, 1, 65535),
            workers=workers,
            threads=reader.integer("SERVE_THREADS", 4, 1, 64),
            timeout_s=reader.integer("SAGEMAKER_MODEL_SERVER_TIMEOUT", default_timeout, 1, 3600),
            keepalive_s=reader.integer("SERVE_KEEPALIVE", 75, 0, 3600),
            default_accept=reader.choice("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv"),
            batch=batch,
            batch_strategy=reader.option(
                "SAGEMAKER_BATCH_STRATEGY", "MULTI_RECORD", ("MULTI_RECORD", "SINGLE_RECORD")
            ),
            max_payload_mb=payload_mb,
            max_concurrent_transforms=concurrency,
            access_log=reader.boolean("SERVE_ACCESS_LOG", True),
            fast_path=reader.boolean("SERVE_FAST_PATH", True),
            log_level=reader.option(
                "SERVE_LOG_LEVEL", "info", ("debug", "info", "warning", "error")
            ),
            max_rows=reader.integer("SERVE_MAX_ROWS", default_max_rows(payload_mb), 1, 10_000_000),
            # gunicorn's own ceiling for one header line is 8190 bytes.
            max_header_bytes=reader.integer("SERVE_MAX_HEADER_BYTES", 8190, 1024, 8190),
            max_headers=reader.integer("SERVE_MAX_HEADERS", 100, 10, 32768),
            body_timeout_s=reader.integer("SERVE_BODY_TIMEOUT", 10, 1, 3600),
        )


def usable_cpus() -> int:
    """CPUs this process may use: the affinity mask, capped by a cgroup v2 CPU quota."""
    count = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


class _Reader:
    """Typed reads of optional variables; errors name the variable and the bad value."""

    def __init__(self, env: Mapping[str, str]):
        self._env = env

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name)
        return value.strip() if value is not None and value.strip() else None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not an integer") from None
        if not low <= value <= high:
            raise SettingsError(f"{name}={value} is out of range ({low}..{high})")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name}={raw!r} is not a boolean (true/false)")

    def option(self, name: str, default: str, options: tuple[str, ...]) -> str:
        raw = self._raw(name)
        if raw is None:
            return default
        for option in options:
            if raw.lower() == option.lower():
                return option
        raise SettingsError(f"{name}={raw!r} is not one of {', '.join(options)}")

    def choice(self, name: str, default: str) -> str:
        from container.codecs import ENCODERS, normalize_media_type

        raw = self._raw(name)
        if raw is None:
            return default
        media_type = normalize_media_type(raw)
        if media_type not in ENCODERS:
            raise SettingsError(f"{name}={raw!r} is not one of {', '.join(ENCODERS)}")
        return media_type
