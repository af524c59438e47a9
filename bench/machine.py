"""What the numbers were measured on: CPU, cores, memory, kernel, Docker, image, tools."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def _wrk_version() -> str | None:
    try:
        done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return (
        (done.stdout or done.stderr).splitlines()[0].strip() if done.stdout or done.stderr else None
    )


def describe(client: Any, image: Any, load_generator: str) -> dict[str, Any]:
    import numpy
    import xgboost

    from container.settings import usable_cpus

    version = client.version()
    return {
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "memory_gib": _mem_total_gib(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "docker_version": version.get("Version"),
        "python": platform.python_version(),
        "xgboost": xgboost.__version__,
        "numpy": numpy.__version__,
        "image": {
            "tags": image.tags,
            "id": image.id,
            "size_bytes": image.attrs.get("Size"),
            "created": image.attrs.get("Created"),
        },
        "load_generator": load_generator,
        "wrk": _wrk_version() if load_generator == "wrk" else None,
        "load_average_start": load_average(),
    }
