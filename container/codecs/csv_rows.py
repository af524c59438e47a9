"""text/csv: rows of comma-separated numbers, raw abalone rows (a category first) included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import numpy as np

from container.codecs.cells import (
    DEFAULT_LIMITS,
    MAX_NUMBER_CHARS,
    Limits,
    Rows,
    check_finite,
    check_rows,
    check_shape,
    decode_text,
    is_category,
    nonblank_lines,
    parse_cell,
)
from container.errors import InvalidPayload, TooManyLines

#: Bodies above this size are decoded (and, in invocations.py, predicted and encoded) a chunk of
#: whole lines at a time: the working memory of one request stays a few chunks beside the body.
CHUNK_BYTES: Final = 256 * 1024


def decode_csv(body: bytes, limits: Limits = DEFAULT_LIMITS) -> Rows:
    return _decode_text(decode_text(body), limits)


def decode_csv_chunks(
    body: bytes | bytearray, limits: Limits = DEFAULT_LIMITS, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[Rows]:
    """The rows of `body` a chunk of whole lines at a time, checked as decode_csv checks the
    whole body: line breaks counted against max_rows before anything is split, every chunk held
    to row 1's width and kind (raw or encoded), rows and cells counted over the whole body
    before each chunk's matrix is made, rows numbered from the body's first line. A body of one
    chunk is decode_csv's."""
    breaks = body.count(b"\n")
    if breaks > limits.max_rows:
        raise TooManyLines(breaks, limits.max_rows)
    start, seen = 0, 0
    shape: tuple[int, bool] | None = None
    while start < len(body):
        end = body.find(b"\n", start + chunk_bytes)
        end = len(body) if end < 0 else end + 1
        # A line break is one byte that no other UTF-8 character contains: chunks cut there
        # decode as the whole body would. Only the first chunk may open with a byte-order mark.
        chunk = body[start:end]
        text = decode_text(chunk) if start == 0 else _utf8(chunk, start)
        start = end
        if seen and not text.strip():
            continue
        rows = _decode_text(text, limits, first_row=seen + 1, shape=shape)
        seen += len(rows)
        check_rows(seen, limits)
        shape = shape or (rows.values.shape[1] + (rows.categories is not None), rows.raw)
        yield rows


def _utf8(chunk: bytes | bytearray, offset: int) -> str:
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPayload(
            f"body is not UTF-8 text (invalid byte at offset {offset + exc.start})"
        ) from None


def _decode_text(
    text: str, limits: Limits, first_row: int = 1, shape: tuple[int, bool] | None = None
) -> Rows:
    """`shape`: (width, raw) of row 1 when `text` is a later chunk of the body; rows are
    numbered from `first_row`."""
    lines = nonblank_lines(text, limits)
    width = _csv_width(text, lines, limits, first_row, None if shape is None else shape[0])
    raw = is_category(lines[0].split(",", 1)[0]) if shape is None else shape[1]
    if not raw:
        values = _numeric_csv(lines, width)
        if values is not None:
            return Rows(values=values, first_row=first_row)
    elif width > 1 and len(lines) > _FEW_ROWS:
        # Raw rows: the measurements parsed in place (np.loadtxt skips the first column), the
        # sex codes sliced off once they have parsed: no list and two strings a row, which
        # over a large body left ~10 MiB of the allocator's pages behind in a forked worker.
        values = _numeric_csv(lines, width, first_column=1)
        if values is not None:
            categories = [line[: line.index(",")].strip() for line in lines]
            return Rows(values=values, categories=categories, first_row=first_row)
    elif width > 1:  # a few raw rows: the sex codes split off, then as encoded rows
        parts = [line.split(",", 1) for line in lines]
        if min(map(len, parts)) < 2:  # a row of one value: the checked path names it
            return _checked_csv(lines, width, raw, first_row)
        values = _numeric_csv([part[1] for part in parts], width - 1)
        if values is not None:
            categories = [part[0].strip() for part in parts]
            return Rows(values=values, categories=categories, first_row=first_row)
    return _checked_csv(lines, width, raw, first_row)


