"""Preflight: how the database steps (in `lambda.vpc`) reach the AWS APIs and the cluster.

The handlers call the services' default hostnames (secretsmanager.<region>.amazonaws.com, …).
From the Lambda subnets those resolve to something reachable only through:
- a default route (0.0.0.0/0) to an available NAT gateway; or
- per service, a VPC endpoint that answers the default hostname: an interface endpoint that is
  available, has private DNS on (PrivateDnsEnabled, which needs the VPC's enableDnsSupport and
  enableDnsHostnames), and whose security groups admit 443 from the Lambda security groups (or
  their subnets), which in turn may send 443 out; for DynamoDB also a gateway endpoint on the
  subnet's route table.
A default route to a Transit Gateway, a firewall or appliance endpoint, a network interface,
an instance or a peering may well reach the internet, but whether it does is decided beyond
this VPC: such a subnet is "not checkable" (with the reason) for the services no working
endpoint serves — never a pass, never a fail.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..resources.base.resource import Context
from .preflight_checks import FAIL, NOT_CHECKABLE, PASS, Check, sandbox_row

HTTPS = 443
ANY = "0.0.0.0/0"
ROUTE = "route to AWS APIs"
INGRESS = "cluster admits the database steps"
# Default-route targets whose way to the internet lies beyond this VPC (route field → what).
ELSEWHERE = {
    "TransitGatewayId": "Transit Gateway",
    "NetworkInterfaceId": "network interface (an appliance or firewall)",
    "InstanceId": "instance (a NAT instance or appliance)",
    "VpcPeeringConnectionId": "VPC peering connection",
    "CoreNetworkArn": "Cloud WAN core network",
    "LocalGatewayId": "local gateway",
    "CarrierGatewayId": "carrier gateway",
}


def endpoint_services(region: str) -> dict[str, str]:
    """What the database steps call from inside the VPC: RDS (the cluster's endpoint), Secrets
    Manager (credentials), DynamoDB (their audit items)."""
    return {
        "rds": f"com.amazonaws.{region}.rds",
        "secretsmanager": f"com.amazonaws.{region}.secretsmanager",
        "dynamodb": f"com.amazonaws.{region}.dynamodb",
    }


@dataclass
class Subnet:
    """What one Lambda subnet's way out looks like."""

    id: str
    cidr: str
    failed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)


def network(ctx: Context) -> list[Check]:
    vpc = ctx.settings.lambda_.vpc
    if ctx.sandbox:
        why = "its network is not the config's (no such subnets or security groups in it)"
        return [sandbox_row("network", ROUTE, why), sandbox_row("network", INGRESS, why)]
    if vpc is None:
        return [
            Check(
                "network",
                "database steps in a VPC",
                FAIL,
                "lambda.vpc is not set: the database steps cannot reach a private cluster",
                "set lambda.vpc: subnet_ids and security_group_ids",
            )
        ]
    ec2 = ctx.clients.get("ec2")
    return [
        routes(ctx, ec2, list(vpc.subnet_ids), list(vpc.security_group_ids)),
        ingress(ctx, ec2, list(vpc.security_group_ids)),
    ]


def routes(ctx: Context, ec2: Any, subnet_ids: list[str], lambda_groups: list[str]) -> Check:
    try:
        subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    except Exception as exc:  # any AWS answer: the configured subnets cannot be read
        return Check("network", ROUTE, FAIL, f"cannot read the subnets: {exc}",
                     "fix lambda.vpc.subnet_ids")
    needed = endpoint_services(ctx.settings.region)
    egress = _group_rules(ec2, lambda_groups).get("out", [])
    found = [_subnet(ec2, subnet, needed, lambda_groups, egress) for subnet in subnets]
    failed = [f"{s.id}: {'; '.join(s.failed)}" for s in found if s.failed]
    fixes = list(dict.fromkeys(f for s in found for f in s.fixes))
    if failed:
        return Check("network", ROUTE, FAIL, " | ".join(failed), "; ".join(fixes))
    unknown = [f"{s.id}: {'; '.join(s.unknown)}" for s in found if s.unknown]
    if unknown:
        return Check("network", ROUTE, NOT_CHECKABLE, " | ".join(unknown),
                     "make sure that route reaches the internet, or add the VPC endpoints")
    return Check("network", ROUTE, PASS,
                 f"{len(found)} subnet(s): an available NAT gateway or working endpoints")


