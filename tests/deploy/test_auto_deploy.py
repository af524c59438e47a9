"""The auto-deploy rule: it matches an Approved package of this group and nothing else, and the
body it sends to GitHub is a valid repository_dispatch request."""

from __future__ import annotations

import json

import pytest
from cfnlint.decode import cfn_yaml

from tests.deploy.conftest import REPO

TEMPLATE = REPO / "deploy" / "templates" / "auto-deploy.yaml"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/abalone/7"


def state_change(group: str = "abalone", status: str = "Approved") -> dict:
    """A SageMaker Model Package State Change event, as EventBridge delivers it."""
    return {
        "version": "0",
        "id": "5ee5b1d2-0000-0000-0000-000000000000",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-11-26T06:00:00Z",
        "region": "us-east-1",
        "resources": [ARN],
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": 7,
            "ModelPackageArn": ARN,
            "ModelApprovalStatus": status,
        },
    }


def resolve(value, parameters: dict[str, str]):
    """The template's value with {"Ref": parameter} replaced, as CloudFormation would."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return parameters[value["Ref"]]
        return {key: resolve(item, parameters) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, parameters) for item in value]
    return value


@pytest.fixture()
def pattern() -> str:
    """The rule's event pattern for group abalone. moto's CloudFormation cannot create this stack
    (no AWS::Events::Connection or ApiDestination), so the pattern is taken from the template and
    run through a real rule on moto's EventBridge; cfn-lint and checkov check the rest."""
    rule = dict(cfn_yaml.load(str(TEMPLATE)))["Resources"]["ModelApprovedRule"]
    return json.dumps(
        resolve(rule["Properties"]["EventPattern"], {"ModelPackageGroupName": "abalone"})
    )


@pytest.mark.parametrize(
    ("event", "matches"),
    [
        (state_change(), True),
        (state_change(status="PendingManualApproval"), False),
        (state_change(status="Rejected"), False),
        (state_change(group="another-group"), False),
        ({**state_change(), "detail-type": "SageMaker Model Package Group State Change"}, False),
    ],
)
def test_rule_fires_only_for_an_approved_package_of_the_group(boto, pattern, event, matches):
    """The rule with the template's pattern, targeting a queue, gets the event put on the bus."""
    sqs, events = boto("sqs"), boto("events")
    queue_url = sqs.create_queue(QueueName="delivered")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    events.put_rule(Name="abalone-model-approved", EventPattern=pattern)
    events.put_targets(
        Rule="abalone-model-approved",
        Targets=[{"Id": "queue", "Arn": queue_arn["Attributes"]["QueueArn"]}],
    )
    entry = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"],
    }
    assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
    assert len(received) == (1 if matches else 0)
    if matches:
        assert json.loads(received[0]["Body"])["detail"]["ModelPackageArn"] == ARN


def test_dispatch_body_is_valid_json_with_the_package():
    target = dict(cfn_yaml.load(str(TEMPLATE)))["Resources"]["ModelApprovedRule"]
    transformer = target["Properties"]["Targets"][0]["InputTransformer"]
    body = transformer["InputTemplate"]["Fn::Sub"].replace("${DispatchEventType}", "model-approved")
    detail = state_change()["detail"]
    for name, path in transformer["InputPathsMap"].items():
        body = body.replace(f"<{name}>", str(detail[path.removeprefix("$.detail.")]))
    sent = json.loads(body)
    assert sent == {
        "event_type": "model-approved",
        "client_payload": {
            "model_package_arn": ARN,
            "model_package_group": "abalone",
            "model_package_version": 7,
        },
    }
    deploy_workflow = (REPO / ".github" / "workflows" / "deploy.yml").read_text()
    assert "types: [model-approved]" in deploy_workflow
    assert "github.event.client_payload.model_package_arn" in deploy_workflow
