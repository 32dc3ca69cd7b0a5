"""Synthesis helpers for the infrastructure tests: the standalone stack, cdk-nag on.

Synth never needs the real Lambda bundle or Vertex layer: their assets are small stub
directories. The
in-process synth registers cdk-nag exactly as `infra/app.py` does, so a synth that returns at
all had no unacknowledged finding.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STUB_CODE = Path(__file__).parent / "fixtures" / "lambda_stub"
STUB_LAYER = Path(__file__).parent / "fixtures" / "vertex_layer_stub"
ACCOUNT, REGION = "123456789012", "us-east-1"
"""The placeholder environment whose AZs `cdk.context.json` holds."""
KUBECONFIG_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:stratoflow-kubeconfig-AbCdEf"
VERTEX_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:stratoflow-gcp-key-GhIjKl"
ALL_LAUNCHERS = {
    "fargate": "new-vpc",
    "kubernetesKubeconfigSecretArn": KUBECONFIG_SECRET,
    "vertexCredentialsSecretArn": VERTEX_SECRET,
    "vertexProject": "my-gcp-project",
    "vertexRegion": "us-central1",
    "lambdaRunner": "true",
}
"""The `stratoflow:*` context that turns every launcher on (none is on by default)."""

# The workspace's editable install of stratoflow-infra may be missing; the app does the same.
sys.path.insert(0, str(ROOT / "infra" / "src"))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@dataclass(frozen=True)
class Synthesized:
    """One synthesized stack: its template and the validation (cdk-nag) report."""

    template: Any
    """An `aws_cdk.assertions.Template`."""
    template_json: dict[str, Any]
    validation_report: dict[str, Any]
    metadata: dict[str, list[dict[str, Any]]]
    """The stack's construct metadata by construct path (logical ids, acknowledgements)."""

    def acknowledgements(self, logical_id: str) -> dict[str, str]:
        """The cdk-nag acknowledgements (rule id: reason) on the construct behind `logical_id`."""
        [path] = [
            path
            for path, entries in self.metadata.items()
            if {"type": "aws:cdk:logicalId", "data": logical_id} in _without_trace(entries)
        ]
        owner = path.removesuffix("/Resource")
        return {
            rule.removeprefix("Annotation::"): reason
            for entry in self.metadata.get(owner, [])
            if entry["type"] == "aws:cdk:acknowledged-rules"
            for rule, reason in entry["data"].items()
        }


def _without_trace(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": e["type"], "data": e.get("data")} for e in entries]


def synthesize(outdir: Path, **context: Any) -> Synthesized:
    """Synthesize the standalone stack with `stratoflow:*` context, cdk-nag on."""
    from aws_cdk import App, Environment
    from aws_cdk.assertions import Template

    from stratoflow_infra.nag import add_nag_checks
    from stratoflow_infra.stack import StratoflowStack

    # The CLI reads cdk.json's feature flags; an in-process App must be given them.
    values: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    values["stratoflow:codePath"] = str(STUB_CODE)
    values["stratoflow:vertexLayerPath"] = str(STUB_LAYER)
    values.update({f"stratoflow:{key}": value for key, value in context.items()})
    app = App(context=values, outdir=str(outdir))
    stack = StratoflowStack(app, "Stratoflow", env=Environment(account=ACCOUNT, region=REGION))
    add_nag_checks(app)
    app.synth()
    template = Template.from_stack(stack)
    report_path = outdir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    metadata = json.loads((outdir / f"{stack.artifact_id}.metadata.json").read_text())
    return Synthesized(template, template.to_json(), report, metadata)