def _csv_width(
    text: str, lines: list[str], limits: Limits, first_row: int = 1, width: int | None = None
) -> int:
    """Row 1's width, checked against the limits before any split. The total of commas is a
    cheap first check on the other rows, not a proof (rows of 2 and 4 values add up like two of
    3): each path checks every row's width where it splits them (the few-rows path and
    _checked_csv row by row, np.loadtxt refusing a change in the number of columns)."""
    if width is None:
        width = lines[0].count(",") + 1
    if text.count(",") + len(lines) != len(lines) * width:  # blank lines hold no commas
        for number, line in enumerate(lines, start=first_row):
            count = line.count(",") + 1
            if count != width:
                raise InvalidPayload(f"row {number}: has {count} values but row 1 has {width}")
    # Rows and cells of the body so far, this chunk included, before its matrix is made.
    check_shape(first_row - 1 + len(lines), width, limits)
    return width


_FEW_ROWS: Final = 8
_INF: Final = float("inf")


def _numeric_csv(lines: list[str], width: int, first_column: int = 0) -> np.ndarray | None:
    """The hot path: one vectorised parse of well-formed numbers (of the columns from
    `first_column` on). None sends the body down the checked path, which names the row and
    column of whatever stopped this one."""
    if len(lines) <= _FEW_ROWS:
        assert not first_column, (
            "a few rows are split by the caller"
        )  # Python's float() skips numpy's setup; it takes what
        joined = ",".join(lines)  # numpy's strict parser refuses: those go the checked path
        if not joined.isascii() or "_" in joined:
            return None
        if any(line.count(",") != width - 1 for line in lines):
            return None
        cells = joined.split(",")
        if len(joined) > MAX_NUMBER_CHARS and max(map(len, cells)) > MAX_NUMBER_CHARS:
            return None
        try:
            numbers = list(map(float, cells))
        except ValueError:
            return None
        if _INF in numbers or -_INF in numbers:
            return None
        return np.array(numbers).reshape(len(lines), width)
    # A row of `width` cells is at most MAX_NUMBER_CHARS + width - 1 long when no cell is too
    # long; a row of another width is refused by np.loadtxt, whose cells are then as short.
    longest = max(map(len, lines))
    if longest > MAX_NUMBER_CHARS + width - 1 and _longest_cell(lines) > MAX_NUMBER_CHARS:
        return None
    columns = range(first_column, width)
    try:
        values = _loadtxt(lines, columns)
    except ValueError:
        if not _has_empty_cells(lines):
            return None
        try:  # empty cells are missing values: spelled out, they take the same parse
            values = _loadtxt([_fill_empty_cells(line) for line in lines], columns)
        except ValueError:
            return None
    return None if np.isinf(values).any() else values


def _loadtxt(lines: list[str], columns: range) -> np.ndarray:
    # numpy's C parser: ASCII decimal syntax only, linear in the text, no Python object a cell.
    # It refuses a row with fewer columns than `columns` needs; one with more is not refused,
    # but _csv_width has checked that the commas add up, so some other row then has fewer.
    return np.loadtxt(
        lines, delimiter=",", dtype=np.float64, comments=None, ndmin=2, usecols=columns
    )


def _has_empty_cells(lines: list[str]) -> bool:
    return any(",," in line or line[0] == "," or line[-1] == "," for line in lines)


def _fill_empty_cells(line: str) -> str:
    line = line.replace(",,", ",nan,").replace(",,", ",nan,")  # twice: ",,," overlaps
    return ("nan" if line[0] == "," else "") + line + ("nan" if line[-1] == "," else "")


def _longest_cell(lines: list[str]) -> int:
    data = np.frombuffer("\n".join(lines).encode(), dtype=np.uint8)
    separators = np.flatnonzero((data == 0x2C) | (data == 0x0A))  # , and newline
    return int((np.diff(separators, prepend=-1, append=data.size) - 1).max())


def _checked_csv(lines: list[str], width: int, raw: bool, first_row: int = 1) -> Rows:
    """Cell by cell, one row at a time into a preallocated matrix: the first bad cell is named,
    and memory stays at one row of strings beside the matrix."""
    first_column = 2 if raw else 1
    values = np.empty((len(lines), width - raw))
    categories: list[str] = []
    for number, line in enumerate(lines, start=first_row):
        cells = line.split(",")
        if len(cells) != width:
            raise InvalidPayload(f"row {number}: has {len(cells)} values but row 1 has {width}")
        if raw:
            categories.append(cells[0].strip())
            del cells[0]
        values[number - first_row] = [
            parse_cell(cell, number, column) for column, cell in enumerate(cells, first_column)
        ]
    checked = check_finite(values, first_column, first_row)
    return Rows(values=checked, categories=categories if raw else None, first_row=first_row)
