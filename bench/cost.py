"""The AWS cost model: what one flow run of K trivial tasks costs the control plane on AWS.

The real API handler runs behind the local HTTP adapter with moto's server as AWS (as
bench/_api_server.py), in this process; a flow of K tasks runs against it over HTTP through the
SDK. botocore event hooks on every client the handlers create (boto3's and pynamodb's) count
each AWS request by service and operation, and the DynamoDB capacity each one consumes,
computed from the item sizes DynamoDB bills by (moto's own ConsumedCapacity is a constant):
writes ceil(size / 1 KB) per item, again for each GSI the item is in, twice in a transaction;
reads ceil(size / 4 KB), half when eventually consistent. Every API call is one API Gateway HTTP
API request and one Lambda invocation; its Lambda duration is the handler's time outside AWS
calls plus an assumed in-region latency per AWS call (`AWS_CALL_MS`), at the API function's
memory. Prices: on-demand list prices, us-east-1, as dated in `PRICES_DATE`.

Usage: `uv run python bench/cost.py [--tasks 0,1,10,100,1000]` (also part of `make bench`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

PRICES_DATE = "2024-11-01"
"""AWS's published on-demand prices, us-east-1, in effect from this date (DynamoDB on-demand's
price cut of 2024-11-01); taken from AWS's pricing pages, not fetched at run time."""
PRICES = {
    "api_gateway_http_request": 1.00e-6,  # HTTP API, first 300 M requests a month
    "lambda_request": 0.20e-6,
    "lambda_gb_second": 0.0000166667,  # x86
    "dynamodb_write_request_unit": 0.625e-6,  # on-demand
    "dynamodb_read_request_unit": 0.125e-6,
    "eventbridge_event": 1.00e-6,  # custom events
    "s3_put": 0.005e-3,
    "s3_get": 0.0004e-3,
    "sfn_standard_transition": 0.025e-3,
}
API_MEMORY_GB = 1.0
"""The API function's memory (infra: `api_memory_mb` default 1024)."""
AWS_CALL_MS = 4.0
"""Assumed in-region latency of one AWS call from Lambda (DynamoDB single-digit ms)."""
CONSUMER_MEMORY_GB = 0.25
"""The state-events (stream consumer) function's memory (infra: 256 MB)."""
STREAM_BATCH = 100
"""The stream event source mapping's batch size (infra)."""
GSIS = 4
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def attribute_size(value: Mapping[str, Any]) -> int:
    """A DynamoDB attribute value's billed size in bytes (AWS's item-size rules)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return len(str(raw).lstrip("-").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: v}) for v in raw)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in raw)
    return 3 + sum(len(k.encode()) + 1 + attribute_size(v) for k, v in raw.items())  # M


def item_size(item: Mapping[str, Any]) -> int:
    """An item's billed size: names and values."""
    return sum(len(k.encode()) + attribute_size(v) for k, v in item.items())


def write_units(item: Mapping[str, Any] | None) -> float:
    """Write units of one item write: the table, and each GSI the item is projected into."""
    if not item:
        return 1.0
    units = math.ceil(item_size(item) / 1024) or 1
    indexes = sum(1 for n in range(1, GSIS + 1) if f"gsi{n}pk" in item)
    return float(units * (1 + indexes))


def read_units(items: list[Mapping[str, Any]], consistent: bool) -> float:
    """Read units of reading `items` in one request (sizes summed, as Query bills)."""
    size = sum(item_size(i) for i in items)
    units = max(1, math.ceil(size / 4096))
    return units * (1.0 if consistent else 0.5)


