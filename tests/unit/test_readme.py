"""The README's environment table documents every variable the server reads.

Reads README.md at test time, so the check follows the file as it is edited.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from container.contract import SERVING_ENVIRONMENT

README = Path(__file__).resolve().parents[2] / "README.md"


def table_rows(text: str) -> list[str]:
    """The lines of the README's Markdown tables."""
    return [line for line in text.splitlines() if line.lstrip().startswith("|")]


def readme_table_rows() -> list[str]:
    assert README.is_file(), f"{README} is missing; it must document the environment variables"
    return table_rows(README.read_text(encoding="utf-8"))


@pytest.mark.parametrize("spec", SERVING_ENVIRONMENT, ids=lambda spec: spec.name)
def test_readme_environment_table_lists_variable_with_its_default(spec):
    # Whole names only: SAGEMAKER_BATCH must not be found inside SAGEMAKER_BATCH_STRATEGY.
    pattern = re.compile(rf"^\|\s*`{re.escape(spec.name)}`\s*\|\s*([^|]*)\|")
    rows = [match for row in readme_table_rows() if (match := pattern.match(row.strip()))]
    assert rows, f"{spec.name} is missing from the environment table in {README.name}"
    assert rows[0].group(1).strip().startswith(spec.default), (
        f"{spec.name}: the README's default {rows[0].group(1).strip()!r} is not {spec.default!r}"
    )


def test_table_rows_finds_only_table_lines():
    text = (
        "# Title\n\nSAGEMAKER_BATCH in prose\n\n| Variable | Default |\n|---|---|\n  | `X` | 1 |\n"
    )
    assert table_rows(text) == ["| Variable | Default |", "|---|---|", "  | `X` | 1 |"]


def test_readme_lists_exactly_the_pipelines_parameters(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the SDK builds a client on import
    from pipelines.parameters import PipelineParameters

    text = README.read_text(encoding="utf-8")
    bullet = text[text.index("- Parameters (`pipelines/parameters.py`") :]
    bullet = bullet[: bullet.index("Hyperparameters are not a parameter")]
    listed = set(re.findall(r"`([A-Z][A-Za-z]+)`", bullet)) - {"PendingManualApproval"}
    params = PipelineParameters.create(image_uri="i", input_data_uri="s3://b/k")
    assert listed == {parameter.name for parameter in params.all()}
