"""deploy.stacks against moto_server: the bootstrap and endpoint stacks create, update, no-op and
report outputs; a rollback fails with the events that caused it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy import rollout, stacks
from tests.deploy.conftest import REPO, add_package

TEMPLATES = REPO / "deploy" / "templates"
ROLE_OUTPUTS = (
    "SageMakerExecutionRoleArn",
    "CloudFormationStagingRoleArn",
    "CloudFormationProdRoleArn",
    "GitHubBuildRoleArn",
    "GitHubStagingRoleArn",
    "GitHubProdRoleArn",
)
FAST = stacks.Waiting(poll_s=0.05, timeout_s=30)
BOOTSTRAP = stacks.StackSpec(
    name="abalone-bootstrap",
    template_body=(TEMPLATES / "bootstrap.yaml").read_text(),
    parameters={"GitHubRepository": "acme/abalone-byom"},
    capabilities=("CAPABILITY_NAMED_IAM",),
)


def endpoint_spec(package_arn: str, role_arn: str, **parameters: str) -> stacks.StackSpec:
    return stacks.StackSpec(
        name="abalone-endpoint-staging",
        template_body=(TEMPLATES / "endpoint.yaml").read_text(),
        parameters={
            "EndpointName": "abalone-staging",
            "Stage": "staging",
            "ModelPackageArn": package_arn,
            "ExecutionRoleArn": role_arn,
            **parameters,
        },
        tags={"project": "abalone-byom"},
    )


def test_bootstrap_creates_what_the_rest_needs(boto, capsys):
    outputs = stacks.deploy(boto("cloudformation"), BOOTSTRAP, FAST)
    assert "executing create change set" in capsys.readouterr().out
    assert outputs["ImageRepositoryUri"].endswith("/abalone-byom")
    assert outputs["ModelPackageGroupName"] == "abalone"
    repository = boto("ecr").describe_repositories(repositoryNames=["abalone-byom"])
    assert repository["repositories"][0]["imageTagMutability"] == "IMMUTABLE"
    # Scan on push, lifecycle policy: moto drops them from CloudFormation (test_templates has them).
    iam = boto("iam")
    for key in ROLE_OUTPUTS:
        role = iam.get_role(RoleName=outputs[key].rsplit("/", 1)[1])["Role"]
        assert role["Arn"] == outputs[key]
    s3 = boto("s3")
    encryption = s3.get_bucket_encryption(Bucket=outputs["ArtifactBucket"])
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    # Public access block: moto drops it from CloudFormation (test_templates reads it).


@pytest.mark.parametrize(
    ("output", "subject"),
    [
        ("GitHubBuildRoleArn", "repo:acme/abalone-byom:ref:refs/heads/main"),
        ("GitHubStagingRoleArn", "repo:acme/abalone-byom:environment:staging"),
        ("GitHubProdRoleArn", "repo:acme/abalone-byom:environment:prod"),
    ],
)
def test_each_github_role_trusts_only_its_own_oidc_subject(boto, output, subject):
    outputs = stacks.deploy(boto("cloudformation"), BOOTSTRAP, FAST)
    role = boto("iam").get_role(RoleName=outputs[output].rsplit("/", 1)[1])
    trust = role["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert condition["token.actions.githubusercontent.com:sub"] == subject


def test_bootstrap_update_and_no_op(boto, capsys):
    cfn = boto("cloudformation")
    stacks.deploy(cfn, BOOTSTRAP, FAST)
    stacks.deploy(cfn, BOOTSTRAP, FAST)
    assert "no changes, nothing to deploy" in capsys.readouterr().out
    changed = stacks.StackSpec(
        **{
            **BOOTSTRAP.__dict__,
            "parameters": {**BOOTSTRAP.parameters, "RepositoryName": "abalone-byom-2"},
        }
    )
    outputs = stacks.deploy(cfn, changed, FAST)
    assert "executing update change set" in capsys.readouterr().out
    assert outputs["ImageRepositoryUri"].endswith("/abalone-byom-2")
    assert cfn.describe_stacks(StackName="abalone-bootstrap")["Stacks"][0]["StackStatus"] == (
        "UPDATE_COMPLETE"
    )


@pytest.fixture()
def bootstrap_outputs(boto) -> dict[str, str]:
    return stacks.deploy(boto("cloudformation"), BOOTSTRAP, FAST)


def test_endpoint_stack_create_update_no_op(boto, bootstrap_outputs, capsys):
    cfn, sagemaker = boto("cloudformation"), boto("sagemaker")
    role = bootstrap_outputs["SageMakerExecutionRoleArn"]
    first = add_package(sagemaker, status="Approved")
    created = stacks.deploy(cfn, endpoint_spec(first, role), FAST)
    # moto ignores EndpointName (a known gap): the name is read from the outputs, as the scripts do.
    endpoint = sagemaker.describe_endpoint(EndpointName=created["EndpointName"])
    assert endpoint["EndpointStatus"] == "InService"
    assert created["EndpointArn"] == endpoint["EndpointArn"]
    assert created["ModelPackageArn"] == first
    model = sagemaker.describe_model(ModelName=created["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == first
    assert model["ExecutionRoleArn"] == role

    assert stacks.deploy(cfn, endpoint_spec(first, role), FAST) == created
    assert "no changes, nothing to deploy" in capsys.readouterr().out

    second = add_package(sagemaker, status="Approved")
    updated = stacks.deploy(cfn, endpoint_spec(second, role), FAST)
    assert updated["ModelPackageArn"] == second
    assert updated["ModelName"] != created["ModelName"]  # a new Model replaces the old one
    assert sagemaker.describe_model(ModelName=updated["ModelName"])["PrimaryContainer"] == {
        "ModelPackageName": second
    }
    status = cfn.describe_stacks(StackName="abalone-endpoint-staging")["Stacks"][0]["StackStatus"]
    assert status == "UPDATE_COMPLETE"


def test_deploy_stage_cli_create_update_and_no_op(boto, bootstrap_outputs, tmp_path, capsys):
    sagemaker = boto("sagemaker")
    role = bootstrap_outputs["SageMakerExecutionRoleArn"]
    config = tmp_path / "staging.json"
    template = str(TEMPLATES / "endpoint.yaml")

    def deploy_with(package_arn: str) -> str:
        spec = endpoint_spec(package_arn, role)
        body = {"StackName": spec.name, "Parameters": spec.parameters, "Tags": spec.tags}
        config.write_text(json.dumps(body))
        assert stacks.main(["deploy", "--template", template, "--config", str(config)]) == 0
        return capsys.readouterr().out

    first = add_package(sagemaker, status="Approved")
    assert "executing create change set" in deploy_with(first)
    assert "no changes" in deploy_with(first)
    out = deploy_with(add_package(sagemaker, status="Approved"))
    assert "executing update change set" in out
    assert "UPDATE_COMPLETE" in out
    assert "EndpointArn = arn:aws:sagemaker:" in out


def test_deploy_cli_reports_a_missing_config_without_traceback(aws, tmp_path, capsys):
    code = stacks.main(
        [
            "deploy",
            "--template",
            str(TEMPLATES / "endpoint.yaml"),
            "--config",
            str(tmp_path / "missing.json"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read config")
    assert "Traceback" not in err


def test_stack_from_a_failed_create_is_deleted_and_created_again(boto, capsys):
    cfn = boto("cloudformation")
    template = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n"
    spec = stacks.StackSpec(name="dead", template_body=template)
    calls = []

    class DeadThenGone:
        """moto never rolls a failed create back; stand in for the ROLLBACK_COMPLETE it leaves."""

        def __getattr__(self, name):
            return getattr(cfn, name)

        def describe_stacks(self, **kwargs):
            if not calls:
                return {"Stacks": [{"StackStatus": "ROLLBACK_COMPLETE"}]}
            return cfn.describe_stacks(**kwargs)

        def delete_stack(self, **kwargs):
            calls.append(kwargs)

    stacks.deploy(DeadThenGone(), spec, FAST)
    assert calls == [{"StackName": "dead"}]
    assert "deleting it first" in capsys.readouterr().out
    assert cfn.describe_stacks(StackName="dead")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


class RolledBack:
    """A CloudFormation client whose update rolls back, with AWS's event stream (newest first).
    moto cannot produce this: a failing resource leaves its stack CREATE_IN_PROGRESS for ever."""

    class exceptions:  # boto3's attribute name
        ClientError = Exception

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.executed = []

    def describe_stacks(self, StackName):
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"Stacks": [{"StackName": StackName, "StackStatus": status}]}

    def create_change_set(self, **_kwargs):
        return {"Id": "cs-1"}

    def describe_change_set(self, **_kwargs):
        return {"Status": "CREATE_COMPLETE"}

    def execute_change_set(self, ChangeSetName):
        self.executed.append(ChangeSetName)

    def get_paginator(self, name):
        assert name == "describe_stack_events"
        return self

    def paginate(self, StackName):
        stack = {"LogicalResourceId": StackName, "ResourceType": "AWS::CloudFormation::Stack"}
        endpoint = {"LogicalResourceId": "Endpoint", "ResourceType": "AWS::SageMaker::Endpoint"}
        yield {
            "StackEvents": [
                {**stack, "ResourceStatus": "UPDATE_ROLLBACK_COMPLETE"},
                {
                    **endpoint,
                    "ResourceStatus": "UPDATE_FAILED",
                    "ResourceStatusReason": "rolled back: alarm abalone-staging-5xx-errors",
                },
                {
                    **stack,
                    "ResourceStatus": "UPDATE_IN_PROGRESS",
                    "ResourceStatusReason": "User Initiated",
                },
            ]
        }
        yield {
            "StackEvents": [
                {
                    **endpoint,
                    "ResourceStatus": "UPDATE_FAILED",
                    "ResourceStatusReason": "an older failure, not this operation's",
                },
            ]
        }


def test_rollback_fails_with_the_events_that_caused_it():
    client = RolledBack(["UPDATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"])
    spec = stacks.StackSpec(name="abalone-endpoint-staging", template_body="{}")
    with pytest.raises(stacks.DeployError) as caught:
        stacks.deploy(client, spec, FAST)
    message = str(caught.value)
    assert "ended UPDATE_ROLLBACK_COMPLETE" in message
    assert "Endpoint (AWS::SageMaker::Endpoint) UPDATE_FAILED" in message
    assert "alarm abalone-staging-5xx-errors" in message
    assert "older failure" not in message
    assert client.executed == ["cs-1"]


def test_a_busy_stack_is_not_touched():
    client = RolledBack(["UPDATE_IN_PROGRESS"])
    spec = stacks.StackSpec(name="abalone-endpoint-staging", template_body="{}")
    with pytest.raises(stacks.DeployError, match="busy"):
        stacks.deploy(client, spec, FAST)
    assert client.executed == []


def test_config_parameters_and_overrides(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"StackName": "s", "Parameters": {"A": 1}, "RoleArn": "r"}))
    args = stacks._parser().parse_args(
        [
            "deploy",
            "--template",
            str(TEMPLATES / "endpoint.yaml"),
            "--config",
            str(config),
            "--parameter",
            "B=2",
            "--tag",
            "t=v",
        ]
    )
    spec = stacks.spec_from_args(args)
    assert (spec.name, spec.parameters, spec.tags, spec.role_arn) == (
        "s",
        {"A": "1", "B": "2"},
        {"t": "v"},
        "r",
    )


def test_templates_parse_as_cloudformation_for_moto(boto):
    """Every template is accepted by moto's parser with its required parameters (cfn-lint checks
    the rest: moto accepts misspelt types and missing capabilities)."""
    for path in sorted(Path(TEMPLATES).glob("*.yaml")):
        assert boto("cloudformation").validate_template(TemplateBody=path.read_text())


def _deploy_stage(config, package_arn: str, role: str, *flags: str) -> int:
    spec = endpoint_spec(package_arn, role)
    body = {"StackName": spec.name, "Parameters": spec.parameters, "Tags": spec.tags}
    config.write_text(json.dumps(body))
    template = str(TEMPLATES / "endpoint.yaml")
    return stacks.main(["deploy", "--template", template, "--config", str(config), *flags])


def _point_endpoint_elsewhere(sagemaker, endpoint_name: str, role: str, package_arn: str) -> str:
    """What an automatic rollback leaves: the endpoint InService on a config the stack does not
    name. moto has no UpdateEndpoint, so the endpoint is made again under its name."""
    sagemaker.create_model(
        ModelName="old-model",
        ExecutionRoleArn=role,
        PrimaryContainer={"ModelPackageName": package_arn},
    )
    variant = {"VariantName": "AllTraffic", "ModelName": "old-model", "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(
        EndpointConfigName="old-config", ProductionVariants=[{**variant, "InitialInstanceCount": 1}]
    )
    sagemaker.delete_endpoint(EndpointName=endpoint_name)
    sagemaker.create_endpoint(EndpointName=endpoint_name, EndpointConfigName="old-config")
    return "old-config"


def test_a_rollback_sagemaker_did_on_its_own_fails_the_deploy(
    boto, bootstrap_outputs, tmp_path, capsys
):
    sagemaker = boto("sagemaker")
    role = bootstrap_outputs["SageMakerExecutionRoleArn"]
    package = add_package(sagemaker, status="Approved")
    assert _deploy_stage(tmp_path / "staging.json", package, role) == 0
    out = capsys.readouterr().out
    assert "InService on the stack's config" in out
    outputs = stacks.stack_outputs(boto("cloudformation"), "abalone-endpoint-staging")
    _point_endpoint_elsewhere(sagemaker, outputs["EndpointName"], role, package)
    # The stack has nothing to change and would report success: the check must not.
    assert _deploy_stage(tmp_path / "staging.json", package, role) == 1
    captured = capsys.readouterr()
    assert "no changes" in captured.out
    assert "serves config old-config, not the stack's " + outputs["EndpointConfigName"] in (
        captured.err
    )
    assert "rolled the update back" in captured.err


def test_bake_traffic_reaches_the_endpoint_while_the_stack_updates(
    boto, bootstrap_outputs, tmp_path, capsys
):
    sagemaker = boto("sagemaker")
    role = bootstrap_outputs["SageMakerExecutionRoleArn"]
    package = add_package(sagemaker, status="Approved")
    assert _deploy_stage(tmp_path / "staging.json", package, role, "--bake-traffic") == 0
    # moto's runtime answers any endpoint name; the requests are real InvokeEndpoint calls.
    assert "bake traffic to abalone-staging: 5 answered" in capsys.readouterr().out


def test_bake_traffic_counts_failures_without_stopping_the_deploy():
    from botocore.exceptions import ClientError

    class Refusing:
        def invoke_endpoint(self, **_kwargs):
            raise ClientError({"Error": {"Code": "ValidationException"}}, "InvokeEndpoint")

    traffic = rollout.BakeTraffic(Refusing(), "abalone-staging", per_tick=3)
    traffic()
    assert (traffic.answered, traffic.failed) == (0, 3)
    assert traffic.summary().endswith("0 answered, 3 failed (ClientError x3)")
