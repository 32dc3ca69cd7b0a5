"""The package boundaries of ARCHITECTURE.md, checked on the source (imports at any depth)."""

from __future__ import annotations

import ast
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
    "tzdata",
    "typing_extensions",
}
PURE_FORBIDDEN = {"boto3", "botocore", "pynamodb", "aws_lambda_powertools", "moto"}


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


def test_orchestration_is_pure() -> None:
    roots = imported_roots(ROOT / "functions/src/stratoflow_functions/orchestration")
    assert not (set(roots) & PURE_FORBIDDEN), {n: roots[n] for n in set(roots) & PURE_FORBIDDEN}
    assert "stratoflow_functions.store" not in {
        str(p) for p in roots
    }  # rules never reach the store
    own = imported_modules(ROOT / "functions/src/stratoflow_functions/orchestration")
    assert not any(
        name.startswith(("stratoflow_functions.store", "stratoflow_functions.services"))
        for name in own
    )


def imported_modules(folder: Path) -> set[str]:
    """Full module names imported under `folder`."""
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
    return names


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
