"""`stratoflow server start`: the local stack in the foreground until Ctrl-C (SPEC 6 and 8).

Registered through the `stratoflow.cli` entry point of the functions package. This is the
boundary where the environment is read (once, into `LocalOptions` and `Settings`) and where the
stack process gets its emulator credentials (the emulator's random ones of this start, which
every boto3 and pynamodb client in the process then signs with); exit codes: 0 after a clean
stop, 1 when the stack cannot start (a busy port, a data folder in use), with the reason on
stderr.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType

import click

from stratoflow.cli.extras import install_hint, missing_requirements
from stratoflow.client.profile import stratoflow_home
from stratoflow_functions.config import load_settings
from stratoflow_functions.local.sigv4 import EmulatorCredentials
from stratoflow_functions.local.stack import LocalOptions, LocalStack, LocalStackError, StackInfo
from stratoflow_functions.local.timers import Cadences

EMULATOR_ENV = {
    # moto's DynamoDB Streams (and account-scoped endpoints) need this off
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
DROPPED_ENV = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE")
WAKE_SECONDS = 0.5
DISTRIBUTION, EXTRA = "stratoflow-functions", "local"
"""The extra that installs what the local stack runs on (the emulator, the HTTP servers)."""


def options_from_env(env: Mapping[str, str], host: str, port: int) -> LocalOptions:
    """The stack's options from flags and the `STRATOFLOW_LOCAL_*` environment variables."""
    cadences = Cadences().scaled(float(env.get("STRATOFLOW_LOCAL_TICK_SCALE") or 1.0))
    cadences = Cadences(
        scheduler=_seconds(env, "SCHEDULER", cadences.scheduler),
        zombie_killer=_seconds(env, "ZOMBIE_KILLER", cadences.zombie_killer),
        lazarus=_seconds(env, "LAZARUS", cadences.lazarus),
        compaction_check=cadences.compaction_check,
    )
    return LocalOptions(
        home=stratoflow_home(env),
        host=host,
        port=port,
        cadences=cadences,
        compact_after=int(env.get("STRATOFLOW_LOCAL_COMPACT_AFTER") or 2_000),
        fsync=_flag(env, "STRATOFLOW_LOCAL_FSYNC", default=False),
        agent=_flag(env, "STRATOFLOW_LOCAL_AGENT", default=True),
        launchers=_flag(env, "STRATOFLOW_LOCAL_LAUNCHERS", default=True),
        agent_env=dict(env),
    )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(f"STRATOFLOW_LOCAL_{name}_SECONDS")
    return float(raw) if raw else default


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if not raw:
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


def emulator_environment(
    env: Mapping[str, str], region: str, credentials: EmulatorCredentials
) -> dict[str, str]:
    """The stack process's own environment: the emulator's credentials, which only it accepts
    (the user's AWS credentials are dropped, so nothing in the process can reach AWS)."""
    result = {k: v for k, v in env.items() if k not in DROPPED_ENV}
    result.update(EMULATOR_ENV)
    result.update(credentials.environment())
    result["AWS_DEFAULT_REGION"] = result["AWS_REGION"] = region
    return result


@click.group()
def server() -> None:
    """The local stack: API, AWS emulator, Towel services and a local agent on one machine."""


@server.command("start")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=4200, show_default=True, type=int, help="API port (0: any).")
def start(host: str, port: int) -> None:
    """Start the local stack in the foreground; Ctrl-C stops it."""
    _require_local_extra()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    user_env = dict(os.environ)
    settings = load_settings(user_env)
    stack = LocalStack(options_from_env(user_env, host, port), settings)
    try:
        stack.bind()
    except LocalStackError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    os.environ.clear()
    os.environ.update(emulator_environment(user_env, settings.region, stack.emulator.credentials))
    _run(stack)


def _require_local_extra() -> None:
    """Exit 1 naming the extra when its packages are missing: they are imported only once the
    stack is half started, where the error would be a traceback."""
    missing = missing_requirements(DISTRIBUTION, EXTRA)
    if missing:
        hint = install_hint(DISTRIBUTION, EXTRA)
        click.echo(f"Error: the local stack needs {', '.join(missing)}: {hint}", err=True)
        sys.exit(1)


def _run(stack: LocalStack) -> None:
    stopping = threading.Event()
    _on_signals(stopping)
    try:
        info = stack.start()
    except LocalStackError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    _announce(info, stack.options.profile)
    # Poll, not a bare wait(): a signal the kernel hands to another thread sets the event but
    # never wakes a main thread blocked without a timeout.
    while not stopping.wait(WAKE_SECONDS):
        pass
    click.echo("Stopping the local stack...", err=True)
    stack.stop()
    click.echo("Stopped.", err=True)


def _on_signals(stopping: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _announce(info: StackInfo, profile: object) -> None:
    key_note = "a new admin key" if info.key_created else "the existing admin key"
    click.echo(f"Stratoflow local stack ready at {info.api_url}")
    click.echo(f"  profile: {profile} ({key_note}; the CLI and SDK use it)")
    click.echo(f"  AWS emulator: {info.emulator_url}")
    restore = info.restore
    click.echo(
        f"  restored {restore.snapshot_records} snapshot records and "
        f"{restore.replayed_writes} logged writes in {restore.seconds:.2f} s"
    )
    if not info.agent_started:
        click.echo("  no local agent running (see the log above)")
    click.echo("Press Ctrl-C to stop.", nl=True)
    sys.stdout.flush()
