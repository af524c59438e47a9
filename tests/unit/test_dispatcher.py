"""The dispatcher: verbs, and a serving process free of the training-only libraries."""

from __future__ import annotations

import subprocess
import sys

from container.__main__ import main
from tests.conftest import REPO_ROOT


def test_unknown_verb_prints_usage_and_exits_2(capsys):
    assert main(["bogus"]) == 2
    assert "usage: python -m container" in capsys.readouterr().err


def test_serving_imports_neither_pandas_nor_sklearn_nor_matplotlib():
    script = (
        "import sys\n"
        "from container.__main__ import keep_training_libraries_out\n"
        "keep_training_libraries_out()\n"
        "import container.server, container.app, container.model, xgboost\n"
        "print(sorted(m for m in ('pandas', 'sklearn', 'matplotlib') if sys.modules.get(m)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_serve_with_a_bad_setting_exits_2_with_one_line():
    env = {"SAGEMAKER_BIND_TO_PORT": "not-a-port", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "container", "serve"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2
    assert "SAGEMAKER_BIND_TO_PORT='not-a-port' is not an integer" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
