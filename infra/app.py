"""The Stratoflow CDK app: `cdk.json` at the repository root runs it through `infra/launch.py`.

One stack, named by `-c stratoflow:stackName=...` (default `Stratoflow`), in the account and
region given by `-c stratoflow:account=... -c stratoflow:region=...` or, failing those, the
CLI's current credentials. The AWS Solutions checks of cdk-nag run on every synth; an open
finding fails it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The app runs as a script from the repository root; make the package importable even where
# the workspace's editable install of stratoflow-infra is missing.
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from aws_cdk import App, Environment

from stratoflow_infra.nag import add_nag_checks
from stratoflow_infra.stack import PREFIX, StratoflowStack


def _environment(app: App) -> Environment:
    account = app.node.try_get_context(PREFIX + "account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = app.node.try_get_context(PREFIX + "region") or os.environ.get("CDK_DEFAULT_REGION")
    return Environment(account=account, region=region)


def main() -> None:
    """Build and synthesize the app."""
    app = App()
    name = app.node.try_get_context(PREFIX + "stackName") or "Stratoflow"
    StratoflowStack(app, name, env=_environment(app), description="Stratoflow control plane")
    add_nag_checks(app)
    app.synth()


if __name__ == "__main__":
    main()
