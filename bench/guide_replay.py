"""The user's guide as it is done today: one AWS CLI command per resource, replayed.

`commands(url, env, workdir)` yields the `aws` invocations of the guide's steps (secrets,
IAM roles + policies, the DynamoDB table, the SNS topic, one create-function per pipeline
step, the state machine, the alarm) for a moto server at `url`. Used by bench_setup.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from aurora_restore_cli.bundled import handler_steps
from aurora_restore_cli.contract.naming import Names, step_function_name

ACCOUNT = "123456789012"
REGION = "us-east-1"
TRUST = {"lambda": "lambda.amazonaws.com", "stepfunctions": "states.amazonaws.com",
         "dba": None}


def commands(url: str, env: str, workdir: Path, definition: str, zips: dict[str, Path]) -> Iterator[list[str]]:
    names = Names(env, REGION, ACCOUNT)
    aws = ["aws", "--endpoint-url", url, "--region", REGION, "--output", "json"]
    for which in ("master", "app"):
        yield [*aws, "secretsmanager", "create-secret", "--name", f"aurora-restore/{env}/{which}",
               "--secret-string", json.dumps({"username": "postgres", "password": "CHANGE-ME"})]
    for kind, service in TRUST.items():
        principal = {"Service": service} if service else {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]}
        yield [*aws, "iam", "create-role", "--role-name", names.role(kind),
               "--assume-role-policy-document", json.dumps(trust)]
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": names.table_arn}]}
        yield [*aws, "iam", "put-role-policy", "--role-name", names.role(kind), "--policy-name",
               "inline", "--policy-document", json.dumps(policy)]
    yield [*aws, "dynamodb", "create-table", "--table-name", names.table,
           "--attribute-definitions", "AttributeName=operation_id,AttributeType=S",
           "AttributeName=timestamp,AttributeType=S", "--key-schema",
           "AttributeName=operation_id,KeyType=HASH", "AttributeName=timestamp,KeyType=RANGE",
           "--provisioned-throughput", "ReadCapacityUnits=5,WriteCapacityUnits=5"]
    yield [*aws, "sns", "create-topic", "--name", names.topic]
    for step in handler_steps():
        yield [*aws, "lambda", "create-function", "--function-name", names.function(step),
               "--runtime", "python3.12", "--handler", f"handlers.{step}.handler",
               "--role", names.role_arn("lambda"), "--zip-file", f"fileb://{zips[step]}",
               "--timeout", "300", "--memory-size", "256", "--environment",
               f"Variables={{ENVIRONMENT={env},DYNAMODB_TABLE={names.table},SNS_TOPIC={names.topic_arn}}}"]
    file = workdir / "state-machine-definition.json"
    file.write_text(definition)
    yield [*aws, "stepfunctions", "create-state-machine", "--name", names.state_machine,
           "--definition", f"file://{file}", "--role-arn", names.role_arn("stepfunctions")]
    yield [*aws, "cloudwatch", "put-metric-alarm", "--alarm-name",
           names.alarm("pipeline-failures"), "--alarm-description",
           "Alarm for Aurora restore pipeline failures", "--metric-name", "ExecutionsFailed",
           "--namespace", "AWS/States", "--statistic", "Sum", "--period", "300", "--threshold", "1",
           "--comparison-operator", "GreaterThanOrEqualToThreshold", "--evaluation-periods", "1",
           "--alarm-actions", names.topic_arn, "--dimensions",
           f"Name=StateMachineArn,Value={names.state_machine_arn}"]


def function_zip_name(step: str) -> str:
    return f"{step_function_name(step)}.zip"
