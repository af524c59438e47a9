"""Serving settings: every environment variable the server honours, read once at the edge."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from container import contract as c
from container.contract import BATCH_PAYLOAD_BUDGET_MB, MIB, REALTIME_MAX_PAYLOAD_MB, Variable

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


class SettingsError(ValueError):
    """An environment variable with a value the server cannot use."""


@dataclass(frozen=True)
class ServingSettings:
    """What the server runs with; a field's default is its variable's (container/contract.py)."""

    model_dir: Path = Path(c.MODEL_DIR.default)
    port: int = int(c.BIND_TO_PORT.default)
    workers: int = 1
    threads: int = int(c.THREADS.default)
    timeout_s: int = REALTIME_TIMEOUT_S
    keepalive_s: int = int(c.KEEPALIVE.default)
    default_accept: str = c.DEFAULT_ACCEPT.default
    batch: bool = False
    batch_strategy: str = c.BATCH_STRATEGY.default
    max_payload_mb: int = REALTIME_MAX_PAYLOAD_MB
    max_concurrent_transforms: int = 1
    access_log: bool = True
    log_level: str = c.LOG_LEVEL.default
    fast_path: bool = True
    max_rows: int = REALTIME_MAX_ROWS
    max_header_bytes: int = int(c.MAX_HEADER_BYTES.default)
    max_headers: int = int(c.MAX_HEADERS.default)
    body_timeout_s: int = int(c.BODY_TIMEOUT.default)

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
        batch = reader.boolean(c.BATCH)
        payload_mb = reader.integer(c.MAX_PAYLOAD_IN_MB) if batch else REALTIME_MAX_PAYLOAD_MB
        workers = reader.integer(c.WORKERS, usable_cpus())
        concurrency = min(workers, max(1, BATCH_PAYLOAD_BUDGET_MB // payload_mb))
        if batch:
            concurrency = reader.integer(c.MAX_CONCURRENT_TRANSFORMS, concurrency)
            if concurrency * payload_mb > BATCH_PAYLOAD_BUDGET_MB:
                raise SettingsError(
                    f"{c.MAX_CONCURRENT_TRANSFORMS.name}={concurrency} x "
                    f"{c.MAX_PAYLOAD_IN_MB.name}={payload_mb} exceeds SageMaker's "
                    f"{BATCH_PAYLOAD_BUDGET_MB} MB budget"
                )
            workers = min(workers, concurrency)
        return cls(
            model_dir=Path(env.get(c.MODEL_DIR.name, c.MODEL_DIR.default)),
            port=reader.integer(c.BIND_TO_PORT),
            workers=workers,
            threads=reader.integer(c.THREADS),
            timeout_s=reader.integer(c.TIMEOUT, BATCH_TIMEOUT_S if batch else REALTIME_TIMEOUT_S),
            keepalive_s=reader.integer(c.KEEPALIVE),
            default_accept=reader.media_type(c.DEFAULT_ACCEPT),
            batch=batch,
            batch_strategy=reader.option(c.BATCH_STRATEGY),
            max_payload_mb=payload_mb,
            max_concurrent_transforms=concurrency,
            access_log=reader.boolean(c.ACCESS_LOG),
            fast_path=reader.boolean(c.FAST_PATH),
            log_level=reader.option(c.LOG_LEVEL),
            max_rows=reader.integer(c.MAX_ROWS, default_max_rows(payload_mb)),
            max_header_bytes=reader.integer(c.MAX_HEADER_BYTES),
            max_headers=reader.integer(c.MAX_HEADERS),
            body_timeout_s=reader.integer(c.BODY_TIMEOUT),
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
    """Typed reads of optional variables, each named, bounded and defaulted by its spec in
    container/contract.py; errors name the variable and the bad value."""

    def __init__(self, env: Mapping[str, str]):
        self._env = env

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name)
        return value.strip() if value is not None and value.strip() else None

    def integer(self, spec: Variable, default: int | None = None) -> int:
        """`default` for a computed one; else the spec's documented default."""
        raw = self._raw(spec.name)
        if raw is None:
            return int(spec.default) if default is None else default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{spec.name}={raw!r} is not an integer") from None
        assert spec.low is not None and spec.high is not None
        if not spec.low <= value <= spec.high:
            raise SettingsError(f"{spec.name}={value} is out of range ({spec.low}..{spec.high})")
        return value

    def boolean(self, spec: Variable) -> bool:
        raw = self._raw(spec.name) or spec.default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{spec.name}={raw!r} is not a boolean (true/false)")

    def option(self, spec: Variable) -> str:
        raw = self._raw(spec.name)
        if raw is None:
            return spec.default
        for option in spec.options:
            if raw.lower() == option.lower():
                return option
        raise SettingsError(f"{spec.name}={raw!r} is not one of {', '.join(spec.options)}")

    def media_type(self, spec: Variable) -> str:
        from container.codecs import ENCODERS, normalize_media_type

        raw = self._raw(spec.name)
        if raw is None:
            return spec.default
        media_type = normalize_media_type(raw)
        if media_type not in ENCODERS:
            raise SettingsError(f"{spec.name}={raw!r} is not one of {', '.join(ENCODERS)}")
        return media_type
