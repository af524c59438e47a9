"""The adversarial corpus: request bodies an attacker would send, generated here (no committed
blobs) and named, each with the answers that are correct for it.

Families: quadratic JSON escapes, libsvm indices that widen every row, bodies of commas or empty
lines, long digit runs, huge and tiny exponents, NaN/inf spellings, non-ASCII digits, NUL bytes,
deep nesting, wide rows and records, long lines, and valid bodies of the maximum size. A body is
built only when `Case.body()` is called, so listing the corpus costs nothing. `container_state`
reads what a case cost a running container: its cgroup memory and its gunicorn workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from docker.models.containers import Container

from container.settings import MIB, REALTIME_MAX_PAYLOAD_MB, REALTIME_MAX_ROWS
from deploy.invoke import ENCODED_ROW, RAW_ROW

CSV: Final = "text/csv"
JSON: Final = "application/json"
JSONLINES: Final = "application/jsonlines"
LIBSVM: Final = "text/libsvm"
CONTENT_TYPES: Final = (CSV, JSON, JSONLINES, LIBSVM)

LIMIT: Final = REALTIME_MAX_PAYLOAD_MB * MIB
#: "Just under the limit": every body of the maximum size is at most this long.
NEAR_LIMIT: Final = LIMIT - 64
MAX_ROWS: Final = REALTIME_MAX_ROWS

#: Correct answers: a refusal with a message, or a prediction for every row.
REFUSED: Final = frozenset({400, 413})
VALID: Final = frozenset({200})
#: Valid in form but odd (all-missing rows, numbers that underflow to 0, NaN as missing): a
#: decoder may take them or refuse them, as long as it is quick.
EITHER: Final = frozenset({200, 400, 413})

ZEROS: Final = ",".join(["0"] * 10)
NAN_SPELLINGS: Final = ("nan", "NaN", "-nan", "NAN")
INF_SPELLINGS: Final = ("inf", "-inf", "Infinity", "-Infinity", "infinity", "INF", "1e309")
#: Python's float() reads all of these as numbers: Arabic-Indic, fullwidth, Devanagari, mixed.
UNICODE_NUMBERS: Final = (
    "\u0661\u0662\u0663",
    "\uff11\uff12",
    "\u0967.\u0969",
    "1\u0662",
    "\u0660",
)


@dataclass(frozen=True)
class Case:
    name: str
    content_type: str
    make: Callable[[], bytes]
    answers: frozenset[int] = REFUSED
    #: With a 200, the number of predictions the answer must hold (None: not checked).
    rows: int | None = None

    def body(self) -> bytes:
        return self.make()

    @property
    def valid(self) -> bool:
        return 200 in self.answers


def fill(unit: str, size: int = NEAR_LIMIT, head: str = "", tail: str = "") -> bytes:
    """head + unit repeated + tail, as long as fits in `size` bytes (UTF-8)."""
    unit_bytes = unit.encode()
    room = size - len(head.encode()) - len(tail.encode())
    return head.encode() + unit_bytes * (room // len(unit_bytes)) + tail.encode()


def _case(name: str, content_type: str, text: str, answers: frozenset[int] = REFUSED) -> Case:
    return Case(name, content_type, text.encode, answers)


def _row_with(cell: str) -> list[str]:
    """One encoded row of zeros with its second cell replaced."""
    cells = ["0"] * 10
    cells[1] = cell
    return cells


def _in_every_type(name: str, cell: str, answers: frozenset[int] = REFUSED) -> Iterator[Case]:
    """`cell` as a number (or string) in each content type's row."""
    cells = _row_with(cell)
    yield _case(f"csv-{name}", CSV, ",".join(cells) + "\n", answers)
    yield _case(f"json-{name}", JSON, f"[[{','.join(cells)}]]", answers)
    yield _case(f"json-string-{name}", JSON, '[["' + '","'.join(cells) + '"]]', answers)
    yield _case(f"jsonlines-{name}", JSONLINES, f"[{','.join(cells)}]\n", answers)
    yield _case(f"libsvm-{name}", LIBSVM, f"0 1:0 2:{cell}\n", answers)


