"""The IAM roles (the guide's three and automatic recovery's): create with trust + inline policies + tags; zero writes on a re-run;
drift (config change, a policy edited or added behind our back, a managed policy attached,
tags) repaired in place; cleanup; a foreign same-named role left alone; document parsing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from aurora_restore_cli.documents import policies
from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.provisioning.validation import validate_all
from aurora_restore_cli.resources import roles
from aurora_restore_cli.resources.base.changes import Action

from ..conftest import CONFIG_DIR, MOTO_ACCOUNT, edit_config, make_context

STEPS = ["roles"]
LAMBDA = "aurora-restore-lambda-role-dev"
STATES = "aurora-restore-stepfunctions-role-dev"
DBA = "aurora-restore-dba-role-dev"
RECOVERY = "aurora-restore-recovery-role-dev"
ALL = (LAMBDA, STATES, DBA, RECOVERY)
LAMBDA_MANAGED = ["aurora-restore-lambda-data-dev", "aurora-restore-lambda-logs-dev"]


def _quiet(_: str) -> None:
    pass


def iam() -> Any:
    return boto3.client("iam", "us-east-1")


def role_changes(report: engine.Report) -> list[Any]:
    """The roles' changes (the step's managed policy: tests/resources/test_managed_policy.py)."""
    return [c for c in report.changes if c.kind == "IAM role"]


def actions(report: engine.Report) -> dict[str, Action]:
    return {c.name: c.action for c in role_changes(report)}


def setup(ctx: Any) -> engine.Report:
    return engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)


def inline(role: str) -> dict[str, dict[str, Any]]:
    names = iam().list_role_policies(RoleName=role)["PolicyNames"]
    return {
        n: roles.parse_document(
            iam().get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"]
        )
        for n in names
    }


def trust(role: str) -> dict[str, Any]:
    return roles.parse_document(iam().get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])


def assert_zero_write_rerun(config_dir: Path | None = None) -> None:
    ctx = make_context(config_dir) if config_dir else make_context()
    report = setup(ctx)
    assert set(actions(report).values()) == {Action.UNCHANGED}, report.changes
    assert ctx.clients.counter.writes == 0, ctx.clients.counter.write_calls()


# ---------------------------------------------------------------------------------------


def test_create_the_roles(aws: None) -> None:
    ctx = make_context()
    report = setup(ctx)
    assert actions(report) == {r: Action.CREATED for r in ALL}
    assert [c.arn for c in role_changes(report)] == [
        f"arn:aws:iam::{MOTO_ACCOUNT}:role/{r}" for r in ALL
    ]

    lambda_trust = trust(LAMBDA)["Statement"][0]
    assert lambda_trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert lambda_trust["Action"] == "sts:AssumeRole"
    states_trust = trust(STATES)["Statement"][0]
    assert states_trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert states_trust["Condition"] == {"StringEquals": {"aws:SourceAccount": MOTO_ACCOUNT}}
    assert trust(DBA)["Statement"][0]["Principal"] == {"AWS": ["arn:aws:iam::111111111111:root"]}

    assert set(inline(LAMBDA)) == {
        "aurora-restore-rds",
        "aurora-restore-network",  # dev.yaml has a VPC
    }
    assert set(inline(STATES)) == {"aurora-restore-invoke", "aurora-restore-logs"}
    assert set(inline(DBA)) == {"aurora-restore-operate"}
    assert trust(RECOVERY) == trust(STATES)  # Step Functions, this account
    assert set(inline(RECOVERY)) == {"aurora-restore-invoke", "aurora-restore-logs"}
    for role in ALL:
        for name, document in inline(role).items():
            expected = policies.inline_policies(role.split("-")[2], ctx.settings, ctx.names)[name]
            assert roles.same_document(document, expected)
        tags = {t["Key"]: t["Value"] for t in iam().list_role_tags(RoleName=role)["Tags"]}
        assert tags["aurora-restore:managed-by"] == "aurora-restore"
        assert tags["aurora-restore:env"] == "dev"
        assert tags["team"] == "platform"
        assert "aurora-restore dev" in iam().get_role(RoleName=role)["Role"]["Description"]
        attached = iam().list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        # The Lambda role's log and data permissions are managed policies of ours (size limits).
        expected_attached = LAMBDA_MANAGED if role == LAMBDA else []
        assert sorted(p["PolicyName"] for p in attached) == expected_attached

    assert_zero_write_rerun()


def test_dry_run_writes_nothing(aws: None) -> None:
    ctx = make_context()
    report = engine.setup(ctx, STEPS, dry_run=True, progress=_quiet)
    assert set(actions(report).values()) == {Action.WOULD_CREATE}
    assert ctx.clients.counter.writes == 0
    assert iam().list_roles()["Roles"] == []


def test_changed_trust_principal_updates_trust_only(aws: None, config_dir: Path) -> None:
    setup(make_context(config_dir))
    principals = ["arn:aws:iam::111111111111:role/dba", "arn:aws:iam::111111111111:user/alice"]
    edit_config(config_dir, "dev", lambda d: d["roles"].__setitem__("dba_principals", principals))
    ctx = make_context(config_dir)
    report = setup(ctx)
    assert actions(report) == {
        LAMBDA: Action.UNCHANGED,
        STATES: Action.UNCHANGED,
        DBA: Action.UPDATED,
        RECOVERY: Action.UNCHANGED,
    }
    assert role_changes(report)[2].detail == "trust policy"
    assert ctx.clients.counter.write_calls() == ["iam.UpdateAssumeRolePolicy"]
    assert sorted(trust(DBA)["Statement"][0]["Principal"]["AWS"]) == principals
    assert_zero_write_rerun(config_dir)


def test_empty_dba_principals_trust_the_account_root(aws: None, config_dir: Path) -> None:
    edit_config(config_dir, "dev", lambda d: d["roles"].__setitem__("dba_principals", []))
    setup(make_context(config_dir))
    principal = trust(DBA)["Statement"][0]["Principal"]
    assert principal == {"AWS": [f"arn:aws:iam::{MOTO_ACCOUNT}:root"]}


def test_policy_edited_behind_our_back_is_restored(aws: None) -> None:
    ctx = make_context()
    setup(ctx)
    wanted = inline(LAMBDA)["aurora-restore-rds"]
    widened = json.loads(json.dumps(wanted))
    restore = next(s for s in widened["Statement"] if s["Sid"] == "RdsRestore")
    restore["Resource"] = "*"
    iam().put_role_policy(
        RoleName=LAMBDA, PolicyName="aurora-restore-rds", PolicyDocument=json.dumps(widened)
    )
    iam().put_role_policy(
        RoleName=STATES,
        PolicyName="added-by-hand",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )
    iam().delete_role_policy(RoleName=DBA, PolicyName="aurora-restore-operate")

    status = engine.status(make_context(), STEPS, progress=_quiet)
    assert {c.name: c.detail for c in role_changes(status)} == {
        LAMBDA: "inline policy aurora-restore-rds",
        STATES: "unwanted inline policy added-by-hand",
        DBA: "inline policy aurora-restore-operate",
        RECOVERY: "",
    }
    ctx = make_context()
    report = setup(ctx)
    assert {r: a for r, a in actions(report).items() if r != RECOVERY} == {
        r: Action.UPDATED for r in (LAMBDA, STATES, DBA)
    }
    assert sorted(ctx.clients.counter.write_calls()) == [
        "iam.DeleteRolePolicy",
        "iam.PutRolePolicy",
    ]
    assert ctx.clients.counter.calls["iam.PutRolePolicy"] == 2
    assert roles.same_document(inline(LAMBDA)["aurora-restore-rds"], wanted)
    assert set(inline(STATES)) == {"aurora-restore-invoke", "aurora-restore-logs"}
    assert set(inline(DBA)) == {"aurora-restore-operate"}
    assert_zero_write_rerun()


def test_an_older_setup_moves_the_data_permissions_to_their_managed_policy(aws: None) -> None:
    """Before, the Lambda role's data permissions were its inline policy aurora-restore-data
    (they moved out to leave room under IAM's 10,240 characters). A re-run of setup creates
    and attaches the managed policy before it deletes the inline one: no moment without."""
    ctx = make_context()
    setup(ctx)
    data_arn = f"arn:aws:iam::{MOTO_ACCOUNT}:policy/aurora-restore-lambda-data-dev"
    iam().detach_role_policy(RoleName=LAMBDA, PolicyArn=data_arn)
    iam().delete_policy(PolicyArn=data_arn)
    older = policies.managed_policies("lambda", ctx.settings, ctx.names)[
        "aurora-restore-lambda-data-dev"
    ]
    iam().put_role_policy(
        RoleName=LAMBDA, PolicyName="aurora-restore-data", PolicyDocument=json.dumps(older)
    )

    ctx = make_context()
    calls: list[str] = []
    ctx.clients.get("iam").meta.events.register(
        "before-call.iam.*", lambda model, **_: calls.append(model.name)
    )
    setup(ctx)
    assert calls.index("AttachRolePolicy") < calls.index("DeleteRolePolicy")
    assert set(inline(LAMBDA)) == {"aurora-restore-rds", "aurora-restore-network"}
    attached = iam().list_attached_role_policies(RoleName=LAMBDA)["AttachedPolicies"]
    assert sorted(p["PolicyName"] for p in attached) == LAMBDA_MANAGED
    assert_zero_write_rerun()


def test_config_change_updates_the_inline_policy(aws: None, config_dir: Path) -> None:
    setup(make_context(config_dir))
    edit_config(config_dir, "dev", lambda d: d["lambda"].__setitem__("vpc", None))
    edit_config(config_dir, "dev", lambda d: d["target"].__setitem__("final_snapshot", False))
    ctx = make_context(config_dir)
    report = setup(ctx)
    assert role_changes(report)[0].detail == (
        "inline policy aurora-restore-rds, unwanted inline policy aurora-restore-network"
    )
    sids = {s["Sid"] for s in inline(LAMBDA)["aurora-restore-rds"]["Statement"]}
    assert "RdsFinalSnapshot" not in sids
    assert "aurora-restore-network" not in inline(LAMBDA)
    assert_zero_write_rerun(config_dir)


def test_managed_policy_tags_and_description_drift(aws: None, config_dir: Path) -> None:
    setup(make_context(config_dir))
    arn = iam().create_policy(
        PolicyName="wide",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    iam().attach_role_policy(RoleName=DBA, PolicyArn=arn)
    iam().update_role_description(RoleName=STATES, Description="changed by hand")
    edit_config(config_dir, "dev", lambda d: d.__setitem__("tags", {"team": "data"}))

    ctx = make_context(config_dir)
    report = setup(ctx)
    details = {c.name: c.detail for c in role_changes(report)}
    assert details == {
        LAMBDA: "tags",
        STATES: "description, tags",
        DBA: "managed policies attached (1), tags",
        RECOVERY: "tags",
    }
    assert iam().list_attached_role_policies(RoleName=DBA)["AttachedPolicies"] == []
    tags = {t["Key"]: t["Value"] for t in iam().list_role_tags(RoleName=LAMBDA)["Tags"]}
    assert tags["team"] == "data" and "cost-center" not in tags
    assert "aurora-restore dev" in iam().get_role(RoleName=STATES)["Role"]["Description"]
    assert_zero_write_rerun(config_dir)


def test_cleanup_deletes_policies_then_roles(aws: None) -> None:
    setup(make_context())
    arn = iam().create_policy(
        PolicyName="extra",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    iam().attach_role_policy(RoleName=LAMBDA, PolicyArn=arn)
    iam().create_instance_profile(InstanceProfileName="p")
    iam().add_role_to_instance_profile(InstanceProfileName="p", RoleName=DBA)

    ctx = make_context()
    report = engine.cleanup(ctx, STEPS, dry_run=False, progress=_quiet)
    assert actions(report) == {r: Action.DELETED for r in ALL}
    assert [c.name for c in role_changes(report)] == [RECOVERY, DBA, STATES, LAMBDA]
    assert report.ok
    assert iam().list_roles()["Roles"] == []
    report = engine.cleanup(make_context(), STEPS, dry_run=False, progress=_quiet)
    assert set(actions(report).values()) == {Action.ABSENT}


def test_interrupted_create_is_finished(aws: None) -> None:
    """A crash after create_role (before its policies): the re-run puts the policies."""
    ctx = make_context()
    iam().create_role(
        RoleName=LAMBDA,
        AssumeRolePolicyDocument=json.dumps(
            policies.trust_policy("lambda", ctx.settings, ctx.names)
        ),
        Description=roles.DESCRIPTIONS["lambda"].format(env="dev"),
        Tags=[{"Key": k, "Value": v} for k, v in ctx.tags().items()],
    )
    report = setup(make_context())
    assert actions(report)[LAMBDA] is Action.UPDATED
    assert len(inline(LAMBDA)) == 2
    attached = iam().list_attached_role_policies(RoleName=LAMBDA)["AttachedPolicies"]
    assert sorted(p["PolicyName"] for p in attached) == LAMBDA_MANAGED
    assert_zero_write_rerun()


def test_foreign_role_left_alone(aws: None) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam().create_role(RoleName=DBA, AssumeRolePolicyDocument=json.dumps(document))
    iam().put_role_policy(
        RoleName=DBA,
        PolicyName="theirs",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )
    ctx = make_context()
    report = setup(ctx)
    assert actions(report)[DBA] is Action.FOREIGN
    assert actions(report)[LAMBDA] is Action.CREATED
    assert not report.ok
    assert not any("dba" in call for call in ctx.clients.counter.write_calls())
    assert ctx.clients.counter.calls["iam.CreateRole"] == 3

    report = engine.cleanup(make_context(), STEPS, dry_run=False, progress=_quiet)
    assert actions(report) == {
        DBA: Action.FOREIGN,
        STATES: Action.DELETED,
        LAMBDA: Action.DELETED,
        RECOVERY: Action.DELETED,
    }
    assert trust(DBA) == document
    assert set(inline(DBA)) == {"theirs"}


# ---------------------------------------------------------------------------------------
# parsing and comparing documents


def test_parse_document_accepts_url_encoded_json() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "A",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/a%20b",
            }
        ],
    }
    encoded = quote(json.dumps(document))
    assert roles.parse_document(encoded) == document
    assert roles.parse_document(json.dumps(document)) == document
    assert roles.parse_document(document) is document
    with pytest.raises(ValueError):
        roles.parse_document(quote("[1]"))


def test_normalise_ignores_single_values_and_order() -> None:
    a = {
        "Version": "2012-10-17",
        "Statement": {
            "Sid": "X",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::1:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": True}},
        },
    }
    b = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "X",
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::1:root"]},
                "Action": ["sts:AssumeRole"],
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": ["true"]}},
            }
        ],
    }
    assert roles.same_document(a, b)
    c = json.loads(json.dumps(b))
    c["Statement"][0]["Action"].append("sts:TagSession")
    assert not roles.same_document(a, c)
    two = [
        {"Sid": "1", "Effect": "Allow", "Action": ["b", "a"], "Resource": "*"},
        {"Sid": "2", "Effect": "Deny", "Action": "c", "Resource": "*"},
    ]
    assert roles.same_document(
        {"Version": "2012-10-17", "Statement": two},
        {"Version": "2012-10-17", "Statement": [two[1], {**two[0], "Action": ["a", "b"]}]},
    )


def test_validate_offline_is_part_of_validate() -> None:
    from aurora_restore_cli.config.load import load_settings

    settings = load_settings(CONFIG_DIR, "dev")
    lines = validate_all(settings)
    assert any(line.startswith("IAM policies of 4 roles") for line in lines)