class Meter:
    """Counts AWS requests and DynamoDB capacity through botocore event hooks."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.wru = 0.0
        self.rru = 0.0
        self.aws_seconds = 0.0
        self.lock = threading.Lock()
        self.peek: Any = None  # an unmetered client to read back updated items
        self.unmetered = 0  # the next clients created not metered (the bench's own readers)

    def attach(self, client: Any) -> None:
        """Register the hooks on one botocore client."""
        service = client.meta.service_model.service_name
        events = client.meta.events
        events.register(f"before-parameter-build.{service}", self._before)
        events.register(f"after-call.{service}", self._after)

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any],
                **_: Any) -> None:  # fmt: skip
        context["bench_params"] = dict(params)
        context["bench_started"] = time.perf_counter()

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any],
               **_: Any) -> None:  # fmt: skip
        service = model.service_model.service_name
        params = context.get("bench_params", {})
        seconds = time.perf_counter() - context.get("bench_started", time.perf_counter())
        units = self._dynamodb(model.name, params, parsed) if service == "dynamodb" else (0, 0)
        with self.lock:
            self.requests[f"{service}:{model.name}"] += 1
            self.aws_seconds += seconds
            self.wru += units[0]
            self.rru += units[1]

    def _dynamodb(
        self, op: str, params: dict[str, Any], parsed: dict[str, Any]
    ) -> tuple[float, float]:
        consistent = bool(params.get("ConsistentRead"))
        if op == "PutItem":
            return write_units(params["Item"]), 0.0
        if op in ("UpdateItem", "DeleteItem"):
            return write_units(self._current(params["TableName"], params["Key"])), 0.0
        if op == "BatchWriteItem":
            puts = [r.get("PutRequest", {}).get("Item") for rs in params["RequestItems"].values()
                    for r in rs]  # fmt: skip
            return sum(write_units(p) for p in puts), 0.0
        if op == "TransactWriteItems":
            total = 0.0
            for entry in params["TransactItems"]:
                ((kind, body),) = entry.items()
                item = body.get("Item") if kind == "Put" else None
                if kind == "Update":
                    item = self._current(body["TableName"], body["Key"])
                total += 2 * write_units(item) if kind != "ConditionCheck" else 2.0
            return total, 0.0
        return 0.0, self._reads(op, parsed, consistent)

    @staticmethod
    def _reads(op: str, parsed: dict[str, Any], consistent: bool) -> float:
        if op == "GetItem":
            return read_units([parsed.get("Item", {})], consistent)
        if op == "BatchGetItem":
            got = [i for items in parsed.get("Responses", {}).values() for i in items]
            return sum(read_units([i], consistent) for i in got)
        if op in ("Query", "Scan"):
            return read_units(parsed.get("Items", []), consistent)
        if op == "TransactGetItems":
            got = [r.get("Item", {}) for r in parsed.get("Responses", [])]
            return sum(2 * read_units([i], True) for i in got)
        return 0.0

    def _current(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        if self.peek is None:
            return None
        got = self.peek.get_item(TableName=table, Key=key, ConsistentRead=True)
        return dict(got.get("Item") or {}) or None

    def snapshot(self) -> dict[str, Any]:
        """The counts so far."""
        with self.lock:
            return {"requests": dict(self.requests), "wru": self.wru, "rru": self.rru,
                    "aws_seconds": self.aws_seconds}  # fmt: skip


@contextmanager
def metered() -> Iterator[Meter]:
    """Every botocore client created inside is metered."""
    import botocore.session

    meter = Meter()
    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        if meter.unmetered:
            meter.unmetered -= 1
        else:
            meter.attach(client)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    try:
        yield meter
    finally:
        botocore.session.Session.create_client = original  # type: ignore[method-assign]


def _flow_run_change(record: Mapping[str, Any]) -> bool:
    image = record.get("dynamodb", {}).get("NewImage", {})
    return record.get("eventName") in ("INSERT", "MODIFY") and image.get("entity") == {
        "S": "flow_run"
    }


class StreamConsumer:
    """The state-events Lambda over the table's stream: the records of a measured window,
    filtered as the event source mapping filters them (INSERT/MODIFY of `flow_run` items),
    handed in batches of 100 to the real handler's `handle_stream_batch` (metered clients)."""

    def __init__(self, streams: Any, dynamodb: Any, events: Any, settings: Any,
                 history: Any) -> None:  # fmt: skip
        self.streams, self.events, self.history = streams, events, history
        self.bus = settings.event_bus_name
        table = dynamodb.describe_table(TableName=settings.table_name)["Table"]
        self.arn = table["LatestStreamArn"]
        self.iterators: dict[str, str] = {}

    def mark(self) -> None:
        """Start reading every shard from now."""
        shards = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        self.iterators = {
            shard["ShardId"]: self.streams.get_shard_iterator(
                StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]
            for shard in shards
        }

    def drain(self) -> tuple[int, float]:
        """Handle every record since `mark`: (Lambda invocations, seconds in the handler)."""
        records: list[Any] = []
        for iterator in self.iterators.values():
            while iterator:
                answer = self.streams.get_records(ShardIterator=iterator)
                records.extend(answer.get("Records", []))
                if not answer.get("Records"):
                    break
                iterator = answer.get("NextShardIterator")
        wanted = [r for r in records if _flow_run_change(r)]
        from stratoflow_functions.services.state_events import handle_stream_batch

        begin, invocations = time.perf_counter(), 0
        for start in range(0, len(wanted), STREAM_BATCH):
            handle_stream_batch(wanted[start : start + STREAM_BATCH], self.events, self.bus,
                                self.history)  # fmt: skip
            invocations += 1
        return invocations, time.perf_counter() - begin


