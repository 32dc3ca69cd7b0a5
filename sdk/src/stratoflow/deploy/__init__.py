"""Deploy tooling shared by the CLI and the runtime: packing a project into a content-addressed
code bundle (honouring `.stratoflowignore`), deploying a flow with it, and unpacking a bundle
safely where a run executes."""

from __future__ import annotations

from stratoflow.deploy.bundle import (
    BundleError,
    PackedBundle,
    ProjectScan,
    SkippedPath,
    pack_project,
    project_files,
    scan_project,
    unpack_bundle,
)
from stratoflow.deploy.deployer import (
    PENDING_FLOW_ID,
    DeployResult,
    DeploySpec,
    deploy,
    upload_bundle,
)
from stratoflow.deploy.ignore import ALWAYS_SKIPPED, IGNORE_FILE, IgnoreRules

__all__ = [
    "ALWAYS_SKIPPED",
    "IGNORE_FILE",
    "PENDING_FLOW_ID",
    "BundleError",
    "DeployResult",
    "DeploySpec",
    "IgnoreRules",
    "PackedBundle",
    "ProjectScan",
    "SkippedPath",
    "deploy",
    "pack_project",
    "project_files",
    "scan_project",
    "unpack_bundle",
    "upload_bundle",
]
