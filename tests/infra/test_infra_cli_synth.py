"""`npx cdk synth` as a user on a fresh clone runs it: no uv on PATH, no `make bundle` first.

The pinned CLI runs `cdk.json`'s app (`python3 infra/launch.py`) with a PATH of system folders
and a folder holding only python3, node and npx, so nothing can find a uv on PATH; the app
builds its own Lambda asset with local bundling (no Docker). This is the one synth of the
suite that builds the real bundle; cfn-lint then checks the template it wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from infra_synth import ACCOUNT, ALL_LAUNCHERS, REGION, ROOT

# CDK adds an explicit DependsOn on a function's role even when the role is passed in and
# referenced by GetAtt; cfn-lint warns that it is redundant. Harmless and not ours to change.
CFN_LINT_IGNORED = ("W3005",)
SYSTEM_DIRS = ("/usr/bin", "/bin")


def path_without_uv(folder: Path) -> str:
    """A PATH of `folder` (links to python3, node, npx) and the system folders that hold no uv."""
    folder.mkdir()
    for name, target in (
        ("python3", sys._base_executable),  # the interpreter, not the workspace's venv
        ("node", shutil.which("node")),
        ("npx", shutil.which("npx")),
    ):
        assert target, f"{name} is needed to run the CDK CLI"
        (folder / name).symlink_to(Path(target).resolve())
    dirs = [str(folder), *(d for d in SYSTEM_DIRS if not Path(d, "uv").exists())]
    return os.pathsep.join(dirs)


@pytest.fixture(scope="module")
def cli_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthesize with the pinned CLI: no uv on PATH, no credentials, no lookups, no Docker."""
    base = tmp_path_factory.mktemp("cdk-cli")
    path = path_without_uv(base / "bin")
    assert shutil.which("uv", path=path) is None
    dropped = ("AWS_", "CDK_", "UV", "VIRTUAL_ENV", "DOCKER_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(dropped)}
    env.update(
        PATH=path,
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        AWS_EC2_METADATA_DISABLED="true",
    )
    # Every launcher on, so cfn-lint below validates all four definitions in the template.
    launchers = [f"-c=stratoflow:{key}={value}" for key, value in ALL_LAUNCHERS.items()]
    args = [f"-c=stratoflow:account={ACCOUNT}", f"-c=stratoflow:region={REGION}", *launchers]
    out = base / "cdk.out"
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--no-lookups", "-q", "-o", str(out), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Bundling asset" in result.stderr  # built here, not found ready-made
    return out


def _template(out: Path) -> dict[str, Any]:
    template: dict[str, Any] = json.loads((out / "Stratoflow.template.json").read_text())
    return template


def _lambda_asset(out: Path) -> Path:
    """The staged asset directory of Stratoflow's functions (all of them share it)."""
    keys = {
        r["Properties"]["Code"]["S3Key"]
        for logical, r in _template(out)["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and logical.startswith("Stratoflow")
    }
    [key] = keys
    return out / f"asset.{key.removesuffix('.zip')}"


def test_the_pinned_cli_synthesizes_offline_from_committed_context(cli_out: Path) -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    installed = json.loads((ROOT / "node_modules/aws-cdk/package.json").read_text())["version"]

    assert installed == pinned
    zones = {
        r["Properties"]["AvailabilityZone"]
        for r in _template(cli_out)["Resources"].values()
        if r["Type"] == "AWS::EC2::Subnet"
    }
    assert zones == {"us-east-1a", "us-east-1b"}  # from cdk.context.json, not a lookup


def test_the_app_bundles_the_lambda_code_for_arm64_itself(cli_out: Path) -> None:
    asset = _lambda_asset(cli_out)
    names = {path.name for path in asset.iterdir()}

    assert (asset / "stratoflow_functions/handlers/api.py").is_file()
    assert {"stratoflow", "aws_lambda_powertools", "pynamodb", "pydantic_core"} <= names
    assert not names & {"boto3", "botocore", "aws_cdk", "jsii", "stratoflow_infra"}
    assert list(asset.glob("pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so"))


def test_an_unchanged_tree_reuses_the_staged_bundle(cli_out: Path) -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_

    from stratoflow_infra.bundling import lambda_code

    asset = _lambda_asset(cli_out)
    before = (asset / "stratoflow_functions/handlers/api.py").stat().st_mtime_ns
    app = App(outdir=str(cli_out))
    stack = Stack(app, "Again")
    runtime, handler = lambda_.Runtime.PYTHON_3_12, "stratoflow_functions.handlers.api.handler"
    lambda_.Function(stack, "F", runtime=runtime, handler=handler, code=lambda_code())
    app.synth()

    assert (asset / "stratoflow_functions/handlers/api.py").stat().st_mtime_ns == before
    assert not list(cli_out.glob("asset.*-building"))


def _known_schema_gap(finding: dict[str, Any], template: dict[str, Any]) -> bool:
    """cfn-lint 1.58's schema predates `Tags` on AWS::CloudWatch::Dashboard, which
    CloudFormation accepts (CDK's CfnDashboard has `tags`): that one finding is not ours."""
    path = finding["Location"]["Path"]
    kind = template["Resources"].get(path[1], {}).get("Type") if len(path) > 1 else None
    return finding["Rule"]["Id"] == "E3002" and kind == "AWS::CloudWatch::Dashboard"


def test_cfn_lint_passes_on_the_synthesized_template(cli_out: Path) -> None:
    result = subprocess.run(
        ["cfn-lint", "--format", "json", "--ignore-checks", *CFN_LINT_IGNORED, "--",
         str(cli_out / "Stratoflow.template.json")],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    template = _template(cli_out)
    findings = [f for f in json.loads(result.stdout) if not _known_schema_gap(f, template)]
    assert findings == [], json.dumps(findings, indent=1)[-3000:]