class ControlPlane:
    """moto's server and the real API handler in this process, with the API calls counted."""

    def __init__(self, meter: Meter) -> None:
        import boto3
        from moto.server import ThreadedMotoServer

        from stratoflow.schemas import ApiKeyCreate, ApiKeyScope, utcnow
        from stratoflow_functions.api import ApiApp, ApiDeps
        from stratoflow_functions.config import Settings
        from stratoflow_functions.local import ApiHttpServer
        from stratoflow_functions.local.emulator_fixes import install_emulator_fixes
        from stratoflow_functions.services.api_keys import create_api_key
        from stratoflow_functions.store import build_store, create_table

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        install_emulator_fixes()
        self.emulator = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.emulator.start()
        host, port = self.emulator.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        settings = Settings(table_name="bench", aws_endpoint_url=endpoint)
        create_table(settings)
        meter.unmetered = 2
        meter.peek = boto3.session.Session().client(
            "dynamodb", endpoint_url=endpoint, region_name=settings.region
        )
        streams = boto3.session.Session().client(
            "dynamodbstreams", endpoint_url=endpoint, region_name=settings.region
        )
        store = build_store(settings)
        events = boto3.session.Session().client(
            "events", endpoint_url=endpoint, region_name=settings.region
        )
        self.consumer = StreamConsumer(streams, meter.peek, events, settings, store.run_counting)
        key = create_api_key(store, ApiKeyCreate(name="cost", scope=ApiKeyScope.ADMIN), utcnow())
        self.key = key.key
        app = ApiApp(ApiDeps(store, settings))
        self.calls = 0
        self.handler_seconds = 0.0
        self.lock = threading.Lock()

        def handle(event: Any, context: Any) -> Any:
            begin = time.perf_counter()
            try:
                return app.handle(event, context)
            finally:
                with self.lock:
                    self.calls += 1
                    self.handler_seconds += time.perf_counter() - begin

        self.server = ApiHttpServer(("127.0.0.1", 0), handle)
        self.server.start_in_thread()
        self.url = self.server.url

    def stop(self) -> None:
        """Stop the API and the emulator."""
        self.server.shutdown()
        self.emulator.stop()


def measure(plane: ControlPlane, meter: Meter, k: int) -> dict[str, Any]:
    """The requests and capacity one flow run of `k` trivial tasks causes."""
    from stratoflow import flow, task

    @task
    def trivial(i: int) -> int:
        return i

    @flow(name=f"cost-{k}")
    def work(n: int) -> int:
        return sum(trivial(i) for i in range(n))

    work(k)  # warm-up: the flow record, first-call costs
    plane.consumer.mark()
    before, calls, handler = meter.snapshot(), plane.calls, plane.handler_seconds
    work(k)
    middle = meter.snapshot()
    invocations, consumer_seconds = plane.consumer.drain()
    after = meter.snapshot()
    requests = Counter(after["requests"])
    requests.subtract(before["requests"])
    api_calls = plane.calls - calls
    aws = +requests
    api_aws = sum(middle["requests"].values()) - sum(before["requests"].values())
    consumer_aws = sum(after["requests"].values()) - sum(middle["requests"].values())
    outside = plane.handler_seconds - handler - (middle["aws_seconds"] - before["aws_seconds"])
    consumer_outside = consumer_seconds - (after["aws_seconds"] - middle["aws_seconds"])
    return {"tasks": k, "api_calls": api_calls, "aws_requests": dict(aws),
            "wru": after["wru"] - before["wru"], "rru": after["rru"] - before["rru"],
            "lambda_ms": max(0.0, outside * 1e3) + AWS_CALL_MS * api_aws,
            "consumer_invocations": invocations,
            "consumer_lambda_ms": max(0.0, consumer_outside * 1e3) + AWS_CALL_MS * consumer_aws,
            }  # fmt: skip


