"""The Lambda bundle holds the control plane only and imports each handler in a clean interpreter;
the Vertex layer holds google-auth, which the Vertex launcher imports from bundle + layer.

The Lambda build targets aarch64 / CPython 3.12, which cannot run on this x86_64 machine, so
the import check runs on the host-platform build of the same lock (with boto3/botocore added,
as the Lambda runtime provides them), in `python -I -S -B` with only the bundle on sys.path.
The build downloads wheels from PyPI (cached by uv after the first run). The handlers checked
are the ones the synthesized stack's functions name, so a function whose handler module
needed the local stack (`stratoflow_functions/local/`, left out of the bundle) would fail here.
The size check builds the real aarch64 bundle (what the stack deploys) and measures it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stratoflow_infra import bundle, bundling

LOCAL_STACK = "stratoflow_functions/local"
# Imports a handler with only the bundle on the path, checks it is callable and prints the
# local-stack modules (and the `[local]` extra's packages) the import loaded: none, expected.
HANDLER_PROBE = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
module, name = sys.argv[2].rsplit(".", 1)
function = getattr(importlib.import_module(module), name)
local = set(sys.argv[3].split(","))
loaded = sorted(m for m in sys.modules
                if m.split(".")[0] in local or m.startswith("stratoflow_functions.local"))
where = sys.modules[module].__file__
print(json.dumps({"callable": callable(function), "local": loaded, "file": where}))
"""
# What the common bundle must not hold: the `[vertex]` extra's packages, the layer's alone.
VERTEX_ONLY = {"google", "cryptography", "cffi", "_cffi_backend", "pycparser", "pyasn1",
               "pyasn1_modules"}  # fmt: skip
VERTEX_BACKEND = "stratoflow_functions.launchers.vertex_backend"


@pytest.fixture(scope="module")
def host_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host-platform build of the bundle."""
    target = tmp_path_factory.mktemp("bundle") / "lambda-host"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    bundle.build(target, "x86_64-manylinux_2_28", version, with_runtime=True)
    return target


@pytest.fixture(scope="module")
def host_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host-platform build of the Vertex layer: the folder that goes on sys.path."""
    target = tmp_path_factory.mktemp("layer") / "lambda-host-vertex-layer"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    packages = bundle.build_layer(target, "x86_64-manylinux_2_28", version)
    assert packages == target / "python"  # Lambda puts /opt/python on sys.path
    return packages


def _names(folder: Path) -> set[str]:
    """The import names in `folder` (`cryptography-50.0.dist-info` counts as `cryptography`)."""
    names = (path.name for path in folder.iterdir() if not path.name.startswith("."))
    return {re.split(r"[-.]", name)[0].lower() for name in names}


def test_the_bundle_holds_functions_and_sdk_but_no_cdk_kubernetes_or_gcp(host_bundle: Path) -> None:
    names = _names(host_bundle)

    assert {"stratoflow", "stratoflow_functions", "aws_lambda_powertools", "pynamodb"} <= names
    assert not names & {"aws_cdk", "cdk_nag", "jsii", "kubernetes", "vertexai", "stratoflow_infra"}
    # Nothing of GCP, not even google-auth and what it pulls in: that is the Vertex layer's.
    assert not names & VERTEX_ONLY
    assert not (host_bundle / "google").exists()


def test_the_bundle_holds_the_dashboard_build(host_bundle: Path) -> None:
    built = bundle.UI_INDEX.parent
    shipped = host_bundle / "stratoflow_functions/ui/assets"
    assert (shipped / "index.html").read_bytes() == bundle.UI_INDEX.read_bytes()
    names = {path.name for path in built.iterdir()}
    assert {path.name for path in shipped.iterdir()} == names
    assert any(name.endswith(".js") for name in names)


def test_the_lambda_bundle_is_under_15_mb_unzipped(tmp_path: Path) -> None:
    target = tmp_path / "lambda"
    bundle.build_lambda(target, bundle.find_python312())

    assert not _names(target) & VERTEX_ONLY
    assert bundle.size_bytes(target) < 15_000_000
    assert list(target.glob("pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so"))


def test_the_vertex_layer_holds_google_auth_and_what_it_needs_and_nothing_of_the_bundle(
    host_layer: Path, host_bundle: Path
) -> None:
    names = _names(host_layer)

    assert {"google", "google_auth", "cryptography", "pyasn1", "pyasn1_modules"} <= names
    assert (host_layer / "google/oauth2/service_account.py").is_file()
    assert not (host_layer / "google/cloud").exists()
    shared = names & _names(host_bundle)
    assert not shared, shared  # the bundle is always there beside the layer
    requirements = {line.split("==")[0] for line in bundle.layer_requirements()}
    assert {"google-auth", "cryptography"} <= requirements
    assert not requirements & {line.split("==")[0] for line in bundle.requirements(True)}


