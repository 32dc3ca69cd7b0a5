"""The in-process Lambda of the emulator: answers, errors as Lambda shapes them, unregistered
functions as moto makes them."""

from __future__ import annotations

import json

from tests.functional.launchers.launcher_support import World


def test_a_registered_function_answers_its_handlers_json(world: World) -> None:
    world.function("echo", lambda event, context: {"got": event, "name": context.function_name})
    answer = world.awslambda.invoke(FunctionName="echo", Payload=b'{"a": 1}')
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"got": {"a": 1}, "name": "echo"}


def test_a_raising_handler_answers_an_unhandled_function_error(world: World) -> None:
    def fail(event: object, context: object) -> None:
        raise KeyError("flow_run_id")

    world.function("fail", fail)
    answer = world.awslambda.invoke(FunctionName="fail", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    body = json.loads(answer["Payload"].read())
    assert body["errorType"] == "KeyError"
    assert body["errorMessage"] == "'flow_run_id'"


def test_an_unregistered_function_behaves_as_moto_makes_it(world: World) -> None:
    arn = world.awslambda.create_function(
        FunctionName="plain",
        Runtime="python3.11",
        Role="arn:aws:iam::123456789012:role/launcher",
        Handler="handler.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )["FunctionArn"]
    assert arn.endswith(":plain")
    world.function("other", lambda event, context: {"wrong": "handler"})
    answer = world.awslambda.invoke(FunctionName="plain", Payload=b"{}")
    # moto's own invoke: it tries to run the code in Docker and answers that it could not.
    assert answer["Payload"].read().startswith(b"error running")
