"""Let the emulator's Lambda run our functions' Python code, in process.

moto stores Lambda functions but cannot run their code without Docker (and then only as a
container image of the real runtime); Step Functions' `lambda:invoke`, which the launcher state
machines call, goes through moto's `invoke`. `register_local_function(name, handler)` makes an
invoke of that function call `handler(event, context)` in this process and answer what Lambda
answers: the handler's return value as JSON, or, when it raises, a `FunctionError: Unhandled`
payload `{"errorType", "errorMessage", "stackTrace"}`; a handler that outlasts the function's
configured Timeout answers Lambda's `Sandbox.Timedout` error (its thread cannot be killed, so
it finishes in the background; the caller sees the timeout at once). Functions nobody
registered behave as moto makes them.
"""

from __future__ import annotations

import json
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

LocalHandler = Callable[[Any, Any], Any]
"""A Lambda handler: `(event, context) -> JSON-serialisable answer`."""

_HANDLERS: dict[str, LocalHandler] = {}
"""Handlers by function name (this process's emulator, like moto's own backends)."""
_LOCK = threading.Lock()


@dataclass(frozen=True)
class LocalContext:
    """The part of Lambda's context object our handlers read."""

    function_name: str
    aws_request_id: str
    timeout_seconds: float

    def get_remaining_time_in_millis(self) -> int:
        """Lambda's remaining-time probe; the emulator reports the whole timeout."""
        return int(self.timeout_seconds * 1000)


def register_local_function(name_or_arn: str, handler: LocalHandler) -> None:
    """Run `handler` in process whenever the emulator's Lambda invokes this function (by
    name or ARN; qualifiers are ignored)."""
    make_moto_lambda_local()
    with _LOCK:
        _HANDLERS[_function_name(name_or_arn)] = handler


def unregister_local_function(name_or_arn: str) -> None:
    """Forget a registered handler (the function behaves as moto makes it again)."""
    with _LOCK:
        _HANDLERS.pop(_function_name(name_or_arn), None)


def _function_name(name_or_arn: str) -> str:
    # arn:aws:lambda:region:account:function:name[:qualifier]
    parts = name_or_arn.split(":")
    return parts[6] if len(parts) >= 7 and parts[5] == "function" else name_or_arn


def invoke_local(handler: LocalHandler, event: Any, context: LocalContext) -> tuple[bytes, bool]:
    """Run `handler` as Lambda would: the answer's bytes and whether it is a function error."""
    outcome: Future[Any] = Future()

    def run() -> None:
        try:
            outcome.set_result(handler(event, context))
        except BaseException as exc:  # the sandbox reports whatever the code raised
            outcome.set_exception(exc)

    threading.Thread(target=run, name=f"lambda-{context.function_name}", daemon=True).start()
    try:
        answer = outcome.result(timeout=context.timeout_seconds)
    except TimeoutError:
        return _timed_out(context), True
    except Exception as exc:
        return _error_payload(exc), True
    return json.dumps(answer).encode("utf-8"), False


def _timed_out(context: LocalContext) -> bytes:
    message = (
        f"RequestId: {context.aws_request_id} Error: Task timed out after "
        f"{context.timeout_seconds:.2f} seconds"
    )
    return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()


def _error_payload(exc: Exception) -> bytes:
    trace = traceback.format_exception(type(exc), exc, exc.__traceback__)
    body = {"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": trace}
    return json.dumps(body).encode("utf-8")


def make_moto_lambda_local() -> None:
    """Install the in-process invoke (idempotent: patches once per process)."""
    from moto.awslambda.models import LambdaBackend

    cls: Any = LambdaBackend
    if getattr(cls, "_stratoflow_local", False):
        return
    original = cls.invoke

    def invoke(
        self: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> Any:
        function = self.get_function(function_name, qualifier)
        with _LOCK:
            handler = _HANDLERS.get(function.function_name)
        if handler is None:
            return original(self, function_name, qualifier, body, headers, response_headers)
        event = json.loads(body) if body else {}
        context = LocalContext(function.function_name, str(uuid.uuid4()), float(function.timeout))
        payload, errored = invoke_local(handler, event, context)
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["Content-Length"] = str(len(payload))
        return payload

    cls.invoke = invoke
    cls._stratoflow_local = True
