"""Every route but /health needs a caller; API keys are hashed at rest and revocable."""

from __future__ import annotations

import boto3
import pytest

from stratoflow_functions.api import ApiApp, ApiDeps
from stratoflow_functions.config import Settings
from stratoflow_functions.store import Store
from tests.support import ApiCaller, FakeClock


def test_health_needs_no_caller(app) -> None:
    answer = ApiCaller(app).get("/health")
    assert answer.status == 200
    assert answer.body["status"] == "ok"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/flows"),
        ("GET", "/openapi.json"),
        ("POST", "/flow-runs"),
        ("GET", "/api-keys"),
        ("POST", "/work-queues/default/claim"),
        ("GET", "/no-such-route"),
    ],
)
def test_routes_refuse_anonymous_callers(app, method: str, path: str) -> None:
    answer = ApiCaller(app).call(method, path, {})
    assert answer.status == 401
    assert answer.code == "missing_credentials"


def test_unknown_key_is_refused(app) -> None:
    answer = ApiCaller(app, "sf_not-a-real-key").get("/flows")
    assert answer.status == 401
    assert answer.code == "invalid_api_key"


def test_non_bearer_authorization_is_refused(app) -> None:
    answer = ApiCaller(app).get("/flows", headers={"authorization": "Basic dXNlcjpwYXNz"})
    assert answer.status == 401
    assert answer.code == "invalid_authorization"


def test_created_key_is_shown_once_and_works(api: ApiCaller) -> None:
    created = api.post("/api-keys", {"name": "ci", "scope": "regular"})
    assert created.status == 201
    key = created.body["key"]
    assert key.startswith("sf_")
    assert created.body["prefix"] == key[:10]
    listed = api.get("/api-keys").body["items"]
    assert all("key" not in item for item in listed)
    assert {item["name"] for item in listed} == {"admin", "ci"}
    assert api.get("/flows", key=key).status == 200


def test_keys_are_stored_only_as_hashes(api: ApiCaller, settings: Settings) -> None:
    key = api.post("/api-keys", {"name": "ci"}).body["key"]
    table = boto3.resource("dynamodb", region_name=settings.region).Table(settings.table_name)
    dumped = repr(table.scan()["Items"])
    assert key not in dumped
    assert key[10:] not in dumped


def test_revoked_key_stops_working(api: ApiCaller) -> None:
    created = api.post("/api-keys", {"name": "ci"}).body
    assert api.get("/flows", key=created["key"]).status == 200
    revoked = api.delete(f"/api-keys/{created['id']}")
    assert revoked.status == 200
    assert revoked.body["revoked"] is True
    answer = api.get("/flows", key=created["key"])
    assert answer.status == 401


def test_regular_keys_cannot_manage_keys(api: ApiCaller) -> None:
    key = api.post("/api-keys", {"name": "ci"}).body["key"]
    answer = api.post("/api-keys", {"name": "sneaky", "scope": "admin"}, key=key)
    assert answer.status == 403
    assert answer.code == "admin_required"
    assert api.get("/api-keys", key=key).status == 403


def test_iam_principal_from_request_context_is_a_caller(app) -> None:
    iam = {"authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:role/etl"}}}
    caller = ApiCaller(app)
    assert caller.get("/flows", request_context=iam).status == 200
    assert caller.get("/api-keys", request_context=iam).status == 403


ACCOUNT = "123456789012"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/PlatformAdmin"


def _iam_app(store: Store, clock: FakeClock, *admins: str) -> ApiCaller:
    settings = Settings(table_name="stratoflow-api-test", admin_principals=admins)
    return ApiCaller(ApiApp(ApiDeps(store=store, settings=settings, clock=clock)))


def _creates_a_key_as(caller: ApiCaller, arn: str) -> bool:
    iam = {"authorizer": {"iam": {"userArn": arn, "accountId": ACCOUNT}}}
    answer = caller.post("/api-keys", {"name": "first"}, request_context=iam)
    assert answer.status in (201, 403), answer.body
    return answer.status == 201


