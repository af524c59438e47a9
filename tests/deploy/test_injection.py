"""No user value reaches a shell or make's own expansion: the make targets that take user values
refuse hostile ones before any AWS call and run nothing, and the workflows pass inputs and event
fields only through `env:`, checked against deploy.cli's pattern before use."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import cli
from tests.deploy.conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
GOOD_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/abalone/3"
#: Each writes a file named PWNED when a shell or make runs it.
HOSTILE = {
    "shell": "arn:x; touch PWNED",
    "make": "$(shell touch PWNED)",
    "quote": "x' ; touch PWNED ; echo '",
    "substitution": "`touch PWNED`$(touch PWNED)",
}
#: Target -> the make variables it needs besides the hostile one (so it gets as far as its command).
TARGETS = {
    "deploy-configs": {},
    "batch-transform": {"BATCH_INPUT": "s3://b/in/", "BATCH_OUTPUT": "s3://b/out/"},
}


def make(cwd: Path, target: str, *assignments: str, env: dict[str, str] | None = None):
    """`make -C <repo> TARGET` started from `cwd`, with the repository's .venv present."""
    # -o: never reinstall .venv here, even when pyproject.toml is newer than its stamp.
    command = ["make", "--no-print-directory", "-C", str(REPO), "-o", ".venv/.installed", target]
    command += assignments
    environ = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", **(env or {})}
    environ.pop("MAKEFLAGS", None)
    return subprocess.run(
        command, cwd=cwd, env=environ, capture_output=True, text=True, timeout=120, check=False
    )


def assert_no_pwned(*places: Path) -> None:
    for place in places:
        assert not (place / "PWNED").exists(), f"a hostile value ran a command in {place}"


@pytest.fixture()
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory where a hostile value's PWNED would land; none exists beforehand."""
    monkeypatch.chdir(tmp_path)
    assert_no_pwned(tmp_path, REPO)
    return tmp_path


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("target", TARGETS)
def test_hostile_package_arn_on_the_command_line_is_refused_and_runs_nothing(
    sandbox, target, value
):
    extra = [f"{key}={val}" for key, val in TARGETS[target].items()]
    result = make(sandbox, target, f"MODEL_PACKAGE_ARN={value}", *extra)
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"model package ARN {value!r} does not match" in result.stderr
    assert cli.MODEL_PACKAGE_ARN_PATTERN in result.stderr
    assert_no_pwned(sandbox, REPO, REPO / "build", REPO / "build" / "deploy")


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_package_arn_from_the_environment_is_refused_and_runs_nothing(sandbox, value):
    """How the Deploy workflow passes it: an environment variable, not a make argument."""
    result = make(sandbox, "deploy-configs", "STAGES=staging", env={"MODEL_PACKAGE_ARN": value})
    assert result.returncode != 0
    assert f"model package ARN {value!r} does not match" in result.stderr
    assert_no_pwned(sandbox, REPO)


