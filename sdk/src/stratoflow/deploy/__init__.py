"""Deploy tooling shared by the CLI and the runtime: packing a project into a content-addressed
code bundle (honouring `.stratoflowignore`) and unpacking one safely where a run executes."""

from __future__ import annotations

from stratoflow.deploy.bundle import (
    BundleError,
    PackedBundle,
    pack_project,
    project_files,
    unpack_bundle,
)
from stratoflow.deploy.ignore import ALWAYS_SKIPPED, IGNORE_FILE, IgnoreRules

__all__ = [
    "ALWAYS_SKIPPED",
    "IGNORE_FILE",
    "BundleError",
    "IgnoreRules",
    "PackedBundle",
    "pack_project",
    "project_files",
    "unpack_bundle",
]
