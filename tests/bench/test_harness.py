"""Smoke tests of the benchmark harness (`make bench` itself is timed, so never part of the tests).

The unit tests check the ratios, the framework-floor app and the memory reader; the integration
test runs `python -m bench --smoke` against the built image (one short round) and checks the JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import floor, report, servers
from bench.floor_app import CONSTANT, create_app
from container.server import GunicornServer, gunicorn_options
from container.settings import ServingSettings
from tests.conftest import REPO_ROOT, default_data_file


def _round(floor_ms: float, real: dict, framework: dict) -> dict:
    def load(req_per_s: float, p50_ms: float) -> dict:
        return {
            "req_per_s": req_per_s,
            "rows_per_s": req_per_s,
            "p50_ms": p50_ms,
            "p90_ms": p50_ms,
            "p99_ms": p50_ms * 2,
            "max_ms": p50_ms * 3,
            "errors": 0,
            "requests": 100,
            "peak_memory": {"pss_mib": 100.0, "rss_mib": 200.0, "hwm_mib": 210.0},
        }

    memory = {"pss_mib": 120.0, "rss_mib": 300.0, "hwm_mib": 300.0, "processes": 3}
    return {
        "floor": {
            "payloads": {
                "csv1": {
                    "floor_s": floor_ms / 1000,
                    "predict_s": floor_ms / 2000,
                    "pipeline_s": floor_ms / 1000,
                    "floor_parser": "np.loadtxt",
                    "parsers": {"np.loadtxt": {"parse_s": 1e-6, "total_s": floor_ms / 1000}},
                }
            }
        },
        "loads": {"csv1_c8": {"real/docker": load(**real), "floor/docker": load(**framework)}},
        "servers": {"real/docker": {"cold_start_s": 1.5, "idle_memory": memory}},
    }


SETTINGS = {
    "rounds": 3,
    "duration_s": 3,
    "workers": 2,
    "network": "host",
    "load_generator": "wrk",
    "model": {"trees": 200, "max_depth": 5},
    "scenarios": [
        {
            "name": "csv1_c8",
            "label": "1 row CSV, 8 clients",
            "payload": "csv1",
            "floor_payload": "csv1",
        }
    ],
    "payloads": [{"name": "csv1", "rows": 1}],
}
MACHINE = {
    "cpu_model": "test CPU",
    "cpus": 2,
    "usable_cpus": 2,
    "memory_gib": 4.0,
    "kernel": "6.0",
    "docker_version": "1",
    "load_average_start": [0.0],
    "image": {"tags": ["x"], "size_bytes": 438_000_000},
}


def test_ratios_are_medians_of_per_round_ratios_to_the_floors() -> None:
    rounds = [
        _round(0.5, {"req_per_s": 2000, "p50_ms": 1.0}, {"req_per_s": 2500, "p50_ms": 0.9}),
        _round(0.4, {"req_per_s": 1600, "p50_ms": 1.2}, {"req_per_s": 2000, "p50_ms": 1.0}),
        _round(1.0, {"req_per_s": 900, "p50_ms": 3.0}, {"req_per_s": 1000, "p50_ms": 2.0}),
    ]
    summary = report.summarise(rounds, SETTINGS, MACHINE)
    real = summary["loads"]["csv1_c8"]["real/docker"]
    assert real["req_per_s"] == {"median": 1600, "min": 900, "max": 2000}
    # p50 / floor per round: 2.0, 3.0, 3.0; req/s / (2 workers x floor calls/s): 0.5, 0.32, 0.45
    assert real["p50_x_floor"] == pytest.approx(3.0)
    assert real["throughput_of_floor"] == pytest.approx(0.45)
    # against the framework floor of the same round: 0.8, 0.8, 0.9 and +0.1, +0.2, +1.0 ms
    assert real["req_per_s_of_framework"] == pytest.approx(0.8)
    assert real["p50_over_framework_ms"] == pytest.approx(0.2)
    targets = {t["target"]: t for t in summary["targets"]}
    assert targets["1 row, 8 clients: req/s >= 80% of the framework floor"]["met"] is True
    assert targets["image < 500 MB"]["met"] is True
    assert targets["1,000 rows, 4 clients: >= 300,000 rows/s"]["met"] is None
    text = report.render(summary, SETTINGS, MACHINE)
    assert "1 row CSV, 8 clients" in text
    assert "[met ] image < 500 MB: 438 MB" in text


def test_multi_row_figures_are_ratios_to_the_naive_reference_and_the_physical_limit() -> None:
    def load(rows_per_s: float, p50_ms: float, p99_ms: float) -> dict:
        return {
            **{"req_per_s": rows_per_s / 1000, "rows_per_s": rows_per_s, "errors": 0},
            **{"p50_ms": p50_ms, "p90_ms": p50_ms, "p99_ms": p99_ms, "max_ms": p99_ms},
            **{"requests": 10, "peak_memory": {}},
        }

    def round_(predict_ms: float, real: float, reference: float, peak_mib: float) -> dict:
        floor = {"rows": 1000, "predict_s": predict_ms / 1000}
        memory = {"peak_above_idle_mib": peak_mib, "x_body": peak_mib / 6}
        return {
            "floor": {"payloads": {"csv1000": floor, "deep:csv1000": floor}},
            "loads": {
                "csv1000_c4": {
                    "real/docker": load(real, 10, 30),
                    "reference/docker": load(reference, 12, 20),
                },
                "deep:csv1000_c4": {"real/docker": load(real / 4, 40, 200)},
            },
            "servers": {},
            "request_memory": {"csv1000_c4": {"real/docker": memory}},
        }

    settings = {
        **SETTINGS,
        "scenarios": [
            {"name": "csv1000_c4", "label": "1,000 rows", "payload": "csv1000"}
            | {"floor_payload": "csv1000"},
            {"name": "deep:csv1000_c4", "label": "1,000 rows [deep]", "payload": "csv1000"}
            | {"floor_payload": "deep:csv1000"},
        ],
        "payloads": [{"name": "csv1000", "rows": 1000}],
    }
    # physical limit: 2 usable cores x 1000 rows / predict_s: 1,000,000, 800,000, 500,000 rows/s
    rounds = [
        round_(2.0, 600_000, 400_000, 12),
        round_(2.5, 400_000, 200_000, 18),
        round_(4.0, 450_000, 300_000, 30),
    ]
    summary = report.summarise(rounds, settings, MACHINE)
    real = summary["loads"]["csv1000_c4"]["real/docker"]
    assert real["of_reference"] == pytest.approx(1.5)  # 1.5, 2.0, 1.5
    assert real["of_physical_limit"] == pytest.approx(0.6)  # 0.6, 0.5, 0.9
    assert real["p99_over_p50"] == pytest.approx(3.0)
    assert real["request_peak_x_body"]["median"] == pytest.approx(3.0)
    assert summary["loads"]["csv1000_c4"]["reference/docker"]["of_reference"] is None
    targets = {t["target"]: t for t in summary["targets"]}
    assert targets["1,000 rows, 4 clients: rows/s >= 1.65x the naive reference"]["met"] is False
    assert targets["1,000 rows, 4 clients: p99 < 4x p50"]["met"] is True
    assert targets["1,000 rows, 4 clients [deep model]: p99 < 4x p50"]["met"] is False
    assert targets["6 MB raw rows: rows/s >= 1.65x the naive reference"]["met"] is None
    text = report.render(summary, settings, MACHINE)
    assert "1.50x" in text and "60%" in text


def test_the_framework_floor_app_reads_the_body_and_returns_a_constant() -> None:
    client = create_app(limit=1024).test_client()
    assert client.get("/ping").status_code == 200
    response = client.post("/invocations", data=b"1,2,3\n", content_type="text/csv")
    assert response.status_code == 200
    assert response.data == CONSTANT


def test_the_framework_floor_runs_under_the_real_servers_gunicorn_options() -> None:
    settings = ServingSettings(workers=3, threads=2, port=9999)
    server = GunicornServer(create_app(limit=1024), gunicorn_options(settings))
    assert server.cfg.worker_class_str == "gthread"
    assert server.cfg.workers == 3
    assert server.cfg.threads == 2
    assert server.cfg.bind == ["0.0.0.0:9999"]
    assert server.cfg.keepalive == settings.keepalive_s


def test_memory_of_this_process_is_read_from_proc() -> None:
    used = servers.memory([os.getpid()])
    assert used["processes"] == 1
    assert 0 < used["pss_mib"] <= used["rss_mib"] <= used["hwm_mib"] + 1
    assert os.getpid() not in servers.descendants(os.getpid())


def test_per_call_seconds_measures_a_known_cost() -> None:
    import time

    seconds = floor.per_call_seconds(lambda: time.sleep(0.002), budget_s=0.05)
    assert 0.0015 < seconds < 0.02


@pytest.mark.integration
def test_a_smoke_run_writes_the_json_report(tmp_path: Path) -> None:
    """One short round against the built image (wrk when installed, else a Python client)."""
    env = {**os.environ, "ABALONE_DATA": str(default_data_file())}
    env.setdefault("IMAGE", "abalone-byom:local")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (written,) = tmp_path.glob("*.json")
    document = json.loads(written.read_text())
    assert document["machine"]["cpus"] >= 1
    assert document["machine"]["docker_version"]
    loads = document["summary"]["loads"]
    scenarios = ("csv1_c1", "csv1_c8", "csv1000_c4", "json1_c8", "raw1_c8", "batch", "batch_enc")
    for scenario in scenarios:
        for entry in loads[scenario].values():
            assert entry["errors"] == 0, (scenario, entry)
            assert entry["req_per_s"]["median"] > 0
    assert loads["csv1_c1"]["real/docker"]["p50_over_framework_ms"] is not None
    assert loads["csv1_c8"]["real/docker"]["throughput_of_floor"] > 0
    assert loads["csv1000_c4"]["real/docker"]["of_reference"] > 0  # the naive reference ran
    assert loads["csv1000_c4"]["real/docker"]["of_physical_limit"] > 0
    for scenario in ("batch", "batch_enc"):
        assert loads[scenario]["batch/docker"]["of_reference"] > 0
        assert loads[scenario]["batch/docker"]["request_peak_above_idle_mib"]["median"] >= 0
    real = document["summary"]["servers"]["real/docker"]
    assert 0 < real["cold_start_s"]["median"] < 60
    assert real["idle_pss_mib"]["median"] > 10
    assert document["summary"]["floor"]["csv1"]["floor_s"]["median"] > 0
    assert "Targets" in done.stdout
