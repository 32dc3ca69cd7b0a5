"""SigV4 signs for the right region: the one in an `execute-api` URL first, then `AWS_REGION`,
then the region botocore resolves (`AWS_DEFAULT_REGION`, the config file). Each case reads the
credential scope of the Authorization header of a real request built by the real client."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

from stratoflow.client import AuthSetupError, StratoflowClient, load_client_settings
from stratoflow.client._auth import execute_api_region

EU_API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com"
CUSTOM_DOMAIN = "https://flows.example.com/iam"
SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/execute-api/aws4_request")


@pytest.fixture
def aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """botocore's environment with no region at all: no AWS_DEFAULT_REGION, an empty config
    file of the test's own (never the machine's ~/.aws/config), the fake test credentials."""
    config = tmp_path / "aws-config"
    config.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return config


def _signed_region(env: Mapping[str, str], home: Path) -> str:
    """Build a client from `env` (as the CLI does) and return the region it signed a call for."""
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, json={"status": "ok", "version": "1"})

    settings = load_client_settings({"STRATOFLOW_HOME": str(home), **env})
    with StratoflowClient(settings, transport=httpx.MockTransport(record)) as client:
        client.health()
    (authorization,) = seen
    assert authorization.startswith("AWS4-HMAC-SHA256 ")
    found = SCOPE.search(authorization)
    assert found is not None, authorization
    return found["region"]


def test_the_region_in_an_execute_api_url_wins_over_every_setting(
    aws_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws_config.write_text("[default]\nregion = ap-southeast-2\n")
    env = {"STRATOFLOW_API_URL": EU_API, "AWS_REGION": "us-east-1"}
    assert _signed_region(env, tmp_path) == "eu-west-1"


def test_aws_default_region_with_an_eu_url_signs_for_eu(
    aws_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The case of the report: AWS_DEFAULT_REGION only, an eu-west-1 API; it signed us-east-1.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert _signed_region({"STRATOFLOW_API_URL": EU_API}, tmp_path) == "eu-west-1"


def test_another_url_signs_for_aws_default_region(
    aws_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    env = {"STRATOFLOW_API_URL": CUSTOM_DOMAIN, "STRATOFLOW_AUTH": "sigv4"}
    assert _signed_region(env, tmp_path) == "eu-west-1"


def test_another_url_signs_for_the_config_files_region(aws_config: Path, tmp_path: Path) -> None:
    aws_config.write_text("[default]\nregion = ap-southeast-2\n")
    env = {"STRATOFLOW_API_URL": CUSTOM_DOMAIN, "STRATOFLOW_AUTH": "sigv4"}
    assert _signed_region(env, tmp_path) == "ap-southeast-2"


def test_another_url_signs_for_aws_region_before_botocores_region(
    aws_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    env = {"STRATOFLOW_API_URL": CUSTOM_DOMAIN, "STRATOFLOW_AUTH": "sigv4"}
    assert _signed_region({**env, "AWS_REGION": "eu-central-1"}, tmp_path) == "eu-central-1"


def test_no_region_anywhere_is_a_clear_error_not_a_us_east_1_signature(
    aws_config: Path, tmp_path: Path
) -> None:
    env = {"STRATOFLOW_API_URL": CUSTOM_DOMAIN, "STRATOFLOW_AUTH": "sigv4"}
    with pytest.raises(AuthSetupError, match="set AWS_REGION or AWS_DEFAULT_REGION"):
        _signed_region(env, tmp_path)


def test_no_credentials_is_a_clear_error(
    aws_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(AuthSetupError, match="no AWS credentials found"):
        _signed_region({"STRATOFLOW_API_URL": EU_API}, tmp_path)


@pytest.mark.parametrize(
    ("url", "region"),
    [
        (EU_API, "eu-west-1"),
        ("https://abc.execute-api.us-gov-west-1.amazonaws.com/prod", "us-gov-west-1"),
        ("https://abc.execute-api.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("https://abc-vpce-0123.execute-api.ap-south-2.vpce.amazonaws.com", "ap-south-2"),
        ("https://EXAMPLE.execute-api.eu-west-1.amazonaws.com:443/x", "eu-west-1"),
        ("https://flows.example.com", None),
        ("https://execute-api.eu-west-1.amazonaws.com.evil.example", None),
        ("https://abc.execute-api.eu-west-1.amazonaws.com.evil.example", None),
        ("https://lambda.eu-west-1.amazonaws.com", None),
        (None, None),
    ],
)
def test_execute_api_region_reads_only_api_gateway_host_names(
    url: str | None, region: str | None
) -> None:
    assert execute_api_region(url) == region
