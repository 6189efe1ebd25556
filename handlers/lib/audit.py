"""The audit table: one item per step outcome, plus the per-target lock item.

Items: `operation_id` (HASH), `timestamp` (RANGE, ISO-8601 UTC with microseconds, unique per
item), `step`, `status` (SUCCEEDED | SKIPPED | FAILED | STARTED), `details` (map, compact and
secret-free), `env`, `expires_at` (epoch seconds; the table's TTL attribute).

Lock (contract): `operation_id = "lock#<target_cluster_id>"`, `timestamp = "LOCK"`, attributes
`holder` (the operation id), `acquired_at`, `lock_expires_at` (after it the lock is stale: no
execution outlives the state machine's TimeoutSeconds) and `expires_at`. Taken with a
conditional put, released only by its holder with a conditional delete.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from handlers.lib import aws
from handlers.lib.errors import Locked, SettingsInvalid

DEFAULT_TTL_DAYS = 365
LOCK_SORT_KEY = "LOCK"
STATUSES = ("SUCCEEDED", "SKIPPED", "FAILED", "STARTED")

_clock_lock = threading.Lock()
_last_stamp: datetime | None = None


def table_name() -> str:
    name = os.environ.get("DYNAMODB_TABLE")
    if not name:
        raise SettingsInvalid("environment variable DYNAMODB_TABLE is not set")
    return name


def lock_key(target_cluster_id: str) -> str:
    return f"lock#{target_cluster_id}"


def _unique_now() -> datetime:
    """UTC now, strictly increasing within this process (two items never share a sort key)."""
    global _last_stamp
    with _clock_lock:
        now = datetime.now(timezone.utc)
        if _last_stamp is not None and now <= _last_stamp:
            now = _last_stamp + timedelta(microseconds=1)
        _last_stamp = now
        return now


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _to_dynamo(value: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-able details → DynamoDB-able (floats as Decimal, nothing exotic)."""
    loaded: dict[str, Any] = json.loads(json.dumps(value, default=str), parse_float=Decimal)
    return loaded


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {key: serializer.serialize(value) for key, value in item.items()}


def put_event(
    operation_id: str,
    step: str,
    status: str,
    details: Mapping[str, Any],
    env: str,
    *,
    ttl_days: int = DEFAULT_TTL_DAYS,
    table: str | None = None,
) -> dict[str, Any]:
    """Write one audit item and return it (as written, with plain Python values)."""
    if status not in STATUSES:
        raise ValueError(f"unknown audit status {status!r}")
    dynamodb = aws.client("dynamodb")
    for _ in range(5):
        now = _unique_now()
        item = {
            "operation_id": operation_id,
            "timestamp": iso(now),
            "step": step,
            "status": status,
            "details": _to_dynamo(details),
            "env": env,
            "expires_at": int((now + timedelta(days=ttl_days)).timestamp()),
        }
        try:
            dynamodb.put_item(
                TableName=table or table_name(),
                Item=_serialize(item),
                ConditionExpression="attribute_not_exists(#ts)",
                ExpressionAttributeNames={"#ts": "timestamp"},
            )
            return item
        except Exception as exc:
            # Another process wrote the same microsecond for this operation: take the next one.
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                raise
    raise RuntimeError("could not find a free audit timestamp")  # pragma: no cover


def acquire_lock(
    target_cluster_id: str,
    operation_id: str,
    env: str,
    *,
    hold_seconds: int,
    ttl_days: int = DEFAULT_TTL_DAYS,
    table: str | None = None,
) -> dict[str, Any]:
    """Take the target's lock; raise Locked if another live operation holds it.

    Re-acquiring our own lock succeeds (a retried invocation), and a lock past its
    `lock_expires_at` is stale and may be taken over.
    """
    now = datetime.now(timezone.utc)
    item = {
        "operation_id": lock_key(target_cluster_id),
        "timestamp": LOCK_SORT_KEY,
        "step": "lock",
        "status": "STARTED",
        "holder": operation_id,
        "env": env,
        "acquired_at": iso(now),
        "lock_expires_at": int(now.timestamp()) + hold_seconds,
        "expires_at": int((now + timedelta(days=ttl_days)).timestamp()),
        "details": {"target_cluster_id": target_cluster_id},
    }
    dynamodb = aws.client("dynamodb")
    try:
        dynamodb.put_item(
            TableName=table or table_name(),
            Item=_serialize(item),
            ConditionExpression=(
                "attribute_not_exists(operation_id) OR holder = :me OR lock_expires_at < :now"
            ),
            ExpressionAttributeValues={
                ":me": {"S": operation_id},
                ":now": {"N": str(int(now.timestamp()))},
            },
        )
    except Exception as exc:
        if aws.error_code(exc) != "ConditionalCheckFailedException":
            raise
        holder = lock_holder(target_cluster_id, table=table)
        raise Locked(
            f"target {target_cluster_id} is locked by operation {holder or '?'}; "
            "refusing to start a second refresh"
        ) from None
    return item


def lock_holder(target_cluster_id: str, *, table: str | None = None) -> str | None:
    response = aws.client("dynamodb").get_item(
        TableName=table or table_name(),
        Key={"operation_id": {"S": lock_key(target_cluster_id)}, "timestamp": {"S": LOCK_SORT_KEY}},
        ConsistentRead=True,
    )
    holder = response.get("Item", {}).get("holder", {}).get("S")
    return str(holder) if holder else None


def release_lock(target_cluster_id: str, operation_id: str, *, table: str | None = None) -> bool:
    """Delete the lock if (and only if) this operation holds it; True when it was released."""
    try:
        aws.client("dynamodb").delete_item(
            TableName=table or table_name(),
            Key={
                "operation_id": {"S": lock_key(target_cluster_id)},
                "timestamp": {"S": LOCK_SORT_KEY},
            },
            ConditionExpression="holder = :me",
            ExpressionAttributeValues={":me": {"S": operation_id}},
        )
    except Exception as exc:
        if aws.error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def items(operation_id: str, *, table: str | None = None) -> list[dict[str, Any]]:
    """Every audit item of one operation (plain Python values), in time order."""
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer()
    kwargs: dict[str, Any] = {
        "TableName": table or table_name(),
        "KeyConditionExpression": "operation_id = :op",
        "ExpressionAttributeValues": {":op": {"S": operation_id}},
        "ConsistentRead": True,
    }
    found: list[dict[str, Any]] = []
    while True:
        page = aws.client("dynamodb").query(**kwargs)
        found.extend({k: plain.deserialize(v) for k, v in item.items()} for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(found, key=lambda item: str(item.get("timestamp")))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
