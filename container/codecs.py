"""Request decoders and response encoders, as registries keyed by media type.

Decoders turn a body into `Rows` (a float matrix, plus the sex codes when the rows are raw
abalone rows); encoders turn predictions into a body. Lookups that miss become 415 and 406.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from container.errors import InvalidPayload, NotAcceptable, TooManyRows, UnsupportedMediaType
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


@dataclass(frozen=True)
class Limits:
    """What one request may hold, checked while decoding (from ServingSettings in app.py)."""

    max_rows: int = 100_000
    #: The deepest valid document is 4 levels ({"instances": [{"features": [...]}]}).
    max_json_depth: int = 16


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


# --- decoding -----------------------------------------------------------------------------


def _text(body: bytes) -> str:
    try:  # a leading byte-order mark is dropped (what "utf-8-sig" does, without its Python codec)
        return body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise InvalidPayload(
            f"body is not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None


def _lines(body: bytes) -> list[str]:
    lines = [line for line in _text(body).splitlines() if line.strip()]
    if not lines:
        raise InvalidPayload("empty body: send at least one row")
    return lines


def _check_rows(count: int, limits: Limits) -> None:
    if count > limits.max_rows:
        raise TooManyRows(count, limits.max_rows)


def _looks_like_sex(cell: Any) -> bool:
    if not isinstance(cell, str):
        return False
    try:
        float(cell)
    except ValueError:
        return bool(cell.strip())
    return False


def _parse_cell(cell: Any, row: int, column: int) -> float:
    if cell is None:
        return float("nan")
    if isinstance(cell, bool) or not isinstance(cell, int | float | str):
        raise InvalidPayload(f"row {row}, column {column}: {cell!r} is not a number")
    if isinstance(cell, str):
        if not cell.strip():
            return float("nan")
        try:
            return float(cell)
        except ValueError:
            raise InvalidPayload(
                f"row {row}, column {column}: {cell.strip()[:40]!r} is not a number"
            ) from None
    return float(cell)


def rows_from_cells(rows: Sequence[Sequence[Any]]) -> Rows:
    """Build Rows from a rectangular list of cells; the row and column of any bad cell are named."""
    width = len(rows[0])
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise InvalidPayload(f"row {number}: has {len(row)} values but row 1 has {width}")
    raw = _looks_like_sex(rows[0][0]) if width else False
    sex = [str(row[0]).strip() for row in rows] if raw else None
    cells = [row[1:] for row in rows] if raw else rows
    values = _to_matrix(cells, first_column=2 if raw else 1)
    return Rows(values=values, sex=sex)


def _to_matrix(cells: Sequence[Sequence[Any]], *, first_column: int) -> np.ndarray:
    try:
        if _has_booleans(cells):
            raise ValueError  # numpy would read true as 1.0; the checked path refuses it
        values = np.array(cells, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError
    except (ValueError, TypeError):
        values = np.array(
            [
                [_parse_cell(c, r, j) for j, c in enumerate(row, start=first_column)]
                for r, row in enumerate(cells, start=1)
            ],
            dtype=np.float64,
        ).reshape(len(cells), -1)
    infinite = np.argwhere(np.isinf(values))
    if infinite.size:
        row, column = (int(v) for v in infinite[0])
        raise InvalidPayload(f"row {row + 1}, column {column + first_column}: value is not finite")
    return values


def _has_booleans(cells: Sequence[Sequence[Any]]) -> bool:
    # CSV cells are all strings: only JSON rows (numbers, not strings) need the scan.
    if not cells or not cells[0] or isinstance(cells[0][0], str):
        return False
    return any(isinstance(cell, bool) for row in cells for cell in row)


def decode_csv(body: bytes, limits: Limits = DEFAULT_LIMITS) -> Rows:
    lines = _lines(body)
    _check_rows(len(lines), limits)
    width = lines[0].count(",") + 1
    if not _looks_like_sex(lines[0].split(",", 1)[0]):
        values = _numeric_csv(lines, width)
        if values is not None:
            return Rows(values=values)
    return rows_from_cells([line.split(",") for line in lines])


_FEW_ROWS: Final = 8
_INF: Final = float("inf")


def _numeric_csv(lines: list[str], width: int) -> np.ndarray | None:
    """The hot path: one split and one vectorised parse. None sends the body down the checked
    path, which names the row and column of whatever stopped this one."""
    cells = ",".join(lines).split(",")
    if len(cells) != len(lines) * width:
        return None
    try:
        if len(lines) <= _FEW_ROWS:  # Python's float() (numpy's own rules) skips numpy's setup
            numbers = list(map(float, cells))
            if _INF in numbers or -_INF in numbers:
                return None
            return np.array(numbers).reshape(len(lines), width)
        values = np.array(cells, dtype=np.float64).reshape(len(lines), width)
    except ValueError:
        return None
    return None if np.isinf(values).any() else values


# A JSON string (escapes included): brackets inside strings do not nest.
_JSON_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"')


def json_depth(text: str) -> int:
    """The deepest bracket nesting of a JSON text, found without parsing it (no recursion)."""
    if "[" not in text and "{" not in text:
        return 0
    if '"' in text:
        text = _JSON_STRING.sub("", text)
    data = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    opens = (data == 0x5B) | (data == 0x7B)  # [ {
    brackets = np.flatnonzero(opens | (data == 0x5D) | (data == 0x7D))  # ] }
    levels = np.cumsum(np.where(opens[brackets], 1, -1))
    # The largest rise over any lower point before it, so stray closers cannot hide openers.
    lowest_before = np.minimum.accumulate(np.concatenate(([0], levels)))[:-1]
    return int((levels - lowest_before).max(initial=0))


def _json_load(text: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    depth = json_depth(text)
    if depth > limits.max_json_depth:
        raise InvalidPayload(
            f"invalid JSON: nested too deeply ({depth} levels; at most {limits.max_json_depth})"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidPayload(
            f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise InvalidPayload("invalid JSON: nested too deeply") from None


# Record keys are matched case-insensitively ("Whole weight" == "whole_weight", "sex_f" == "sex_F").
_RAW_KEYS: Final = tuple(name.lower() for name in schema.RAW_COLUMNS)
_FEATURE_KEYS: Final = tuple(name.lower() for name in schema.FEATURE_NAMES)
#: libsvm indices beyond this are refused before allocating a row that wide.
MAX_LIBSVM_INDEX: Final = 10_000


def _record_cells(record: dict[str, Any], number: int) -> list[Any]:
    if "features" in record and len(record) == 1:
        return _row_cells(record["features"], number)
    fields = {
        str(k).strip().lower().replace(" ", "_").replace("-", "_"): v for k, v in record.items()
    }
    for names in (_RAW_KEYS, _FEATURE_KEYS):
        if set(fields) == set(names):
            return [fields[name] for name in names]
    raise InvalidPayload(
        f"row {number}: named fields must be the raw columns ({', '.join(schema.RAW_COLUMNS)}) "
        f"or the features ({', '.join(schema.FEATURE_NAMES)}); "
        f"got {', '.join(sorted(fields))[:300]}"
    )


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


def decode_json(body: bytes, limits: Limits = DEFAULT_LIMITS) -> Rows:
    return rows_from_cells(_json_rows(_json_load(_text(body) or "null", limits), limits))


def decode_jsonlines(body: bytes, limits: Limits = DEFAULT_LIMITS) -> Rows:
    lines = _lines(body)
    _check_rows(len(lines), limits)
    rows = []
    for number, line in enumerate(lines, start=1):
        item = _json_load(line, limits)
        rows.append(_row_cells(item, number))
    return rows_from_cells(rows)


def decode_libsvm(body: bytes, limits: Limits = DEFAULT_LIMITS) -> Rows:
    lines = _lines(body)
    _check_rows(len(lines), limits)
    entries: list[dict[int, float]] = []
    for number, line in enumerate(lines, start=1):
        tokens = line.split()
        if tokens and ":" not in tokens[0]:
            tokens = tokens[1:]  # a leading label is allowed and ignored
        row: dict[int, float] = {}
        for token in tokens:
            index, value = _libsvm_entry(token, number)
            row[index - 1] = value
        entries.append(row)
    width = max((max(row, default=-1) for row in entries), default=-1) + 1
    values = np.full((len(entries), width), np.nan)
    for r, row in enumerate(entries):
        for column, value in row.items():
            values[r, column] = value
    if np.isinf(values).any():
        raise InvalidPayload("libsvm value is not finite")
    return Rows(values=values, sparse=True)


def _libsvm_entry(token: str, number: int) -> tuple[int, float]:
    index_text, sep, value_text = token.partition(":")
    index = int(index_text) if index_text.isascii() and index_text.isdigit() else -1
    if not sep or not value_text.strip() or not 1 <= index <= MAX_LIBSVM_INDEX:
        raise InvalidPayload(
            f"row {number}: {token[:40]!r} is not index:value with 1 <= index <= {MAX_LIBSVM_INDEX}"
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
