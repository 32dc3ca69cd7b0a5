"""cdk-nag finds nothing open, and the template matches its committed snapshot.

The snapshot is normalised so it is stable: asset hashes (which change with any byte of the
code asset) and the CDK version metadata are replaced. Regenerate it with
`UPDATE_SNAPSHOTS=1 uv run pytest tests/infra`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from infra_synth import Synthesized

SNAPSHOT = Path(__file__).parent / "snapshots" / "stratoflow.template.json"
_HASH = re.compile(r"[0-9a-f]{64}")


def normalise(template: dict[str, Any]) -> dict[str, Any]:
    """The template without what changes from build to build (asset hashes, CDK metadata)."""
    resources = {
        logical: resource
        for logical, resource in template["Resources"].items()
        if resource["Type"] != "AWS::CDK::Metadata"
    }
    text = json.dumps({**template, "Resources": resources}, sort_keys=True, indent=1)
    return json.loads(_HASH.sub("<asset-hash>", text))


def test_synth_leaves_no_open_cdk_nag_finding(synthesized: Synthesized) -> None:
    # Reaching here means synth passed the AwsSolutions plugin; the report, when written,
    # must agree.
    for plugin in synthesized.validation_report.get("pluginReports", []):
        assert plugin["conclusion"] == "success", plugin["pluginName"]
        assert plugin["violations"] == []


def test_an_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_sqs as sqs

    from stratoflow_infra.nag import add_nag_checks

    app = App(outdir=str(tmp_path))
    sqs.Queue(Stack(app, "Bad"), "PlainQueue")
    add_nag_checks(app)
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS4"):
        app.synth()


def test_acknowledging_without_a_reason_is_refused() -> None:
    from aws_cdk import App, Stack

    from stratoflow_infra.nag import acknowledge

    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(Stack(App(), "S"), "AwsSolutions-S1", "  ")


def test_template_matches_the_committed_snapshot(synthesized: Synthesized) -> None:
    current = normalise(synthesized.template_json)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, sort_keys=True, indent=1) + "\n")
    assert SNAPSHOT.exists(), "no snapshot: run with UPDATE_SNAPSHOTS=1 once and commit it"
    assert current == json.loads(SNAPSHOT.read_text())


def test_snapshot_holds_no_asset_hash_or_timestamp() -> None:
    text = SNAPSHOT.read_text()
    assert not _HASH.search(text)
    assert not re.search(r"20\d\d-\d\d-\d\dT\d\d:\d\d", text)
