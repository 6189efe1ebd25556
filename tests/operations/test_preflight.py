"""preflight's checks one by one, against moto in-process as a *real* (non-sandbox) account:
what the IAM policy simulator is asked (every RDS action on every resource type RDS
authorises, the keys with their conditions) and that our own policies answer "allowed" to all
of it; the network checks (NAT or endpoints, the cluster's security group); the CA bundle."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest

from aurora_restore_cli.documents import policies
from aurora_restore_cli.operations import preflight, preflight_access, preflight_network
from aurora_restore_cli.operations.preflight_access import (
    Request,
    planned_drill_requests,
    planned_requests,
    simulate,
)
from handlers.lib import naming

from ..certs import ca_pem, write_ca_bundle
from ..conftest import MOTO_ACCOUNT, edit_config, make_context


def _matches(patterns: Any, value: str) -> bool:
    items = patterns if isinstance(patterns, list) else [patterns]
    return any(fnmatch.fnmatchcase(value, p) for p in items)


def _conditions_hold(condition: dict[str, dict[str, str]], context: dict[str, Any]) -> bool:
    for operator, pairs in condition.items():
        for key, wanted in pairs.items():
            have = context.get(key)
            if have is None:
                return False
            values = have if isinstance(have, list) else [have]
            if operator in ("StringEquals", "ForAnyValue:StringEquals", "Bool"):
                if str(wanted).lower() not in [str(v).lower() for v in values]:
                    return False
            else:
                raise AssertionError(f"the test evaluator does not know {operator}")
    return True


class PolicySimulator:
    """Stands in for iam:SimulatePrincipalPolicy: evaluates *our* generated policy documents
    (Allow/Deny, Action and Resource wildcards, StringEquals/Bool conditions) like IAM does for
    an identity policy. moto has no simulator; this keeps preflight and policies consistent."""

    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.statements = [s for d in documents for s in d["Statement"]]
        self.calls: list[dict[str, Any]] = []

    def decide(self, action: str, resource: str, context: dict[str, Any]) -> str:
        allowed = False
        for statement in self.statements:
            if not _matches(statement["Action"], action) or not _matches(
                statement["Resource"], resource
            ):
                continue
            if not _conditions_hold(statement.get("Condition", {}), context):
                continue
            if statement["Effect"] == "Deny":
                return "explicitDeny"
            allowed = True
        return "allowed" if allowed else "implicitDeny"

    def get_paginator(self, name: str) -> PolicySimulator:
        assert name == "simulate_principal_policy"
        return self

    def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append(kwargs)
        context = {
            e["ContextKeyName"]: e["ContextKeyValues"] for e in kwargs.get("ContextEntries", [])
        }
        return [
            {
                "EvaluationResults": [
                    {
                        "EvalActionName": action,
                        "EvalResourceName": resource,
                        "EvalDecision": self.decide(action, resource, context),
                    }
                    for action in kwargs["ActionNames"]
                    for resource in kwargs["ResourceArns"]
                ]
            }
        ]


def _context(config_dir: Path, edit: Any = None) -> Any:
    def base(data: dict[str, Any]) -> None:
        data["account_id"] = MOTO_ACCOUNT
        if edit:
            edit(data)

    edit_config(config_dir, "dev", base)
    return make_context(config_dir)


SNAPSHOT = {
    "arn": "arn:aws:rds:us-west-2:222222222222:cluster-snapshot:prod-orders-manual-7",
    "id": "prod-orders-manual-7",
    "region": "us-west-2",
    "account_id": "222222222222",
    "encrypted": True,
    "kms_key_id": "arn:aws:kms:us-west-2:222222222222:key/5e6f7a8b-1111-2222-3333-444455556666",
}


def _simulator(ctx: Any) -> PolicySimulator:
    return PolicySimulator(
        list(policies.inline_policies("lambda", ctx.settings, ctx.names).values())
    )


@pytest.mark.parametrize("final_snapshot", [False, True])
def test_the_lambda_policy_allows_everything_a_run_asks_for(
    config_dir: Path, final_snapshot: bool
) -> None:
    ctx = _context(config_dir, lambda d: d["target"].update(final_snapshot=final_snapshot))
    key_arns = {k: k for k in (ctx.settings.source.kms_key_id, ctx.settings.target.kms_key_id) if k}
    requests = planned_requests(ctx, SNAPSHOT, key_arns)
    rows = simulate(_simulator(ctx), ctx.names.role_arn("lambda"), requests)
    assert [r for r in rows if r.status != "pass"] == []
    # every RDS action the run performs, on every resource type RDS authorises it against
    asked: dict[str, set[str]] = {}
    for request in requests:
        for arn in request.resources:
            kind = "*" if arn == "*" else arn.split(":", 5)[5].split(":", 1)[0]
            asked.setdefault(request.action, set()).add(kind)
    for action in ("rds:RestoreDBClusterFromSnapshot", "rds:CreateDBInstance"):
        assert asked[action] >= set(policies.RDS_TYPES_TOUCHED[action]) - {"cluster-snapshot"}
    assert "cluster-pg" in asked["rds:RestoreDBClusterFromSnapshot"]
    assert {"cluster-snapshot"} <= asked["rds:CopyDBClusterSnapshot"]
    source_key = [r for r in requests if r.resources == (SNAPSHOT["kms_key_id"],)]
    assert {r.action for r in source_key} == set(policies.SOURCE_KEY_ACTIONS)
    assert all(
        r.context["kms:ViaService"] == ("string", "rds.us-west-2.amazonaws.com") for r in source_key
    )
    assert ("cluster-snapshot" in asked["rds:DeleteDBCluster"]) is final_snapshot


@pytest.mark.parametrize("path", ["clone", "point_in_time"])
def test_the_lambda_policy_allows_everything_a_fast_path_run_asks_for(
    config_dir: Path, path: str
) -> None:
    """A clone or point-in-time run (source in this region and account, restore_from auto):
    RestoreDBClusterToPointInTime on the source cluster, the new cluster and its groups, the
    source key through RDS — all allowed by our own policies; no snapshot copy is asked."""
    key = f"arn:aws:kms:us-east-1:{MOTO_ACCOUNT}:key/5e6f7a8b-1111-2222-3333-444455556666"

    def same_region(data: dict[str, Any]) -> None:
        data["source"].update(region="us-east-1", account_id=MOTO_ACCOUNT, kms_key_id=key,
                              restore_from="auto")

    ctx = _context(config_dir, same_region)
    assert ctx.settings.restore_paths == ("snapshot", "clone", "point_in_time")
    source = f"arn:aws:rds:us-east-1:{MOTO_ACCOUNT}:cluster:prod-orders"
    chosen = {"path": path, "source_arn": source, "encrypted": True, "kms_key_id": key}
    key_arns = {k: k for k in (ctx.settings.source.kms_key_id, ctx.settings.target.kms_key_id) if k}
    requests = planned_requests(ctx, None, key_arns, chosen=chosen)
    rows = simulate(_simulator(ctx), ctx.names.role_arn("lambda"), requests)
    assert [r for r in rows if r.status != "pass"] == []
    actions = {r.action for r in requests}
    assert "rds:RestoreDBClusterToPointInTime" in actions
    assert not actions & {"rds:CopyDBClusterSnapshot", "rds:RestoreDBClusterFromSnapshot",
                          "rds:DeleteDBClusterSnapshot"}
    (restore,) = [r for r in requests if r.action == "rds:RestoreDBClusterToPointInTime"]
    kinds = {arn.split(":", 5)[5].split(":", 1)[0] for arn in restore.resources}
    assert kinds == set(policies.RDS_TYPES_TOUCHED["rds:RestoreDBClusterToPointInTime"])
    assert source in restore.resources
    source_key = [r for r in requests if r.resources == (key,)]
    assert {r.action for r in source_key} == set(policies.SOURCE_KEY_ACTIONS)


def test_the_lambda_policy_allows_everything_a_drill_asks_for(config_dir: Path) -> None:
    ctx = _context(config_dir)
    key_arns = {k: k for k in (ctx.settings.source.kms_key_id, ctx.settings.target.kms_key_id) if k}
    requests = planned_drill_requests(ctx, SNAPSHOT, key_arns)
    rows = simulate(_simulator(ctx), ctx.names.role_arn("lambda"), requests)
    assert [r for r in rows if r.status != "pass"] == []
    drill_id = naming.drill_cluster_id(ctx.settings.target.cluster_id, preflight.OPERATION)
    clusters = {arn.rsplit(":", 1)[1] for r in requests for arn in r.resources if ":cluster:" in arn}
    assert clusters == {drill_id}  # never the target, never a refresh's staging or old cluster
    actions = {r.action for r in requests}
    assert {"rds:CopyDBClusterSnapshot", "rds:DeleteDBClusterSnapshot"} <= actions  # copied
    assert "rds:ModifyDBCluster" in actions  # the drill cluster's own password
    (delete,) = [r for r in requests if r.action == "rds:DeleteDBCluster"]
    assert [a.rsplit(":", 2)[1] for a in delete.resources] == ["cluster"]  # no final snapshot


def test_a_denied_action_fails_naming_the_resource(config_dir: Path) -> None:
    ctx = _context(config_dir)
    documents = policies.inline_policies("lambda", ctx.settings, ctx.names)
    rds = documents["aurora-restore-rds"]
    rds["Statement"] = [s for s in rds["Statement"] if s["Sid"] != "RdsRestore"]
    simulator = PolicySimulator(list(documents.values()))
    key_arns = {k: k for k in (ctx.settings.source.kms_key_id, ctx.settings.target.kms_key_id) if k}
    rows = simulate(
        simulator, ctx.names.role_arn("lambda"), planned_requests(ctx, SNAPSHOT, key_arns)
    )
    failed = [r for r in rows if r.status == "fail"]
    assert [r.name for r in failed] == ["rds:RestoreDBClusterFromSnapshot"]
    assert "cluster-pg:default.aurora-postgresql15 (implicitDeny)" in failed[0].detail
    assert simulator.calls[0]["PolicySourceArn"] == ctx.names.role_arn("lambda")


def test_tag_conditioned_actions_are_asked_with_the_env_tag(config_dir: Path) -> None:
    ctx = _context(config_dir)
    requests = {r.action: r for r in planned_requests(ctx, SNAPSHOT, {})}
    entry = requests["rds:ModifyDBCluster"].context_entries()
    assert entry == [
        {
            "ContextKeyName": "aws:ResourceTag/aurora-restore:env",
            "ContextKeyType": "string",
            "ContextKeyValues": ["dev"],
        }
    ]
    ctx_other = Request("rds", "rds:ModifyDBCluster", ("x",), {})
    assert ctx_other.context_entries() == []


# --- network ---------------------------------------------------------------------------------


def _network(
    ctx_dir: Path,
    nat: bool,
    endpoints: bool,
    ingress: bool,
    private_dns: bool = True,
    endpoint_ingress: bool = True,
    default_route: str | None = None,
) -> Any:
    """A VPC as an account would have it. AWS (not moto) refuses an interface endpoint with
    private DNS unless the VPC has enableDnsSupport and enableDnsHostnames: set them first."""
    import boto3

    ec2 = boto3.client("ec2", "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    lambda_sg = ec2.create_security_group(GroupName="lambda", Description="l", VpcId=vpc)["GroupId"]
    cluster_sg = ec2.create_security_group(GroupName="db", Description="d", VpcId=vpc)["GroupId"]
    endpoint_sg = ec2.create_security_group(GroupName="vpce", Description="e", VpcId=vpc)[
        "GroupId"
    ]
    if nat:
        public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.2.0/24")["Subnet"]["SubnetId"]
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        gateway = ec2.create_nat_gateway(SubnetId=public, AllocationId=allocation)["NatGateway"]
        ec2.create_route(
            RouteTableId=table,
            DestinationCidrBlock="0.0.0.0/0",
            NatGatewayId=gateway["NatGatewayId"],
        )
    if default_route == "transit-gateway":
        tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", TransitGatewayId=tgw)
    if endpoints:
        for service in ("rds", "secretsmanager"):
            ec2.create_vpc_endpoint(
                VpcId=vpc,
                ServiceName=f"com.amazonaws.us-east-1.{service}",
                VpcEndpointType="Interface",
                SubnetIds=[subnet],
                SecurityGroupIds=[endpoint_sg],
                PrivateDnsEnabled=private_dns,
            )
        ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName="com.amazonaws.us-east-1.dynamodb",
            VpcEndpointType="Gateway",
            RouteTableIds=[table],
        )
    if endpoint_ingress:
        ec2.authorize_security_group_ingress(
            GroupId=endpoint_sg,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "UserIdGroupPairs": [{"GroupId": lambda_sg}],
                }
            ],
        )
    if ingress:
        ec2.authorize_security_group_ingress(
            GroupId=cluster_sg,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 5432,
                    "ToPort": 5432,
                    "UserIdGroupPairs": [{"GroupId": lambda_sg}],
                }
            ],
        )

    def edit(data: dict[str, Any]) -> None:
        data["lambda"]["vpc"] = {"subnet_ids": [subnet], "security_group_ids": [lambda_sg]}
        data["target"]["security_group_ids"] = [cluster_sg]

    return _context(ctx_dir, edit), subnet, cluster_sg, lambda_sg


@pytest.mark.parametrize(("nat", "endpoints"), [(True, False), (False, True)])
def test_network_passes_with_nat_or_endpoints(
    aws: None, config_dir: Path, nat: bool, endpoints: bool
) -> None:
    ctx, *_ = _network(config_dir, nat=nat, endpoints=endpoints, ingress=True)
    rows = preflight_network.network(ctx)
    assert [(r.name, r.status) for r in rows] == [
        ("route to AWS APIs", "pass"),
        ("cluster admits the database steps", "pass"),
    ], rows


def test_network_fails_without_a_route_or_ingress(aws: None, config_dir: Path) -> None:
    ctx, subnet, cluster_sg, lambda_sg = _network(
        config_dir, nat=False, endpoints=False, ingress=False
    )
    routes, ingress = preflight_network.network(ctx)
    assert routes.status == "fail"
    assert subnet in routes.detail and "rds, secretsmanager, dynamodb" in routes.detail
    assert "com.amazonaws.us-east-1.secretsmanager" in routes.fix
    assert ingress.status == "fail"
    assert (
        f"--group-id {cluster_sg}" in ingress.fix and f"--source-group {lambda_sg}" in ingress.fix
    )


def test_an_endpoint_without_private_dns_does_not_serve_the_default_hostnames(
    aws: None, config_dir: Path
) -> None:
    ctx, *_ = _network(config_dir, nat=False, endpoints=True, ingress=True,
                               private_dns=False)
    routes, _ = preflight_network.network(ctx)
    assert routes.status == "fail", routes
    assert "private DNS is off" in routes.detail
    assert "no working endpoint for rds, secretsmanager" in routes.detail  # dynamodb: gateway
    assert "--private-dns-enabled" in routes.fix


def test_an_endpoint_whose_security_group_refuses_443_from_lambda(
    aws: None, config_dir: Path
) -> None:
    ctx, _, _, lambda_sg = _network(config_dir, nat=False, endpoints=True, ingress=True,
                                    endpoint_ingress=False)
    routes, _ = preflight_network.network(ctx)
    assert routes.status == "fail"
    assert f"do not admit 443 from {lambda_sg}" in routes.detail
    assert f"--port 443 --source-group {lambda_sg}" in routes.fix


def test_private_dns_needs_the_vpc_dns_attributes(aws: None, config_dir: Path) -> None:
    import boto3

    ctx, subnet, *_ = _network(config_dir, nat=False, endpoints=True, ingress=True)
    ec2 = boto3.client("ec2", "us-east-1")
    vpc = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": False})
    routes, _ = preflight_network.network(ctx)
    assert routes.status == "fail" and "enableDnsHostnames is off" in routes.detail
    assert f"modify-vpc-attribute --vpc-id {vpc} --enable-dns-hostnames" in routes.fix


def test_a_default_route_through_a_transit_gateway_is_not_checkable(
    aws: None, config_dir: Path
) -> None:
    ctx, *_ = _network(config_dir, nat=False, endpoints=False, ingress=True,
                               default_route="transit-gateway")
    routes, _ = preflight_network.network(ctx)
    assert routes.status == "not checkable", routes
    assert "Transit Gateway tgw-" in routes.detail and "not checkable" in routes.detail
    # with working endpoints for every service, the transit gateway does not matter
    ctx, *_ = _network(config_dir, nat=False, endpoints=True, ingress=True,
                       default_route="transit-gateway")
    assert preflight_network.network(ctx)[0].status == "pass"


def test_a_nat_route_is_no_way_out_when_lambda_may_not_send_443(
    aws: None, config_dir: Path
) -> None:
    import boto3

    ctx, _, _, lambda_sg = _network(config_dir, nat=True, endpoints=False, ingress=True)
    boto3.client("ec2", "us-east-1").revoke_security_group_egress(
        GroupId=lambda_sg,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    routes, _ = preflight_network.network(ctx)
    assert routes.status == "fail" and "do not let 443 out" in routes.detail
    assert f"authorize-security-group-egress --group-id {lambda_sg}" in routes.fix


def test_network_fails_without_a_vpc(config_dir: Path) -> None:
    ctx = _context(config_dir, lambda d: d["lambda"].update(vpc=None))
    [row] = preflight_network.network(ctx)
    assert row.status == "fail" and "lambda.vpc" in row.fix


# --- TLS -------------------------------------------------------------------------------------


def test_ca_bundle_row(config_dir: Path) -> None:
    ctx = _context(config_dir)
    row = preflight.ca_bundle(ctx)
    assert row.status == "fail"
    assert "truststore.pki.rds.amazonaws.com/global/global-bundle.pem" in row.fix
    write_ca_bundle(config_dir / "rds-global-bundle.pem", count=2)
    ctx = _context(config_dir, lambda d: d["database"].update(ca_bundle="rds-global-bundle.pem"))
    row = preflight.ca_bundle(ctx)
    assert (row.status, row.detail.endswith("2 Amazon RDS CA certificate(s)")) == ("pass", True)
    ctx.sandbox = True
    assert preflight.ca_bundle(ctx).status == "pass"  # configured: checked even in the sandbox


def test_ca_bundle_without_rds_cas_fails(config_dir: Path) -> None:
    (config_dir / "other.pem").write_bytes(ca_pem("Some Other Root CA", rds=False))
    ctx = _context(config_dir, lambda d: d["database"].update(ca_bundle="other.pem"))
    row = preflight.ca_bundle(ctx)
    assert row.status == "fail" and "none of Amazon RDS" in row.detail


class DeniedSimulator:
    """IAM's answer to a principal that may not call iam:SimulatePrincipalPolicy."""

    def get_paginator(self, name: str) -> DeniedSimulator:
        return self

    def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
        from botocore.exceptions import ClientError

        raise ClientError(
            {
                "Error": {
                    "Code": "AccessDenied",
                    "Message": "not authorized to perform: iam:SimulatePrincipalPolicy",
                }
            },
            "SimulatePrincipalPolicy",
        )


def test_simulator_refusal_is_not_checkable_never_a_pass(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = _context(config_dir)
    get = ctx.clients.get
    monkeypatch.setattr(
        ctx.clients,
        "get",
        lambda service, *a: DeniedSimulator() if service == "iam" else get(service, *a),
    )
    rows = preflight_access.permissions(ctx, {}, SNAPSHOT)
    assert [(r.area, r.status) for r in rows] == [
        ("kms", "not checkable"),
        ("iam", "not checkable"),
    ]
    assert all("AccessDenied" in r.detail for r in rows)
    assert "iam:SimulatePrincipalPolicy" in rows[0].fix
