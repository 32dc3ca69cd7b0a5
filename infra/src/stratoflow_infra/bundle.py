"""Build the Lambda bundle and the Vertex layer without Docker; measure sizes and import times.

`make bundle` runs this. The bundle, the code of every Stratoflow function, holds `sdk/` and
`functions/` (the control plane only: not the local stack, `stratoflow_functions/local/`, see
`LOCAL_ONLY`) and their runtime dependencies as pinned in `uv.lock` (`uv export --package
stratoflow-functions`, without the `[local]` or `[vertex]` extra), installed as wheels built
for the Lambda platform (manylinux aarch64, CPython 3.12) into `build/lambda`.
boto3, botocore and s3transfer are left out: the Lambda Python runtime provides them, and they
are about 25 MB unzipped. Nothing of CDK, the Kubernetes client or the Google Cloud client
libraries can get in: only the functions package's own dependency tree is exported.

The Vertex layer (`build/lambda-vertex-layer/python/...`, a Lambda layer attached to the Vertex
launcher function alone) holds what the functions' `[vertex]` extra adds over the bundle:
google-auth, which the Vertex launcher signs its token requests with, and what it pulls in
(cryptography, cffi, pycparser, pyasn1: about as big again as the rest of the bundle).
Installed the same way, for the same platform; the bundle refuses to contain any of it.

This machine is x86_64 with Python 3.11 only, so aarch64 wheels cannot be imported here.
Import times are measured on a host-platform build of the same lock (`build/lambda-host`,
which adds boto3/botocore as the runtime would), each module in a fresh `python -I -S -B`
interpreter with only the bundle on `sys.path` and no bytecode cache, as on Lambda's
read-only `/var/task`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCES = (ROOT / "sdk/src/stratoflow", ROOT / "functions/src/stratoflow_functions")
LOCAL_ONLY = (ROOT / "functions/src/stratoflow_functions/local",)
"""Parts of `SOURCES` never shipped: the local stack (`stratoflow server start`: the embedded
AWS emulator, its moto patches, the waitress / flask glue). It imports the control plane,
never the reverse (tests/contract/test_boundaries.py), and needs the `[local]` extra, which
the bundle does not install."""
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
"""Packages the Lambda Python runtime ships; left out of the Lambda build."""
LOCAL_EXTRA = ("moto", "flask", "flask_cors", "werkzeug", "waitress")
"""What the `[local]` extra installs (import names): the local stack's alone."""
VERTEX_EXTRA = "vertex"
"""The functions' extra whose packages go into the Vertex layer, not the bundle."""
VERTEX_ONLY = ("google", "cryptography", "cffi", "_cffi_backend", "pycparser", "pyasn1",
               "pyasn1_modules")  # fmt: skip
"""What the `[vertex]` extra installs (import names), so the layer's alone."""
FORBIDDEN = (
    "aws_cdk", "cdk_nag", "jsii", "kubernetes", "google/cloud", "google/api_core", "vertexai",
    *LOCAL_EXTRA,
    "stratoflow_functions/local",
)  # fmt: skip
"""Never in the bundle nor the layer."""
LAYER_DIR = "python"
"""Where a Python layer's packages go: Lambda puts `/opt/python` on `sys.path`."""
LAMBDA_PLATFORM = ("aarch64-manylinux_2_28", "3.12")
HANDLERS_DIR = ROOT / "functions/src/stratoflow_functions/handlers"


@dataclass(frozen=True)
class BundleReport:
    """What `make bundle` prints (and docs/benchmarks.md records)."""

    size_bytes: int
    layer_size_bytes: int
    import_ms: dict[str, float]


def _uv() -> str:
    # `uv run` names itself in $UV; else the Makefile's PATH (.tools/bin first), else the
    # bootstrapped one directly.
    return os.environ.get("UV") or shutil.which("uv") or str(ROOT / ".tools/bin/uv")


