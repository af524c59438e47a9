"""application/json and application/jsonlines: lists of values, {"features": [...]} and named
records, one document or one per line."""

from __future__ import annotations

import json
from typing import Any

from container.codecs.cells import (
    DEFAULT_LIMITS,
    MAX_INT_DIGITS,
    MAX_NUMBER_CHARS,
    Limits,
    RecordReader,
    Rows,
    check_rows,
    decode_text,
    nonblank_lines,
    rows_from_cells,
)
from container.errors import InvalidPayload


def _json_int(text: str) -> int | float:
    if len(text) > MAX_INT_DIGITS:
        return _json_float(text)  # exact digits do not matter past float64's precision
    return int(text)


def _json_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidPayload(
            f"invalid JSON: a number of {len(text)} characters ({text[:20]}...); "
            f"at most {MAX_NUMBER_CHARS}"
        )
    return float(text)


def _json_load(text: str) -> Any:
    """Parse JSON with number hooks; nesting is bounded by the C parser's recursion guard,
    which fails fast (at about 1,000 levels), and the row shapes accept 4 levels at most."""
    try:
        return json.loads(text, parse_int=_json_int, parse_float=_json_float)
    except json.JSONDecodeError as exc:
        raise InvalidPayload(
            f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise InvalidPayload("invalid JSON: nested too deeply") from None


def _row_cells(row: Any, number: int, records: RecordReader | None) -> list[Any]:
    if isinstance(row, dict):
        if "features" in row and len(row) == 1:
            return _row_cells(row["features"], number, None)
        if records is None:
            expected = 'a list of values or {"features": [...]}'
            raise InvalidPayload(f"row {number}: expected {expected}")
        return records(row, number)
    if isinstance(row, list) and all(not isinstance(c, list | dict) for c in row):
        return row
    raise InvalidPayload(f"row {number}: expected a list of values or an object of named fields")


def _json_rows(document: Any, limits: Limits, records: RecordReader | None) -> list[list[Any]]:
    if isinstance(document, dict):
        if "instances" not in document:
            raise InvalidPayload('expected {"instances": [...]}, a list of rows, or one row')
        document = document["instances"]
    if not isinstance(document, list) or not document:
        raise InvalidPayload("no rows: expected a non-empty list of rows")
    if all(not isinstance(item, list | dict) for item in document):
        return [document]  # one flat row
    check_rows(len(document), limits)
    return [_row_cells(row, number, records) for number, row in enumerate(document, start=1)]


def decode_json(
    body: bytes, limits: Limits = DEFAULT_LIMITS, records: RecordReader | None = None
) -> Rows:
    document = _json_load(decode_text(body) or "null")
    return rows_from_cells(_json_rows(document, limits, records), limits)


def decode_jsonlines(
    body: bytes, limits: Limits = DEFAULT_LIMITS, records: RecordReader | None = None
) -> Rows:
    lines = nonblank_lines(decode_text(body), limits)
    rows = [_row_cells(_json_load(line), number, records) for number, line in enumerate(lines, 1)]
    return rows_from_cells(rows, limits)
