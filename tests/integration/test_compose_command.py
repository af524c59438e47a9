"""scripts/compose.sh, the project's one choice of Docker Compose (the Makefile, pipelines.local
and the tests run compose through it): Compose v2 (`docker compose`) where it answers with
version 2 or later, else Compose v1 (`docker-compose`), the same choice the SageMaker SDK's local
mode makes. Run for real with stand-ins for docker and docker-compose on PATH, then with the
compose this machine has."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.dockerutil import COMPOSE

#: bash itself by its full path: PATH holds only the stand-ins.
STANDALONE = [str(shutil.which("bash")), *COMPOSE[1:]]
V2 = "Docker Compose version v2.40.3"
#: Docker Desktop's old Compose CLI answered `docker compose version` with a 1.x version.
OLD_CLI = "Docker Compose version v1.0.17"


def docker_stand_in(compose_version: str | None) -> str:
    """A `docker` whose `compose` plugin answers with `compose_version` (None: no plugin)."""
    if compose_version is None:
        plugin = "echo \"docker: 'compose' is not a docker command.\" >&2; exit 1"
    else:
        plugin = f'[ "$2" = version ] && {{ echo "{compose_version}"; exit 0; }}'
    return f"""#!/bin/bash
if [ "$1" = compose ]; then
  {plugin}
  shift; echo v2; printf '%s\\n' "$@"; exit 0
fi
exit 2
"""


DOCKER_COMPOSE = """#!/bin/bash
echo v1; printf '%s\\n' "$@"
"""


def stand_ins(tmp_path: Path, compose_version: str | None, docker: bool, v1: bool) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = {"docker": docker_stand_in(compose_version) if docker else None}
    tools["docker-compose"] = DOCKER_COMPOSE if v1 else None
    for name, text in tools.items():
        if text is not None:
            (bin_dir / name).write_text(text)
            (bin_dir / name).chmod(0o755)
    return bin_dir


CASES = {
    "v2 and v1: v2": (V2, True, True, "v2"),
    "v2 only": (V2, True, False, "v2"),
    "v1 only, docker without the plugin": (None, True, True, "v1"),
    "v1 only, no docker": (None, False, True, "v1"),
    "an old 1.x plugin and v1: v1": (OLD_CLI, True, True, "v1"),
    "neither": (None, True, False, None),
}


@pytest.mark.parametrize(("version", "docker", "v1", "chosen"), CASES.values(), ids=CASES)
def test_the_script_prefers_v2_and_passes_arguments_unchanged(
    tmp_path, version, docker, v1, chosen
):
    bin_dir = stand_ins(tmp_path, version, docker, v1)
    args = ["-p", "a project", "up", "-d", "--wait"]
    done = subprocess.run(
        [*STANDALONE, *args], env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=30
    )
    if chosen is None:
        assert done.returncode == 127
        assert "neither 'docker compose' (v2) nor 'docker-compose' (v1)" in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == [chosen, *args]


@pytest.mark.parametrize(
    ("version", "docker", "v1", "chosen"),
    [case for case in CASES.values() if case[1]],  # the SDK needs a docker command to ask
    ids=[name for name, case in CASES.items() if case[1]],
)
def test_the_script_chooses_what_sagemaker_local_mode_chooses(
    tmp_path, monkeypatch, version, docker, v1, chosen
):
    """pipelines.local takes local mode's jobs down with the compose local mode brought them up
    with (v1 and v2 name a job's project differently)."""
    from sagemaker.core.local.image import _SageMakerContainer

    monkeypatch.setenv("PATH", str(stand_ins(tmp_path, version, docker, v1)))
    try:
        sdk = _SageMakerContainer._get_compose_cmd_prefix()
    except ImportError:  # the SDK's way of saying "no compose"
        sdk = None
    expected = {"v2": ["docker", "compose"], "v1": ["docker-compose"], None: None}[chosen]
    assert sdk == expected


@pytest.mark.integration
def test_the_compose_this_machine_has_runs():
    done = subprocess.run([*COMPOSE, "version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "version" in done.stdout.lower()
