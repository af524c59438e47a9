"""deploy/README.md's walk-through as a test: every command of its ```bash blocks, in the README's
order, run against moto_server as an engineer would type it (placeholders filled in from what the
earlier steps printed). The commands are read from the README, and the test fails when they are
not the ones below, so the two cannot drift apart. Where moto cannot play a step, the step says
why and checks what it can (the request against botocore's model, or the test that covers it).

Also: every `make <target>` that any README names is a target of the Makefile.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from deploy.data import DATA_KEY
from tests.deploy.conftest import REPO

README = REPO / "deploy" / "README.md"
REGION = "eu-west-1"  # the README's `export AWS_REGION=eu-west-1`
ACCOUNT = "123456789012"  # moto's account, the README's example account too
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.DOTALL | re.MULTILINE)


def readme_commands(text: str) -> list[str]:
    """The commands of every ```bash block: continuation lines joined, comments dropped."""
    commands = []
    for block in BASH_BLOCK.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(" ".join(line.split()))
    return commands


@dataclass
class Walk:
    """The account as the walk-through builds it: the environment and what earlier steps made."""

    env: dict[str, str]
    tmp: Path
    values: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def fill(self, command: str) -> str:
        for name, value in self.values.items():
            command = command.replace(f"<{name}>", value)
        assert "<" not in command, f"a placeholder no earlier step filled: {command}"
        return command

    def sh(self, command: str, *, ok: bool = True) -> subprocess.CompletedProcess[str]:
        """The command in bash from the repository root, with make kept off .venv's install."""
        command = re.sub(r"\bmake ", "make --no-print-directory -o .venv/.installed ", command)
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", self.fill(command)],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.log.append(f"$ {command}\n{result.stdout}{result.stderr}")
        assert (result.returncode == 0) is ok, self.log[-1]
        return result


Step = Callable[[Walk, str], None]


def run(walk: Walk, command: str) -> None:
    walk.sh(command)


def already_installed(walk: Walk, command: str) -> None:
    """`make install` made the .venv these tests run from; the other steps use it as is."""
    assert (REPO / ".venv" / ".installed").exists()


def export_region(walk: Walk, command: str) -> None:
    """AWS_REGION as given; moto has no profile `admin`: its dummy keys stand in for it."""
    assert command == "export AWS_PROFILE=admin AWS_REGION=eu-west-1"
    walk.env["AWS_REGION"] = walk.env["AWS_DEFAULT_REGION"] = REGION


def bootstrap(walk: Walk, command: str) -> None:
    """On moto, but moto's CloudFormation skips AWS::SageMaker::ModelPackageGroup: the group is
    made here with the template's own name and description, as the stack would."""
    out = walk.sh(command).stdout
    outputs = dict(re.findall(r"^  (\w+) = (\S+)$", out, re.MULTILINE))
    assert outputs["ModelPackageGroupName"] == "abalone"
    walk.values.update(outputs)
    sagemaker = walk.client("sagemaker")
    if not sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]:
        sagemaker.create_model_package_group(
            ModelPackageGroupName="abalone",
            ModelPackageGroupDescription="abalone: XGBoost rings regressor (abalone-byom)",
        )


def read_token(walk: Walk, command: str) -> None:
    """`read -rs` waits for a person: the token comes from the environment instead."""
    assert command == "read -rs GITHUB_DISPATCH_TOKEN && export GITHUB_DISPATCH_TOKEN"
    walk.env["GITHUB_DISPATCH_TOKEN"] = "github_pat_walkthrough"


def auto_deploy(walk: Walk, command: str) -> None:
    """Half on moto: the change set is created with the token from the environment, but moto's
    CloudFormation skips the EventBridge connection and API destination, so executing it fails
    on the rule's GetAtt of them. test_auto_deploy plays the rule's event pattern on moto's
    EventBridge; cfn-lint and checkov read the rest of the template."""
    failed = walk.sh(command, ok=False)
    assert "executing create change set" in failed.stdout
    assert "Fn::GetAtt references undefined resource RepositoryDispatch" in failed.stderr
    assert "github_pat_walkthrough" not in failed.stdout + failed.stderr


def build_and_push(walk: Walk, command: str) -> None:
    """Not on moto: moto's ECR has no registry (v2) API for `docker push`, and the image build
    needs Docker. test_push_image pushes the real image to a local registry with the same
    script; here the image URI is the bootstrap's repository with a digest."""
    assert command == "make build push-image"
    walk.values["image_uri"] = f"{walk.values['ImageRepositoryUri']}@sha256:{'ab' * 32}"


def upload_data(walk: Walk, command: str) -> None:
    walk.sh(command)
    s3 = walk.client("s3")
    head = s3.head_object(Bucket=walk.values["ArtifactBucket"], Key=DATA_KEY)
    assert head["Metadata"]["sha256"]


def run_pipeline(walk: Walk, command: str) -> None:
    """moto runs no step: the execution Succeeds at once and registers nothing, so the model
    packages the Register step would create are created here (three versions, so that the
    README's example ARN, version 3, is a real one)."""
    out = walk.sh(command).stdout
    assert "upserted pipeline abalone-pipeline" in out and "succeeded" in out
    sagemaker = walk.client("sagemaker")
    described = sagemaker.describe_pipeline(PipelineName="abalone-pipeline")
    definition = json.loads(described["PipelineDefinition"])
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert defaults["InputDataUri"] == f"s3://{walk.values['ArtifactBucket']}/{DATA_KEY}"
    assert defaults["ImageUri"] == walk.values["image_uri"]
    assert described["RoleArn"] == walk.values["SageMakerExecutionRoleArn"]
    for _ in range(3):
        sagemaker.create_model_package(
            ModelPackageGroupName="abalone",
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": walk.values["image_uri"],
                        "ModelDataUrl": f"s3://{walk.values['ArtifactBucket']}/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )


def list_packages(walk: Walk, command: str) -> None:
    listed = json.loads(walk.sh(command).stdout)["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in listed] == [3, 2, 1]
    walk.values["arn"] = listed[0]["ModelPackageArn"]


def approve(walk: Walk, command: str) -> None:
    walk.sh(command)
    package = walk.client("sagemaker").describe_model_package(ModelPackageName=walk.values["arn"])
    assert package["ModelApprovalStatus"] == "Approved"


def deploy_configs(walk: Walk, command: str) -> None:
    out = walk.sh(command).stdout
    assert f"model package: {walk.values['arn']}" in out
    stages = re.findall(r"wrote build/deploy/(\w+)\.json", out)
    for stage in stages:
        config = json.loads((REPO / "build" / "deploy" / f"{stage}.json").read_text())
        assert config["ModelPackageArn"] == walk.values["arn"]


def deploy_and_smoke(walk: Walk, command: str) -> None:
    """The deploy runs on moto (with bake traffic and the serving-config check). The smoke
    test does not: moto's runtime gives canned answers and no ModelError, so the smoke test
    runs against the compose endpoint in test_smoke; here its request is checked against
    botocore's InvokeEndpoint model."""
    deploy, smoke = (part.strip() for part in command.split("&&"))
    out = walk.sh(deploy).stdout
    assert "InService on the stack's config" in out and "bake traffic" in out
    stage = smoke.rsplit("=", 1)[1]
    walk.values[f"{stage}_outputs"] = out
    operation = walk.client("sagemaker-runtime").meta.service_model.operation_model(
        "InvokeEndpoint"
    )
    assert {"EndpointName", "Body", "ContentType", "Accept"} <= set(operation.input_shape.members)
    assert re.fullmatch(
        operation.input_shape.members["EndpointName"].metadata["pattern"], f"abalone-{stage}"
    )


def pin_version(walk: Walk, command: str) -> None:
    deploy_configs(walk, command)
    config = json.loads((REPO / "build" / "deploy" / "prod.json").read_text())
    assert config["ModelPackageVersion"] == 3


def batch(walk: Walk, command: str) -> None:
    out = walk.sh(command).stdout
    assert "Completed" in out and "deleted the job's model" in out


def deploy_monitoring(walk: Walk, command: str) -> None:
    """moto creates the stack's roles and skips the schedule, metric filters and alarm
    (test_monitoring checks those against botocore's model and monitoring.metrics)."""
    out = walk.sh(command).stdout
    assert "stack abalone-prod-monitoring: CREATE_COMPLETE" in out
    assert f"s3://{walk.values['ArtifactBucket']}/monitoring/abalone-prod/" in out


#: The README's commands, in its order, and what each step does here.
STEPS: list[tuple[str, Step]] = [
    ("make install", already_installed),
    ("export AWS_PROFILE=admin AWS_REGION=eu-west-1", export_region),
    ("make deploy-bootstrap GITHUB_REPOSITORY=acme/abalone-byom", bootstrap),
    (
        "make deploy-bootstrap GITHUB_REPOSITORY=acme/abalone-byom OIDC_PROVIDER_ARN="
        "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        bootstrap,
    ),
    ("read -rs GITHUB_DISPATCH_TOKEN && export GITHUB_DISPATCH_TOKEN", read_token),
    ("make deploy-auto-deploy GITHUB_REPOSITORY=acme/abalone-byom", auto_deploy),
    ("make build push-image", build_and_push),
    ("make upload-data", upload_data),
    (
        "IMAGE_URI=<image_uri> SAGEMAKER_PIPELINE_ROLE_ARN=<SageMakerExecutionRoleArn> "
        "ARTIFACT_BUCKET=<ArtifactBucket> make run-pipeline",
        run_pipeline,
    ),
    (
        "aws sagemaker list-model-packages --model-package-group-name abalone "
        "--sort-by CreationTime --sort-order Descending --max-results 5",
        list_packages,
    ),
    (
        "aws sagemaker update-model-package --model-approval-status Approved "
        "--model-package-arn arn:aws:sagemaker:eu-west-1:123456789012:model-package/abalone/3",
        approve,
    ),
    ("make deploy-configs", deploy_configs),
    ("make deploy-stage STAGE=staging && make smoke STAGE=staging", deploy_and_smoke),
    ("make deploy-stage STAGE=prod && make smoke STAGE=prod", deploy_and_smoke),
    ("make deploy-configs STAGES=prod MODEL_PACKAGE_ARN=<arn>", pin_version),
    (
        "make batch-transform BATCH_INPUT=s3://<ArtifactBucket>/batch/in/ "
        "BATCH_OUTPUT=s3://<ArtifactBucket>/batch/out/",
        batch,
    ),
    ("make deploy-monitoring STAGE=prod", deploy_monitoring),
]


def test_the_readme_commands_are_the_walkthrough_steps():
    assert readme_commands(README.read_text()) == [command for command, _ in STEPS]


@pytest.fixture()
def walk(moto_url: str, tmp_path: Path) -> Walk:
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env |= {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
    }
    if os.environ.get("ABALONE_DATA"):
        env["DATA"] = os.environ["ABALONE_DATA"]
    return Walk(env=env, tmp=tmp_path)


def test_the_walkthrough_runs_from_an_empty_account_to_prod(walk):
    """Every README step in order; then a SageMaker-side rollback is caught by deploy-stage."""
    for command, step in STEPS:
        step(walk, command)
    # When it goes wrong: SageMaker rolled an update back on its own (its alarms fired) and the
    # stack still reports success. moto has no UpdateEndpoint: the endpoint is made again on the
    # old config, which is what a rollback leaves.
    sagemaker = walk.client("sagemaker")
    endpoint = re.search(r"EndpointName = (\S+)", walk.values["staging_outputs"]).group(1)
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="rolled-back", ProductionVariants=config["ProductionVariants"]
    )
    sagemaker.delete_endpoint(EndpointName=endpoint)
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName="rolled-back")
    failed = walk.sh("make deploy-stage STAGE=staging", ok=False)
    assert "serves config rolled-back, not the stack's" in failed.stderr


MAKE_IN_CODE = re.compile(r"`make ([^`]+)`|^\s*(?:[A-Z_]+=\S+\s+)*make ([^#\n]+)", re.MULTILINE)


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*)\s*:(?!=)", text, re.MULTILINE))


def named_targets(text: str) -> set[str]:
    """Targets after `make` in code: inline `make ...` spans and lines of code blocks."""
    names = set()
    for inline, line in MAKE_IN_CODE.findall(text):
        collecting = True
        for word in (inline or line).split():
            word = word.rstrip(",.;:)")
            if word == "make":  # `make a && make b`, `make a, make b` on one line
                collecting = True
            elif collecting and re.fullmatch(r"[a-z][a-z0-9-]*", word):
                names.add(word)
            else:
                collecting = False
    return names


def test_the_target_reader_finds_targets_and_nothing_else():
    text = "run `make a b X=1 c`\n```bash\nX=1 make d && make e STAGE=x  # make f\n```\n"
    assert named_targets(text) == {"a", "b", "d", "e"}


@pytest.mark.parametrize(
    "path",
    sorted(p for p in REPO.rglob("*.md") if not {".venv", "build", "node_modules"} & set(p.parts)),
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_every_make_target_a_readme_names_exists(path):
    missing = named_targets(path.read_text()) - makefile_targets()
    assert not missing, f"{path.relative_to(REPO)} names make targets that do not exist: {missing}"


def test_every_user_variable_gets_its_default_before_it_is_exported():
    """`export X` defines an undefined X as empty; a `X ?= default` after it keeps the empty
    value. So every user variable with a default must get it above the export line."""
    text = (REPO / "Makefile").read_text()
    export_at = text.index("export $(USER_VARIABLES)")
    names = re.search(r"^USER_VARIABLES := ((?:.*\\\n)*.*)$", text, re.MULTILINE).group(1)
    for name in names.replace("\\\n", " ").split():
        for default in re.finditer(rf"^{name}\s*\?=", text, re.MULTILINE):
            assert default.start() < export_at, f"{name} gets its default after the export"