def _subnet(
    ec2: Any,
    subnet: dict[str, Any],
    needed: dict[str, str],
    groups: list[str],
    egress: list[dict[str, Any]],
) -> Subnet:
    found = Subnet(subnet["SubnetId"], str(subnet.get("CidrBlock") or ""))
    table = _route_table(ec2, subnet)
    default = next(
        (r for r in (table or {}).get("Routes") or [] if r.get("DestinationCidrBlock") == ANY),
        None,
    )
    nat_problem, elsewhere = _default_route(ec2, default)
    if default is not None and nat_problem is None and elsewhere is None:
        # An available NAT gateway: every API is reachable if 443 may leave.
        if not any(_covers(rule, HTTPS, [], ANY, out=True) for rule in egress):
            found.failed.append(
                f"the Lambda security groups {', '.join(groups)} do not let 443 out to the "
                "internet (the NAT route is no use without)"
            )
            found.fixes.append(_egress_fix(groups[0], "CidrIp=0.0.0.0/0"))
        return found
    missing = _without_working_endpoint(ec2, subnet, table, needed, (groups, egress), found)
    if not missing:
        return found
    if elsewhere is not None:
        found.unknown.append(
            f"no working endpoint for {', '.join(missing)}; the default route goes to "
            f"{elsewhere}, which may reach the internet — not checkable from this VPC"
        )
        return found
    found.failed.append(
        (nat_problem or "no NAT route") + f"; no working endpoint for {', '.join(missing)}"
    )
    found.fixes.append(
        "give the subnets a route 0.0.0.0/0 to an available NAT gateway, or VPC endpoints for "
        + ", ".join(needed[short] for short in missing)
    )
    return found


