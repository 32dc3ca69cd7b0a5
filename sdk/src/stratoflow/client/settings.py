"""Client settings, resolved once: profile file < environment < explicit arguments.

`load_client_settings()` is the only place the SDK reads `STRATOFLOW_*` variables; everything
else receives a frozen `ClientSettings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from stratoflow.client.profile import profile_path, read_profile, stratoflow_home

AuthMode = Literal["auto", "api-key", "sigv4", "none"]

_ENV = {
    "api_url": "STRATOFLOW_API_URL",
    "api_key": "STRATOFLOW_API_KEY",
    "auth": "STRATOFLOW_AUTH",
    "region": "AWS_REGION",
    "results_uri": "STRATOFLOW_RESULTS_URI",
}
"""The environment variable behind each setting."""


@dataclass(frozen=True)
class ClientSettings:
    """Where the API is and how to call it.

    Attributes:
        api_url: the API's base URL; None means offline (no API).
        api_key: an API key (`sf_...`) sent as `Authorization: Bearer`.
        auth: `auto` (key if set, else SigV4 for AWS URLs), `api-key`, `sigv4` or `none`.
        region: the AWS region for SigV4 signing.
        home: the Stratoflow home folder (profile, local results); `load_client_settings`
            resolves it from `$STRATOFLOW_HOME`, default `~/.stratoflow`.
        results_uri: where persisted results go (a folder or `s3://bucket/prefix`).
        timeout: seconds per request.
        max_retries: retries of a retryable failure before giving up.
    """

    api_url: str | None = None
    api_key: str | None = None
    auth: AuthMode = "auto"
    region: str | None = None
    home: Path = Path(".stratoflow")
    results_uri: str | None = None
    timeout: float = 30.0
    max_retries: int = 4

    @property
    def offline(self) -> bool:
        """Whether no API is configured (flows then run with states kept in memory)."""
        return not self.api_url

    @property
    def resolved_results_uri(self) -> str:
        """The results location, defaulting to `<home>/results`."""
        return self.results_uri or str(self.home / "results")


def load_client_settings(
    environ: Mapping[str, str] | None = None, **overrides: str | float | None
) -> ClientSettings:
    """Resolve settings from the profile file, then the environment, then `overrides`.

    Args:
        environ: the environment to read (default `os.environ`).
        **overrides: explicit values (`api_url=...`); None values are ignored.

    Raises:
        ValueError: the profile file is not valid TOML or `auth` is unknown.
    """
    env = os.environ if environ is None else environ
    values: dict[str, object] = dict(read_profile(profile_path(env)))
    values.update({key: env[var] for key, var in _ENV.items() if env.get(var)})
    values.update({key: value for key, value in overrides.items() if value is not None})
    if values.get("auth", "auto") not in ("auto", "api-key", "sigv4", "none"):
        raise ValueError(f"unknown auth mode {values['auth']!r}")
    if "api_url" in values:
        values["api_url"] = str(values["api_url"]).rstrip("/")
    settings = ClientSettings(home=stratoflow_home(env))
    return replace(settings, **values)  # type: ignore[arg-type]
