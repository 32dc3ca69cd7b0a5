"""The local stack's security as a real `stratoflow server start` process: another client on
the machine cannot forge an admin key through the emulator (nor read it), while the URLs the
stack presigns keep working; and everything under `$STRATOFLOW_HOME` is owner-only even with
umask 022, after writes, compactions and a restart."""

from __future__ import annotations

import hashlib
import re
import stat
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from stratoflow.schemas import ApiKey, ApiKeyCreate, ApiKeyScope, CodeUploadRequest, utcnow
from stratoflow_functions.config import Settings
from stratoflow_functions.services.api_keys import hash_key
from tests.e2e.local_stack import ServerProcess, stack_env, start_server, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
EMULATOR = re.compile(r"AWS emulator: (http://\S+)")


def run(home: Path, servers: list[ServerProcess], tag: str, **env: str) -> ServerProcess:
    server = start_server(home, tag, env=stack_env(home, **env), umask=0o022)
    servers.append(server)
    return server.wait_ready()


def outsider(server: ServerProcess, service: str) -> Any:
    """boto3 as anyone else on the machine uses it: the endpoint, credentials of its own."""
    match = EMULATOR.search(server.output())
    assert match is not None
    make: Any = boto3.client
    return make(
        service,
        endpoint_url=match.group(1),
        region_name="us-east-1",
        aws_access_key_id="AKIAOUTSIDER",
        aws_secret_access_key="outsider",
        aws_session_token=None,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def forged_admin_item(key: str) -> dict[str, Any]:
    """The item the store would write for an admin key `key` (what the issue's attacker put)."""
    record = ApiKey(
        id=uuid.uuid4(), name="forged", scope=ApiKeyScope.ADMIN, prefix=key[:10], created=utcnow()
    )
    return {
        "pk": {"S": f"API_KEY#{hash_key(key)}"},
        "sk": {"S": "API_KEY"},
        "entity": {"S": "api_key"},
        "id": {"S": str(record.id)},
        "data": {"S": record.model_dump_json()},
    }


def refused(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return str(caught.value.response["Error"]["Code"])


def test_a_forged_admin_key_is_refused_and_presigned_urls_still_work(
    home: Path, servers: list[ServerProcess]
) -> None:
    server = run(home, servers, "door")
    settings = Settings()
    dynamodb, s3 = outsider(server, "dynamodb"), outsider(server, "s3")
    forged = "sf_" + "f" * 43
    item = forged_admin_item(forged)
    assert refused(lambda: dynamodb.put_item(TableName=settings.table_name, Item=item)) == (
        "AccessDeniedException"
    )
    own_key = {"pk": {"S": f"API_KEY#{hash_key(server.key)}"}, "sk": {"S": "API_KEY"}}
    assert refused(lambda: dynamodb.get_item(TableName=settings.table_name, Key=own_key)) == (
        "AccessDeniedException"
    )
    assert refused(lambda: s3.list_objects_v2(Bucket=settings.code_bucket)) == "AccessDenied"
    forged_call = httpx.get(f"{server.url}/flows", headers={"authorization": f"Bearer {forged}"})
    assert forged_call.status_code == 401

    with server.client() as client:
        assert client.create_api_key(ApiKeyCreate(name="still-works")).scope is ApiKeyScope.REGULAR
        data = b"a code bundle"
        sha = hashlib.sha256(data).hexdigest()
        upload = client.create_code_upload(CodeUploadRequest(sha256=sha, size=len(data)))
        assert upload.upload_url is not None
        assert httpx.put(upload.upload_url, content=data).status_code == 200
        download = client.read_code_bundle(sha).download_url
    assert httpx.get(download).content == data
    flipped = download[:-1] + ("0" if download[-1] != "0" else "1")
    assert httpx.get(flipped).status_code == 403
    assert httpx.get(download.replace(f"{sha}.zip", "other.zip")).status_code == 403
    assert refused(lambda: s3.get_object(Bucket=settings.code_bucket, Key=f"bundles/{sha}.zip"))
    assert server.interrupt() == 0


def loose(home: Path) -> None:
    """A home as an older version left it: 0755 folders, 0644 files."""
    (home / "local").mkdir(parents=True)
    (home / "profile.toml").write_text('api_url = "http://127.0.0.1:1"\n')
    (home / "local" / "snapshot.tmp").write_text("left by a crash\n")
    for path, mode in ((home, 0o755), (home / "local", 0o755)):
        path.chmod(mode)
    for path in (home / "profile.toml", home / "local" / "snapshot.tmp"):
        path.chmod(0o644)


def loose_paths(home: Path) -> list[str]:
    """Every path under `home` (itself included) that is not 0700 (folders) or 0600 (files)."""
    found = []
    for path in [home, *home.rglob("*")]:
        info = path.lstat()
        wanted = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
        if stat.S_IMODE(info.st_mode) != wanted:
            found.append(f"{path.relative_to(home.parent)} {stat.S_IMODE(info.st_mode):o}")
    return found


def generation(home: Path) -> int:
    return max(int(p.stem.split("-")[1]) for p in (home / "local").glob("wal-*.jsonl"))


def write_some(server: ServerProcess, name: str) -> None:
    with server.client() as client:
        client.create_api_key(ApiKeyCreate(name=name))
        data = name.encode()
        sha = hashlib.sha256(data).hexdigest()
        upload = client.create_code_upload(CodeUploadRequest(sha256=sha, size=len(data)))
        assert upload.upload_url is not None
        httpx.put(upload.upload_url, content=data).raise_for_status()


def test_everything_under_the_home_is_owner_only_with_umask_022(
    home: Path, servers: list[ServerProcess]
) -> None:
    loose(home)
    compacting = {"STRATOFLOW_LOCAL_COMPACT_AFTER": "1"}  # checked every 3 s (tick scale)
    server = run(home, servers, "modes-1", **compacting)
    first = generation(home)
    write_some(server, "first")
    wait_for(lambda: generation(home) > first, 20, "a compaction while running")
    assert loose_paths(home) == []
    assert server.interrupt() == 0

    again = run(home, servers, "modes-2", **compacting)
    write_some(again, "second")
    assert (home / "local" / "snapshot.jsonl").exists()
    assert loose_paths(home) == []
    assert again.interrupt() == 0
    assert loose_paths(home) == []
