"""Snapshots of the emulator's state, so the write-ahead log can be cut short (compaction).

A snapshot holds what the control plane keeps in the emulator: every DynamoDB table (its
definition, TTL setting and items) and every S3 bucket with the current version of each object;
plus, verbatim, the logged requests of any other service (so state there is carried forward,
never dropped). It is written through the public AWS APIs (Scan, GetObject) and restored through
them too (CreateTable, BatchWriteItem, PutObject), as JSON lines; the file (0600) is replaced
atomically, so a crash mid-snapshot leaves the previous snapshot and its log intact.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from stratoflow_functions.local.private_files import open_private
from stratoflow_functions.local.wal import WalEntry

BATCH = 25
"""BatchWriteItem's limit."""
SNAPSHOT_SERVICES = frozenset({"dynamodb", "s3"})
"""Services whose state a snapshot captures; logged requests of others are carried verbatim."""


def write_snapshot(path: Path, generation: int, clients: Any, carried: Iterable[WalEntry]) -> int:
    """Write a snapshot of the emulator to `path` (atomically); return how many records.

    Args:
        path: the snapshot file.
        generation: the log generation that continues from this snapshot.
        clients: an object with boto3 `dynamodb` and `s3` clients for the emulator.
        carried: logged requests of services the snapshot does not capture, in order.
    """
    tmp = path.with_suffix(".tmp")
    count = 0
    with open_private(tmp, "w") as out:
        _line(out, {"generation": generation})
        for record in _records(clients, carried):
            _line(out, record)
            count += 1
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)
    return count


def read_generation(path: Path) -> int:
    """The log generation a snapshot continues into (0 when there is no snapshot)."""
    try:
        with path.open("r", encoding="utf-8") as handle:
            return int(json.loads(handle.readline())["generation"])
    except FileNotFoundError:
        return 0


def snapshot_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a snapshot file, header skipped (none when there is no file)."""
    try:
        handle = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        handle.readline()
        for line in handle:
            yield json.loads(line)


def _line(out: IO[str], record: dict[str, Any]) -> None:
    out.write(json.dumps(record, separators=(",", ":")) + "\n")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _records(clients: Any, carried: Iterable[WalEntry]) -> Iterator[dict[str, Any]]:
    for entry in carried:
        yield {"raw": entry.to_line()}
    yield from _table_records(clients.dynamodb)
    yield from _bucket_records(clients.s3)


def _table_records(dynamodb: Any) -> Iterator[dict[str, Any]]:
    for page in dynamodb.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            description = dynamodb.describe_table(TableName=name)["Table"]
            ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            yield {"table": create_table_request(description), "ttl": _ttl_attribute(ttl)}
            yield from _item_records(dynamodb, name)


def _item_records(dynamodb: Any, name: str) -> Iterator[dict[str, Any]]:
    batch: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=name, ConsistentRead=True):
        for item in page["Items"]:
            batch.append(item)
            if len(batch) == BATCH:
                yield {"items": {"table": name, "items": batch}}
                batch = []
    if batch:
        yield {"items": {"table": name, "items": batch}}


def _ttl_attribute(ttl: dict[str, Any]) -> str | None:
    if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return str(ttl["AttributeName"])
    return None


def create_table_request(description: dict[str, Any]) -> dict[str, Any]:
    """The CreateTable request that rebuilds a table DescribeTable described (pure)."""
    request: dict[str, Any] = {
        "TableName": description["TableName"],
        "KeySchema": description["KeySchema"],
        "AttributeDefinitions": description["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    indexes = [_index(index) for index in description.get("GlobalSecondaryIndexes", [])]
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    local = [_index(index) for index in description.get("LocalSecondaryIndexes", [])]
    if local:
        request["LocalSecondaryIndexes"] = local
    stream = description.get("StreamSpecification")
    if stream and stream.get("StreamEnabled"):
        request["StreamSpecification"] = stream
    return request


def _index(index: dict[str, Any]) -> dict[str, Any]:
    return {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}


def _bucket_records(s3: Any) -> Iterator[dict[str, Any]]:
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        yield {"bucket": name}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for summary in page.get("Contents", []):
                yield {"object": _object(s3, name, summary["Key"])}


def _object(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    answer = s3.get_object(Bucket=bucket, Key=key)
    return {
        "bucket": bucket,
        "key": key,
        "body": base64.b64encode(answer["Body"].read()).decode("ascii"),
        "content_type": answer.get("ContentType"),
        "metadata": answer.get("Metadata") or {},
    }


def restore_record(record: dict[str, Any], clients: Any) -> None:
    """Apply one snapshot record through the AWS APIs (raw records are the caller's job)."""
    if "table" in record:
        clients.dynamodb.create_table(**record["table"])
        if record.get("ttl"):
            clients.dynamodb.update_time_to_live(
                TableName=record["table"]["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": record["ttl"]},
            )
    elif "items" in record:
        batch = record["items"]
        requests = [{"PutRequest": {"Item": item}} for item in batch["items"]]
        clients.dynamodb.batch_write_item(RequestItems={batch["table"]: requests})
    elif "bucket" in record:
        create_bucket(clients.s3, record["bucket"])
    elif "object" in record:
        _put_object(clients.s3, record["object"])


def create_bucket(s3: Any, name: str) -> None:
    """Create a bucket in the client's region."""
    region = s3.meta.region_name
    if region == "us-east-1":  # the one region that refuses a location constraint
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def _put_object(s3: Any, data: dict[str, Any]) -> None:
    extra: dict[str, Any] = {"Metadata": data["metadata"]}
    if data.get("content_type"):
        extra["ContentType"] = data["content_type"]
    s3.put_object(
        Bucket=data["bucket"], Key=data["key"], Body=base64.b64decode(data["body"]), **extra
    )
