"""The package boundaries of ARCHITECTURE.md, checked on the source (imports at any depth)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ALLOWED = {
    "sdk/src/stratoflow": {"stratoflow"},
    "functions/src/stratoflow_functions": {"stratoflow", "stratoflow_functions"},
    "agents/src/stratoflow_agents": {"stratoflow", "stratoflow_agents"},
    "infra/src/stratoflow_infra": {"stratoflow_infra"},
}
"""Which of our own packages each package may import."""

OURS = {"stratoflow", "stratoflow_functions", "stratoflow_agents", "stratoflow_infra"}
SDK_THIRD_PARTY = {
    "pydantic",
    "pydantic_core",
    "httpx",
    "click",
    "botocore",
    "google",  # the `gcp` extra, imported lazily by `stratoflow execute` (runtime/launched.py)
    "tzdata",
    "typing_extensions",
}


def imported_roots(folder: Path) -> dict[str, set[Path]]:
    """Top-level module names imported anywhere under `folder`, with where."""
    found: dict[str, set[Path]] = {}
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(path)
    return found


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_packages_import_only_what_they_may(folder: str) -> None:
    roots = imported_roots(ROOT / folder)
    ours = {name for name in roots if name in OURS}
    assert ours <= ALLOWED[folder], {name: roots[name] for name in ours - ALLOWED[folder]}


def test_sdk_imports_only_its_small_dependency_set() -> None:
    import sys

    roots = imported_roots(ROOT / "sdk/src/stratoflow")
    third_party = {
        name for name in roots if name not in sys.stdlib_module_names and name not in OURS
    }
    assert third_party <= SDK_THIRD_PARTY, {n: roots[n] for n in third_party - SDK_THIRD_PARTY}


ORCHESTRATION = "sdk/src/stratoflow/orchestration"
PURE_MAY_IMPORT = {"pydantic"}
"""Besides the standard library and the wire schemas: what the kernel may import."""
PURE_OWN_PREFIXES = ("stratoflow.orchestration", "stratoflow.schemas")


def impure_imports(folder: Path, package: str) -> dict[str, set[str]]:
    """Imports under `folder` (the package `package`) that pure rules may not make, with where.

    Relative imports are resolved, so `from ..store import x` counts as the store.
    """
    import sys

    found: dict[str, set[str]] = {}
    for path, module in _absolute_imports(folder, package):
        root = module.split(".")[0]
        if root in OURS:
            allowed = module.startswith(PURE_OWN_PREFIXES)
        else:
            allowed = root in sys.stdlib_module_names or root in PURE_MAY_IMPORT
        if not allowed:
            found.setdefault(module, set()).add(path.name)
    return found


def _absolute_imports(folder: Path, package: str) -> Iterator[tuple[Path, str]]:
    for path in folder.rglob("*.py"):
        parts = [*package.split("."), *path.relative_to(folder).with_suffix("").parts]
        here = parts if path.name == "__init__.py" else parts[:-1]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom):
                yield path, _resolve(node, here)


def _resolve(node: ast.ImportFrom, package_parts: list[str]) -> str:
    if node.level == 0:
        return node.module or ""
    base = package_parts[: len(package_parts) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def test_orchestration_is_pure() -> None:
    package = "stratoflow.orchestration"
    assert impure_imports(ROOT / ORCHESTRATION, package) == {}


INFRASTRUCTURE = "sdk/src/stratoflow/infrastructure"


def test_job_spec_builders_are_pure() -> None:
    """The builders import the standard library, pydantic and the wire schemas only."""
    found = impure_imports(ROOT / INFRASTRUCTURE, "stratoflow.infrastructure")
    assert {m: p for m, p in found.items() if not m.startswith("stratoflow.infrastructure")} == {}


SCHEDULING = "functions/src/stratoflow_functions/scheduling"
SCHEDULING_MAY_IMPORT = {"pydantic", "croniter", "dateutil"}


def test_schedule_arithmetic_is_pure() -> None:
    """The scheduler's arithmetic (cron, rrule, budgets, plans) does no I/O either."""
    found = impure_imports(ROOT / SCHEDULING, "stratoflow_functions.scheduling")
    own = {m for m in found if m.startswith("stratoflow_functions.scheduling")}
    extra = {m for m in found if m.split(".")[0] in SCHEDULING_MAY_IMPORT}
    assert set(found) - own - extra == set()


def test_the_purity_check_catches_every_kind_of_impure_import(tmp_path: Path) -> None:
    rules = tmp_path / "orchestration"
    (rules / "sub").mkdir(parents=True)
    (rules / "ok.py").write_text(
        "import math\nfrom .context import Decision\nfrom stratoflow.schemas import State\n"
    )
    (rules / "bad.py").write_text(
        "import boto3\nfrom ..store import Store\nimport httpx\n"
        "from stratoflow_functions.services import flow_runs\nfrom stratoflow.client import C\n"
    )
    (rules / "sub" / "deep.py").write_text("from ...store.keys import pk\n")
    found = impure_imports(rules, "stratoflow.orchestration")
    assert set(found) == {
        "boto3",
        "httpx",
        "stratoflow.store",
        "stratoflow.store.keys",
        "stratoflow_functions.services",
        "stratoflow.client",
    }


def test_wire_schemas_are_defined_once() -> None:
    """No package but the SDK declares a pydantic model named like a wire schema."""
    import stratoflow.schemas as schemas

    wire = set(schemas.__all__)
    for folder in ("functions/src", "agents/src"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef) and _is_model(node):
                    assert node.name not in wire, f"{path}: redefines {node.name}"


def _is_model(node: ast.ClassDef) -> bool:
    names = {ast.unparse(base).split(".")[-1] for base in node.bases}
    return bool(names & {"BaseModel", "RootModel"})


FUNCTIONS = "functions/src/stratoflow_functions"
LOCAL_STACK = f"{FUNCTIONS}/local"
LOCAL_EXTRA = {"moto", "flask", "flask_cors", "werkzeug", "waitress"}
"""What the `[local]` extra installs (import names); the Lambda bundle has none of it."""


def local_stack_imports(folder: Path, package: str, local: Path) -> dict[str, set[str]]:
    """Imports of the local stack or its extra's packages made outside `local`, with where."""
    found: dict[str, set[str]] = {}
    for path, module in _absolute_imports(folder, package):
        if path.is_relative_to(local):
            continue
        if module.split(".")[0] in LOCAL_EXTRA or module.startswith(f"{package}.local"):
            found.setdefault(module, set()).add(str(path.relative_to(folder)))
    return found


def test_the_control_plane_never_imports_the_local_stack() -> None:
    """`local/` (left out of the Lambda bundle) imports the control plane, never the reverse."""
    assert local_stack_imports(ROOT / FUNCTIONS, "stratoflow_functions", ROOT / LOCAL_STACK) == {}


def test_the_local_stack_check_catches_absolute_and_relative_imports(tmp_path: Path) -> None:
    (tmp_path / "local").mkdir()
    (tmp_path / "handlers").mkdir()
    (tmp_path / "local" / "stack.py").write_text("import moto\nfrom ..services import x\n")
    (tmp_path / "handlers" / "api.py").write_text(
        "from ..local.stack import Stack\nimport stratoflow_functions.local.http\n"
        "from werkzeug import serving\nfrom ..services import flows\n"
    )
    found = local_stack_imports(tmp_path, "stratoflow_functions", tmp_path / "local")
    assert set(found) == {
        "stratoflow_functions.local.stack",
        "stratoflow_functions.local.http",
        "werkzeug",
    }