@pytest.mark.parametrize(
    ("variable", "target", "message"),
    [
        ("STAGES", "deploy-configs", "does not match ^[a-z]"),
        ("STAGE", "deploy-stage", "cannot read config"),
        ("STAGE", "smoke", ""),
        ("BATCH_INPUT", "batch-transform", "--input must be an s3:// URI"),
        ("BATCH_INSTANCE_COUNT", "batch-transform", "is not a number from 1 to 100"),
        ("GITHUB_REPOSITORY", "deploy-bootstrap", ""),
        ("TRAIN_MODE", "pipeline-definition", "invalid choice"),
    ],
)
@pytest.mark.parametrize("value", [HOSTILE["shell"], HOSTILE["make"]], ids=["shell", "make"])
def test_other_user_values_reach_no_shell(sandbox, variable, target, message, value):
    """Every deployment target taking a user value fails on a hostile one without running it.
    The AWS calls these could make go to a closed port (AWS_ENDPOINT_URL), never to AWS."""
    extra = TARGETS["batch-transform"] if target == "batch-transform" else {}
    extra = {key: val for key, val in extra.items() if key != variable}
    assignments = [f"{variable}={value}", *(f"{k}={v}" for k, v in extra.items())]
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "us-east-1"}
    env |= {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_MAX_ATTEMPTS": "1"}
    result = make(sandbox, target, *assignments, env=env)
    assert result.returncode != 0, result.stdout + result.stderr
    assert message in result.stderr
    assert_no_pwned(sandbox, REPO, REPO / "build", REPO / "build" / "deploy")


def test_a_good_arn_passes_the_check_and_an_empty_one_means_the_newest():
    assert cli.model_package_arn(GOOD_ARN) == GOOD_ARN
    assert cli.model_package_arn("") == ""
    for bad in [*HOSTILE.values(), GOOD_ARN + "\n", GOOD_ARN.replace("/3", "/x"), "abalone/3"]:
        with pytest.raises(Exception, match="does not match"):
            cli.model_package_arn(bad)


# --- the workflows ------------------------------------------------------------------------------

#: How a workflow's first step checks a commit SHA taken from an event.
SHA_CHECK = '[[ "$HEAD_SHA" =~ ^[0-9a-f]{40}$ ]]'
#: Expressions whose value someone other than the repository's admins can choose.
UNTRUSTED = re.compile(
    r"\$\{\{[^}]*\b(inputs\.|github\.event\.|github\.head_ref|needs\.[\w-]+\.outputs\.)"
)


def workflow(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def workflow_paths() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


@pytest.mark.parametrize("path", workflow_paths(), ids=lambda path: path.name)
def test_no_expression_inside_a_run_script(path):
    for name, job in workflow(path)["jobs"].items():
        for step in job.get("steps", []):
            script = step.get("run", "")
            assert "${{" not in script, f"{path.name}: job {name}: move it to env: {script!r}"


@pytest.mark.parametrize("path", workflow_paths(), ids=lambda path: path.name)
def test_untrusted_values_only_in_job_env_and_checked_by_the_first_step(path):
    """An input or event field is set once, as a job-level variable, and the job's first step
    checks every such variable against deploy.cli's pattern before anything else runs."""
    for name, job in workflow(path)["jobs"].items():
        for step in job.get("steps", []):
            for key in ("env", "with"):
                for value in (step.get(key) or {}).values():
                    assert not UNTRUSTED.search(str(value)), f"{path.name}: {name}: {value}"
        untrusted = [var for var, val in (job.get("env") or {}).items() if UNTRUSTED.search(val)]
        if not untrusted:
            continue
        check = job["steps"][0].get("run", "")
        for var in untrusted:
            pattern = (
                SHA_CHECK if var.endswith("SHA") else f"pattern='{cli.MODEL_PACKAGE_ARN_PATTERN}'"
            )
            assert pattern in check and var in check, f"{path.name}: {name}: {var}"


def test_the_build_workflows_commit_check_refuses_anything_but_a_sha():
    check = workflow(WORKFLOWS / "build.yml")["jobs"]["changes"]["steps"][0]["run"]
    for value, ok in [("0" * 40, True), ("main", False), (f"{'a' * 40}; touch PWNED", False)]:
        env = {"PATH": os.environ["PATH"], "HEAD_SHA": value}
        result = subprocess.run(
            ["bash", "-e", "-c", check], env=env, capture_output=True, check=False
        )
        assert (result.returncode == 0) is ok, value


def test_the_workflows_arn_check_refuses_what_the_cli_refuses():
    """Run the Deploy workflow's own check step in bash on good and hostile values."""
    check = workflow(WORKFLOWS / "deploy.yml")["jobs"]["staging"]["steps"][0]["run"]
    for value, ok in [("", True), (GOOD_ARN, True), *((bad, False) for bad in HOSTILE.values())]:
        env = {"PATH": os.environ["PATH"], "MODEL_PACKAGE_ARN": value, "EVENT_ARN": ""}
        result = subprocess.run(
            ["bash", "-e", "-c", check], env=env, capture_output=True, text=True, check=False
        )
        assert (result.returncode == 0) is ok, (value, result.stdout)


def test_the_deploy_workflow_input_is_the_one_it_checks():
    deploy = workflow(WORKFLOWS / "deploy.yml")
    on = deploy.get("on") or deploy[True]  # YAML 1.1 reads the key `on` as true
    assert set(on["workflow_dispatch"]["inputs"]) == {"model_package_arn"}
    env = deploy["jobs"]["staging"]["env"]
    assert env["MODEL_PACKAGE_ARN"] == "${{ inputs.model_package_arn }}"
    assert env["EVENT_ARN"] == "${{ github.event.client_payload.model_package_arn }}"


#: The local targets and the user value each passes to a command (each fails fast on a bad one).
LOCAL_TARGETS = [("model", "DATA"), ("evaluate", "DATA"), ("up", "MODEL_DIR")]


@pytest.mark.parametrize(("target", "variable"), LOCAL_TARGETS, ids=[t for t, _ in LOCAL_TARGETS])
@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_local_targets_pass_user_values_as_data(sandbox, target, variable, value):
    """The targets a user runs on a laptop treat DATA and MODEL_DIR as text too: the command
    gets the hostile value as one argument, fails on it, and nothing else runs."""
    result = make(sandbox, target, f"{variable}={value}")
    assert result.returncode != 0, result.stdout + result.stderr
    assert_no_pwned(sandbox, REPO, REPO / "build")


@pytest.mark.parametrize(
    ("given", "event", "deployed"),
    [
        ("", "", ""),  # started by hand without a package: the newest Approved
        ("", GOOD_ARN, GOOD_ARN),  # an approval event: exactly the package just approved
        (GOOD_ARN.replace("/3", "/1"), GOOD_ARN, GOOD_ARN.replace("/3", "/1")),  # input wins
    ],
)
def test_staging_deploys_the_approved_package_not_the_newest(tmp_path, given, event, deployed):
    """The configs step run by bash with a `make` that records its arguments."""
    steps = workflow(WORKFLOWS / "deploy.yml")["jobs"]["staging"]["steps"]
    (step,) = [s for s in steps if s.get("id") == "configs"]
    fake = tmp_path / "make"
    fake.write_text('#!/bin/bash\nprintf "%s\\n" "$@" > "$ARGS_FILE"\n')
    fake.chmod(0o755)
    env = {
        "PATH": f"{tmp_path}:{os.environ['PATH']}",
        "MODEL_PACKAGE_ARN": given,
        "EVENT_ARN": event,
        "ARGS_FILE": str(tmp_path / "args"),
    }
    subprocess.run(["bash", "-e", "-c", step["run"]], env=env, check=True, capture_output=True)
    args = (tmp_path / "args").read_text().splitlines()
    assert args == ["deploy-configs", "STAGES=staging", f"MODEL_PACKAGE_ARN={deployed}"]
