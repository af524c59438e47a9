"""Request decoders and response encoders, as registries keyed by media type.

Decoders turn a body into `Rows` (a float matrix, plus the sex codes when the rows are raw
abalone rows); encoders turn predictions into a body. Lookups that miss become 415 and 406.

Every decoder is linear in the body and bounded in memory, with the cheap checks first: line
breaks and rows are counted, and the width of a row is checked against `Limits.max_columns`
(the model's width in the server), before anything is split into cells; rows x width is checked
against `Limits.max_cells` before a number is parsed or a matrix allocated. Numbers are checked
for syntax and length (MAX_NUMBER_CHARS) before float(), by JSON's grammar, numpy's strict
parser or one regular expression that cannot backtrack; no client's digits ever reach int()
unbounded (JSON integers and libsvm indices are length-checked first).
"""

from __future__ import annotations

import functools
import json
import re
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final

import numpy as np

from container.errors import (
    InvalidPayload,
    NotAcceptable,
    TooManyLines,
    TooManyRows,
    TooManyValues,
    UnsupportedMediaType,
)
from training import schema

CSV: Final = "text/csv"
JSON: Final = "application/json"
JSONLINES: Final = "application/jsonlines"
LIBSVM: Final = "text/libsvm"

_ALIASES: Final = {
    "text/x-libsvm": LIBSVM,
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
    "application/x-ndjson": JSONLINES,
}

#: The longest number accepted, in characters: the exact decimal expansion of a float64 near 0.1
#: has 57; anything longer is an attack or a mistake, refused before float() or int() sees it.
MAX_NUMBER_CHARS: Final = 100
#: JSON integers of up to this many digits are parsed by int() (exact, and small ones are shared
#: objects); longer ones by float(), so that no client's digits reach int()'s quadratic path.
_MAX_INT_DIGITS: Final = 18


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
    """Decoded rows: `values` (n x m, NaN = missing); `sex` holds the first field of raw rows."""

    values: np.ndarray
    sex: list[str] | None = None
    sparse: bool = False  # libsvm: absent trailing features are missing, not an error

    def __len__(self) -> int:
        return int(self.values.shape[0])


# Headers repeat from request to request: remember the last few answers (bounded, since header
# values come from clients). Errors are not cached: they are raised again each time.
@functools.lru_cache(maxsize=64)
def normalize_media_type(value: str) -> str:
    media_type = value.split(";", 1)[0].strip().lower()
    return _ALIASES.get(media_type, media_type)


# --- shared checks ------------------------------------------------------------------------


