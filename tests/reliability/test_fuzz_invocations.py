"""Property-based fuzzing of /invocations through the real server (the image in Docker): every
generated request gets a 2xx or a documented 4xx with a message within ANSWER_BOUND_S, never a
5xx, and /ping stays 200. Besides random cells and documents, structure-aware strategies build
what an attacker sends (see devtools/adversarial.py for the fixed corpus): strings of
escapes, long digit runs, exponents, NaN/inf spellings, Unicode digits, deep nesting, wide rows,
records of many keys, libsvm rows with large indices followed by many lines.

Deterministic and bounded: derandomized, no example database, a fixed number of examples.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from deploy.invoke import ENCODED_ROW, RAW_ROW
from devtools.containers import Served, serving_containers
from training import schema

pytestmark = pytest.mark.integration

#: Requests per generated example, sent concurrently: 2,000 examples are 10,000 requests.
BATCH = 5
EXAMPLES = 2_000
CONCURRENCY = 4
PING_EVERY = 250
#: Seconds from sending a request to its answer's headers, queueing behind CONCURRENCY - 1 others
#: included: a request that holds a worker longer is a finding even when the answer is right.
ANSWER_BOUND_S = 10
#: The README's error table, plus gunicorn's own answers to malformed or oversized headers.
DOCUMENTED = {200, 400, 406, 408, 413, 415, 431}
#: Chosen often so the body lands in a decoder; the rest probe 415 and the header parsing.
CONTENT_TYPES = (
    "text/csv",
    "text/csv; charset=utf-8",
    "TEXT/CSV",
    "application/json",
    "application/jsonlines",
    "application/x-ndjson",
    "text/libsvm",
    "text/x-libsvm",
    "application/x-foo",
    "image/png",
    "multipart/form-data; boundary=x",
    "",
    None,
)
ACCEPTS = (
    None,
    "*/*",
    "text/csv",
    "application/json",
    "application/jsonlines",
    "text/*",
    "application/*;q=0.5, text/csv;q=0.1",
    "image/png",
    "text/csv;q=0",
    "garbage;;q=x",
    "",
)

#: Cells worth trying, drawn cheaply; st.floats and st.text add the rest.
CELLS = (
    *("0", "1", "-1", "0.5", "-0", "+1", ".5", "5.", "1e5", "1E-3", "1e308", "-1e308", "1e309"),
    *("5e-324", "1e-400", "nan", "NaN", "inf", "-inf", "Infinity", "", " ", "M", "F", "I", "m"),
    *("X", "0x10", "1_000", "\uff11", "\u00e9", "\U0001f4a5", "\x00", '"1"', "true", "null"),
    *("1e", "--1", "9" * 400, "\ufeff1"),
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 1e-300, 2**70]),
)
cells = st.one_of(st.sampled_from(CELLS), st.floats().map(repr), st.text(max_size=6))
line_ends = st.sampled_from(["\n", "\r\n", "\r", "\n\n"])


@st.composite
def csv_bodies(draw: st.DrawFn) -> bytes:
    """A row, repeated, and maybe one other row (wrong column counts come from both)."""
    row = ",".join(draw(st.lists(cells, max_size=12)))
    rows = [row] * draw(st.integers(min_value=0, max_value=3))
    if draw(st.booleans()):
        rows.insert(draw(st.integers(0, len(rows))), ",".join(draw(st.lists(cells, max_size=12))))
    return draw(line_ends).join(rows).encode()


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=10)),
    lambda children: st.one_of(
        st.lists(children, max_size=11), st.dictionaries(st.text(max_size=12), children, max_size=9)
    ),
    max_leaves=12,
)
record_keys = st.sampled_from([*schema.RAW_COLUMNS, *schema.FEATURE_NAMES, "features", "Sex", "x"])
records = st.dictionaries(record_keys, st.one_of(numbers, st.text(max_size=3)), max_size=11)
json_documents = st.one_of(
    json_values,
    st.lists(numbers, max_size=12).flatmap(lambda row: st.sampled_from([row, [row], [row, row]])),
    st.lists(st.one_of(records, json_values), max_size=3).map(lambda rows: {"instances": rows}),
    st.builds(lambda r: {"instances": [r]}, records),
)


def _dump(document: object) -> bytes:
    return json.dumps(document, allow_nan=True, ensure_ascii=False).encode("utf-8", "replace")


@st.composite
def truncated_json(draw: st.DrawFn) -> bytes:
    text = _dump(draw(json_documents))
    return text[: draw(st.integers(min_value=0, max_value=max(0, len(text) - 1)))]


nested_json = st.builds(
    lambda opener, depth, closed: (opener * depth + ("]" * depth if closed else "")).encode(),
    st.sampled_from(["[", "{", '{"a":[', '{"a":', "[{}"]),
    st.sampled_from([1, 4, 5, 16, 17, 100, 999, 1000, 5000, 100_000]),
    st.booleans(),
)
jsonlines_bodies = st.lists(json_documents.map(_dump), max_size=3).map(b"\n".join)
libsvm_tokens = st.one_of(
    st.builds(lambda i, v: f"{i}:{v}", st.integers(-3, 20_000), numbers.map(repr)),
    st.text(max_size=8),
    st.sampled_from(["1:", ":1", "1:1:1", "0:1", "10001:1", "3"]),
)
libsvm_bodies = st.lists(st.lists(libsvm_tokens, max_size=12).map(" ".join), max_size=3).map(
    lambda lines: "\n".join(lines).encode()
)
# --- structure-aware: the shapes that cost a decoder time or memory --------------------------
digit_runs = st.builds(
    lambda lead, zeros, tail: lead + "0" * zeros + tail,
    st.sampled_from(["1", "9", "-1", "0.", "."]),
    st.sampled_from([17, 18, 19, 99, 100, 308, 400, 4_300, 4_301, 5_000, 50_000]),
    st.sampled_from(["", "1", ".5", "e5", "e-5"]),
)
exponents = st.builds(
    lambda mantissa, sign, exponent: f"{mantissa}e{sign}{exponent}",
    st.sampled_from(["1", "9.9", "0", ".1", "-1", "1" * 30]),
    st.sampled_from(["", "+", "-"]),
    st.one_of(st.integers(0, 10**7), st.sampled_from(["9" * 5_000, "0" * 400 + "1"])),
)
specials = st.builds(
    lambda sign, word, mask: (
        sign + "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(word))
    ),
    st.sampled_from(["", "+", "-"]),
    st.sampled_from(["nan", "inf", "infinity", "nan(1)", "snan", "infinit"]),
    st.integers(0, 255),
)
unicode_digits = st.text(st.characters(categories=["Nd"]), min_size=1, max_size=8)
hostile_numbers = st.one_of(
    digit_runs, exponents, specials, unicode_digits, st.sampled_from(["1\x00", "\x00" * 999])
)
#: Rows of numbers in which some cells are hostile, as text of each format.
hostile_rows = st.lists(st.one_of(st.just("0"), hostile_numbers), min_size=1, max_size=12)
escaped_strings = st.builds(
    lambda count, closed, wrap: wrap.format('"' + '\\"' * count + ('"' if closed else "")),
    st.sampled_from([1, 100, 5_000, 20_000, 100_000]),
    st.booleans(),
    st.sampled_from(["[{}]", "[[{}]]", '{{"instances": [{}]}}', "{}", "[{}"]),
)
wide_rows = st.builds(
    lambda cell, width, rows: ((",".join([cell] * width) + "\n") * rows).encode(),
    st.sampled_from(["0", "", "1e5", "M"]),
    st.sampled_from([11, 1_000, 10_000, 100_000]),
    st.sampled_from([1, 2, 50]),
)
empty_runs = st.builds(
    lambda unit, count: unit.encode() * count,
    st.sampled_from(["\n", "\r\n", ",", " \n", ",,,,,,,,,\n", "\x00"]),
    st.sampled_from([1, 1_000, 100_000, 1_000_000, 3_000_000]),
)
many_keys = st.sampled_from([11, 1_000, 10_000, 100_000]).map(
    lambda keys: _dump({"instances": [{f"k{n}": 0 for n in range(keys)}]})
)
libsvm_indices = st.one_of(
    st.integers(0, 10**6).map(str),
    st.sampled_from(["10", "11", "10000", "10001", "9" * 5_000]),
    unicode_digits,
)
libsvm_wide = st.builds(
    lambda index, value, filler, lines: f"{index}:{value}\n" + filler * lines,
    libsvm_indices,
    st.one_of(st.just("1"), hostile_numbers),
    st.sampled_from(["0\n", "1:0\n", "\n"]),
    st.sampled_from([0, 10, 60_000, 400_000]),
)


def _typed(strategy: st.SearchStrategy[bytes], *content_types: str) -> st.SearchStrategy:
    """Requests of these bodies sent as one of the types that decode them (and no Accept)."""
    return st.tuples(strategy, st.sampled_from(content_types), st.none(), st.just({}))


JSON_TYPES = ("application/json", "application/jsonlines")
LIBSVM_TYPES = ("text/libsvm", "text/x-libsvm")
hostile_requests = st.one_of(
    _typed(hostile_rows.map(lambda cells: ",".join(cells).encode()), "text/csv"),
    _typed(hostile_rows.map(lambda cells: f"[[{','.join(cells)}]]".encode()), *JSON_TYPES),
    _typed(
        hostile_rows.map(lambda cells: " ".join(f"{i}:{c}" for i, c in enumerate(cells, 1))).map(
            str.encode
        ),
        *LIBSVM_TYPES,
    ),
    _typed(escaped_strings.map(str.encode), *JSON_TYPES),
    _typed(wide_rows, "text/csv"),
    _typed(empty_runs, "text/csv", *JSON_TYPES, *LIBSVM_TYPES),
    _typed(many_keys, *JSON_TYPES),
    _typed(libsvm_wide.map(str.encode), *LIBSVM_TYPES),
)
#: Valid rows repeated: around the row limit (100,000) and the body limit (6 MiB).
big_bodies = st.builds(
    lambda row, count: (row + "\n").encode() * count,
    st.sampled_from([ENCODED_ROW, RAW_ROW, "1", ",,,,,,,,,"]),
    st.sampled_from([1, 2, 1_000, 60_000, 100_001, 700_000]),
)
small_bodies = st.one_of(
    csv_bodies(),
    st.builds(lambda d: _dump(d), json_documents),
    truncated_json(),
    nested_json,
    jsonlines_bodies,
    libsvm_bodies,
    st.binary(max_size=300),
    st.sampled_from([b"", b" ", b"\n\n", b"\xef\xbb\xbf", b"\x00", ENCODED_ROW.encode()]),
)
#: Extra headers: none, a few junk ones, an oversized one, or too many (gunicorn: 431).
header_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
header_value = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)
extra_headers = st.one_of(
    st.just({}),
    st.builds(lambda n, v: {f"x-{n}": v}, header_name, header_value),
    st.sampled_from([100, 8_000, 8_200, 20_000]).map(lambda n: {"X-Pad": "a" * n}),
    st.sampled_from([90, 101, 200]).map(lambda n: {f"X-H{i}": "1" for i in range(n)}),
)


@pytest.fixture(scope="module")
def fuzz_target(docker_client, image, served_model_dir) -> Iterator[Served]:
    with serving_containers(docker_client, image, served_model_dir) as start:
        yield start()


def check_answer(response: requests.Response) -> None:
    status = response.status_code
    assert status < 500, f"{status}: {response.text[:300]}"
    seconds = response.elapsed.total_seconds()
    assert seconds < ANSWER_BOUND_S, f"{status} after {seconds:.1f} s: {response.text[:300]}"
    assert status in DOCUMENTED, f"undocumented {status}: {response.text[:300]}"
    if status == 200:
        assert response.headers["Content-Type"].split(";")[0] in (
            "text/csv",
            "application/json",
            "application/jsonlines",
        )
        return
    if response.headers.get("Content-Type", "").startswith("application/json"):
        message = response.json()["error"]
    else:  # gunicorn's own page for malformed or oversized headers
        message = response.text
    assert message.strip(), f"{status} without a message"
    assert "Traceback" not in response.text


Request = tuple[bytes, str | None, str | None, dict[str, str]]


class Body(bytes):
    """A request body whose repr is short: a failing example is printed, and bodies run to MiB."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes: {bytes(self[:80])!r}{'...' if len(self) > 80 else ''}>"