def price(run: Mapping[str, Any]) -> dict[str, float]:
    """Dollars for one flow run, by line."""
    requests = run["aws_requests"]
    invocations = run["api_calls"]
    lambda_ms = run["lambda_ms"] + invocations * 1.0  # billing rounds up each invocation's ms
    events = sum(v for k, v in requests.items() if k == "events:PutEvents")
    s3_put = sum(v for k, v in requests.items() if k.startswith("s3:Put"))
    s3_get = sum(v for k, v in requests.items() if k.startswith("s3:Get"))
    p = PRICES
    return {
        "api_gateway": invocations * p["api_gateway_http_request"],
        "lambda": invocations * p["lambda_request"]
        + lambda_ms / 1e3 * API_MEMORY_GB * p["lambda_gb_second"],
        "stream_consumer": run["consumer_invocations"] * p["lambda_request"]
        + (run["consumer_lambda_ms"] + run["consumer_invocations"])
        / 1e3
        * CONSUMER_MEMORY_GB
        * p["lambda_gb_second"],
        "dynamodb": run["wru"] * p["dynamodb_write_request_unit"]
        + run["rru"] * p["dynamodb_read_request_unit"],
        "eventbridge": events * p["eventbridge_event"],
        "s3": s3_put * p["s3_put"] + s3_get * p["s3_get"],
    }


def sfn_per_flow_run(k: int) -> float:
    """The same work as Step Functions Standard: a start, one Task state per task, an end."""
    return (k + 2) * PRICES["sfn_standard_transition"]


def cost_model(task_counts: tuple[int, ...] = (0, 1, 10, 100, 1000)) -> dict[str, Any]:
    """Measure each K, price it, and summarise per million flow runs and task runs."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")  # the emulator only: never a real account
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    saved = {k: os.environ.get(k) for k in ("STRATOFLOW_API_URL", "STRATOFLOW_API_KEY")}
    with metered() as meter:
        plane = ControlPlane(meter)
        os.environ["STRATOFLOW_API_URL"], os.environ["STRATOFLOW_API_KEY"] = plane.url, plane.key
        try:
            runs = [measure(plane, meter, k) for k in task_counts]
        finally:
            plane.stop()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    for run in runs:
        run["dollars"] = price(run)
        run["dollars_total"] = sum(run["dollars"].values())
    smallest, largest = runs[0], runs[-1]
    k = max(largest["tasks"], 1)
    figures = {
        f"control plane $ per 1M flow runs ({smallest['tasks']} tasks each)":
            smallest["dollars_total"] * 1e6,
        f"control plane $ per 1M task runs (flows of {k:,})": largest["dollars_total"] / k * 1e6,
        f"Step Functions Standard $ per 1M task runs (flows of {k:,})":
            sfn_per_flow_run(k) / k * 1e6,
    }  # fmt: skip
    result = {"prices": PRICES, "prices_date": PRICES_DATE, "assumptions": {
        "api_memory_gb": API_MEMORY_GB, "consumer_memory_gb": CONSUMER_MEMORY_GB,
        "aws_call_ms": AWS_CALL_MS, "region": "us-east-1"},
        "runs": runs, "figures": figures}  # fmt: skip
    result["text"] = render(result)
    return result


CONTROL_PLANE_TASKS = "control plane $ per 1M task runs"


def render(result: Mapping[str, Any]) -> str:
    """The cost model as Markdown."""
    lines = [f"AWS cost model (on-demand list prices, us-east-1, from {PRICES_DATE}; Lambda "
             f"{API_MEMORY_GB:g} GB, {AWS_CALL_MS:g} ms assumed per AWS call)",
             "| tasks | API calls | stream consumer calls | AWS requests | DynamoDB WRU | RRU | "
             "$ per flow run | $ per 1M task runs | Step Functions Standard $ per 1M task runs |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for run in result["runs"]:
        k = run["tasks"]
        per_task = f"{run['dollars_total'] / k * 1e6:.3g}" if k else "-"
        sfn = f"{sfn_per_flow_run(k) / k * 1e6:.3g}" if k else "-"
        aws = ", ".join(f"{n} {op.split(':')[1]}" for op, n in sorted(run["aws_requests"].items()))
        cells = [f"{k:,}", str(run["api_calls"]), str(run["consumer_invocations"]), aws,
                 f"{run['wru']:.1f}", f"{run['rru']:.1f}", f"{run['dollars_total']:.3g}",
                 per_task, sfn]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Print the cost model (and its JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="0,1,10,100,1000")
    parser.add_argument("--json", action="store_true", help="also the result as a JSON line")
    args = parser.parse_args()
    result = cost_model(tuple(int(x) for x in args.tasks.split(",")))
    print(result["text"])
    for name, value in result["figures"].items():
        print(f"{name}: ${value:,.2f}")
    if args.json:
        print(json.dumps(result, default=str))  # the last line: for bench/suite.py


if __name__ == "__main__":
    main()
