"""Fixtures shared by every test: a fake AWS environment that can never reach a real account."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Set before boto3 is imported anywhere, so no test can ever talk to a real account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
)


@pytest.fixture
def aws() -> Iterator[None]:
    """Keep moto's `mock_aws` active for the whole test (its model objects untracked, as in
    the local stack, so a worker does not keep every item every test wrote)."""
    from moto import mock_aws

    from stratoflow_functions.local.moto_models import make_moto_models_untracked

    make_moto_models_untracked()

    with mock_aws():
        yield


pytest_plugins = ["tests.fixtures.live_api", "tests.fuzz.figures"]