def _any_request(bodies: st.SearchStrategy[bytes]) -> st.SearchStrategy:
    return st.tuples(
        bodies, st.sampled_from(CONTENT_TYPES), st.sampled_from(ACCEPTS), extra_headers
    )


#: One request in 100 has a big body (they cost the most time to send), one in 10 is hostile.
one_request = st.integers(min_value=0, max_value=99).flatmap(
    lambda n: (
        _any_request(big_bodies)
        if n == 0
        else hostile_requests
        if n <= 10
        else _any_request(small_bodies)
    )
)
requests_batches = st.lists(
    one_request.map(lambda request: (Body(request[0]), *request[1:])),
    min_size=BATCH,
    max_size=BATCH,
)


class Sender:
    """Keep-alive sessions, one per sending thread."""

    def __init__(self, url: str):
        self.url = url
        self._local = threading.local()

    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def post(self, request: Request) -> requests.Response:
        body, content_type, accept, extra = request
        headers = dict(extra)
        if content_type is not None:
            headers["Content-Type"] = content_type
        if accept is not None:
            headers["Accept"] = accept
        url = f"{self.url}/invocations"
        return self.session().post(url, data=body, headers=headers, timeout=2 * ANSWER_BOUND_S)

    def ping(self) -> int:
        return self.session().get(f"{self.url}/ping", timeout=5).status_code


def test_invocations_never_answer_5xx(fuzz_target: Served):
    sender = Sender(fuzz_target.url)
    sent = {"count": 0}
    seen: Counter[int] = Counter()
    pool = ThreadPoolExecutor(max_workers=CONCURRENCY)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        # No shrinking: against a server that stalls, each step waits out ANSWER_BOUND_S, and
        # shrinking runs for minutes; the first failing batch is reported as found.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )
    @given(batch=requests_batches)
    def requests_get_documented_answers(batch: list[Request]) -> None:
        for response in pool.map(sender.post, batch):
            check_answer(response)
            seen[response.status_code] += 1
            sent["count"] += 1
            if sent["count"] % PING_EVERY == 0:
                assert sender.ping() == 200

    try:
        requests_get_documented_answers()
    finally:
        pool.shutdown()
    assert sent["count"] >= EXAMPLES * BATCH
    assert set(seen) >= {200, 400, 406, 413, 415, 431}, seen  # every path was reached
    assert sender.ping() == 200
    logs = fuzz_target.logs()
    assert " ERROR " not in logs and "Traceback" not in logs, logs[-3000:]