def json_escapes() -> Iterator[Case]:
    """Backslash escapes that a backtracking string scan reads in quadratic time."""
    yield _case("json-escapes-40kb", JSON, '["' + '\\"' * 20_000 + "]")
    yield Case("json-escapes-6mib", JSON, lambda: fill('\\"', head='["', tail="]"))
    yield Case("json-escapes-closed-6mib", JSON, lambda: fill('\\"', head='["', tail='"]'))
    yield Case("jsonlines-escapes-6mib", JSONLINES, lambda: fill('\\"', head='["', tail="]"))
    line = '["' + '\\"' * 1_000 + "]\n"
    yield Case("jsonlines-escapes-many-lines", JSONLINES, lambda: fill(line))


def libsvm_widths() -> Iterator[Case]:
    """Indices that would widen every row before the feature count is checked."""
    yield _case("libsvm-index-10000-then-60k-lines", LIBSVM, "10000:1\n" + "0\n" * 60_000)
    yield Case("libsvm-index-10000-then-6mib-lines", LIBSVM, lambda: fill("0\n", head="10000:1\n"))
    yield Case("libsvm-index-10000-every-row", LIBSVM, lambda: b"10000:1\n" * MAX_ROWS)
    yield Case("libsvm-index-11-every-row", LIBSVM, lambda: b"11:1\n" * MAX_ROWS)
    yield Case("libsvm-index-1-repeated-6mib", LIBSVM, lambda: fill(" 1:0", head="0"))
    yield Case("libsvm-labels-only-max-rows", LIBSVM, lambda: b"0\n" * MAX_ROWS, EITHER)


def empty_cells_and_lines() -> Iterator[Case]:
    """Commas, empty fields and empty lines: cells or lines that cost work but hold nothing."""
    yield Case("csv-commas-6mib", CSV, lambda: fill(","))
    yield Case("csv-commas-rows-6mib", CSV, lambda: fill(",,,,,,,,,,,,,,,,,,,\n"))
    yield Case("csv-empty-fields-max-rows", CSV, lambda: b",,,,,,,,,\n" * MAX_ROWS, EITHER)
    for content_type in CONTENT_TYPES:
        kind = content_type.rsplit("/", 1)[1]
        yield Case(f"{kind}-empty-lines-6mib", content_type, lambda: fill("\n"))
    yield Case("csv-crlf-lines-6mib", CSV, lambda: fill("\r\n"))
    yield Case("csv-blank-lines-6mib", CSV, lambda: fill(" \t\n"))
    half = NEAR_LIMIT // 2
    around = lambda: fill("\n", half, tail=ENCODED_ROW) + fill("\n", half)  # noqa: E731
    # Valid, but a decoder may refuse more line breaks than rows allowed before it splits (413).
    yield Case("csv-one-row-in-6mib-of-lines", CSV, around, VALID | {413}, 1)


def digit_runs() -> Iterator[Case]:
    """Numbers too long to parse cheaply, or too big for a float or for Python's int()."""
    big = "1" + "0" * 400
    yield _case("json-400-leading-digits", JSON, f"[[{big},1,1,1,1,1,1,0,0,1]]")
    yield from _in_every_type("5000-digits", "9" * 5_000)
    yield from _in_every_type("5000-digit-fraction", "0." + "0" * 5_000 + "1", EITHER)
    yield _case("libsvm-5000-digit-index", LIBSVM, "9" * 5_000 + ":1\n")
    yield Case("libsvm-6mib-index", LIBSVM, lambda: fill("9", tail=":1\n"))
    yield Case("json-6mib-integer", JSON, lambda: fill("9", head="[", tail="]"))
    yield Case("csv-6mib-number", CSV, lambda: fill("9"))
    yield Case("csv-6mib-fraction", CSV, lambda: fill("0", head="0."), EITHER)


def exponents_and_specials() -> Iterator[Case]:
    """Exponents that overflow or underflow, and every spelling of NaN and infinity."""
    for name, cell in (("exp-1e999999", "1e999999"), ("exp-1e400", "1e400")):
        yield from _in_every_type(name, cell)
    yield from _in_every_type("exp-1e-999999", "1e-999999", EITHER)
    yield from _in_every_type("exp-5000-digits", "1e" + "9" * 5_000)
    for spelling in NAN_SPELLINGS:
        yield _case(f"csv-{spelling}", CSV, ",".join(_row_with(spelling)), EITHER)
    for spelling in INF_SPELLINGS:
        yield _case(f"csv-{spelling}", CSV, ",".join(_row_with(spelling)))
        yield _case(f"libsvm-{spelling}", LIBSVM, f"1:{spelling}\n")
    yield _case("json-NaN", JSON, "[[NaN,0,0,0,0,0,0,0,0,0]]", EITHER)
    for literal in ("Infinity", "-Infinity"):
        yield _case(f"json-{literal}", JSON, f"[[{literal},0,0,0,0,0,0,0,0,0]]")


