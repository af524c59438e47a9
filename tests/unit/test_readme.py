"""The README's environment table documents every variable the server reads.

Reads README.md at test time, so the check follows the file as it is edited.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from container.settings import ENVIRONMENT

README = Path(__file__).resolve().parents[2] / "README.md"


def table_rows(text: str) -> list[str]:
    """The lines of the README's Markdown tables."""
    return [line for line in text.splitlines() if line.lstrip().startswith("|")]


def readme_table_rows() -> list[str]:
    assert README.is_file(), f"{README} is missing; it must document the environment variables"
    return table_rows(README.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", [name for name, _, _ in ENVIRONMENT])
def test_readme_environment_table_lists_variable(name: str):
    # Whole names only: SAGEMAKER_BATCH must not be found inside SAGEMAKER_BATCH_STRATEGY.
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
    assert any(pattern.search(row) for row in readme_table_rows()), (
        f"{name} is missing from the environment table in {README.name}"
    )


def test_table_rows_finds_only_table_lines():
    text = (
        "# Title\n\nSAGEMAKER_BATCH in prose\n\n| Variable | Default |\n|---|---|\n  | `X` | 1 |\n"
    )
    assert table_rows(text) == ["| Variable | Default |", "|---|---|", "  | `X` | 1 |"]
