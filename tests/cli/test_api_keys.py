"""`stratoflow api-keys create | ls | revoke` against the live API over HTTP."""

from __future__ import annotations

import re

import httpx

from tests.cli.conftest import Invoke
from tests.fixtures.live_api import LiveApi

KEY = re.compile(r"^sf_[A-Za-z0-9_\-]{43}$", re.MULTILINE)


def _flows_status(live_api: LiveApi, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{live_api.url}/flows", headers=headers).status_code


def test_create_prints_a_working_key_once_with_a_warning(invoke: Invoke, live_api: LiveApi) -> None:
    result = invoke("api-keys", "create", "ci-runner")
    assert result.exit_code == 0, result.output
    keys = KEY.findall(result.stdout)
    assert len(keys) == 1
    assert "cannot be shown again" in result.stderr
    assert _flows_status(live_api, keys[0]) == 200
    listed = invoke("api-keys", "ls")
    assert listed.exit_code == 0, listed.output
    assert "ci-runner" in listed.output
    assert keys[0] not in listed.output  # only the prefix is ever shown again
    assert keys[0][:10] in listed.output


def test_revoke_makes_the_key_fail_at_once(invoke: Invoke, live_api: LiveApi) -> None:
    created = invoke("api-keys", "create", "short-lived", "--scope", "admin")
    assert created.exit_code == 0, created.output
    key = KEY.findall(created.stdout)[0]
    key_id = re.search(r"\(([0-9a-f-]{36})\)", created.stdout)
    assert key_id is not None
    revoked = invoke("api-keys", "revoke", key_id.group(1))
    assert revoked.exit_code == 0, revoked.output
    assert _flows_status(live_api, key) == 401
    listed = invoke("api-keys", "ls")
    row = next(line for line in listed.output.splitlines() if "short-lived" in line)
    assert row.split()[2] == "admin"
    assert row.endswith("yes")


def test_a_regular_key_may_not_manage_keys_and_bad_input_exits_2(
    invoke: Invoke, live_api: LiveApi
) -> None:
    regular = KEY.findall(invoke("api-keys", "create", "regular-one").stdout)[0]
    refused = invoke("--api-key", regular, "api-keys", "ls")
    assert refused.exit_code == 1
    assert "admin_required" in refused.output
    bad_id = invoke("api-keys", "revoke", "not-a-uuid")
    assert bad_id.exit_code == 2
    assert "invalid API key id 'not-a-uuid'" in bad_id.output
    bad_name = invoke("api-keys", "create", "bad/name")
    assert bad_name.exit_code == 2
    assert "invalid API key: name" in bad_name.output
