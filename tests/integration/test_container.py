"""The image keeps the SageMaker hosting contract, run for real in Docker."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from deploy.invoke import ENCODED_ROW, RAW_ROW
from devtools.containers import TEST_LABELS
from tests.integration.dockerutil import poll
from training import schema, splits
from training.artifact import load_booster
from training.features import FeatureTransform

pytestmark = pytest.mark.integration
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def test_rows(real_model_dir: Path) -> np.ndarray:
    features, _ = splits.read_split(real_model_dir.parent / splits.TEST, splits.TEST)
    return features[:50]


@pytest.fixture(scope="module")
def expected(real_model_dir: Path, test_rows: np.ndarray) -> np.ndarray:
    booster = load_booster(real_model_dir / schema.MODEL_FILENAME)
    import xgboost as xgb

    return booster.predict(xgb.DMatrix(test_rows))


def csv_body(rows: np.ndarray) -> str:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows) + "\n"


def parse_output(response, media_type: str) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith(media_type)
    if media_type == "text/csv":
        return np.array([float(line) for line in response.text.splitlines()])
    if media_type == "application/json":
        return np.array([p["score"] for p in response.json()["predictions"]])
    return np.array([json.loads(line)["score"] for line in response.text.splitlines()])


def test_ping_answers_get_post_and_head_once_ready(endpoint):
    import requests

    for method in ("GET", "POST", "HEAD"):
        response = requests.request(method, f"{endpoint.url}/ping", timeout=2)
        assert response.status_code == 200
        assert response.content == b""


def test_ping_never_200_before_the_model_is_loaded(serve):
    served = serve(wait=False)
    seen = []

    def ready() -> bool:
        seen.append(served.ping_status())
        return seen[-1] == 200

    poll(ready, 60, "ping 200")
    # Before ready the server either does not listen yet or says 503: never a premature 200.
    assert set(seen[:-1]) <= {None, 503}


@pytest.mark.parametrize(
    ("content_type", "encode"),
    [
        ("text/csv", csv_body),
        ("text/csv; charset=utf-8", lambda rows: csv_body(rows).replace("\n", "\r\n")),
        ("application/json", lambda rows: json.dumps({"instances": rows.tolist()})),
        ("application/json", lambda rows: json.dumps(rows.tolist())),
        ("application/jsonlines", lambda rows: "\n".join(json.dumps(r) for r in rows.tolist())),
        (
            "text/libsvm",
            lambda rows: "\n".join(
                " ".join(f"{i + 1}:{v!r}" for i, v in enumerate(row.tolist())) for row in rows
            ),
        ),
    ],
)
@pytest.mark.parametrize("accept", ["text/csv", "application/json", "application/jsonlines"])
def test_predictions_equal_booster_predict(
    endpoint, test_rows, expected, content_type, encode, accept
):
    response = endpoint.invoke(encode(test_rows), content_type, Accept=accept)
    np.testing.assert_allclose(parse_output(response, accept), expected, rtol=0, atol=1e-6)


def test_raw_rows_are_encoded_with_the_training_transform(endpoint, real_model_dir):
    transform = FeatureTransform.from_dict(
        json.loads((real_model_dir / schema.PREPROCESSING_FILENAME).read_text())
    )
    import xgboost as xgb

    fields = RAW_ROW.split(",")
    encoded = transform.encode([fields[0]], np.array([[float(v) for v in fields[1:]]]))
    booster = load_booster(real_model_dir / schema.MODEL_FILENAME)
    want = booster.predict(xgb.DMatrix(encoded))[0]
    raw = parse_output(endpoint.invoke(RAW_ROW), "text/csv")[0]
    record = dict(zip(schema.RAW_COLUMNS, [fields[0], *map(float, fields[1:])], strict=True))
    named = parse_output(
        endpoint.invoke(
            json.dumps({"instances": [record]}), "application/json", Accept="application/json"
        ),
        "application/json",
    )[0]
    assert raw == pytest.approx(want, abs=1e-6)
    assert named == pytest.approx(want, abs=1e-6)


def test_seed_sample_row_and_default_accept(endpoint):
    response = endpoint.invoke(ENCODED_ROW, Accept="*/*")
    assert response.headers["Content-Type"].startswith("text/csv")
    assert 1 < float(response.text) < 30


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "message"),
    [
        ("1,2,3", "text/csv", None, 400, "expected 10 features, got 3"),
        ("1,2,x,4,5,6,7,8,9,10", "text/csv", None, 400, "row 1, column 3"),
        ("M,1,2\nF,1,2,3", "text/csv", None, 400, "row 2"),
        ("X,0.455,0.365,0.095,0.514,0.2245,0.101,0.15", "text/csv", None, 400, "unknown sex"),
        ("{not json", "application/json", None, 400, "invalid JSON"),
        ("", "text/csv", None, 400, "empty body"),
        (ENCODED_ROW, "text/csv", "image/png", 406, "supported Accept types"),
        (ENCODED_ROW, "application/x-foo", None, 415, "unsupported content type"),
        (ENCODED_ROW, None, None, 415, "no Content-Type"),
    ],
)
def test_error_matrix(endpoint, body, content_type, accept, status, message):
    headers = {"Accept": accept} if accept else {}
    response = endpoint.invoke(body, content_type, **headers)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert "Traceback" not in response.text
    assert endpoint.ping_status() == 200  # a bad request never takes the worker down


def six_mib_csv(limit: int) -> tuple[bytes, int]:
    row = (ENCODED_ROW + "\n").encode()
    count = limit // len(row)
    body = row * count
    padding = limit - len(body)  # trailing blank lines are allowed; pad to exactly the limit
    return body + b"\n" * padding, count


def test_six_mib_accepted_and_one_byte_more_refused(endpoint):
    body, rows = six_mib_csv(6 * MIB)
    assert len(body) == 6 * MIB
    response = endpoint.invoke(body)
    assert response.status_code == 200
    assert len(response.text.splitlines()) == rows
    too_big = endpoint.invoke(body + b"\n")
    assert too_big.status_code == 413
    assert "6 MiB" in too_big.json()["error"]


def test_custom_attributes_are_echoed(endpoint):
    response = endpoint.invoke(
        ENCODED_ROW, **{"X-Amzn-SageMaker-Custom-Attributes": "trace=abc", "X-Unknown": "ignored"}
    )
    assert response.status_code == 200
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "trace=abc"


def test_request_log_has_status_latency_and_inference_id(endpoint):
    endpoint.invoke(ENCODED_ROW, **{"X-Amzn-SageMaker-Inference-Id": "req-42"})
    poll(lambda: "inference_id=req-42" in endpoint.logs(), 5, "the request log line")
    line = next(ln for ln in endpoint.logs().splitlines() if "inference_id=req-42" in ln)
    assert "POST /invocations 200" in line and "ms" in line


def test_bind_to_port(serve):
    served = serve(environment={"SAGEMAKER_BIND_TO_PORT": "9090"}, port=9090)
    assert served.invoke(ENCODED_ROW).status_code == 200


def test_batch_execution_parameters_match_the_body_limit(serve):
    served = serve(
        environment={
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20",
            "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
        }
    )
    import requests

    params = requests.get(f"{served.url}/execution-parameters", timeout=5).json()
    assert params == {
        "MaxConcurrentTransforms": 2,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 20,
    }
    body, rows = six_mib_csv(20 * MIB)
    response = served.invoke(body)
    assert response.status_code == 200
    assert len(response.text.splitlines()) == rows
    assert served.invoke(body + b"\n").status_code == 413


@pytest.mark.parametrize(
    "options",
    [
        {"read_only": True, "tmpfs": {"/tmp": ""}},
        {"user": "1000:1000"},
        {"user": "1000:1000", "read_only": True, "tmpfs": {"/tmp": ""}},
    ],
    ids=["read-only-root", "user-1000", "user-1000-read-only"],
)
def test_runs_without_root_or_a_writable_root(serve, options):
    served = serve(**options)
    assert served.invoke(ENCODED_ROW).status_code == 200


def test_runs_with_network_none(serve):
    served = serve(network_mode="none", ports={}, wait=False)
    script = (
        "import time, urllib.request as u\n"
        "for _ in range(100):\n"
        "    try:\n"
        "        u.urlopen('http://127.0.0.1:8080/ping', timeout=2); break\n"
        "    except Exception: time.sleep(0.2)\n"
        f"r = u.Request('http://127.0.0.1:8080/invocations', data=b'{ENCODED_ROW}',"
        " headers={'Content-Type': 'text/csv'})\n"
        "print(u.urlopen(r, timeout=5).read().decode())\n"
    )
    result = served.container.exec_run(["python", "-c", script])
    assert result.exit_code == 0, result.output
    assert 1 < float(result.output.decode()) < 30


def test_sigterm_lets_an_in_flight_request_finish(serve):
    served = serve()
    port = int(served.url.rsplit(":", 1)[1])
    body = (ENCODED_ROW + "\n").encode()
    head = (
        "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + body[:10])  # the request is accepted and half-read...
        time.sleep(0.5)
        served.container.kill(signal="SIGTERM")  # ...when SageMaker asks the container to stop
        time.sleep(1.0)
        sock.sendall(body[10:])
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 200"), answer
    started = time.monotonic()
    status = served.container.wait(timeout=30)
    assert status["StatusCode"] == 0
    assert time.monotonic() - started < 30


def test_missing_model_fails_fast_with_one_clear_line(serve, tmp_path):
    served = serve(model_dir=tmp_path, wait=False)
    status = served.container.wait(timeout=30)
    assert status["StatusCode"] != 0
    errors = [ln for ln in served.logs().splitlines() if "ERROR" in ln]
    assert len(errors) == 1
    assert "no model file 'xgboost-model'" in errors[0]
    assert "Traceback" not in served.logs()


def test_tampered_model_is_refused(serve, real_model_dir, tmp_path):
    for path in real_model_dir.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    preprocessing = tmp_path / schema.PREPROCESSING_FILENAME
    preprocessing.write_text(preprocessing.read_text().replace("0.", "1.", 1))
    tmp_path.chmod(0o755)
    served = serve(model_dir=tmp_path, wait=False)
    assert served.container.wait(timeout=30)["StatusCode"] != 0
    assert "does not match its sha256" in served.logs()


def test_unknown_verb_prints_usage(docker_client, image):
    container = docker_client.containers.run(image, ["bogus"], detach=True, labels=TEST_LABELS)
    try:
        assert container.wait(timeout=30)["StatusCode"] == 2
        assert "usage: python -m container" in container.logs().decode()
    finally:
        container.remove(force=True)