@pytest.mark.parametrize(
    "admins",
    [
        (ADMIN_ROLE,),
        (f"arn:aws:iam::{ACCOUNT}:role/team/PlatformAdmin",),  # a role path: sessions drop it
        (f"  arn:aws:iam::{ACCOUNT}:user/ops/alice", ADMIN_ROLE),  # spaces around a list item
    ],
)
def test_a_role_listed_as_admin_is_admin_through_its_sessions(
    store: Store, clock: FakeClock, admins: tuple[str, ...]
) -> None:
    caller = _iam_app(store, clock, *admins)
    assert _creates_a_key_as(caller, f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin/alice")
    assert _creates_a_key_as(caller, f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin/ci-42")


@pytest.mark.parametrize(
    ("admin", "caller_arn"),
    [
        # The same kind of principal, equal as IAM identities.
        (f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:user/alice"),
        (f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:user/ops/alice"),
        (f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:root"),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin/alice",
            f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin/alice",
        ),
        (
            f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
            f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
        ),
    ],
)
def test_other_listed_principals_match_themselves(
    store: Store, clock: FakeClock, admin: str, caller_arn: str
) -> None:
    assert _creates_a_key_as(_iam_app(store, clock, admin), caller_arn)


@pytest.mark.parametrize(
    ("admin", "caller_arn"),
    [
        # Near misses that string equality-or-prefix matching let through.
        (
            f"arn:aws:iam::{ACCOUNT}:role/Platform",
            f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin/s",
        ),
        (f"arn:aws:iam::{ACCOUNT}:role/Platform", f"arn:aws:iam::{ACCOUNT}:role/PlatformAdmin"),
        (f"arn:aws:iam::{ACCOUNT}:role/", f"arn:aws:sts::{ACCOUNT}:assumed-role/Anyone/s"),
        (f"arn:aws:iam::{ACCOUNT}:role/", f"arn:aws:iam::{ACCOUNT}:role/ops"),
        (f"arn:aws:iam::{ACCOUNT}:user/al", f"arn:aws:iam::{ACCOUNT}:user/alice"),
        (f"arn:aws:iam::{ACCOUNT}:", f"arn:aws:iam::{ACCOUNT}:user/alice"),
        ("arn:aws:iam::12345678901", f"arn:aws:iam::{ACCOUNT}:user/alice"),
        ("arn:aws:iam::123456789012:role/*", f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/s"),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin/al",
            f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin/alice",
        ),
        # The right name, the wrong account, partition or kind.
        (ADMIN_ROLE, "arn:aws:sts::999999999999:assumed-role/PlatformAdmin/alice"),
        (ADMIN_ROLE, f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/PlatformAdmin/alice"),
        (ADMIN_ROLE, f"arn:aws:iam::{ACCOUNT}:user/PlatformAdmin"),
        (
            f"arn:aws:iam::{ACCOUNT}:user/PlatformAdmin",
            f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin/s",
        ),
        (f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:user/root"),
        # Not principal ARNs at all.
        (ADMIN_ROLE, f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin"),
        (ADMIN_ROLE, f"{ADMIN_ROLE}x"),
        ("", f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin/s"),
        ("*", f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin/s"),
    ],
)
def test_near_misses_are_not_admins(
    store: Store, clock: FakeClock, admin: str, caller_arn: str
) -> None:
    assert not _creates_a_key_as(_iam_app(store, clock, admin), caller_arn)


def test_lambda_authorizer_context_is_trusted(app) -> None:
    context = {"authorizer": {"lambda": {"key_id": "k-1", "scope": "regular"}}}
    assert ApiCaller(app).get("/flows", request_context=context).status == 200


def test_authorizer_allows_live_keys_only(api: ApiCaller, store) -> None:
    from stratoflow_functions.handlers.authorizer import authorize

    created = api.post("/api-keys", {"name": "ci"}).body
    allowed = authorize(store, {"headers": {"authorization": f"Bearer {created['key']}"}})
    assert allowed == {
        "isAuthorized": True,
        "context": {"key_id": created["id"], "scope": "regular"},
    }
    api.delete(f"/api-keys/{created['id']}")
    denied = authorize(store, {"headers": {"authorization": f"Bearer {created['key']}"}})
    assert denied == {"isAuthorized": False}
    assert authorize(store, {"headers": {}}) == {"isAuthorized": False}
