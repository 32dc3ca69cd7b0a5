"""The Lambda bundle imports each existing handler module in a clean interpreter.

The Lambda build targets aarch64 / CPython 3.12, which cannot run on this x86_64 machine, so
the import check runs on the host-platform build of the same lock (with boto3/botocore added,
as the Lambda runtime provides them), in `python -I -S -B` with only the bundle on sys.path.
The build downloads wheels from PyPI (cached by uv after the first run).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stratoflow_infra import bundle


@pytest.fixture(scope="module")
def host_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host-platform build of the bundle."""
    target = tmp_path_factory.mktemp("bundle") / "lambda-host"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    bundle.build(target, "x86_64-manylinux_2_28", version, with_runtime=True)
    return target


def test_the_bundle_holds_functions_and_sdk_but_no_cdk_kubernetes_or_gcp(host_bundle: Path) -> None:
    names = {path.name for path in host_bundle.iterdir()}

    assert {"stratoflow", "stratoflow_functions", "aws_lambda_powertools", "pynamodb"} <= names
    assert not names & {"aws_cdk", "cdk_nag", "jsii", "kubernetes", "google", "stratoflow_infra"}


def test_the_lambda_requirements_leave_out_what_the_runtime_provides() -> None:
    names = {line.split("==")[0].lower() for line in bundle.requirements(False)}

    assert not names & {"boto3", "botocore", "s3transfer"}
    assert not names & {"moto", "werkzeug", "waitress", "flask"}  # the local stack's extra
    assert {"aws-lambda-powertools", "pynamodb", "pydantic"} <= names


def test_each_existing_handler_module_imports_with_only_the_bundle_on_the_path(
    host_bundle: Path,
) -> None:
    modules = bundle.handler_modules()
    assert "stratoflow_functions.handlers.state_events" in modules
    for module in modules:
        result = subprocess.run(
            bundle.import_probe(host_bundle, module), capture_output=True, text=True,
            timeout=120, check=False, env={"AWS_DEFAULT_REGION": "us-east-1"},
        )  # fmt: skip
        assert result.returncode == 0, f"{module}: {result.stderr[-2000:]}"
        assert float(result.stdout.strip().splitlines()[-1]) > 0
