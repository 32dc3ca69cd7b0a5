"""The agents' small parts: backoff arithmetic, the final-state decision, configuration, the
local launcher's command and environment, the CLI's refusals, and the pinned public API."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

import stratoflow_agents
from stratoflow.cli import cli
from stratoflow.client.settings import ClientSettings
from stratoflow.schemas import ClaimRequest, State, StateType
from stratoflow_agents import AgentConfig, LocalRunHandle, StopReason
from stratoflow_agents.backoff import backoff_delay
from stratoflow_agents.config import MAX_CLAIM_BATCH
from stratoflow_agents.local import execute_command, run_environment, stratoflow_command
from stratoflow_agents.reporting import final_state
from tests.agents.agent_support import flow_run, make_agent, run_until

# --- backoff --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "expected"), [(0, 2.0), (1, 4.0), (2, 8.0), (3, 15.0), (200, 15.0)]
)
def test_backoff_doubles_per_failure_up_to_the_cap(failures: int, expected: float) -> None:
    assert backoff_delay(failures, base=2.0, cap=15.0, jitter=0.0, rand=0.5) == expected


def test_backoff_jitter_takes_off_at_most_its_fraction() -> None:
    assert backoff_delay(5, base=2.0, cap=10.0, jitter=0.2, rand=0.0) == 10.0
    assert backoff_delay(5, base=2.0, cap=10.0, jitter=0.2, rand=0.5) == pytest.approx(9.0)
    assert backoff_delay(5, base=2.0, cap=10.0, jitter=0.2, rand=0.999) > 8.0


# --- final state ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "name", "code", "reason", "expected"),
    [
        (StateType.RUNNING, "", 1, None, StateType.CRASHED),
        (StateType.PENDING, "", 2, None, StateType.CRASHED),
        (StateType.RUNNING, "", 0, None, StateType.CRASHED),  # gone while RUNNING: cannot end
        (StateType.RUNNING, "", -15, StopReason.SHUTDOWN, StateType.CRASHED),
        (StateType.CANCELLING, "", -9, None, StateType.CANCELLED),
        (StateType.RUNNING, "", -15, StopReason.CANCEL, StateType.CANCELLED),
        (StateType.COMPLETED, "", 0, None, None),
        (StateType.CRASHED, "", -15, StopReason.SHUTDOWN, None),
        (StateType.CANCELLED, "", -15, StopReason.CANCEL, None),
        (StateType.SCHEDULED, "AwaitingRetry", 1, None, None),
        (StateType.PAUSED, "", 1, None, None),
    ],
)
def test_final_state_decides_from_the_run_the_exit_and_the_reason(
    current: StateType, name: str, code: int, reason: StopReason | None, expected: StateType | None
) -> None:
    run = flow_run(current, name)
    state = final_state(run, code, reason)
    assert (state.type if state else None) is expected


def test_crash_messages_name_the_exit_code_and_the_shutdown() -> None:
    crashed = final_state(flow_run(StateType.RUNNING), -9, None)
    assert crashed is not None
    assert crashed.message == "Flow run infrastructure exited with exit code -9 (SIGKILL)"
    shut = final_state(flow_run(StateType.RUNNING), 143, StopReason.SHUTDOWN)
    assert shut is not None
    assert shut.message is not None
    assert shut.message.startswith("agent shut down")
    assert "exit code 143" in shut.message


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"limit": 0},
        {"backoff_jitter": 1.5},
        {"poll_interval": 0},
        {"poll_interval": 10, "backoff_max": 5},
        {"cancel_grace": -1},
        {"work_queue": "no/slashes"},
    ],
)
def test_config_refuses_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        AgentConfig(**bad)  # type: ignore[arg-type]


def test_config_defaults_heartbeat_every_30_seconds() -> None:
    assert AgentConfig().heartbeat_interval == 30.0


def test_max_claim_batch_is_the_apis_limit() -> None:
    ClaimRequest(agent_id=uuid4(), limit=MAX_CLAIM_BATCH)
    with pytest.raises(ValidationError):
        ClaimRequest(agent_id=uuid4(), limit=MAX_CLAIM_BATCH + 1)


# --- the local launcher ---------------------------------------------------------------------


def test_the_key_goes_in_the_environment_never_on_the_command_line() -> None:
    run_id = uuid4()
    settings = ClientSettings(api_url="http://api", api_key="sf_secret")
    env = run_environment({"PATH": "/bin", "STRATOFLOW_API_URL": "http://old"}, settings, run_id)
    command = execute_command(run_id, stratoflow_command())
    assert env["STRATOFLOW_API_KEY"] == "sf_secret"
    assert env["STRATOFLOW_API_URL"] == "http://api"
    assert env["STRATOFLOW_FLOW_RUN_ID"] == str(run_id)
    assert env["PATH"] == "/bin"
    assert command[-2:] == ["execute", str(run_id)]
    assert not any("sf_secret" in part for part in command)


def test_the_command_uses_the_console_script_next_to_the_interpreter(tmp_path: Path) -> None:
    assert stratoflow_command(sys.executable) == [str(Path(sys.executable).parent / "stratoflow")]
    python = tmp_path / "python"  # no `stratoflow` script next to this one
    assert stratoflow_command(str(python))[:2] == [str(python), "-c"]


def test_a_process_that_ignores_sigterm_is_killed_after_the_cancel_grace(tmp_path: Path) -> None:
    ignore_term = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", ignore_term], stdout=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"ready"  # SIGTERM is ignored from here on
    workdir = tmp_path / "run"
    workdir.mkdir()
    handle = LocalRunHandle(process, workdir)
    run = flow_run(StateType.RUNNING)
    agent, client, clock = make_agent(
        claims=[[run]], cancel_check_interval=1.0, cancel_grace=10.0, on_launch=lambda c: handle
    )
    agent.tick()
    client.move(run.id, State(type=StateType.CANCELLING))
    run_until(agent, clock, lambda: clock.now > 1.5, limit=5)  # saw CANCELLING, sent SIGTERM
    assert agent.active[run.id].stopping
    assert process.poll() is None  # still alive: it ignored SIGTERM
    deadline = time.monotonic() + 10
    while agent.active:
        assert time.monotonic() < deadline, "the process was never killed"
        agent.tick()
        clock.sleep(agent._nap(clock.now) or 0.01)
    assert process.returncode == -signal.SIGKILL
    assert clock.now >= 11.0  # killed only once the grace was over
    assert client.state_of(run.id).type is StateType.CANCELLED
    assert not workdir.exists()
    process.stdout.close()


# --- the command line -----------------------------------------------------------------------


def test_a_lambda_agent_does_not_exist_and_the_message_says_who_runs_lambda_runs() -> None:
    result = CliRunner().invoke(
        cli, ["--api-url", "http://api", "agent", "start", "--type", "lambda", "-q", "q"]
    )
    assert result.exit_code == 2
    assert "the stack's Lambda launcher runs --infra lambda runs" in result.output


def test_a_kubernetes_agent_with_an_unusable_kubeconfig_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-kubeconfig"
    result = CliRunner().invoke(cli, [
        "--api-url", "http://api", "agent", "start", "--type", "kubernetes", "-q", "q",
        "--kubeconfig", str(missing),
    ])  # fmt: skip
    assert result.exit_code == 1
    assert "cannot configure the Kubernetes client" in result.output
    assert str(missing) in result.output


def test_an_ecs_agent_without_a_cluster_exits_2_naming_the_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STRATOFLOW_ECS_CLUSTER", raising=False)
    result = CliRunner().invoke(
        cli, ["--api-url", "http://api", "agent", "start", "--type", "ecs", "-q", "q"]
    )
    assert result.exit_code == 2
    assert "--type ecs needs --cluster" in result.output


def test_agent_start_without_an_api_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["agent", "start", "-q", "q"], env={"STRATOFLOW_HOME": str(tmp_path),
                                                 "STRATOFLOW_API_URL": ""},
    )  # fmt: skip
    assert result.exit_code == 2
    assert "no API configured" in result.output


def test_agent_is_a_stratoflow_command() -> None:
    result = CliRunner().invoke(cli, ["agent", "start", "--help"])
    assert result.exit_code == 0
    assert "--work-queue" in result.output


# --- public API -----------------------------------------------------------------------------


def test_public_api_is_pinned() -> None:
    assert sorted(stratoflow_agents.__all__) == [
        "AgentConfig", "AgentError", "BaseAgent", "LaunchError", "LocalAgent", "LocalRunHandle",
        "RunHandle", "StopReason",
    ]  # fmt: skip
    for name in stratoflow_agents.__all__:
        assert getattr(stratoflow_agents, name) is not None