def _default_route(ec2: Any, route: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(why the default route is no way out, or None; what it goes to when that lies beyond
    this VPC, or None). (None, None) with a route: an available NAT gateway."""
    if route is None:
        return "no default route", None
    if route.get("State") == "blackhole":
        return "the default route is a blackhole (its target is gone)", None
    nat = route.get("NatGatewayId")
    if nat:
        try:
            gateways = ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"]
        except Exception as exc:  # any AWS answer: cannot tell
            return None, f"NAT gateway {nat} (cannot be read: {exc})"
        state = gateways[0].get("State") if gateways else "gone"
        return (None, None) if state == "available" else (f"NAT gateway {nat} is {state}", None)
    gateway = str(route.get("GatewayId") or "")
    if gateway.startswith("igw-"):
        # Lambda's network interfaces in a VPC have no public IP: an internet gateway alone
        # does not take them out.
        return f"the default route goes to internet gateway {gateway} (no NAT)", None
    if gateway.startswith("vpce-"):
        return None, f"gateway load balancer / firewall endpoint {gateway}"
    for key, what in ELSEWHERE.items():
        if route.get(key):
            return None, f"{what} {route[key]}"
    return "the default route has no usable target", None


def _route_table(ec2: Any, subnet: dict[str, Any]) -> dict[str, Any] | None:
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}]
    )["RouteTables"]
    if not tables:  # the VPC's main route table applies
        tables = ec2.describe_route_tables(
            Filters=[
                {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                {"Name": "association.main", "Values": ["true"]},
            ]
        )["RouteTables"]
    return dict(tables[0]) if tables else None


def _without_working_endpoint(
    ec2: Any,
    subnet: dict[str, Any],
    table: dict[str, Any] | None,
    needed: dict[str, str],
    lambda_side: tuple[list[str], list[dict[str, Any]]],
    found: Subnet,
) -> list[str]:
    """The services (short names) no endpoint serves for the default hostnames; each endpoint
    that exists but does not work adds why to `found.failed` and how to fix it."""
    vpc_id = subnet["VpcId"]
    endpoints = ec2.describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )["VpcEndpoints"]
    dns: dict[str, bool] = {}  # the VPC's DNS attributes, read once an interface endpoint needs them
    missing = []
    for short, service in needed.items():
        mine = [e for e in endpoints if e.get("ServiceName") == service]
        gateway = [
            e for e in mine
            if e.get("VpcEndpointType") == "Gateway"
            and table is not None and table.get("RouteTableId") in (e.get("RouteTableIds") or [])
        ]
        interface = [e for e in mine if e.get("VpcEndpointType") == "Interface"]
        if gateway and all(e.get("State", "available").lower() == "available" for e in gateway):
            continue
        if interface and not dns:
            dns = _vpc_dns(ec2, vpc_id)
        checked = [_interface_problems(ec2, e, dns, lambda_side, found.cidr) for e in interface]
        if interface and any(not problems for problems, _ in checked):
            continue
        for endpoint, (problems, fixes) in zip(interface, checked, strict=True):
            found.failed.append(f"{short} endpoint {endpoint['VpcEndpointId']}: "
                                + ", ".join(problems))
            found.fixes += fixes
        missing.append(short)
    return missing


def _vpc_dns(ec2: Any, vpc_id: str) -> dict[str, bool]:
    answers = {}
    for attribute, key in (("enableDnsSupport", "EnableDnsSupport"),
                           ("enableDnsHostnames", "EnableDnsHostnames")):
        answer = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)
        answers[attribute] = bool((answer.get(key) or {}).get("Value"))
    return answers


def _interface_problems(
    ec2: Any,
    endpoint: dict[str, Any],
    dns: dict[str, bool],
    lambda_side: tuple[list[str], list[dict[str, Any]]],
    cidr: str,
) -> tuple[list[str], list[str]]:
    """Why an interface endpoint does not answer the default hostnames from the subnet `cidr`
    ([] when it does), and the commands that fix it."""
    groups, egress = lambda_side
    fixes: list[str] = []
    endpoint_id, vpc_id = endpoint["VpcEndpointId"], endpoint["VpcId"]
    problems = []
    state = str(endpoint.get("State") or "available").lower()
    if state != "available":
        problems.append(f"is {state}")
    if not endpoint.get("PrivateDnsEnabled"):
        problems.append("private DNS is off (the default hostname resolves elsewhere)")
        fixes.append(
            f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --private-dns-enabled"
        )
    for attribute, on in dns.items():
        if not on:
            problems.append(f"the VPC's {attribute} is off (private DNS needs it)")
            flag = "--enable-dns-support" if attribute == "enableDnsSupport" else (
                "--enable-dns-hostnames")
            fixes.append(f"aws ec2 modify-vpc-attribute --vpc-id {vpc_id} {flag}")
    endpoint_groups = [g["GroupId"] for g in endpoint.get("Groups") or []] or _default_group(
        ec2, vpc_id
    )
    rules = _group_rules(ec2, endpoint_groups)
    if not any(_covers(rule, HTTPS, groups, cidr) for rule in rules.get("in", [])):
        problems.append(f"its security groups {', '.join(endpoint_groups)} do not admit 443 "
                        f"from {', '.join(groups)}")
        if endpoint_groups and groups:
            fixes.append(
                f"aws ec2 authorize-security-group-ingress --group-id {endpoint_groups[0]} "
                f"--protocol tcp --port 443 --source-group {groups[0]}"
            )
    if not any(_covers(rule, HTTPS, endpoint_groups, cidr, out=True) for rule in egress):
        problems.append(f"the Lambda security groups {', '.join(groups)} do not let 443 out")
        if endpoint_groups and groups:
            fixes.append(
                _egress_fix(groups[0], f"UserIdGroupPairs=[{{GroupId={endpoint_groups[0]}}}]")
            )
    return problems, fixes


def _egress_fix(group: str, destination: str) -> str:
    return (
        f"aws ec2 authorize-security-group-egress --group-id {group} --ip-permissions "
        f"IpProtocol=tcp,FromPort=443,ToPort=443,{destination}"
    )


def _default_group(ec2: Any, vpc_id: str) -> list[str]:
    """An interface endpoint created without security groups gets the VPC's default one."""
    answer = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    return [g["GroupId"] for g in answer]


def _group_rules(ec2: Any, group_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    if not group_ids:
        return {}
    groups = ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]
    return {
        "in": [r for g in groups for r in g.get("IpPermissions") or []],
        "out": [r for g in groups for r in g.get("IpPermissionsEgress") or []],
    }


def _covers(
    rule: dict[str, Any], port: int, peers: Iterable[str], cidr: str, out: bool = False
) -> bool:
    """The rule lets `port` (TCP) in from / out to one of the `peers` groups, or a range holding
    the whole `cidr` (out: also 0.0.0.0/0, anywhere)."""
    protocol = rule.get("IpProtocol")
    if protocol != "-1" and not (
        protocol == "tcp" and int(rule.get("FromPort", -1)) <= port <= int(rule.get("ToPort", -1))
    ):
        return False
    if {p.get("GroupId") for p in rule.get("UserIdGroupPairs") or []} & set(peers):
        return True
    for block in rule.get("IpRanges") or []:
        network = ipaddress.ip_network(str(block.get("CidrIp")), strict=False)
        if out and network.prefixlen == 0:
            return True
        if cidr and ipaddress.IPv4Network(cidr).subnet_of(ipaddress.IPv4Network(network)):
            return True
    return False


def ingress(ctx: Context, ec2: Any, lambda_groups: list[str]) -> Check:
    port = ctx.settings.target.port
    cluster_groups = list(ctx.settings.target.security_group_ids)
    try:
        groups = ec2.describe_security_groups(GroupIds=cluster_groups)["SecurityGroups"]
    except Exception as exc:  # any AWS answer: the configured groups cannot be read
        return Check("network", INGRESS, FAIL, f"cannot read target.security_group_ids: {exc}",
                     "fix target.security_group_ids")
    for group in groups:
        for rule in group.get("IpPermissions") or []:
            sources = {p.get("GroupId") for p in rule.get("UserIdGroupPairs") or []}
            if _covers(rule, port, lambda_groups, ""):
                admitted = ", ".join(sorted(sources & set(lambda_groups)))
                return Check("network", INGRESS, PASS,
                             f"{group['GroupId']} admits {admitted} on {port}")
    return Check(
        "network",
        INGRESS,
        FAIL,
        f"none of {', '.join(cluster_groups)} admits {', '.join(lambda_groups)} on port {port}",
        f"aws ec2 authorize-security-group-ingress --group-id {cluster_groups[0]} --protocol tcp "
        f"--port {port} --source-group {lambda_groups[0]}",
    )
