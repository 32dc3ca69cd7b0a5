"""`load_flow` imports only the deployment's own code: an entrypoint that leads out of the code
folder, through `..` or a symlink, is refused with the reason (which `stratoflow execute` then
records on the run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratoflow.flows import Flow
from stratoflow.runtime.loader import CodeLoadError, load_flow

FLOW_SOURCE = "from stratoflow import flow\n\n@flow\ndef f() -> int:\n    return 1\n"


@pytest.fixture
def code(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "inside.py").write_text(FLOW_SOURCE)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.py").write_text(FLOW_SOURCE)
    (root / "link.py").symlink_to(outside / "evil.py")
    (root / "linked_dir").symlink_to(outside)
    return root


def test_an_entrypoint_inside_the_code_folder_loads(code: Path) -> None:
    assert isinstance(load_flow("pkg/inside.py:f", code), Flow)


@pytest.mark.parametrize(
    "entrypoint",
    ["../outside/evil.py:f", "link.py:f", "linked_dir/evil.py:f", "pkg/../../outside/evil.py:f"],
)
def test_an_entrypoint_leading_out_of_the_code_folder_is_refused(
    code: Path, entrypoint: str
) -> None:
    with pytest.raises(CodeLoadError, match=r"(inside|outside) the code folder") as refused:
        load_flow(entrypoint, code)
    assert entrypoint in str(refused.value)