def test_google_auth_imports_from_the_bundle_and_the_layer_together(
    host_bundle: Path, host_layer: Path
) -> None:
    code = "import google.oauth2.service_account as m; print(m.__file__)"
    code = f"import sys; sys.path[0:0] = sys.argv[1:]; {code}"
    probe = [sys.executable, "-I", "-S", "-B", "-c", code, str(host_bundle), str(host_layer)]
    result = subprocess.run(probe, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stderr[-2000:]
    assert Path(result.stdout.strip()).is_relative_to(host_layer)
    alone = subprocess.run(probe[:-1], capture_output=True, text=True, timeout=120, check=False)
    assert "No module named 'google'" in alone.stderr  # the bundle alone has no google-auth


def test_no_file_left_in_the_bundle_imports_a_pruned_powertools_utility(host_bundle: Path) -> None:
    pruned = "|".join(bundle.POWERTOOLS_UNUSED)
    pattern = re.compile(rf"aws_lambda_powertools\.utilities\.({pruned})\b|from \.+({pruned}) ")
    powertools = host_bundle / "aws_lambda_powertools"
    assert not (powertools / "utilities/parser").exists()
    offenders = [
        path.relative_to(host_bundle).as_posix()
        for path in powertools.rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert (powertools / "event_handler/api_gateway.py").is_file()
    assert offenders == []


def test_the_lambda_requirements_leave_out_what_the_runtime_provides() -> None:
    names = {line.split("==")[0].lower() for line in bundle.requirements(False)}

    assert not names & {"boto3", "botocore", "s3transfer"}
    assert not names & {"moto", "werkzeug", "waitress", "flask"}  # the local stack's extra
    assert {"aws-lambda-powertools", "pynamodb", "pydantic"} <= names


def test_the_bundle_holds_no_file_of_the_local_stack_and_nothing_of_its_extra(
    host_bundle: Path,
) -> None:
    assert (host_bundle / "stratoflow_functions/handlers/api.py").is_file()
    assert not (host_bundle / LOCAL_STACK).exists()
    assert not [path for path in host_bundle.rglob("*") if LOCAL_STACK in path.as_posix()]
    names = {path.name.split("-")[0].lower() for path in host_bundle.iterdir()}
    assert not names & {"moto", "flask", "flask_cors", "werkzeug", "waitress"}


def test_the_asset_fingerprint_reads_no_file_of_the_local_stack() -> None:
    files = [path.relative_to(bundle.ROOT).as_posix() for path in bundling.input_files()]

    assert "functions/src/stratoflow_functions/handlers/api.py" in files
    assert "sdk/src/stratoflow/__init__.py" in files
    assert not [file for file in files if f"/{LOCAL_STACK}/" in file]
    # A path test, not a prefix: a module named like the folder would still ship.
    assert bundle.shipped(bundle.ROOT / "functions/src/stratoflow_functions/localized.py")


def _handlers(template: Any) -> set[str]:
    """The handlers of every function built from the Stratoflow code asset (the API's), not
    of CDK's own custom-resource functions."""
    functions = [r["Properties"] for r in template.find_resources("AWS::Lambda::Function").values()]
    [ours] = {json.dumps(f["Code"]) for f in functions if f["Handler"].endswith(".api.handler")}
    return {f["Handler"] for f in functions if json.dumps(f["Code"]) == ours}


def test_every_handler_the_stack_names_imports_from_the_bundle_alone(
    host_bundle: Path, template: Any
) -> None:
    handlers = _handlers(template)
    assert "stratoflow_functions.handlers.api.handler" in handlers
    assert len(handlers) >= 5  # api, authorizer, state events and the towel's services
    for handler in sorted(handlers):
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-B", "-c", HANDLER_PROBE, str(host_bundle), handler,
             ",".join(bundle.LOCAL_EXTRA)],
            capture_output=True, text=True, timeout=120, check=False,
            env={"AWS_DEFAULT_REGION": "us-east-1"},
        )  # fmt: skip
        assert result.returncode == 0, f"{handler}: {result.stderr[-2000:]}"
        probe = json.loads(result.stdout.strip().splitlines()[-1])
        assert probe == {"callable": True, "local": [], "file": probe["file"]}, handler
        assert Path(probe["file"]).is_relative_to(host_bundle), handler


def test_the_vertex_backend_builds_its_tokens_from_the_bundle_and_the_layer(
    host_bundle: Path, host_layer: Path
) -> None:
    # The launcher handler imports from the bundle alone (above); google-auth is imported
    # when a Vertex backend is built, which needs the layer too, as on the Vertex function.
    module = "stratoflow_functions.launchers.gcp_auth"
    result = subprocess.run(
        bundle.import_probe(host_bundle, module, layers=(host_layer,)), capture_output=True,
        text=True, timeout=120, check=False, env={"AWS_DEFAULT_REGION": "us-east-1"},
    )  # fmt: skip
    assert result.returncode == 0, f"{module}: {result.stderr[-2000:]}"
    backend = subprocess.run(
        bundle.import_probe(host_bundle, VERTEX_BACKEND), capture_output=True, text=True,
        timeout=120, check=False, env={"AWS_DEFAULT_REGION": "us-east-1"},
    )  # fmt: skip
    assert backend.returncode == 0, backend.stderr[-2000:]  # lazily: no google-auth at import
    without = subprocess.run(
        bundle.import_probe(host_bundle, module), capture_output=True, text=True,
        timeout=120, check=False, env={"AWS_DEFAULT_REGION": "us-east-1"},
    )  # fmt: skip
    assert "No module named 'google'" in without.stderr


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
