"""The local stack as users run it: `stratoflow server start` in a real process, with the SDK
and the CLI working against it from the profile alone, and everything the API acknowledged
still there after a kill -9 and a restart."""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stratoflow import flow, get_run_logger, task
from stratoflow.client import StratoflowClient
from stratoflow.client.profile import read_profile
from stratoflow_functions.config import Settings
from stratoflow_functions.local.emulator import Emulator
from stratoflow_functions.local.stream import StreamPublisher
from stratoflow_functions.store import build_store, table_definition
from tests.e2e.local_stack import (
    STRATOFLOW,
    ServerProcess,
    process_gone,
    stack_env,
    start_server,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def run_server(home: Path, servers: list[ServerProcess], tag: str, **env: str) -> ServerProcess:
    server = start_server(home, tag, env=stack_env(home, **env))
    servers.append(server)
    return server.wait_ready()


def snapshot_of_runs(client: StratoflowClient) -> dict[str, object]:
    """Every run with its state, task runs and log lines, as plain comparable data."""
    result: dict[str, object] = {}
    for run in client.list_flow_runs(limit=100).items:
        tasks = client.list_task_runs(run.id, limit=200).items
        logs = client.list_logs(run.id, limit=200).items
        result[str(run.id)] = {
            "state": (run.state.type, run.state.name, run.version),
            "tasks": sorted((str(t.id), t.state.type, t.run_count) for t in tasks),
            "logs": [(str(line.timestamp), line.message) for line in logs],
        }
    return result


def test_first_start_writes_the_profile_and_ctrl_c_stops_everything(
    home: Path, servers: list[ServerProcess]
) -> None:
    server = run_server(home, servers, "first")
    profile = read_profile(home / "profile.toml")
    assert profile["api_url"] == server.url
    assert profile["api_key"].startswith("sf_")
    assert f"ready at {server.url}" in server.output()
    answer = httpx.get(f"{server.url}/flows", headers={"authorization": f"Bearer {server.key}"})
    assert answer.status_code == 200

    assert server.interrupt() == 0
    assert server.agent_pid is not None
    wait_for(lambda: process_gone(server.agent_pid or 0), 10, "the agent to be gone")
    assert "Stopped." in server.output()


def test_a_second_start_on_a_busy_port_says_so_and_exits_non_zero(
    home: Path, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    server = run_server(home, servers, "busy")
    port = int(server.url.rsplit(":", 1)[1])
    other = tmp_path / "other-home"
    second = subprocess.run(
        [STRATOFLOW, "server", "start", "--port", str(port)],
        env=stack_env(other),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1
    assert f"port {port}" in second.stderr
    assert "already in use" in second.stderr
    assert not (other / "profile.toml").exists()
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_sdk_runs_survive_kill_9_and_a_restart_reuses_the_key(
    home: Path, servers: list[ServerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    # compact every few writes, every 150 ms: snapshots are taken while the flow writes
    compacting = {"STRATOFLOW_LOCAL_COMPACT_AFTER": "5"}
    server = run_server(home, servers, "sdk-1", STRATOFLOW_LOCAL_TICK_SCALE="0.0025", **compacting)
    monkeypatch.setenv("STRATOFLOW_HOME", str(home))  # the SDK finds the API in the profile
    monkeypatch.delenv("STRATOFLOW_API_URL", raising=False)
    monkeypatch.delenv("STRATOFLOW_API_KEY", raising=False)

    @task(retries=1, retry_delay_seconds=0)
    def double(n: int) -> int:
        get_run_logger().info("doubling %s", n)
        return n * 2

    @flow(name="local-stack-sdk")
    def total(n: int) -> int:
        get_run_logger().info("summing %s doubles", n)
        return sum(f.result() for f in double.map(range(n)))

    assert total(4) == 12
    with server.client() as client:
        before = snapshot_of_runs(client)
    (only,) = before.values()
    assert only["state"][0] == "COMPLETED"  # type: ignore[index]
    assert len(only["tasks"]) == 4  # type: ignore[arg-type]
    assert any("summing 4 doubles" in m for _, m in only["logs"])  # type: ignore[union-attr]
    assert wait_for(lambda: _generation(home) > 2, 10, "a compaction while running")

    server.kill()
    agent = server.agent_pid or 0
    wait_for(lambda: process_gone(agent), 15, "the orphaned agent to stop")
    again = run_server(home, servers, "sdk-2")
    assert again.key == server.key
    assert "the existing admin key" in again.output()
    with again.client() as client:
        assert snapshot_of_runs(client) == before
    assert again.interrupt() == 0


def _generation(home: Path) -> int:
    return max(int(p.stem.split("-")[1]) for p in (home / "local").glob("wal-*.jsonl"))


FLOW_FILE = """
from stratoflow import flow, get_run_logger, task


@task
def square(n: int) -> int:
    get_run_logger().info("squaring %s", n)
    return n * n


@flow(name="local-e2e")
def squares(n: int = 3) -> int:
    get_run_logger().info("squares of %s", n)
    return sum(f.result() for f in square.map(range(n)))
"""


def test_deploy_and_run_watch_through_the_local_agent_then_kill_9_and_restart(
    home: Path, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    server = run_server(home, servers, "cli-1")
    project = tmp_path / "project"
    project.mkdir()
    (project / "flows.py").write_text(textwrap.dedent(FLOW_FILE))
    env = stack_env(home)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [STRATOFLOW, *args], cwd=project, env=env, capture_output=True, text=True, timeout=60
        )

    deployed = cli("deploy", "flows.py:squares", "--name", "e2e", "--param", "n=3")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    watched = cli("run", "local-e2e/e2e", "--watch")
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "COMPLETED" in watched.stdout.upper()

    with server.client() as client:
        before = snapshot_of_runs(client)
    (only,) = before.values()
    assert only["state"][0] == "COMPLETED"  # type: ignore[index]
    assert len(only["tasks"]) == 3  # type: ignore[arg-type]
    assert any("squares of 3" in m for _, m in only["logs"])  # type: ignore[union-attr]

    server.kill()
    again = run_server(home, servers, "cli-2")
    with again.client() as client:
        assert snapshot_of_runs(client) == before
    listed = cli("runs", "ls")
    assert listed.returncode == 0
    assert next(iter(before))[:8] in listed.stdout
    assert again.interrupt() == 0


# The emulator's durability, in-process (moto keeps one backend per process: each "restart"
# resets it first, as a new process would start empty).


@pytest.fixture
def emulator_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "emulator"
    reset_moto()


def reset_moto() -> None:
    from moto.backends import get_backend

    for name in ("dynamodb", "s3", "events", "sqs"):
        get_backend(name).reset()  # type: ignore[no-untyped-call]


def restarted(data_dir: Path, old: Emulator | None = None) -> Emulator:
    if old is not None:
        old.stop()
    reset_moto()
    emulator = Emulator(data_dir)
    emulator.start()
    return emulator


def test_replay_reproduces_items_objects_and_conditional_write_races(emulator_dir: Path) -> None:
    emulator = restarted(emulator_dir)
    dynamodb, s3 = emulator.clients.dynamodb, emulator.clients.s3
    dynamodb.create_table(**table_definition("race"))
    winners = race_conditional_puts(dynamodb, contenders=8)
    s3.create_bucket(Bucket="stratoflow-code")
    s3.put_object(Bucket="stratoflow-code", Key="a b/c.zip", Body=b"zip!", ContentType="x/y")
    before = dynamodb.scan(TableName="race", ConsistentRead=True)["Items"]
    assert len(winners) == 1
    assert emulator.log_size > 0

    emulator = restarted(emulator_dir, emulator)  # replays the log, then compacts it
    after = emulator.clients.dynamodb.scan(TableName="race", ConsistentRead=True)["Items"]
    assert sorted(map(str, after)) == sorted(map(str, before))
    obj = emulator.clients.s3.get_object(Bucket="stratoflow-code", Key="a b/c.zip")
    assert (obj["Body"].read(), obj["ContentType"]) == (b"zip!", "x/y")
    assert emulator.log_size == 0

    emulator = restarted(emulator_dir, emulator)  # from the snapshot this time
    again = emulator.clients.dynamodb.scan(TableName="race", ConsistentRead=True)["Items"]
    assert sorted(map(str, again)) == sorted(map(str, before))
    assert emulator.clients.dynamodb.describe_table(TableName="race")["Table"][
        "StreamSpecification"
    ]["StreamEnabled"]
    emulator.stop()


def race_conditional_puts(dynamodb: object, contenders: int) -> list[int]:
    """Threads race to create one item and to bump one counter; the ids that won."""
    import threading

    from botocore.exceptions import ClientError

    winners: list[int] = []
    key = {"pk": {"S": "slot"}, "sk": {"S": "one"}}

    def contend(n: int) -> None:
        try:
            dynamodb.put_item(  # type: ignore[attr-defined]
                TableName="race",
                Item={**key, "winner": {"N": str(n)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            winners.append(n)
        except ClientError:
            pass
        dynamodb.update_item(  # type: ignore[attr-defined]
            TableName="race",
            Key={"pk": {"S": "counter"}, "sk": {"S": "one"}},
            UpdateExpression="ADD hits :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return winners


def test_a_torn_last_log_line_is_ignored_and_later_writes_are_kept(emulator_dir: Path) -> None:
    emulator = restarted(emulator_dir)
    dynamodb = emulator.clients.dynamodb
    dynamodb.create_table(**table_definition("torn"))
    dynamodb.put_item(TableName="torn", Item={"pk": {"S": "a"}, "sk": {"S": "1"}})
    emulator.stop()
    log = emulator_dir / f"wal-{emulator.generation}.jsonl"
    with log.open("a") as handle:
        handle.write('{"e": {"REQUEST_METHOD": "PO')  # a crash mid-append

    emulator = restarted(emulator_dir)
    emulator.clients.dynamodb.put_item(TableName="torn", Item={"pk": {"S": "b"}, "sk": {"S": "2"}})
    emulator = restarted(emulator_dir, emulator)
    items = emulator.clients.dynamodb.scan(TableName="torn")["Items"]
    assert sorted(item["pk"]["S"] for item in items) == ["a", "b"]
    emulator.stop()


def test_state_changes_on_the_stream_reach_the_event_bus(emulator_dir: Path) -> None:
    emulator = restarted(emulator_dir)
    clients = emulator.clients
    clients.dynamodb.create_table(**table_definition("events"))
    queue = clients.client("sqs").create_queue(QueueName="state-changes")["QueueUrl"]
    arn = clients.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    events = clients.client("events")
    events.put_rule(Name="runs", EventPattern='{"source": ["stratoflow"]}')
    events.put_targets(Rule="runs", Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}])
    publisher = StreamPublisher(
        clients.client("dynamodbstreams"),
        clients.dynamodb,
        events,
        build_store(Settings(table_name="events", aws_endpoint_url=emulator.url)).run_counting,
        table_name="events",
        event_bus_name="default",
    )
    publisher.start()
    run = {"pk": {"S": "run#1"}, "sk": {"S": "run"}, "entity": {"S": "flow_run"}}
    clients.dynamodb.put_item(
        TableName="events", Item={**run, "id": {"S": "1"}, "state_type": {"S": "RUNNING"}}
    )
    published = wait_for(lambda: publisher.published, 10, "the state change to be published")
    publisher.stop()
    messages = clients.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    assert published == 1
    event = json.loads(messages[0]["Body"])
    assert (event["source"], event["detail"]["state_type"]) == ("stratoflow", "RUNNING")
    emulator.stop()


def test_a_cancelled_transaction_changes_nothing_and_a_good_one_applies_in_full(
    emulator_dir: Path,
) -> None:
    emulator = restarted(emulator_dir)  # with moto's light transaction backup installed
    dynamodb = emulator.clients.dynamodb
    dynamodb.create_table(**table_definition("tx"))
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    dynamodb.put_item(TableName="tx", Item={**key, "v": {"N": "1"}})
    bump = {"TableName": "tx", "Key": key, "UpdateExpression": "ADD v :one"}
    bump["ExpressionAttributeValues"] = {":one": {"N": "1"}}
    missing = {"TableName": "tx", "Key": {"pk": {"S": "b"}, "sk": {"S": "1"}}}
    new = {"TableName": "tx", "Item": {"pk": {"S": "c"}, "sk": {"S": "1"}}}
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Update": bump},
                {"Put": new},
                {"ConditionCheck": {**missing, "ConditionExpression": "attribute_exists(pk)"}},
            ]
        )
    unchanged = dynamodb.scan(TableName="tx", ConsistentRead=True)["Items"]
    dynamodb.transact_write_items(TransactItems=[{"Update": bump}, {"Put": new}])
    applied = dynamodb.scan(TableName="tx", ConsistentRead=True)["Items"]
    emulator.stop()
    assert unchanged == [{**key, "v": {"N": "1"}}]
    assert sorted(item["pk"]["S"] for item in applied) == ["a", "c"]
    assert next(item["v"] for item in applied if item["pk"]["S"] == "a") == {"N": "2"}
