"""deploy.configs and deploy.registry against moto_server's model registry: the newest Approved
version wins over newer unapproved and older approved ones, and each stage's config is filled in."""

from __future__ import annotations

import json

import pytest

from deploy import configs, registry
from deploy.cli import DeployError
from tests.deploy.conftest import REPO, add_package

PARAMS = REPO / "deploy" / "params"
BOOTSTRAP_TEMPLATE = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\nOutputs:\n" + "".join(
    f"  {key}:\n    Value: {value}\n"
    for key, value in {
        "SageMakerExecutionRoleArn": "arn:aws:iam::123456789012:role/abalone-sagemaker-execution",
        "CloudFormationStagingRoleArn": "arn:aws:iam::123456789012:role/abalone-cfn-staging",
        "CloudFormationProdRoleArn": "arn:aws:iam::123456789012:role/abalone-cfn-prod",
        "ArtifactBucket": "abalone-artifacts",
    }.items()
)


def approve(sagemaker, arn: str, status: str = "Approved") -> None:
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)


def test_latest_approved_is_the_newest_approved_version(boto):
    sagemaker = boto("sagemaker")
    versions = [add_package(sagemaker) for _ in range(5)]
    approve(sagemaker, versions[0])
    approve(sagemaker, versions[1])
    approve(sagemaker, versions[3])
    approve(sagemaker, versions[4], "Rejected")
    add_package(sagemaker, "other-group", status="Approved")  # newer, but another group
    package = registry.latest_approved(sagemaker, "abalone")
    assert (package.arn, package.version) == (versions[3], 4)


def test_approval_order_does_not_matter_only_creation_order(boto):
    sagemaker = boto("sagemaker")
    older, newer = add_package(sagemaker), add_package(sagemaker)
    approve(sagemaker, newer)
    approve(sagemaker, older)  # approved last, but created first
    assert registry.latest_approved(sagemaker, "abalone").arn == newer


def test_no_approved_package_is_a_clear_error(boto):
    sagemaker = boto("sagemaker")
    add_package(sagemaker)
    with pytest.raises(DeployError, match="no Approved model package in group 'abalone'"):
        registry.latest_approved(sagemaker, "abalone")


def test_a_pinned_package_must_be_approved_and_in_the_group(boto):
    sagemaker = boto("sagemaker")
    pending = add_package(sagemaker)
    elsewhere = add_package(sagemaker, "other-group", status="Approved")
    with pytest.raises(DeployError, match="PendingManualApproval, not Approved"):
        registry.approved_package(sagemaker, pending, "abalone")
    with pytest.raises(DeployError, match="belongs to group 'other-group'"):
        registry.approved_package(sagemaker, elsewhere, "abalone")
    approve(sagemaker, pending)
    assert registry.approved_package(sagemaker, pending, "abalone").version == 1


@pytest.fixture()
def bootstrap(boto):
    boto("cloudformation").create_stack(
        StackName="abalone-bootstrap", TemplateBody=BOOTSTRAP_TEMPLATE
    )


def test_cli_writes_each_stage_config_with_the_package_and_bootstrap_outputs(
    boto, bootstrap, tmp_path, monkeypatch, capsys
):
    sagemaker = boto("sagemaker")
    old, new = add_package(sagemaker, status="Approved"), add_package(sagemaker, status="Approved")
    github_output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(github_output))
    out_dir = tmp_path / "deploy"
    args = ["--stage", "staging", "--stage", "prod", "--output-dir", str(out_dir)]
    assert configs.main([*args, "--params-dir", str(PARAMS)]) == 0
    staging = json.loads((out_dir / "staging.json").read_text())
    prod = json.loads((out_dir / "prod.json").read_text())
    assert staging["ModelPackageArn"] == prod["ModelPackageArn"] == new != old
    assert staging["StackName"] == "abalone-endpoint-staging"
    # Each stage's stack is deployed by CloudFormation with that stage's own service role.
    assert staging["RoleArn"] == "arn:aws:iam::123456789012:role/abalone-cfn-staging"
    assert prod["RoleArn"] == "arn:aws:iam::123456789012:role/abalone-cfn-prod"
    assert staging["Parameters"]["ModelPackageArn"] == new
    assert staging["Parameters"]["ExecutionRoleArn"].endswith(":role/abalone-sagemaker-execution")
    assert (
        prod["Parameters"]["DataCaptureS3Uri"] == "s3://abalone-artifacts/data-capture/abalone-prod"
    )
    assert prod["Tags"]["model-package-version"] == "2"
    assert github_output.read_text() == f"model_package_arn={new}\n"
    assert f"model package: {new} (version 2" in capsys.readouterr().out


def test_cli_pins_the_package_that_passed_staging(boto, bootstrap, tmp_path):
    sagemaker = boto("sagemaker")
    staged = add_package(sagemaker, status="Approved")
    add_package(sagemaker, status="Approved")  # approved while staging ran: prod must not take it
    out_dir = tmp_path / "deploy"
    code = configs.main(
        [
            "--stage",
            "prod",
            "--model-package-arn",
            staged,
            "--output-dir",
            str(out_dir),
            "--params-dir",
            str(PARAMS),
        ]
    )
    assert code == 0
    assert json.loads((out_dir / "prod.json").read_text())["ModelPackageArn"] == staged


def test_cli_fails_readably_when_nothing_is_approved(boto, bootstrap, tmp_path, capsys):
    add_package(boto("sagemaker"))
    code = configs.main(["--stage", "staging", "--output-dir", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no Approved model package in group 'abalone'")
    assert "Traceback" not in err
    assert not (tmp_path / "staging.json").exists()


def test_unknown_placeholder_names_the_file_and_the_known_values(tmp_path):
    params = {"StackName": "s", "Parameters": {"Bucket": "${NoSuchOutput}"}}
    package = registry.Package(arn="arn", group="abalone", version=1, created="now")
    with pytest.raises(DeployError, match=r"p.json: Parameters.Bucket uses \$\{NoSuchOutput\}"):
        configs.stage_config(params, package, {"ArtifactBucket": "b"}, stage="x", source="p.json")


def test_a_parameter_file_without_its_role_is_refused():
    package = registry.Package(arn="arn", group="abalone", version=1, created="now")
    with pytest.raises(DeployError, match=r"p\.json has no RoleArn"):
        configs.stage_config({"StackName": "s"}, package, {}, stage="x", source="p.json")
