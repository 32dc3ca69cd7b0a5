"""`stratoflow deploy FILE:FUNCTION --name NAME ...`: deploy a flow from the current project.

The current directory is the project root: FILE is found relative to it, the folder is packed
into a content-addressed bundle (minus `.stratoflowignore`) and uploaded unless unchanged, or
`--image` records a container image that holds the code instead. `--infra` picks where runs
execute; its settings come from `--infra-file` and `--set` and are checked before anything is
sent (see `stratoflow.cli._infra`). Links that would pack content
from outside the folder are left out, and each is named on stderr. Everything the user typed is
validated before the first write; the API's refusals (a bad cron, say) exit 2 with its message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from stratoflow.cli._common import BadInputError, CliError, client_from, handle_errors
from stratoflow.cli._infra import infra_overrides
from stratoflow.cli._inputs import parse_params, validation_message
from stratoflow.deploy import PENDING_FLOW_ID, BundleError, DeployResult, DeploySpec, deploy
from stratoflow.runtime.loader import CodeLoadError, load_flow
from stratoflow.runtime.parameter_schema import parameter_schema
from stratoflow.schemas import (
    CodeImage,
    CronSchedule,
    Deployment,
    DeploymentCreate,
    DeploymentScheduleCreate,
    InfrastructureType,
    IntervalSchedule,
    RRuleSchedule,
)

Schedule = CronSchedule | IntervalSchedule | RRuleSchedule


@click.command("deploy")
@click.argument("entrypoint", metavar="FILE:FUNCTION")
@click.option("--name", required=True, help="The deployment's name (unique per flow).")
@click.option("--cron", help="Run on a cron schedule, e.g. '0 2 * * *'.")
@click.option("--interval", type=float, help="Run every SECONDS.")
@click.option("--rrule", help="Run on an RFC 5545 recurrence rule.")
@click.option("--timezone", help="The schedule's IANA timezone (default UTC).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter.")
@click.option("--work-queue", default="default", show_default=True)
@click.option(
    "--infra",
    type=click.Choice([i.value for i in InfrastructureType]),
    default=InfrastructureType.LOCAL.value,
    show_default=True,
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="An infrastructure setting (dotted keys nest: env.FOO=bar; JSON values: cpu=1024).",
)
@click.option(
    "--infra-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Infrastructure settings from a JSON or .toml file (--set wins over it).",
)
@click.option("--image", help="A container image with the code inside (no upload).")
@click.option("--paused", is_flag=True, help="Create the deployment with its schedule paused.")
@click.pass_context
def deploy_command(ctx: click.Context, /, entrypoint: str, **options: Any) -> None:
    """Deploy FILE:FUNCTION (a @flow) from this folder, with a schedule and parameters."""
    root = Path.cwd()
    spec = build_spec(root, entrypoint, options)
    with client_from(ctx) as client, handle_errors(f"deploying {entrypoint}"):
        try:
            result = deploy(client, spec)
        except BundleError as exc:
            raise CliError(str(exc)) from exc
    for line in skipped_lines(result):
        click.echo(line, err=True)
    click.echo(summary(result, spec))


def build_spec(root: Path, entrypoint: str, options: dict[str, Any]) -> DeploySpec:
    """Check and gather everything to deploy, before anything is written.

    Raises:
        BadInputError: a bad FILE, FUNCTION, parameter, schedule or name (exit 2).
    """
    relative = project_entrypoint(root, entrypoint)
    try:
        flow = load_flow(relative, root)
    except CodeLoadError as exc:
        raise BadInputError(str(exc)) from exc
    infra = InfrastructureType(options["infra"])
    overrides = infra_overrides(infra, options["infra_file"], options["settings"])
    try:
        deployment = DeploymentCreate(
            flow_id=PENDING_FLOW_ID,
            name=options["name"],
            entrypoint=relative,
            parameters=parse_params(options["params"]),
            work_queue=options["work_queue"],
            infrastructure=infra,
            infra_overrides=overrides,
            schedules=schedules_from(options),
            paused=options["paused"],
            flow_version=flow.version,
            parameter_schema=_schema_of(flow.fn, flow.name),
        )
        if options["image"] is not None:
            CodeImage(image=options["image"])
    except ValidationError as exc:
        raise BadInputError(f"invalid deployment: {validation_message(exc)}") from exc
    return DeploySpec(flow.name, root, deployment, image=options["image"])


def _schema_of(fn: Any, name: str) -> dict[str, Any] | None:
    """The flow's parameter schema; None (runs are then checked by the engine only) if pydantic
    cannot make one for its signature."""
    try:
        return parameter_schema(fn, title=name)
    except Exception as exc:  # a deploy must not fail on what only makes checks earlier
        click.echo(f"note: no parameter schema for {name}: {exc}", err=True)
        return None


def project_entrypoint(root: Path, entrypoint: str) -> str:
    """`FILE:FUNCTION` with FILE as a posix path relative to the project root.

    Raises:
        BadInputError: not of that form, or FILE is missing or outside the project (exit 2).
    """
    file_part, sep, function = entrypoint.rpartition(":")
    if not sep or not file_part or not function.isidentifier():
        raise BadInputError(f"invalid entrypoint {entrypoint!r}: expected FILE:FUNCTION")
    path = (root / file_part).resolve()
    if not path.is_file():
        raise BadInputError(f"entrypoint {entrypoint!r}: no file {file_part!r}")
    if not path.is_relative_to(root.resolve()):
        raise BadInputError(
            f"entrypoint {entrypoint!r}: {file_part!r} is outside the project folder {root}"
        )
    return f"{path.relative_to(root.resolve()).as_posix()}:{function}"


def schedules_from(options: dict[str, Any]) -> list[DeploymentScheduleCreate]:
    """The schedule given by `--cron`, `--interval` or `--rrule` (at most one), if any.

    Raises:
        BadInputError: more than one is given, or `--timezone` without any (exit 2).
        ValidationError: a value the schema refuses (an unknown timezone, say).
    """
    given = [flag for flag in ("cron", "interval", "rrule") if options[flag] is not None]
    if len(given) > 1:
        raise BadInputError(f"give one of --cron, --interval, --rrule, not {', '.join(given)}")
    timezone = options["timezone"]
    if not given:
        if timezone:
            raise BadInputError("--timezone needs --cron, --interval or --rrule")
        return []
    tz = {"timezone": timezone} if timezone else {}
    schedule: Schedule
    if given[0] == "cron":
        schedule = CronSchedule(cron=options["cron"], **tz)
    elif given[0] == "interval":
        schedule = IntervalSchedule(interval_seconds=options["interval"], **tz)
    else:
        schedule = RRuleSchedule(rrule=options["rrule"], **tz)
    return [DeploymentScheduleCreate(schedule=schedule)]


def describe_schedule(schedule: Schedule) -> str:
    """A schedule in a few words."""
    if isinstance(schedule, CronSchedule):
        return f"cron '{schedule.cron}' ({schedule.timezone})"
    if isinstance(schedule, IntervalSchedule):
        return f"every {schedule.interval_seconds:g}s ({schedule.timezone})"
    return f"rrule '{schedule.rrule}' ({schedule.timezone})"


def summary(result: DeployResult, spec: DeploySpec) -> str:
    """What was deployed, and what to do next."""
    found = result.deployment
    ref = f"{found.flow_name}/{found.name}"
    schedules = [describe_schedule(s.schedule) for s in found.schedules] or ["none"]
    lines = [
        f"Deployed {ref} (id {found.id})",
        f"  entrypoint  {found.entrypoint}",
        f"  code        {_describe_code(result, spec)}",
        f"  schedule    {'; '.join(schedules)}{' (paused)' if found.paused else ''}",
        f"  work queue  {found.work_queue} (infrastructure {found.infrastructure.value})",
        f"Next: `stratoflow run '{ref}' --watch` starts a run now; {_who_starts(found)}.",
    ]
    return "\n".join(lines)


PUSHABLE = frozenset(
    {
        InfrastructureType.ECS,
        InfrastructureType.KUBERNETES,
        InfrastructureType.VERTEX,
        InfrastructureType.LAMBDA,
    }
)
"""Infrastructure a stack can launch runs on itself (when it has that launcher turned on)."""


def _who_starts(found: Deployment) -> str:
    agent = f"an agent on work queue '{found.work_queue}' picks it up"
    if found.infrastructure in PUSHABLE:
        return f"the stack's {found.infrastructure.value} launcher starts it (without one, {agent})"
    return agent


def skipped_lines(result: DeployResult) -> list[str]:
    """One warning per project path left out of the bundle, naming it and why."""
    skipped = result.bundle.skipped if result.bundle is not None else ()
    return [f"warning: not packed: {s.path}: {s.reason}" for s in skipped]


def _describe_code(result: DeployResult, spec: DeploySpec) -> str:
    if result.bundle is None:
        return f"image {spec.image}"
    state = "uploaded" if result.uploaded else "unchanged, not uploaded"
    uri = getattr(result.deployment.code, "uri", "?")
    left_out = f", {len(result.bundle.skipped)} left out" if result.bundle.skipped else ""
    return f"{uri} ({len(result.bundle.files)} files{left_out}, {state})"
