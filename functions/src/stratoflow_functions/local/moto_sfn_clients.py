"""Point the emulator's Step Functions at the emulator itself, signing as the stack.

moto's state-machine interpreter calls the services a Task state names (Lambda, ECS) through
boto3 clients of its own (`boto_client_for`): intercepted in process under `mock_aws`, or else
sent to `http://localhost:$MOTO_PORT` with the fixed keys `ak`/`sk`. The local stack serves
moto on a port of its choosing and refuses any request not signed with its own credentials
(`signed_only.py`), so those calls would reach nothing or be refused. `point_sfn_clients_at`
makes the interpreter's clients use the stack's emulator URL and credentials; under `mock_aws`
(the tests' in-process moto) the interpreter behaves as moto makes it.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from stratoflow_functions.local.sigv4 import EmulatorCredentials

_TARGET: dict[str, Any] = {}
_LOCK = threading.Lock()
PARSER_PACKAGE = "moto.stepfunctions.parser"


def point_sfn_clients_at(endpoint_url: str, credentials: EmulatorCredentials) -> None:
    """Send the interpreter's service calls to `endpoint_url`, signed with `credentials`."""
    with _LOCK:
        _TARGET.update(endpoint_url=endpoint_url, credentials=credentials)
    _install()


def _install() -> None:
    from moto.stepfunctions.parser.asl.utils import boto_client

    if getattr(boto_client, "_stratoflow_pointed", False):
        return
    original = boto_client.boto_client_for

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.core.models import botocore_stubber

        with _LOCK:
            target = dict(_TARGET)
        if botocore_stubber.enabled or not target:
            return original(region, service, state_credentials)
        return _client(region, service, target)

    boto_client._stratoflow_pointed = True  # type: ignore[attr-defined]
    boto_client.boto_client_for = client_for
    # Modules imported from now on take the new function; those imported already hold theirs.
    for name, module in list(sys.modules.items()):
        if name.startswith(PARSER_PACKAGE) and getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = client_for  # type: ignore[attr-defined]


def _client(region: str, service: str, target: dict[str, Any]) -> Any:
    import boto3
    from botocore.config import Config

    credentials: EmulatorCredentials = target["credentials"]
    make: Any = boto3.client  # any service by name (the stubs want a literal)
    return make(
        service,
        region_name=region,
        endpoint_url=target["endpoint_url"],
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=None,
        # As moto's own: no client-side validation (the interpreter passes ASL casing) and
        # no retries (Step Functions' Retry fields decide); a long read for `.sync` calls.
        config=Config(
            parameter_validation=False,
            retries={"total_max_attempts": 1},
            read_timeout=900,
        ),
    )
