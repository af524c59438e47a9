"""ServingSettings.from_env: defaults, every variable, invalid values, the batch payload budget."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from container.contract import BATCH_PAYLOAD_BUDGET_MB, MIB, SERVING_ENVIRONMENT
from container.settings import ServingSettings, SettingsError, usable_cpus


def from_env(**env: str) -> ServingSettings:
    return ServingSettings.from_env(env)


def test_defaults():
    settings = from_env()
    cpus = usable_cpus()
    assert settings.model_dir == Path("/opt/ml/model")
    assert settings.port == 8080
    assert settings.workers == cpus
    assert settings.threads == 4
    assert settings.timeout_s == 60
    assert settings.keepalive_s == 75
    assert settings.default_accept == "text/csv"
    assert settings.batch is False
    assert settings.batch_strategy == "MULTI_RECORD"
    assert settings.max_payload_mb == 6
    assert settings.max_body_bytes == 6 * MIB
    assert settings.max_concurrent_transforms == min(cpus, BATCH_PAYLOAD_BUDGET_MB // 6)
    assert settings.access_log is True
    assert settings.log_level == "info"


def test_dataclass_defaults_match_a_one_cpu_environment():
    assert ServingSettings() == ServingSettings.from_env({"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9090")
    monkeypatch.setenv("SM_MODEL_DIR", "/tmp/somewhere")
    settings = ServingSettings.from_env()
    assert settings.port == 9090
    assert settings.model_dir == Path("/tmp/somewhere")


@pytest.mark.parametrize(
    ("env", "attribute", "expected"),
    [
        ({"SAGEMAKER_BIND_TO_PORT": "9000"}, "port", 9000),
        ({"SAGEMAKER_BIND_TO_PORT": " 8081 "}, "port", 8081),
        ({"SAGEMAKER_BIND_TO_PORT": ""}, "port", 8080),
        ({"SAGEMAKER_BIND_TO_PORT": "   "}, "port", 8080),
        ({"SAGEMAKER_MODEL_SERVER_WORKERS": "3"}, "workers", 3),
        ({"SAGEMAKER_MODEL_SERVER_TIMEOUT": "120"}, "timeout_s", 120),
        (
            {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json"},
            "default_accept",
            "application/json",
        ),
        (
            {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "Application/JSONLines; charset=utf-8"},
            "default_accept",
            "application/jsonlines",
        ),
        (
            {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/x-ndjson"},
            "default_accept",
            "application/jsonlines",
        ),
        ({"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}, "default_accept", "text/csv"),
        ({"SAGEMAKER_BATCH": "true"}, "batch", True),
        ({"SAGEMAKER_BATCH": "TRUE"}, "batch", True),
        ({"SAGEMAKER_BATCH": "1"}, "batch", True),
        ({"SAGEMAKER_BATCH": "yes"}, "batch", True),
        ({"SAGEMAKER_BATCH": "false"}, "batch", False),
        ({"SAGEMAKER_BATCH": "0"}, "batch", False),
        ({"SAGEMAKER_BATCH": "off"}, "batch", False),
        ({"SAGEMAKER_BATCH_STRATEGY": "single_record"}, "batch_strategy", "SINGLE_RECORD"),
        ({"SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD"}, "batch_strategy", "MULTI_RECORD"),
        ({"SM_MODEL_DIR": "/models/abalone"}, "model_dir", Path("/models/abalone")),
        ({"SERVE_THREADS": "4"}, "threads", 4),
        ({"SERVE_KEEPALIVE": "0"}, "keepalive_s", 0),
        ({"SERVE_KEEPALIVE": "300"}, "keepalive_s", 300),
        ({"SERVE_ACCESS_LOG": "false"}, "access_log", False),
        ({"SERVE_ACCESS_LOG": "on"}, "access_log", True),
        ({"SERVE_LOG_LEVEL": "DEBUG"}, "log_level", "debug"),
        ({"SERVE_LOG_LEVEL": "warning"}, "log_level", "warning"),
    ],
)
def test_each_variable(env: dict[str, str], attribute: str, expected):
    assert getattr(ServingSettings.from_env(env), attribute) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SAGEMAKER_BIND_TO_PORT", "http"),
        ("SAGEMAKER_BIND_TO_PORT", "0"),
        ("SAGEMAKER_BIND_TO_PORT", "65536"),
        ("SAGEMAKER_BIND_TO_PORT", "80.5"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "0"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "-2"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "many"),
        ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "0"),
        ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "1m"),
        ("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/html"),
        ("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/libsvm"),
        ("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "*/*"),
        ("SAGEMAKER_BATCH", "maybe"),
        ("SAGEMAKER_BATCH_STRATEGY", "ALL_AT_ONCE"),
        ("SERVE_THREADS", "0"),
        ("SERVE_THREADS", "65"),
        ("SERVE_KEEPALIVE", "-1"),
        ("SERVE_ACCESS_LOG", "sometimes"),
        ("SERVE_LOG_LEVEL", "verbose"),
    ],
)
def test_invalid_value_names_the_variable(name: str, value: str):
    with pytest.raises(SettingsError) as caught:
        ServingSettings.from_env({name: value})
    assert name in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "0"),
        ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "101"),
        ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "big"),
        ("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", "0"),
        ("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", "x"),
    ],
)
def test_invalid_batch_value_names_the_variable(name: str, value: str):
    with pytest.raises(SettingsError, match=name):
        ServingSettings.from_env({"SAGEMAKER_BATCH": "true", name: value})


@pytest.mark.parametrize(
    "env",
    [
        {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "50"},
        {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "not a number"},
        {"SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "1"},
        {"SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "-1"},
        {"SAGEMAKER_BATCH": "false", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "100"},
    ],
)
def test_batch_only_variables_are_ignored_outside_batch(env: dict[str, str]):
    settings = ServingSettings.from_env({"SAGEMAKER_MODEL_SERVER_WORKERS": "4", **env})
    assert settings.max_payload_mb == 6
    assert settings.max_body_bytes == 6 * MIB
    assert settings.workers == 4


def test_batch_defaults():
    settings = from_env(SAGEMAKER_BATCH="true", SAGEMAKER_MODEL_SERVER_WORKERS="8")
    assert settings.batch
    assert settings.timeout_s == 600
    assert settings.max_payload_mb == 6
    assert settings.max_concurrent_transforms == 8
    assert settings.workers == 8


def test_batch_payload_sets_body_limit_and_caps_concurrency():
    settings = from_env(
        SAGEMAKER_BATCH="true", SAGEMAKER_MAX_PAYLOAD_IN_MB="20", SAGEMAKER_MODEL_SERVER_WORKERS="8"
    )
    assert settings.max_payload_mb == 20
    assert settings.max_body_bytes == 20 * MIB
    assert settings.max_concurrent_transforms == 5
    assert settings.workers == 5


def test_batch_max_concurrent_transforms_caps_workers():
    settings = from_env(
        SAGEMAKER_BATCH="true",
        SAGEMAKER_MODEL_SERVER_WORKERS="8",
        SAGEMAKER_MAX_CONCURRENT_TRANSFORMS="2",
    )
    assert settings.max_concurrent_transforms == 2
    assert settings.workers == 2


def test_batch_timeout_can_be_overridden():
    settings = from_env(SAGEMAKER_BATCH="true", SAGEMAKER_MODEL_SERVER_TIMEOUT="1200")
    assert settings.timeout_s == 1200


@pytest.mark.parametrize("payload_mb", [1, 5, 6, 7, 20, 33, 34, 50, 51, 99, 100])
@pytest.mark.parametrize("workers", [1, 2, 3, 16, 64, 256])
def test_batch_budget_holds_for_derived_concurrency(payload_mb: int, workers: int):
    settings = from_env(
        SAGEMAKER_BATCH="true",
        SAGEMAKER_MAX_PAYLOAD_IN_MB=str(payload_mb),
        SAGEMAKER_MODEL_SERVER_WORKERS=str(workers),
    )
    assert settings.max_concurrent_transforms >= 1
    assert settings.max_payload_mb * settings.max_concurrent_transforms <= BATCH_PAYLOAD_BUDGET_MB
    assert settings.workers <= settings.max_concurrent_transforms


@pytest.mark.parametrize(
    ("payload_mb", "concurrency"), [(50, 4), (100, 2), (6, 20), (1, 101), (34, 3)]
)
def test_batch_budget_holds_for_explicit_concurrency(payload_mb: int, concurrency: int):
    # SageMaker refuses MaxPayloadInMB x MaxConcurrentTransforms > 100, and /execution-parameters
    # reports these values to it: an over-budget pair must be refused (naming the variable) or
    # brought within the budget, never served as is.
    env = {
        "SAGEMAKER_BATCH": "true",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(payload_mb),
        "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(concurrency),
        "SAGEMAKER_MODEL_SERVER_WORKERS": "4",
    }
    try:
        settings = ServingSettings.from_env(env)
    except SettingsError as exc:
        assert "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS" in str(exc)
    else:
        product = settings.max_payload_mb * settings.max_concurrent_transforms
        assert product <= BATCH_PAYLOAD_BUDGET_MB


def test_realtime_concurrency_stays_within_budget():
    settings = from_env(SAGEMAKER_MODEL_SERVER_WORKERS="64")
    assert settings.max_payload_mb * settings.max_concurrent_transforms <= BATCH_PAYLOAD_BUDGET_MB


def test_usable_cpus_is_within_the_affinity_mask():
    assert 1 <= usable_cpus() <= len(os.sched_getaffinity(0))


class _RecordingEnv(dict):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


def test_environment_specs_are_exactly_the_variables_read():
    env = _RecordingEnv(SAGEMAKER_BATCH="true")
    ServingSettings.from_env(env)
    assert env.read == {spec.name for spec in SERVING_ENVIRONMENT}


def test_environment_specs_are_described_and_their_defaults_are_the_settings_defaults():
    names = [spec.name for spec in SERVING_ENVIRONMENT]
    assert len(names) == len(set(names))
    defaults = ServingSettings.from_env({"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})
    for spec in SERVING_ENVIRONMENT:
        assert spec.name.isupper() and spec.default and spec.doc
        assert (spec.low is None) == (spec.high is None)
        if spec.low is not None and spec.default.isdigit():  # a documented number is used
            assert spec.low <= int(spec.default) <= spec.high
            assert int(spec.default) in vars(defaults).values(), spec.name
        if spec.options:
            assert spec.default in spec.options
    assert defaults == ServingSettings()


BOUNDED = [spec for spec in SERVING_ENVIRONMENT if spec.high is not None]


@pytest.mark.parametrize("spec", BOUNDED, ids=lambda spec: spec.name)
def test_each_bounded_variable_refuses_a_value_past_its_range(spec):
    with pytest.raises(SettingsError, match=spec.name):
        ServingSettings.from_env({"SAGEMAKER_BATCH": "true", spec.name: str(spec.high + 1)})
