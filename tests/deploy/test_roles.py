"""One AWS role per environment (deploy/templates/bootstrap.yaml): build (main), staging and prod,
each trusting only its own GitHub OIDC subject and scoped to its own stack and S3 keys; no CI role
can overwrite the model artifacts of registered packages.

Read from the template, then enforced by moto_server (IAM authorization switched on with
/moto-api/reset-auth, after the bootstrap stack created the roles and each role's credentials were
taken). What moto 5.2.5 can and cannot evaluate, and so how each claim is proven:
- moto_server checks identity policies against the real resource ARN only for S3, STS, IAM and
  SQS; CloudFormation and SageMaker calls are checked against Resource "*", so a stack-scoped Allow
  never matches there and every change set by any stage role is refused. Over HTTP this file shows
  what that still proves (actions, S3 keys, role assumption); the stack scoping (staging denied
  the prod stack, prod allowed) is evaluated with moto's own policy evaluator
  (moto.iam.access_control.IAMPolicy, the code moto_server runs) on the policies moto_server holds
  for the roles, against the real stack ARNs.
- moto issues AssumeRoleWithWebIdentity credentials without checking the token or the trust
  policy's aud/sub conditions: each role's trust subject is checked in the template and in IAM.
- Bucket policies are not evaluated by moto: the Deny that protects registered artifacts is
  checked in the template, and its key pattern against real artifact and input keys.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto.iam.access_control import IAMPolicy, PermissionResult

from deploy import stacks
from tests.deploy.conftest import ACCOUNT, REGION
from tests.deploy.test_stacks import BOOTSTRAP, FAST
from tests.deploy.test_templates import resources

ENVIRONMENTS = {
    "GitHubBuildRole": "ref:refs/heads/main",
    "GitHubStagingRole": "environment:staging",
    "GitHubProdRole": "environment:prod",
}
#: Keys the pipeline writes: a registered model artifact and its evaluation report.
ARTIFACT_KEYS = (
    "abalone-pipeline/k2h3gd8xnj4b/train/model/model.tar.gz",
    "abalone-pipeline/k2h3gd8xnj4b/evaluate/evaluation/evaluation.json",
)
INPUT_KEY = "abalone-pipeline/data/abalone.data"
DEFINITION_KEY = "abalone-pipeline"
PLACEHOLDER_STACK = "Resources:\n  Handle:\n    Type: AWS::CloudFormation::WaitConditionHandle\n"


def statements(logical_id: str) -> list[dict[str, Any]]:
    role = resources("bootstrap.yaml", "AWS::IAM::Role")[logical_id]
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    """A resource as written in the template: Fn::Sub text, GetAtt target, or the plain string."""
    if isinstance(value, dict):
        return str(value.get("Fn::Sub") or ".".join(_list(value.get("Fn::GetAtt"))))
    return str(value)


def grants(logical_id: str, prefix: str) -> list[str]:
    """Every resource (as text) on which the role is allowed an action starting with `prefix`."""
    return [
        _text(resource)
        for statement in statements(logical_id)
        if any(action.startswith(prefix) for action in _list(statement["Action"]))
        for resource in _list(statement["Resource"])
    ]


# --- the template -------------------------------------------------------------------------------


@pytest.mark.parametrize(("logical_id", "subject"), ENVIRONMENTS.items())
def test_each_github_role_trusts_one_subject_of_this_repository(logical_id, subject):
    role = resources("bootstrap.yaml", "AWS::IAM::Role")[logical_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(trust["Principal"]) == {"Federated"}
    condition = trust["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    # One string, not a list: StringEquals on a list would accept any of its subjects.
    assert condition["token.actions.githubusercontent.com:sub"] == {
        "Fn::Sub": f"repo:${{GitHubRepository}}:{subject}"
    }


def test_the_workflows_jobs_match_the_trusted_subjects():
    """A job with `environment: X` gets the subject environment:X; one without gets its ref."""
    from tests.deploy.test_injection import WORKFLOWS, workflow

    deploy = workflow(WORKFLOWS / "deploy.yml")["jobs"]
    assert {name: job["environment"] for name, job in deploy.items()} == {
        "staging": "staging",
        "prod": "prod",
    }
    build = workflow(WORKFLOWS / "build.yml")
    assert all("environment" not in job for job in build["jobs"].values())
    # A workflow_run run has the default branch's ref: the subject ref:refs/heads/main.
    assert (build.get("on") or build[True])["workflow_run"]["branches"] == ["main"]
    text = {name: (WORKFLOWS / f"{name}.yml").read_text() for name in ("build", "deploy", "ci")}
    assert "vars.AWS_BUILD_ROLE_ARN" in text["build"]
    assert "vars.AWS_STAGING_ROLE_ARN" in text["deploy"]
    assert "vars.AWS_PROD_ROLE_ARN" in text["deploy"]
    assert "role-to-assume" not in text["ci"]


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_a_stage_role_reaches_only_its_own_stack_endpoint_and_service_role(stage):
    other = {"staging": "prod", "prod": "staging"}[stage]
    role = f"GitHub{stage.capitalize()}Role"
    assert set(grants(role, "cloudformation:")) == {
        f"arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/${{ProjectName}}-endpoint-{stage}/*",
        f"arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/${{ProjectName}}-{stage}-monitoring/*",
        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${AWS::StackName}/*",
    }
    endpoints = [r for r in grants(role, "sagemaker:") if ":endpoint/" in r]
    assert endpoints == [
        f"arn:${{AWS::Partition}}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:endpoint/${{ProjectName}}-{stage}"
    ]
    assert grants(role, "iam:PassRole") == [f"CloudFormation{stage.capitalize()}Role.Arn"]
    assert not grants(role, "s3:") and not grants(role, "ecr:")
    service_role = f"CloudFormation{stage.capitalize()}Role"
    for resource in grants(service_role, "sagemaker:") + grants(service_role, "cloudwatch:"):
        assert f"-{other}" not in resource, resource


def test_only_prod_can_autoscale_since_scalable_targets_cannot_be_scoped_to_an_endpoint():
    assert set(grants("CloudFormationProdRole", "application-autoscaling:")) == {"*"}
    assert grants("CloudFormationStagingRole", "application-autoscaling:") == []
    assert grants("CloudFormationStagingRole", "iam:CreateServiceLinkedRole") == []


def test_the_build_role_pushes_and_runs_the_pipeline_but_cannot_deploy():
    assert grants("GitHubBuildRole", "ecr:PutImage") == ["ImageRepository.Arn"]
    assert set(grants("GitHubBuildRole", "s3:")) == {
        "${ArtifactBucket.Arn}/${ProjectName}-pipeline",
        "${ArtifactBucket.Arn}/${ProjectName}-pipeline-training",
        "${ArtifactBucket.Arn}/${ProjectName}-pipeline/data/abalone.data",  # make upload-data
    }
    assert grants("GitHubBuildRole", "cloudformation:") == [
        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${AWS::StackName}/*"
    ]
    assert grants("GitHubBuildRole", "iam:PassRole") == ["SageMakerExecutionRole.Arn"]


def _iam_pattern(resource: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(map(re.escape, resource.split("*"))) + "$")


def test_only_the_execution_role_may_overwrite_or_delete_pipeline_outputs():
    (policy,) = resources("bootstrap.yaml", "AWS::S3::BucketPolicy").values()
    document = policy["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in document if s["Sid"] == "OnlyTheExecutionRoleWritesPipelineOutputs"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert set(deny["Action"]) == {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"}
    assert deny["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}}
    }
    key = _text(deny["Resource"]).replace("${ArtifactBucket.Arn}/", "")
    key_pattern = _iam_pattern(key.replace("${ProjectName}", "abalone"))
    assert all(key_pattern.match(key) for key in ARTIFACT_KEYS)
    assert not key_pattern.match(INPUT_KEY) and not key_pattern.match(DEFINITION_KEY)


# --- moto_server with IAM enforcement -----------------------------------------------------------


def _reset_auth(url: str, count: str) -> str:
    response = requests.post(f"{url}/moto-api/reset-auth", data=count.encode(), timeout=10)
    response.raise_for_status()
    return str(response.json()["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])


def _client(url: str, service: str, credentials: dict[str, str]) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
    )


def _store_policies_as_json(iam: Any, role_arn: str) -> None:
    """NB: moto 5.2.5 keeps a CloudFormation-made inline policy as Python repr text, which its own
    authorizer cannot parse; write the same document back as JSON, unchanged otherwise."""
    name = role_arn.rsplit("/", 1)[1]
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        if isinstance(document, str):
            document = ast.literal_eval(document)
        iam.put_role_policy(
            RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document)
        )


def _admin(iam: Any) -> dict[str, str]:
    iam.create_user(UserName="admin")
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [everything]})
    iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=document)
    return dict(iam.create_access_key(UserName="admin")["AccessKey"])


@pytest.fixture()
def enforced(aws, boto):
    """The bootstrap stack, both endpoint stacks and the credentials of each GitHub role and of
    an administrator, all made before moto_server starts to authorize every request."""
    outputs = stacks.deploy(boto("cloudformation"), BOOTSTRAP, FAST)
    for stage in ("staging", "prod"):
        boto("cloudformation").create_stack(
            StackName=f"abalone-endpoint-{stage}", TemplateBody=PLACEHOLDER_STACK
        )
    for name in ENVIRONMENTS:
        _store_policies_as_json(boto("iam"), outputs[f"{name}Arn"])
    credentials = {
        name: boto("sts").assume_role_with_web_identity(
            RoleArn=outputs[f"{name}Arn"], RoleSessionName="test", WebIdentityToken="not-checked"
        )["Credentials"]
        for name in ENVIRONMENTS
    }
    credentials["admin"] = _admin(boto("iam"))
    previous = _reset_auth(aws, "0")
    try:
        yield aws, outputs, credentials
    finally:
        _reset_auth(aws, previous)


def _denied(call: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    # moto's JSON-protocol services (ECR) report the HTTP status as the code.
    assert error["Error"]["Code"] in ("AccessDenied", "AccessDeniedException", "403"), error
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_staging_is_refused_the_prod_stack_and_prod_is_allowed_it(enforced):
    url, outputs, credentials = enforced
    admin_iam = _client(url, "iam", credentials["admin"])
    prod_stack = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/abalone-endpoint-prod/0a1b2c"
    staging_stack = prod_stack.replace("-prod/", "-staging/")

    def verdict(role: str, resource: str) -> PermissionResult:
        name = outputs[f"{role}Arn"].rsplit("/", 1)[1]
        (policy_name,) = admin_iam.list_role_policies(RoleName=name)["PolicyNames"]
        document = admin_iam.get_role_policy(RoleName=name, PolicyName=policy_name)
        policy = IAMPolicy(json.dumps(document["PolicyDocument"]))
        return policy.is_action_permitted("cloudformation:CreateChangeSet", resource)

    permitted, neutral = PermissionResult.PERMITTED, PermissionResult.NEUTRAL
    assert verdict("GitHubStagingRole", prod_stack) == neutral  # no Allow: implicitly denied
    assert verdict("GitHubProdRole", prod_stack) == permitted
    assert verdict("GitHubStagingRole", staging_stack) == permitted
    assert verdict("GitHubProdRole", staging_stack) == neutral
    assert verdict("GitHubBuildRole", prod_stack) == neutral

    # Over HTTP: the staging role's own credentials are refused the prod stack.
    cfn = _client(url, "cloudformation", credentials["GitHubStagingRole"])
    change_set = {"ChangeSetName": "c", "TemplateBody": PLACEHOLDER_STACK}
    _denied(cfn.create_change_set, StackName="abalone-endpoint-prod", **change_set)
    _denied(cfn.update_stack, StackName="abalone-endpoint-prod", TemplateBody=PLACEHOLDER_STACK)
    _denied(cfn.delete_stack, StackName="abalone-endpoint-prod")
    # ...while the same credentials are accepted for an action it holds on every resource.
    sagemaker = _client(url, "sagemaker", credentials["GitHubStagingRole"])
    assert sagemaker.list_model_packages()["ModelPackageSummaryList"] == []


def test_no_ci_role_can_overwrite_or_delete_a_registered_model_artifact(enforced):
    url, outputs, credentials = enforced
    bucket = outputs["ArtifactBucket"]
    admin_s3 = _client(url, "s3", credentials["admin"])
    for key in ARTIFACT_KEYS:
        admin_s3.put_object(Bucket=bucket, Key=key, Body=b"the registered model")
    for role in ENVIRONMENTS:
        s3 = _client(url, "s3", credentials[role])
        for key in ARTIFACT_KEYS:
            _denied(s3.put_object, Bucket=bucket, Key=key, Body=b"tampered")
            _denied(s3.delete_object, Bucket=bucket, Key=key)
    body = admin_s3.get_object(Bucket=bucket, Key=ARTIFACT_KEYS[0])["Body"].read()
    assert body == b"the registered model"
    # The build role writes only the pipeline definition's own key (large definitions) and the
    # input data (make upload-data); the stage roles write nothing.
    build = _client(url, "s3", credentials["GitHubBuildRole"])
    build.put_object(Bucket=bucket, Key=DEFINITION_KEY, Body=b"{}")
    build.put_object(Bucket=bucket, Key=INPUT_KEY, Body=b"x")
    _denied(build.put_object, Bucket=bucket, Key="abalone-pipeline/data/other.data", Body=b"x")
    for role in ("GitHubStagingRole", "GitHubProdRole"):
        _denied(
            _client(url, "s3", credentials[role]).put_object,
            Bucket=bucket,
            Key=INPUT_KEY,
            Body=b"x",
        )


def test_actions_follow_the_environment(enforced):
    url, _outputs, credentials = enforced
    # Only the build role may log in to ECR to push; the stage roles may not.
    _client(url, "ecr", credentials["GitHubBuildRole"]).get_authorization_token()
    for role in ("GitHubStagingRole", "GitHubProdRole"):
        _denied(_client(url, "ecr", credentials[role]).get_authorization_token)
    # The build role has no change-set action at all, on any stack.
    cfn = _client(url, "cloudformation", credentials["GitHubBuildRole"])
    _denied(
        cfn.create_change_set,
        StackName="abalone-endpoint-staging",
        ChangeSetName="c",
        TemplateBody=PLACEHOLDER_STACK,
    )


def test_an_account_user_cannot_assume_a_github_role(enforced):
    """The trust policies admit web identities only: even an administrator's sts:AssumeRole is
    refused (moto evaluates the trust policy for sts:AssumeRole)."""
    url, outputs, credentials = enforced
    sts = _client(url, "sts", credentials["admin"])
    for role in ENVIRONMENTS:
        _denied(sts.assume_role, RoleArn=outputs[f"{role}Arn"], RoleSessionName="admin")
