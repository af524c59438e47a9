"""What every decoder shares: the limits and the decoded rows, text and line splitting with
the cheap counts first, shape checks, and the one strict parse of a number."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final

import numpy as np

from container.errors import InvalidPayload, TooManyLines, TooManyRows, TooManyValues

#: The longest number accepted, in characters: the exact decimal expansion of a float64 near 0.1
#: has 57; anything longer is an attack or a mistake, refused before float() or int() sees it.
MAX_NUMBER_CHARS: Final = 100
#: JSON integers of up to this many digits are parsed by int() (exact, and small ones are shared
#: objects); longer ones by float(), so that no client's digits reach int()'s quadratic path.
MAX_INT_DIGITS: Final = 18


@dataclass(frozen=True)
class Limits:
    """What one request may hold, checked while decoding (from ServingSettings in app.py)."""

    max_rows: int = 100_000
    #: Values in one row (libsvm: the largest index). The server sets the model's width.
    max_columns: int = 10_000
    #: Rows x values: bounds the float64 matrix (8 bytes a value) whatever the shape.
    max_cells: int = 3 * 1024 * 1024


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True)
class Rows:
    """Decoded rows: `values` (n x m, NaN = missing); `categories` holds each row's first field
    when row 1's is not a number (raw abalone rows: the sex code), for the model to encode."""

    values: np.ndarray
    categories: list[str] | None = None
    sparse: bool = False  # libsvm: absent trailing features are missing, not an error
    #: The body's row number of the first of these rows (a later chunk of a large CSV body).
    first_row: int = 1

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def raw(self) -> bool:
        return self.categories is not None


def decode_text(body: bytes | bytearray) -> str:
    try:  # a leading byte-order mark is dropped (what "utf-8-sig" does, without its Python codec)
        return body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise InvalidPayload(
            f"body is not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None


def nonblank_lines(text: str, limits: Limits) -> list[str]:
    """The non-blank lines. Line breaks are counted before the split, so a body of blank lines
    is refused before it becomes a list of millions of strings."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    breaks = text.count("\n")
    if breaks > limits.max_rows:
        raise TooManyLines(breaks, limits.max_rows)
    lines = list(filter(str.strip, text.split("\n")))  # the lines that are not blank
    if not lines:
        raise InvalidPayload("empty body: send at least one row")
    check_rows(len(lines), limits)
    return lines


def check_rows(count: int, limits: Limits) -> None:
    if count > limits.max_rows:
        raise TooManyRows(count, limits.max_rows)


def check_shape(rows: int, width: int, limits: Limits, row: int = 1) -> None:
    if width > limits.max_columns:
        raise InvalidPayload(
            f"row {row}: has {width} values; the model takes at most {limits.max_columns}"
        )
    if rows * width > limits.max_cells:
        raise TooManyValues(rows, width, limits.max_cells)


# Decimal numbers as Python and numpy spell them, ASCII digits only (float() also takes "1_0",
# Arabic-Indic and fullwidth digits). No part can match what another part matches, so a failing
# match never backtracks more than once per character; inputs are length-checked first anyway.
_NUMBER: Final = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf(?:inity)?)",
    re.IGNORECASE,
)


def parse_number(text: str) -> float | None:
    """The value of a stripped number, or None when it is not one (checked before float())."""
    if len(text) > MAX_NUMBER_CHARS or _NUMBER.fullmatch(text) is None:
        return None
    return float(text)


def is_category(cell: Any) -> bool:
    if not isinstance(cell, str):
        return False
    text = cell.strip()
    if not text:
        return False
    try:  # whatever float() takes ("1_0", a long number) is a bad number, not a category
        float(text)
    except ValueError:
        return True
    return False


def parse_cell(cell: Any, row: int, column: int) -> float:
    if cell is None:
        return float("nan")
    if isinstance(cell, bool) or not isinstance(cell, int | float | str):
        raise InvalidPayload(f"row {row}, column {column}: {cell!r:.40} is not a number")
    if not isinstance(cell, str):
        return float(cell)
    text = cell.strip()
    if not text:
        return float("nan")
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidPayload(
            f"row {row}, column {column}: {text[:20]!r}... has {len(text)} characters; "
            f"a number has at most {MAX_NUMBER_CHARS}"
        )
    value = parse_number(text)
    if value is None:
        raise InvalidPayload(f"row {row}, column {column}: {text[:40]!r} is not a number")
    return value


def check_finite(values: np.ndarray, first_column: int, first_row: int = 1) -> np.ndarray:
    infinite = np.argwhere(np.isinf(values))
    if infinite.size:
        row, column = (int(v) for v in infinite[0])
        raise InvalidPayload(
            f"row {row + first_row}, column {column + first_column}: value is not finite"
        )
    return values


#: Maps a record (a JSON object of named fields) onto the row of values a model takes, in its
#: order; given by the model's input adapter (container/inputs.py), not by the wire format.
RecordReader = Callable[[Mapping[str, Any], int], list[Any]]


def rows_from_cells(rows: Sequence[Sequence[Any]], limits: Limits = DEFAULT_LIMITS) -> Rows:
    """Build Rows from a rectangular list of cells; the row and column of any bad cell are named."""
    width = len(rows[0])
    check_shape(1, width, limits)
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise InvalidPayload(f"row {number}: has {len(row)} values but row 1 has {width}")
    check_shape(len(rows), width, limits)
    raw = is_category(rows[0][0]) if width else False
    categories = [str(row[0]).strip() for row in rows] if raw else None
    cells = [row[1:] for row in rows] if raw else rows
    values = _to_matrix(cells, first_column=2 if raw else 1)
    return Rows(values=values, categories=categories)


_PLAIN_NUMBERS: Final = frozenset({int, float, type(None)})


def _to_matrix(cells: Sequence[Sequence[Any]], *, first_column: int) -> np.ndarray:
    # numpy converts None to NaN as _parse_cell does, but would read true as 1.0 and take
    # Arabic-Indic digits in strings: only rows of plain numbers take the one-call conversion.
    if set(map(type, chain.from_iterable(cells))) <= _PLAIN_NUMBERS:
        values = np.array(cells, dtype=np.float64).reshape(len(cells), -1)
    else:
        values = np.array(
            [
                [parse_cell(c, r, j) for j, c in enumerate(row, start=first_column)]
                for r, row in enumerate(cells, start=1)
            ],
            dtype=np.float64,
        ).reshape(len(cells), -1)
    return check_finite(values, first_column)
