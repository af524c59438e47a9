"""Errors the training side reports to the user (bad data, bad settings) rather than as bugs."""

from __future__ import annotations


class TrainingError(Exception):
    """A failure caused by the job's inputs or settings; its message is shown to the user as is."""


class DataError(TrainingError):
    """Input data that cannot be used, with the file and line at fault where known."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        where = source or ""
        if line is not None:
            where = f"{where}, line {line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.line = line


class HyperparameterError(TrainingError):
    """A hyperparameter with a missing, mistyped or out-of-range value."""