def _export(extras: tuple[str, ...]) -> list[str]:
    """The functions package's pinned runtime dependencies with `extras` (workspace members
    excluded), one `name==version[ ; marker]` a line."""
    out = subprocess.run(  # noqa: S603 - fixed arguments, our own uv
        [
            _uv(), "export", "--frozen", "--no-dev", "--no-hashes", "--no-header",
            "--no-annotate", "--no-emit-workspace", "--package", "stratoflow-functions",
            *(arg for extra in extras for arg in ("--extra", extra)),
        ],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [line.strip() for line in out.splitlines() if line.strip() and "==" in line]


def _name(line: str) -> str:
    return line.split("==")[0].strip().lower()


def requirements(include_runtime_provided: bool) -> list[str]:
    """The bundle's requirements: the functions' runtime dependencies, no extra."""
    lines = _export(())
    if include_runtime_provided:
        return lines
    return [line for line in lines if _name(line) not in RUNTIME_PROVIDED]


def layer_requirements() -> list[str]:
    """The Vertex layer's requirements: what the `[vertex]` extra adds over the bundle's."""
    common = {_name(line) for line in _export(())}
    return [line for line in _export((VERTEX_EXTRA,)) if _name(line) not in common]


def _install(target: Path, lines: list[str], platform: str, python_version: str) -> None:
    """Install the wheels of `lines` for `platform` into a fresh `target`, no dependencies."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(lines) + "\n")
    try:
        subprocess.run(  # noqa: S603 - fixed arguments, our own uv
            [
                _uv(), "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:",
                "--target", str(target), "--python-platform", platform,
                "--python-version", python_version, "-r", handle.name,
            ],
            cwd=ROOT, check=True, env={**os.environ, "UV_LINK_MODE": "copy"},
        )  # fmt: skip
    finally:
        os.unlink(handle.name)


def build(target: Path, platform: str, python_version: str, *, with_runtime: bool) -> None:
    """Install the bundle's wheels for `platform` into `target`, our two packages beside them."""
    _check_ui_built()
    _install(target, requirements(with_runtime), platform, python_version)
    for source in SOURCES:
        shutil.copytree(source, target / source.name, ignore=_unshipped)
    prune(target)
    _check_clean(target, (*FORBIDDEN, *VERTEX_ONLY))


UI_INDEX = ROOT / "functions/src/stratoflow_functions/ui/assets/index.html"
"""The dashboard's build (`node ui/build.mjs`, run by `make sync`): copied in with the functions'
sources, so the API Lambda serves `/ui` (docs/ui.md)."""


def _check_ui_built() -> None:
    if not UI_INDEX.is_file():
        raise RuntimeError(f"the dashboard is not built ({UI_INDEX}): run `make sync`")


def build_layer(target: Path, platform: str, python_version: str) -> Path:
    """Install the Vertex layer's wheels for `platform` into `target/python`.

    Returns:
        The folder the packages are in (`target/python`, what goes on `sys.path`).
    """
    packages = target / LAYER_DIR
    shutil.rmtree(target, ignore_errors=True)
    _install(packages, layer_requirements(), platform, python_version)
    prune(packages)
    _check_clean(packages, FORBIDDEN)
    if not (packages / "google/oauth2/service_account.py").is_file():
        raise RuntimeError(f"the Vertex layer {packages} holds no google-auth")
    return packages


def shipped(path: Path) -> bool:
    """Whether `path` (a file or folder of `SOURCES`) goes into the bundle."""
    unshipped = any(path.is_relative_to(part) for part in LOCAL_ONLY)
    return not unshipped and "__pycache__" not in path.parts and path.suffix != ".pyc"


def _unshipped(folder: str, names: list[str]) -> set[str]:
    """`shutil.copytree`'s filter: the names in `folder` that stay out of the bundle."""
    return {name for name in names if not shipped(Path(folder) / name)}


POWERTOOLS_UNUSED = (
    "kafka", "data_masking", "parser", "auth_alpha", "idempotency", "parameters",
    "feature_flags", "circuit_breaker", "streaming", "batch",
)  # fmt: skip
"""powertools utilities (`aws_lambda_powertools/utilities/<name>`) pruned from the bundle."""
PRUNE = (
    "bin",
    "croniter/tests",
    "pydantic/v1",
    *(f"aws_lambda_powertools/utilities/{name}" for name in POWERTOOLS_UNUSED),
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css",
)
"""Never used by the control plane: console scripts, a test suite, pydantic's v1 copy,
powertools utilities it never imports and nothing kept imports either (kafka, data masking,
parser, idempotency, parameters, ...: 1.2 MB; tests/infra/test_infra_bundle.py checks that no
file left names them), and the embedded
Swagger UI assets (1.7 MB; `enable_swagger(swagger_base_url=...)` still works from a CDN,
and `/openapi.json` needs neither)."""


def prune(target: Path) -> None:
    """Drop what the functions never import, and type stubs."""
    for relative in PRUNE:
        path = target / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    for stub in target.rglob("*.pyi"):
        stub.unlink()


def find_python312() -> str | None:
    """A CPython 3.12 on this machine (PATH or pyenv), to precompile bytecode for Lambda."""
    candidates = [os.environ.get("STRATOFLOW_PYTHON312", ""), shutil.which("python3.12") or ""]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    for candidate in filter(None, candidates):
        probe = subprocess.run(  # noqa: S603 - probing an interpreter's version
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if probe.stdout.strip() == "True":
            return candidate
    return None


def precompile(target: Path, python: str, own: frozenset[str] | None = None) -> None:
    """Ship bytecode: Lambda's /var/task is read-only, so without it every cold start compiles
    every module it imports. Third-party packages become sourceless (`.pyc` in place of
    `.py`, which also keeps the bundle small); our two packages keep their sources beside
    `__pycache__` for readable tracebacks. Unchecked-hash pycs stay valid whatever the
    files' timestamps in the zip.

    Args:
        target: the folder of packages.
        python: the CPython 3.12 to compile with.
        own: the packages that keep their sources (default: our two).
    """
    own = own if own is not None else frozenset(source.name for source in SOURCES)
    third_party = [
        p for p in target.iterdir() if p.name not in own and not p.name.endswith(".dist-info")
    ]
    common = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    subprocess.run([*common, "-b", *map(str, third_party)], check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    ours = [str(target / name) for name in own]
    if ours:
        subprocess.run([*common, *ours], check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    for path in third_party:
        sources = path.rglob("*.py") if path.is_dir() else [path] if path.suffix == ".py" else []
        for source in list(sources):
            source.unlink()


def _check_clean(target: Path, forbidden: tuple[str, ...]) -> None:
    found = [name for name in forbidden if (target / name).exists()]
    if found:
        raise RuntimeError(f"{target} must not contain {found}")


def size_bytes(target: Path) -> int:
    """Unzipped size of the bundle."""
    return sum(path.stat().st_size for path in target.rglob("*") if path.is_file())


def handler_modules() -> list[str]:
    """Every handler module that exists today (some are being written by others)."""
    return sorted(
        f"stratoflow_functions.handlers.{path.stem}"
        for path in HANDLERS_DIR.glob("*.py")
        if path.stem != "__init__"
    )


def import_probe(
    bundle: Path, module: str, python: str = sys.executable, layers: tuple[Path, ...] = ()
) -> list[str]:
    """The command that imports `module` in a clean interpreter with only `bundle` (and the
    `layers`' package folders after it, as Lambda orders `/var/task` and `/opt/python`) on
    the path."""
    code = (
        "import sys, time; sys.path[0:0] = sys.argv[1:]; t = time.perf_counter(); "
        f"import {module}; print((time.perf_counter() - t) * 1000)"
    )
    return [python, "-I", "-S", "-B", "-c", code, str(bundle), *map(str, layers)]


def import_ms(
    bundle: Path,
    module: str,
    python: str = sys.executable,
    runs: int = 3,
    layers: tuple[Path, ...] = (),
) -> float:
    """Median cold import time of `module`, in milliseconds."""
    times = []
    for _ in range(runs):
        env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1"}
        out = subprocess.run(  # noqa: S603 - our interpreter, a fixed probe
            import_probe(bundle, module, python, layers),
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)


def build_lambda(target: Path, python312: str | None) -> None:
    """The bundle the Lambdas run, in `target`: wheels for the Lambda platform, our two
    packages, and bytecode when a CPython 3.12 (`python312`) is there to compile it."""
    build(target, *LAMBDA_PLATFORM, with_runtime=False)
    if python312:
        precompile(target, python312)


def build_lambda_layer(target: Path, python312: str | None) -> None:
    """The Vertex layer, in `target` (packages in `target/python`): wheels for the Lambda
    platform, sourceless bytecode when a CPython 3.12 (`python312`) is there to compile it."""
    packages = build_layer(target, *LAMBDA_PLATFORM)
    if python312:
        precompile(packages, python312, own=frozenset())


VERTEX_MODULE = "stratoflow_functions.launchers.gcp_auth"
"""The module that imports google-auth (lazily, from the Vertex backend): timed with the layer."""


def _version(python: str) -> str:
    """`python`'s `major.minor`."""
    out = subprocess.run(  # noqa: S603 - probing our interpreter
        [python, "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return ".".join(out.split())


def _host_builds(out: Path, python: str, python312: str | None) -> tuple[Path, Path]:
    """The host-platform bundle and Vertex layer packages, to time imports on this machine."""
    host_dir, version = out / "lambda-host", _version(python)
    build(host_dir, "x86_64-manylinux_2_28", version, with_runtime=True)
    layer = build_layer(out / "lambda-host-vertex-layer", "x86_64-manylinux_2_28", version)
    if python312:
        precompile(host_dir, python312)
        precompile(layer, python312, own=frozenset())
    return host_dir, layer


def _print(report: BundleReport, out: Path, python: str, python312: str | None) -> None:
    pyc = "with precompiled .pyc" if python312 else "no .pyc (no CPython 3.12 found)"
    mb, layer_mb = report.size_bytes / 1e6, report.layer_size_bytes / 1e6
    print(f"bundle {out / 'lambda'}: {mb:.1f} MB unzipped, {pyc} (target < 15 MB)")
    print(f"Vertex layer {out / 'lambda-vertex-layer'}: {layer_mb:.1f} MB unzipped, {pyc}")
    print(f"cold import times on the host build (CPython {_version(python)} x86_64, {pyc}):")
    for module, ms in report.import_ms.items():
        print(f"  {module}: {ms:.0f} ms (target < 300 ms)")


def main(argv: list[str] | None = None) -> BundleReport:
    """Build the bundle and the Vertex layer; print their sizes and each handler's import time
    (and that of the Vertex backend's google-auth module, with the layer)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    out = parser.parse_args(argv).out
    python312 = find_python312()
    build_lambda(out / "lambda", python312)
    build_lambda_layer(out / "lambda-vertex-layer", python312)
    python = python312 or sys.executable
    host_dir, host_layer = _host_builds(out, python, python312)
    times = {m: import_ms(host_dir, m, python) for m in handler_modules()}
    times[VERTEX_MODULE] = import_ms(host_dir, VERTEX_MODULE, python, layers=(host_layer,))
    report = BundleReport(
        size_bytes=size_bytes(out / "lambda"),
        layer_size_bytes=size_bytes(out / "lambda-vertex-layer"),
        import_ms=times,
    )
    _print(report, out, python, python312)
    return report


if __name__ == "__main__":
    main()