def _text(body: bytes) -> str:
    try:  # a leading byte-order mark is dropped (what "utf-8-sig" does, without its Python codec)
        return body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise InvalidPayload(
            f"body is not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None


def _lines(text: str, limits: Limits) -> list[str]:
    """The non-blank lines. Line breaks are counted before the split, so a body of blank lines
    is refused before it becomes a list of millions of strings."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    breaks = text.count("\n")
    if breaks > limits.max_rows:
        raise TooManyLines(breaks, limits.max_rows)
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        raise InvalidPayload("empty body: send at least one row")
    _check_rows(len(lines), limits)
    return lines


def _check_rows(count: int, limits: Limits) -> None:
    if count > limits.max_rows:
        raise TooManyRows(count, limits.max_rows)


def _check_shape(rows: int, width: int, limits: Limits, row: int = 1) -> None:
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


def _number(text: str) -> float | None:
    """The value of a stripped number, or None when it is not one (checked before float())."""
    if len(text) > MAX_NUMBER_CHARS or _NUMBER.fullmatch(text) is None:
        return None
    return float(text)


def _looks_like_sex(cell: Any) -> bool:
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


def _parse_cell(cell: Any, row: int, column: int) -> float:
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
    value = _number(text)
    if value is None:
        raise InvalidPayload(f"row {row}, column {column}: {text[:40]!r} is not a number")
    return value


def _check_finite(values: np.ndarray, first_column: int) -> np.ndarray:
    infinite = np.argwhere(np.isinf(values))
    if infinite.size:
        row, column = (int(v) for v in infinite[0])
        raise InvalidPayload(f"row {row + 1}, column {column + first_column}: value is not finite")
    return values


# --- CSV ----------------------------------------------------------------------------------


def decode_csv(body: bytes, limits: Limits = DEFAULT_LIMITS) -> Rows:
    text = _text(body)
    lines = _lines(text, limits)
    width = _csv_width(text, lines, limits)
    raw = _looks_like_sex(lines[0].split(",", 1)[0])
    if not raw:
        values = _numeric_csv(lines, width)
        if values is not None:
            return Rows(values=values)
    elif width > 1:  # raw rows: the sex codes split off, the measurements take the same path
        parts = [line.split(",", 1) for line in lines]
        values = _numeric_csv([part[1] for part in parts], width - 1)
        if values is not None:
            return Rows(values=values, sex=[part[0].strip() for part in parts])
    return _checked_csv(lines, width, raw)


def _csv_width(text: str, lines: list[str], limits: Limits) -> int:
    """Row 1's width, checked against the limits; every row's, by counting commas, not cells."""
    width = lines[0].count(",") + 1
    if text.count(",") + len(lines) != len(lines) * width:  # blank lines hold no commas
        for number, line in enumerate(lines, start=1):
            count = line.count(",") + 1
            if count != width:
                raise InvalidPayload(f"row {number}: has {count} values but row 1 has {width}")
    _check_shape(len(lines), width, limits)
    return width


_FEW_ROWS: Final = 8
_INF: Final = float("inf")


def _numeric_csv(lines: list[str], width: int) -> np.ndarray | None:
    """The hot path: one vectorised parse of well-formed numbers. None sends the body down the
    checked path, which names the row and column of whatever stopped this one."""
    if len(lines) <= _FEW_ROWS:  # Python's float() skips numpy's setup; it takes what
        joined = ",".join(lines)  # numpy's strict parser refuses: those go the checked path
        if not joined.isascii() or "_" in joined:
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
    if max(map(len, lines)) > MAX_NUMBER_CHARS and _longest_cell(lines) > MAX_NUMBER_CHARS:
        return None
    try:
        values = _loadtxt(lines)
    except ValueError:
        if not _has_empty_cells(lines):
            return None
        try:  # empty cells are missing values: spelled out, they take the same parse
            values = _loadtxt([_fill_empty_cells(line) for line in lines])
        except ValueError:
            return None
    return None if np.isinf(values).any() else values


def _loadtxt(lines: list[str]) -> np.ndarray:
    # numpy's C parser: ASCII decimal syntax only, linear in the text, no Python object a cell.
    return np.loadtxt(lines, delimiter=",", dtype=np.float64, comments=None, ndmin=2)


def _has_empty_cells(lines: list[str]) -> bool:
    return any(",," in line or line[0] == "," or line[-1] == "," for line in lines)


def _fill_empty_cells(line: str) -> str:
    line = line.replace(",,", ",nan,").replace(",,", ",nan,")  # twice: ",,," overlaps
    return ("nan" if line[0] == "," else "") + line + ("nan" if line[-1] == "," else "")


def _longest_cell(lines: list[str]) -> int:
    data = np.frombuffer("\n".join(lines).encode(), dtype=np.uint8)
    separators = np.flatnonzero((data == 0x2C) | (data == 0x0A))  # , and newline
    return int((np.diff(separators, prepend=-1, append=data.size) - 1).max())


def _checked_csv(lines: list[str], width: int, raw: bool) -> Rows:
    """Cell by cell, one row at a time into a preallocated matrix: the first bad cell is named,
    and memory stays at one row of strings beside the matrix."""
    first_column = 2 if raw else 1
    values = np.empty((len(lines), width - raw))
    sex: list[str] = []
    for number, line in enumerate(lines, start=1):
        cells = line.split(",")
        if raw:
            sex.append(cells[0].strip())
            del cells[0]
        values[number - 1] = [
            _parse_cell(cell, number, column) for column, cell in enumerate(cells, first_column)
        ]
    return Rows(values=_check_finite(values, first_column), sex=sex if raw else None)


# --- JSON and JSON lines --------------------------------------------------------------------


def _json_int(text: str) -> int | float:
    if len(text) > _MAX_INT_DIGITS:
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


# Record keys are matched case-insensitively ("Whole weight" == "whole_weight", "sex_f" == "sex_F").
_RAW_KEYS: Final = tuple(name.lower() for name in schema.RAW_COLUMNS)
_FEATURE_KEYS: Final = tuple(name.lower() for name in schema.FEATURE_NAMES)
_MAX_KEYS: Final = max(len(_RAW_KEYS), len(_FEATURE_KEYS))


def _record_cells(record: dict[str, Any], number: int) -> list[Any]:
    if "features" in record and len(record) == 1:
        return _row_cells(record["features"], number)
    expected = (
        f"named fields must be the raw columns ({', '.join(schema.RAW_COLUMNS)}) "
        f"or the features ({', '.join(schema.FEATURE_NAMES)})"
    )
    if len(record) > _MAX_KEYS:  # refused before thousands of keys are normalised and sorted
        raise InvalidPayload(f"row {number}: {expected}; got {len(record)} fields")
    fields = {
        str(k).strip().lower().replace(" ", "_").replace("-", "_"): v for k, v in record.items()
    }
    for names in (_RAW_KEYS, _FEATURE_KEYS):
        if set(fields) == set(names):
            return [fields[name] for name in names]
    raise InvalidPayload(f"row {number}: {expected}; got {', '.join(sorted(fields))[:300]}")


def _row_cells(row: Any, number: int) -> list[Any]:
    if isinstance(row, dict):
        return _record_cells(row, number)
    if isinstance(row, list) and all(not isinstance(c, list | dict) for c in row):
        return row
    raise InvalidPayload(f"row {number}: expected a list of values or an object of named fields")


def _json_rows(document: Any, limits: Limits) -> list[list[Any]]:
    if isinstance(document, dict):
        if "instances" not in document:
            raise InvalidPayload('expected {"instances": [...]}, a list of rows, or one row')
        document = document["instances"]
    if not isinstance(document, list) or not document:
        raise InvalidPayload("no rows: expected a non-empty list of rows")
    if all(not isinstance(item, list | dict) for item in document):
        return [document]  # one flat row
    _check_rows(len(document), limits)
    return [_row_cells(row, number) for number, row in enumerate(document, start=1)]


def rows_from_cells(rows: Sequence[Sequence[Any]], limits: Limits = DEFAULT_LIMITS) -> Rows:
    """Build Rows from a rectangular list of cells; the row and column of any bad cell are named."""
    width = len(rows[0])
    _check_shape(1, width, limits)
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise InvalidPayload(f"row {number}: has {len(row)} values but row 1 has {width}")
    _check_shape(len(rows), width, limits)
    raw = _looks_like_sex(rows[0][0]) if width else False
    sex = [str(row[0]).strip() for row in rows] if raw else None
    cells = [row[1:] for row in rows] if raw else rows
    values = _to_matrix(cells, first_column=2 if raw else 1)
    return Rows(values=values, sex=sex)


_PLAIN_NUMBERS: Final = frozenset({int, float, type(None)})


def _to_matrix(cells: Sequence[Sequence[Any]], *, first_column: int) -> np.ndarray:
    # numpy converts None to NaN as _parse_cell does, but would read true as 1.0 and take
    # Arabic-Indic digits in strings: only rows of plain numbers take the one-call conversion.
    if set(map(type, chain.from_iterable(cells))) <= _PLAIN_NUMBERS:
        values = np.array(cells, dtype=np.float64).reshape(len(cells), -1)
    else:
        values = np.array(
            [
                [_parse_cell(c, r, j) for j, c in enumerate(row, start=first_column)]
                for r, row in enumerate(cells, start=1)
            ],
            dtype=np.float64,
        ).reshape(len(cells), -1)
    return _check_finite(values, first_column)


def decode_json(body: bytes, limits: Limits = DEFAULT_LIMITS) -> Rows:
    return rows_from_cells(_json_rows(_json_load(_text(body) or "null"), limits), limits)


def decode_jsonlines(body: bytes, limits: Limits = DEFAULT_LIMITS) -> Rows:
    lines = _lines(_text(body), limits)
    rows = [_row_cells(_json_load(line), number) for number, line in enumerate(lines, start=1)]
    return rows_from_cells(rows, limits)


# --- libsvm -------------------------------------------------------------------------------


def decode_libsvm(body: bytes, limits: Limits = DEFAULT_LIMITS) -> Rows:
    text = _text(body)
    lines = _lines(text, limits)
    if text.count(":") > limits.max_cells:  # every value is one index:value pair
        raise TooManyValues(len(lines), text.count(":") // len(lines), limits.max_cells)
    max_index_digits = len(str(limits.max_columns))
    # Compact arrays (8 bytes an entry), not lists of Python ints and floats.
    row_of, column_of, value_of = array("q"), array("q"), array("d")
    for number, line in enumerate(lines, start=1):
        tokens = line.split(maxsplit=limits.max_columns + 1)  # a label and max_columns pairs
        if len(tokens) > limits.max_columns + 1:
            raise InvalidPayload(f"row {number}: more than {limits.max_columns} index:value pairs")
        if ":" not in tokens[0]:  # a leading label is allowed and ignored, if it is a number
            label = tokens.pop(0)
            if _number(label) is None:
                raise InvalidPayload(f"row {number}: the label {label[:20]!r} is not a number")
        for token in tokens:
            index, value = _libsvm_entry(token, number, limits.max_columns, max_index_digits)
            row_of.append(number - 1)
            column_of.append(index - 1)
            value_of.append(value)
    width = max(column_of, default=-1) + 1
    _check_shape(len(lines), width, limits)
    values = np.full((len(lines), width), np.nan)
    values[np.frombuffer(row_of, np.int64), np.frombuffer(column_of, np.int64)] = value_of
    if np.isinf(values).any():
        raise InvalidPayload("libsvm value is not finite")
    return Rows(values=values, sparse=True)


def _libsvm_entry(token: str, number: int, max_index: int, max_digits: int) -> tuple[int, float]:
    index_text, sep, value_text = token.partition(":")
    if not sep or not value_text.strip() or not (index_text.isascii() and index_text.isdigit()):
        raise InvalidPayload(
            f"row {number}: {token[:40]!r} is not index:value with 1 <= index <= {max_index}"
        )
    # The length first: int() of a client's thousands of digits is slow, then an error.
    if len(index_text) > max_digits or not 1 <= (index := int(index_text)) <= max_index:
        raise InvalidPayload(
            f"row {number}: {token[:40]!r}: the index is out of range; 1 <= index <= {max_index}"
            " (the model's features)"
        )
    return index, _parse_cell(value_text, number, index)


DECODERS: Final[dict[str, Callable[[bytes, Limits], Rows]]] = {
    CSV: decode_csv,
    JSON: decode_json,
    JSONLINES: decode_jsonlines,
    LIBSVM: decode_libsvm,
}


def decode(body: bytes, content_type: str | None, limits: Limits = DEFAULT_LIMITS) -> Rows:
    decoder = DECODERS.get(normalize_media_type(content_type or ""))
    if decoder is None:
        raise UnsupportedMediaType(content_type, list(DECODERS))
    return decoder(body, limits)


# --- encoding -----------------------------------------------------------------------------


def encode_csv(predictions: np.ndarray) -> bytes:
    return ("\n".join(map(repr, predictions.tolist())) + "\n").encode()


def encode_json(predictions: np.ndarray) -> bytes:
    return json.dumps({"predictions": [{"score": v} for v in predictions.tolist()]}).encode()


def encode_jsonlines(predictions: np.ndarray) -> bytes:
    return "".join(json.dumps({"score": v}) + "\n" for v in predictions.tolist()).encode()


ENCODERS: Final[dict[str, Callable[[np.ndarray], bytes]]] = {
    CSV: encode_csv,
    JSON: encode_json,
    JSONLINES: encode_jsonlines,
}


@functools.lru_cache(maxsize=64)
def choose_accept(accept: str | None, default: str) -> str:
    """Pick the output type from an Accept header (q-values honoured); 406 if none fits."""
    if not accept or not accept.strip():
        return default
    ranges = []
    for position, item in enumerate(accept.split(",")):
        media_type = normalize_media_type(item)
        quality = _quality(item)
        if media_type and quality > 0:
            ranges.append((-quality, position, media_type))
    for _, _, media_type in sorted(ranges):
        if media_type in ENCODERS:
            return media_type
        if media_type == "*/*" or (
            media_type.endswith("/*") and default.startswith(media_type[:-1])
        ):
            return default
        if media_type.endswith("/*"):
            match = next((m for m in ENCODERS if m.startswith(media_type[:-1])), None)
            if match:
                return match
    raise NotAcceptable(accept.strip()[:200], list(ENCODERS))


def _quality(item: str) -> float:
    for param in item.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def encode(predictions: np.ndarray, media_type: str) -> bytes:
    return ENCODERS[media_type](predictions)
