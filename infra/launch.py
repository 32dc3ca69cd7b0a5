"""Run the CDK app on a machine that has only python3: `cdk.json`'s `app` is this launcher.

It finds uv (the one bootstrapped into `.tools/bin` first, then any on PATH) or bootstraps it
exactly as the Makefile does (a venv in `.tools/venv` with uv from PyPI, linked into
`.tools/bin`), then hands over to `uv run --frozen python infra/app.py`, which builds or
updates `.venv` from `uv.lock` before the app runs. So `npx cdk synth` / `npx cdk deploy` work
on a fresh clone whether or not uv is on PATH, and the Makefile runs the same bootstrap
(`python3 infra/launch.py --bootstrap`), so there is one way uv gets onto a machine.

Standard library only: it runs before any of the workspace is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".tools"
BOOTSTRAPPED_UV = TOOLS / "bin" / "uv"
APP = ("python", "infra/app.py")


def find_uv() -> Path | None:
    """The uv to use: the bootstrapped one, else the first on PATH, else None."""
    if BOOTSTRAPPED_UV.exists():
        return BOOTSTRAPPED_UV
    found = shutil.which("uv")
    return Path(found) if found else None


def bootstrap_uv() -> Path:
    """Install uv from PyPI into `.tools/venv` and link it as `.tools/bin/uv`.

    Only uv is linked into `.tools/bin` (not the venv's python), so putting that folder first
    on PATH never changes which python a command finds.
    """
    venv = TOOLS / "venv"
    print(f"uv is not installed: bootstrapping it into {BOOTSTRAPPED_UV}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--disable-pip-version-check", "uv"], check=True)  # noqa: S603
    BOOTSTRAPPED_UV.parent.mkdir(parents=True, exist_ok=True)
    BOOTSTRAPPED_UV.unlink(missing_ok=True)
    BOOTSTRAPPED_UV.symlink_to(Path("..") / "venv" / "bin" / "uv")
    return BOOTSTRAPPED_UV


def ensure_uv() -> Path:
    """A working uv, bootstrapped if there is none."""
    return find_uv() or bootstrap_uv()


def main(argv: list[str]) -> None:
    """`--bootstrap`: make sure uv exists (the Makefile); otherwise run the CDK app with it."""
    if argv == ["--bootstrap"]:
        ensure_uv()
        return
    if argv:
        sys.exit(f"usage: {Path(__file__).name} [--bootstrap]")
    uv = str(ensure_uv())
    os.chdir(ROOT)
    # exec, not a child: the CDK CLI's signals and exit status reach the app itself.
    os.execv(uv, [uv, "run", "--frozen", *APP])  # noqa: S606


if __name__ == "__main__":
    main(sys.argv[1:])
