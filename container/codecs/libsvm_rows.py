"""text/libsvm: `index:value` pairs (1-based), a leading numeric label ignored."""

from __future__ import annotations

from array import array

import numpy as np

from container.codecs.cells import (
    DEFAULT_LIMITS,
    Limits,
    Rows,
    check_shape,
    decode_text,
    nonblank_lines,
    parse_cell,
    parse_number,
)
from container.errors import InvalidPayload, TooManyValues


def decode_libsvm(body: bytes, limits: Limits = DEFAULT_LIMITS) -> Rows:
    text = decode_text(body)
    lines = nonblank_lines(text, limits)
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
            if parse_number(label) is None:
                raise InvalidPayload(f"row {number}: the label {label[:20]!r} is not a number")
        for token in tokens:
            index, value = _libsvm_entry(token, number, limits.max_columns, max_index_digits)
            row_of.append(number - 1)
            column_of.append(index - 1)
            value_of.append(value)
    width = max(column_of, default=-1) + 1
    check_shape(len(lines), width, limits)
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
    return index, parse_cell(value_text, number, index)
