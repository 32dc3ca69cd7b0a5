"""A control plane in its own process for the benchmarks: moto's server as the AWS emulator
and the real API handler behind the local HTTP adapter, both on free loopback ports.

Prints one JSON line (`url`, `key`) when ready. Then each line read on stdin is answered with
one JSON line: the DynamoDB write requests and written items counted so far. EOF stops it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections import Counter
from typing import Any

COUNTS: Counter[str] = Counter()


def _count_writes() -> None:
    """Count DynamoDB write requests as they arrive at the emulator (one per API call)."""
    from moto.dynamodb.responses import DynamoHandler

    def items(handler: Any, name: str) -> int:
        if name == "transact_write_items":
            return len(handler.body.get("TransactItems", []))
        if name == "batch_write_item":
            return sum(len(v) for v in handler.body.get("RequestItems", {}).values())
        return 1

    for name in (
        "put_item",
        "update_item",
        "delete_item",
        "transact_write_items",
        "batch_write_item",
    ):
        original = getattr(DynamoHandler, name)

        @functools.wraps(original)
        def wrapper(self: Any, __name: str = name, __original: Any = original) -> Any:
            COUNTS["requests"] += 1
            COUNTS["items"] += items(self, __name)
            return __original(self)

        setattr(DynamoHandler, name, wrapper)


def main() -> None:
    """Serve until stdin closes."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")  # the emulator only: never a real account
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from moto.server import ThreadedMotoServer

    from stratoflow.schemas import ApiKeyCreate, ApiKeyScope, utcnow
    from stratoflow_functions.api import ApiApp, ApiDeps
    from stratoflow_functions.config import Settings
    from stratoflow_functions.local import ApiHttpServer
    from stratoflow_functions.local.emulator_fixes import install_emulator_fixes
    from stratoflow_functions.services.api_keys import create_api_key
    from stratoflow_functions.store import build_store, create_table

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    install_emulator_fixes()  # as the local stack's emulator does
    emulator = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    emulator.start()
    host, port = emulator.get_host_and_port()
    settings = Settings(table_name="bench", aws_endpoint_url=f"http://{host}:{port}")
    create_table(settings)
    store = build_store(settings)
    key = create_api_key(store, ApiKeyCreate(name="bench", scope=ApiKeyScope.ADMIN), utcnow())
    app = ApiApp(ApiDeps(store, settings))

    def handle(event: Any, context: Any) -> Any:
        COUNTS[f"{event['requestContext']['http']['method']} {event['rawPath'].split('/')[1]}"] += 1
        import time as _t

        t = _t.perf_counter()
        try:
            return app.handle(event, context)
        finally:
            COUNTS["api_ms"] += int((_t.perf_counter() - t) * 1000)

    server = ApiHttpServer(("127.0.0.1", 0), handle)
    server.start_in_thread()
    _count_writes()
    print(json.dumps({"url": server.url, "key": key.key}), flush=True)
    for _ in sys.stdin:
        print(json.dumps(dict(COUNTS)), flush=True)
    server.shutdown()
    emulator.stop()


if __name__ == "__main__":
    main()