def unicode_digits_and_nul() -> Iterator[Case]:
    """Digits Python's float() reads but CSV and JSON do not have; NUL bytes anywhere."""
    for number, digits in enumerate(UNICODE_NUMBERS):
        yield from _in_every_type(f"unicode-digits-{number}", digits)
    yield _case("libsvm-unicode-index", LIBSVM, "\u0661:1\n")
    yield Case("csv-6mib-unicode-digits", CSV, lambda: fill("\u0661"))
    yield from _in_every_type("nul-in-number", "1\x00")
    for content_type in CONTENT_TYPES:
        kind = content_type.rsplit("/", 1)[1]
        yield Case(f"{kind}-nul-6mib", content_type, lambda: fill("\x00"))


def nesting() -> Iterator[Case]:
    """Deep nesting, closed and unclosed, arrays and objects, and brackets inside strings."""
    for depth in (17, 100_000):
        yield _case(f"json-arrays-depth-{depth}", JSON, "[" * depth + "]" * depth)
        yield _case(f"json-objects-depth-{depth}", JSON, '{"a":' * depth + "1" + "}" * depth)
    yield Case(
        "json-arrays-depth-6mib",
        JSON,
        lambda: fill("[", NEAR_LIMIT // 2) + fill("]", NEAR_LIMIT // 2),
    )
    yield Case("json-unclosed-arrays-6mib", JSON, lambda: fill("["))
    yield Case("json-unclosed-objects-6mib", JSON, lambda: fill('{"a":'))
    yield Case("jsonlines-unclosed-arrays-6mib", JSONLINES, lambda: fill("["))
    yield Case("jsonlines-deep-lines-6mib", JSONLINES, lambda: fill("[" * 17 + "]" * 17 + "\n"))
    yield Case("json-brackets-in-string-6mib", JSON, lambda: fill("[", head='["', tail='"]'))


def _record(keys: int) -> str:
    return "{" + ",".join(f'"k{n}":0' for n in range(keys)) + "}"


def wide_rows_and_records() -> Iterator[Case]:
    """Thousands of columns, keys or tokens in one row, and rows of changing width."""
    yield _case("csv-10000-columns", CSV, ",".join(["0"] * 10_000) + "\n")
    yield Case("csv-1000-columns-6mib", CSV, lambda: fill(",".join(["0"] * 1_000) + "\n"))
    yield Case("csv-one-row-6mib-wide", CSV, lambda: fill("0,", tail="0\n"))
    yield Case("csv-narrow-then-6mib-wide", CSV, lambda: fill("0,", head=ZEROS + "\n", tail="0"))
    yield Case("json-one-row-6mib-wide", JSON, lambda: fill("0,", head="[[", tail="0]]"))
    yield _case("json-record-10000-keys", JSON, '{"instances":[' + _record(10_000) + "]}")
    yield Case("json-records-1000-keys-6mib", JSON, lambda: _records_near_limit(1_000))
    case_keys = ",".join(f'"{k}":0' for k in ("length", "Length", "LENGTH", "length "))
    yield _case("json-record-colliding-keys", JSON, '{"instances":[{' + case_keys + "}]}")
    yield Case("jsonlines-records-1000-keys-6mib", JSONLINES, lambda: fill(_record(1_000) + "\n"))
    tokens = " ".join(f"{n}:0" for n in range(1, 10_001))
    yield _case("libsvm-10000-tokens", LIBSVM, tokens + "\n")


def _records_near_limit(keys: int) -> bytes:
    record = _record(keys)
    count = (NEAR_LIMIT - 20) // (len(record) + 1)
    return ('{"instances":[' + ",".join([record] * count) + "]}").encode()


def long_lines() -> Iterator[Case]:
    """One line as long as the body may be: a word, padding around a valid row."""
    yield Case("csv-6mib-word", CSV, lambda: fill("a"))
    yield Case("csv-6mib-sex-code", CSV, lambda: fill("M", tail=",0,0,0,0,0,0,0\n"))
    row = f"[{ENCODED_ROW}]"
    padded = lambda: fill(" ", tail=f"[{row}]")  # noqa: E731
    yield Case("json-valid-row-after-6mib-of-spaces", JSON, padded, VALID, 1)
    yield Case(
        "jsonlines-valid-row-then-6mib-of-spaces", JSONLINES, lambda: fill(" ", head=row), VALID, 1
    )


def _repeat(head: str, unit: str, count: int, tail: str = "") -> Callable[[], bytes]:
    return lambda: (head + unit * count + tail).encode()


def valid_at_limit() -> Iterator[Case]:
    """Correct bodies of the maximum size: the most rows (or cells) each content type can hold."""
    for name, content_type, line in (
        ("csv-zeros", CSV, ZEROS + "\n"),
        ("csv-encoded", CSV, ENCODED_ROW + "\n"),
        ("csv-raw", CSV, "M,0,0,0,0,0,0,0\n"),
        ("csv-raw-real", CSV, RAW_ROW + "\n"),
        ("jsonlines-zeros", JSONLINES, f"[{ZEROS}]\n"),
        ("libsvm-dense", LIBSVM, "0 " + " ".join(f"{n}:0" for n in range(1, 11)) + "\n"),
        ("libsvm-one-feature", LIBSVM, "1:0\n"),
    ):
        count = min(MAX_ROWS, NEAR_LIMIT // len(line))
        yield Case(f"{name}-at-limit", content_type, _repeat("", line, count), VALID, count)
    count = min(MAX_ROWS - 1, (NEAR_LIMIT - 64) // (len(ZEROS) + 3))
    rows = _repeat('{"instances":[', f"[{ZEROS}],", count, "[0,0,0,0,0,0,0,0,0,0]]}")
    yield Case("json-zeros-at-limit", JSON, rows, VALID, count + 1)
    yield Case("csv-over-limit", CSV, lambda: fill(ZEROS + "\n", LIMIT + 20), frozenset({413}))


FAMILIES: Final = (
    json_escapes,
    libsvm_widths,
    empty_cells_and_lines,
    digit_runs,
    exponents_and_specials,
    unicode_digits_and_nul,
    nesting,
    wide_rows_and_records,
    long_lines,
    valid_at_limit,
)


def corpus() -> list[Case]:
    """Every case of every family, in family order; names are unique."""
    cases = [case for family in FAMILIES for case in family()]
    names = [case.name for case in cases]
    assert len(set(names)) == len(names), "case names must be unique"
    return cases


# --- what a case costs the container ---------------------------------------------------------

#: Run in the container: cgroup memory (v2, else v1) and each gunicorn worker (a child of the
#: master, PID 1) with the number of sockets it holds.
_STATE_SCRIPT: Final = r"""
cd /sys/fs/cgroup
if [ -f memory.peak ]; then
  echo memory $(cat memory.current memory.peak) $(awk '$1 == "oom_kill" {print $2}' memory.events)
else
  cd memory
  echo memory $(cat memory.usage_in_bytes memory.max_usage_in_bytes) \
    $(awk '$1 == "oom_kill" {print $2}' memory.oom_control)
fi
for pid in $(awk '$4 == 1 {print $1}' /proc/[0-9]*/stat 2>/dev/null); do
  echo worker $pid $(ls -l /proc/$pid/fd 2>/dev/null | grep -c socket)
done
"""


@dataclass(frozen=True)
class ContainerState:
    current_bytes: int
    #: The cgroup's peak since the container (re)started: cgroups v1 and v2 alike.
    peak_bytes: int
    oom_kills: int
    #: Worker pid (in the container) -> sockets it holds (its listener plus its connections).
    workers: dict[int, int]


def container_state(container: Container) -> ContainerState:
    result = container.exec_run(["sh", "-c", _STATE_SCRIPT])
    memory: list[int] = []
    workers: dict[int, int] = {}
    for line in result.output.decode().splitlines():
        kind, *values = line.split()
        if kind == "memory":
            memory = [int(v) for v in values]
        elif kind == "worker":
            workers[int(values[0])] = int(values[1])
    if len(memory) < 2:
        raise RuntimeError(f"no cgroup memory figures in the container: {result.output!r}")
    oom_kills = memory[2] if len(memory) > 2 else 0
    return ContainerState(memory[0], memory[1], oom_kills, workers)
