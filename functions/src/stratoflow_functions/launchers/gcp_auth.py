"""Access tokens for a GCP service-account key, fetched over httpx (google-auth signs the JWT).

Imported lazily by `vertex_backend` (google-auth pulls in `cryptography`), so no other
handler pays its import. The token request goes through the same kind of httpx client as the
API calls, not `requests` (which the control plane does not ship).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from google.auth import exceptions, transport
from google.oauth2 import service_account

from stratoflow_functions.launchers.backend_errors import BackendConfigError, JobBackendError

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class _Response(transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return dict(self._response.headers)

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxRequest(transport.Request):
    """google-auth's transport seam over an httpx client.

    Args:
        http: The client the token requests go through.
    """

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        """Send one request; a network failure is google-auth's TransportError."""
        try:
            response = self._http.request(
                method, url, content=body, headers=headers, timeout=timeout or 30
            )
        except httpx.HTTPError as exc:
            raise exceptions.TransportError(str(exc)) from exc  # type: ignore[no-untyped-call]
        return _Response(response)


class ServiceAccountTokens:
    """Bearer tokens for one service-account key, refreshed when they expire.

    Args:
        info: The key file's JSON (`type: service_account`, `client_email`, `private_key`,
            `token_uri`).
        http: The client the token requests go through.

    Raises:
        BackendConfigError: `info` is not a usable service-account key.
    """

    def __init__(self, info: Mapping[str, Any], http: httpx.Client) -> None:
        try:
            # google-auth's factories are untyped; the result is a typed Credentials.
            self._credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                dict(info), scopes=SCOPES
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendConfigError(f"the GCP service-account key is not usable: {exc}") from exc
        self._request = HttpxRequest(http)

    def __call__(self) -> str:
        """A valid access token.

        Raises:
            JobBackendError: Google refused the key, or its token endpoint was unreachable.
        """
        if not self._credentials.valid:
            try:
                self._credentials.refresh(self._request)
            except exceptions.GoogleAuthError as exc:
                raise JobBackendError(
                    f"no GCP access token for the service account: {exc}"
                ) from exc
        return str(self._credentials.token)
