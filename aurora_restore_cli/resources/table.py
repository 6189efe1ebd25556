"""The audit table `aurora-restore-audit-<env>`, exactly as the guide's create-table call
(`operation_id` HASH + `timestamp` RANGE, both strings), plus billing mode, PITR, SSE, TTL, tags."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from .base.changes import Difference, document_diff, scalar, tags_difference
from .base.resource import Context, Resource, concurrently, tag_dict, tag_differences, tag_list

STEP = "table"
TTL_ATTRIBUTE = "expires_at"
ATTRIBUTES = [
    {"AttributeName": "operation_id", "AttributeType": "S"},
    {"AttributeName": "timestamp", "AttributeType": "S"},
]
KEY_SCHEMA = [
    {"AttributeName": "operation_id", "KeyType": "HASH"},
    {"AttributeName": "timestamp", "KeyType": "RANGE"},
]
WAIT = {"Delay": 2, "MaxAttempts": 90}  # tables become ACTIVE in seconds; bound at 3 minutes


@dataclass(frozen=True)
class TableState:
    arn: str
    status: str
    key_schema: list[dict[str, str]]
    billing_mode: str
    read_capacity: int | None
    write_capacity: int | None
    kms_key: str | None  # None: AWS owned key
    pitr: bool
    ttl_attribute: str | None
    tags: dict[str, str]


def resources(ctx: Context) -> list[Resource[Any]]:
    return [AuditTable(ctx, ctx.names.table)]


class AuditTable(Resource[TableState]):
    kind = "DynamoDB table"

    def arn(self) -> str:
        return self.ctx.names.table_arn

    @property
    def ddb(self) -> Any:
        return self.client("dynamodb")

    def read(self) -> TableState | None:
        try:
            table = self.ddb.describe_table(TableName=self.name)["Table"]
        except self.ddb.exceptions.ResourceNotFoundException:
            return None
        if table["TableStatus"] == "DELETING":
            self.ddb.get_waiter("table_not_exists").wait(TableName=self.name, WaiterConfig=WAIT)
            return None
        if table["TableStatus"] != "ACTIVE":  # creating/updating: let it settle before comparing
            self.ddb.get_waiter("table_exists").wait(TableName=self.name, WaiterConfig=WAIT)
            table = self.ddb.describe_table(TableName=self.name)["Table"]
        backups, ttl = concurrently(
            [
                partial(self.ddb.describe_continuous_backups, TableName=self.name),
                partial(self.ddb.describe_time_to_live, TableName=self.name),
            ]
        )
        pitr = backups["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
        ttl = ttl["TimeToLiveDescription"]
        tags = self.indexed_tags(table["TableArn"])
        if tags is None:
            listed = self.ddb.list_tags_of_resource(ResourceArn=table["TableArn"])
            tags = tag_dict(listed.get("Tags", []))
        sse = table.get("SSEDescription") or {}
        throughput = table.get("ProvisionedThroughput") or {}
        mode = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
        return TableState(
            arn=table["TableArn"],
            status=table["TableStatus"],
            key_schema=table["KeySchema"],
            billing_mode=mode,
            read_capacity=throughput.get("ReadCapacityUnits") if mode == "PROVISIONED" else None,
            write_capacity=throughput.get("WriteCapacityUnits") if mode == "PROVISIONED" else None,
            kms_key=sse.get("KMSMasterKeyArn")
            if sse.get("Status") in ("ENABLED", "ENABLING")
            else None,
            pitr=pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
            ttl_attribute=ttl.get("AttributeName")
            if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
            else None,
            tags=tags,
        )

    def tags(self, current: TableState) -> dict[str, str]:
        return current.tags

    def differences(self, current: TableState) -> list[str]:
        audit = self.ctx.settings.audit
        diffs = []
        if sorted(current.key_schema, key=str) != sorted(KEY_SCHEMA, key=str):
            diffs.append("key schema (cannot change in place)")
        if (current.billing_mode, current.read_capacity, current.write_capacity) != (
            audit.billing_mode,
            audit.read_capacity,
            audit.write_capacity,
        ):
            diffs.append("billing mode")
        if _kms_differs(current.kms_key, audit.kms_key_id):
            diffs.append("encryption key")
        if current.pitr != audit.point_in_time_recovery:
            diffs.append("point-in-time recovery")
        if current.ttl_attribute != TTL_ATTRIBUTE:
            diffs.append("TTL")
        if any(tag_differences(current.tags, self.ctx.tags())):
            diffs.append("tags")
        return diffs

    def values(self, current: TableState, differences: list[str]) -> list[Difference]:
        audit = self.ctx.settings.audit
        found: list[Difference] = []
        if "billing mode" in differences:
            found.append(document_diff(
                "billing mode",
                {"mode": current.billing_mode, "read": current.read_capacity,
                 "write": current.write_capacity},
                {"mode": audit.billing_mode, "read": audit.read_capacity,
                 "write": audit.write_capacity}))
        if "encryption key" in differences:
            found.append(scalar("encryption key", current.kms_key, audit.kms_key_id))
        if "point-in-time recovery" in differences:
            found.append(scalar("point-in-time recovery", current.pitr,
                                audit.point_in_time_recovery))
        if "TTL" in differences:
            found.append(scalar("TTL attribute", current.ttl_attribute, TTL_ATTRIBUTE))
        if "tags" in differences:
            found.append(tags_difference(current.tags, self.ctx.tags()))
        return found

    def _billing(self) -> dict[str, Any]:
        audit = self.ctx.settings.audit
        if audit.billing_mode == "PROVISIONED":
            return {
                "BillingMode": "PROVISIONED",
                "ProvisionedThroughput": {
                    "ReadCapacityUnits": audit.read_capacity,
                    "WriteCapacityUnits": audit.write_capacity,
                },
            }
        return {"BillingMode": "PAY_PER_REQUEST"}

    def _sse(self) -> dict[str, Any]:
        key = self.ctx.settings.audit.kms_key_id
        if key is None:
            return {"Enabled": False}  # AWS owned key: encrypted at rest, no key to manage
        return {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}

    def create(self) -> None:
        created = self.ddb.create_table(
            TableName=self.name,
            AttributeDefinitions=ATTRIBUTES,
            KeySchema=KEY_SCHEMA,
            SSESpecification=self._sse(),
            Tags=tag_list(self.ctx.tags()),
            **self._billing(),
        )["TableDescription"]
        self.ddb.get_waiter("table_exists").wait(TableName=self.name, WaiterConfig=WAIT)
        # The rest is applied as an update so an interrupted create is finished by a re-run.
        # A new table is as we created it, with PITR and TTL off (AWS's defaults): no need
        # to read it back.
        audit = self.ctx.settings.audit
        current = TableState(
            arn=created["TableArn"],
            status="ACTIVE",
            key_schema=KEY_SCHEMA,
            billing_mode=audit.billing_mode,
            read_capacity=audit.read_capacity if audit.billing_mode == "PROVISIONED" else None,
            write_capacity=audit.write_capacity if audit.billing_mode == "PROVISIONED" else None,
            kms_key=audit.kms_key_id,
            pitr=False,
            ttl_attribute=None,
            tags=self.ctx.tags(),
        )
        self.update(current, self.differences(current))

    def update(self, current: TableState, differences: list[str]) -> None:
        if "key schema (cannot change in place)" in differences:
            raise ValueError(
                f"table {self.name} has another key schema; delete it (cleanup table) and re-run setup"
            )
        settings = self.ctx.settings.audit
        if "billing mode" in differences:
            self.ddb.update_table(TableName=self.name, **self._billing())
            self.ddb.get_waiter("table_exists").wait(TableName=self.name, WaiterConfig=WAIT)
        if "encryption key" in differences:
            self.ddb.update_table(TableName=self.name, SSESpecification=self._sse())
        # Backups and TTL are separate settings of an ACTIVE table: both at once.
        settings_calls: list[Callable[[], Any]] = []
        if "point-in-time recovery" in differences:
            settings_calls.append(
                partial(
                    self.ddb.update_continuous_backups,
                    TableName=self.name,
                    PointInTimeRecoverySpecification={
                        "PointInTimeRecoveryEnabled": settings.point_in_time_recovery
                    },
                )
            )
        if "TTL" in differences:
            settings_calls.append(partial(self._set_ttl, current.ttl_attribute))
        concurrently(settings_calls)
        if "tags" in differences:
            to_set, to_remove = tag_differences(current.tags, self.ctx.tags())
            if to_set:
                self.ddb.tag_resource(ResourceArn=current.arn, Tags=tag_list(to_set))
            if to_remove:
                self.ddb.untag_resource(ResourceArn=current.arn, TagKeys=to_remove)

    def _set_ttl(self, current_attribute: str | None) -> None:
        if current_attribute is not None:  # DynamoDB renames TTL only via disable first
            self.ddb.update_time_to_live(
                TableName=self.name,
                TimeToLiveSpecification={"Enabled": False, "AttributeName": current_attribute},
            )
        self.ddb.update_time_to_live(
            TableName=self.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )

    def delete(self, current: TableState) -> None:
        self.ddb.delete_table(TableName=self.name)
        self.ddb.get_waiter("table_not_exists").wait(TableName=self.name, WaiterConfig=WAIT)


def _kms_differs(current_arn: str | None, desired: str | None) -> bool:
    if (current_arn is None) != (desired is None):
        return True
    # A key given by id or alias cannot be compared with the ARN AWS reports without a KMS
    # call; only a full key ARN is compared exactly.
    return bool(
        desired and desired.startswith("arn:") and ":key/" in desired and desired != current_arn
    )
