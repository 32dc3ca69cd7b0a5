"""Read a kubeconfig into the one connection the Kubernetes launcher uses.

The kubeconfig lives in a Secrets Manager secret (`Settings.kubernetes_kubeconfig_secret`) and
is parsed once per cold start. It must be JSON (`kubectl config view --raw --flatten -o json`):
PyYAML is not among the control plane's runtime dependencies, so YAML is refused with that
hint. Users authenticate with a bearer token or a client certificate; exec plugins (such as
`aws eks get-token`) and auth providers cannot run in a Lambda and are refused, as are file
paths (`certificate-authority`, `client-certificate`): only the inline `*-data` fields are read.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import ssl
import tempfile
from dataclasses import dataclass
from typing import Any

import httpx

from stratoflow_functions.launchers.backend_errors import BackendConfigError

_FLATTEN = "export it with `kubectl config view --raw --flatten -o json`"


@dataclass(frozen=True)
class KubeConnection:
    """Where the Kubernetes API is and how to authenticate to it.

    Attributes:
        server: The API server's URL (`https://...`; `http://` is accepted for test servers).
        namespace: The current context's namespace (`default` when it names none).
        token: A bearer token, when the user has one.
        ca_pem: The cluster's CA certificates (PEM), when given; else the system's.
        client_cert_pem: The user's client certificate (PEM), when it has one.
        client_key_pem: The key of that certificate (PEM).
        insecure: The cluster says `insecure-skip-tls-verify: true`.
    """

    server: str
    namespace: str = "default"
    token: str | None = None
    ca_pem: str | None = None
    client_cert_pem: str | None = None
    client_key_pem: str | None = None
    insecure: bool = False

    def __repr__(self) -> str:
        # Never print the token or the key (logs, tracebacks).
        return f"KubeConnection(server={self.server!r}, namespace={self.namespace!r})"

    def client(self, *, timeout: float = 10.0) -> httpx.Client:
        """An httpx client bound to the API server with these credentials."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        verify: ssl.SSLContext | bool = False
        if self.server.startswith("https://"):
            verify = self._ssl_context()
        return httpx.Client(base_url=self.server, headers=headers, verify=verify, timeout=timeout)

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_pem)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert_pem and self.client_key_pem:
            _load_cert_chain(context, self.client_cert_pem, self.client_key_pem)
        return context


def _load_cert_chain(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    # ssl only loads a certificate chain from files: write both to a private temporary folder,
    # load them into the context (which keeps them in memory) and delete them at once.
    with tempfile.TemporaryDirectory() as folder:
        cert, key = os.path.join(folder, "client.crt"), os.path.join(folder, "client.key")
        for path, text in ((cert, cert_pem), (key, key_pem)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
                handle.write(text)
        try:
            context.load_cert_chain(cert, key)
        except ssl.SSLError as exc:
            raise BackendConfigError(f"the kubeconfig's client certificate: {exc}") from exc


def parse_kubeconfig(text: str, *, context: str | None = None) -> KubeConnection:
    """The connection of `context` (the current context by default) in a JSON kubeconfig.

    Raises:
        BackendConfigError: Not JSON, no such context / cluster / user, or a user or field
            this reader does not support; the message names it.
    """
    config = _load_json(text)
    name = context or config.get("current-context")
    if not name:
        raise BackendConfigError("the kubeconfig has no current-context")
    ctx = _named(config, "contexts", "context", name)
    cluster = _named(config, "clusters", "cluster", _required(ctx, "cluster", "context"))
    user = _named(config, "users", "user", _required(ctx, "user", "context"))
    return KubeConnection(
        server=_required(cluster, "server", "cluster").rstrip("/"),
        namespace=str(ctx.get("namespace") or "default"),
        ca_pem=_inline(cluster, "certificate-authority"),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        **_credentials(user),
    )


def _load_json(text: str) -> dict[str, Any]:
    try:
        config = json.loads(text)
    except json.JSONDecodeError:
        raise BackendConfigError(
            f"the kubeconfig is not JSON (YAML is not read): {_FLATTEN}"
        ) from None
    if not isinstance(config, dict):
        raise BackendConfigError(f"the kubeconfig is not a JSON object: {_FLATTEN}")
    return config


def _named(config: dict[str, Any], section: str, key: str, name: str) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(key)
            if isinstance(value, dict):
                return value
            break
    raise BackendConfigError(f"the kubeconfig has no {key} named {name!r} in {section}")


def _required(entry: dict[str, Any], field: str, kind: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value:
        raise BackendConfigError(f"the kubeconfig's {kind} has no {field}")
    return value


def _inline(entry: dict[str, Any], field: str) -> str | None:
    """The PEM text of `<field>-data` (base64); `<field>` (a file path) is refused."""
    if entry.get(field):
        raise BackendConfigError(f"the kubeconfig names a file for {field}: {_FLATTEN}")
    data = entry.get(f"{field}-data")
    if not data:
        return None
    try:
        return base64.b64decode(str(data), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise BackendConfigError(f"the kubeconfig's {field}-data is not base64 PEM") from None


def _credentials(user: dict[str, Any]) -> dict[str, Any]:
    if "exec" in user or "auth-provider" in user:
        raise BackendConfigError(
            "the kubeconfig's user runs a credential plugin (exec / auth-provider, such as "
            "`aws eks get-token`), which cannot run in a Lambda: give it a service-account token"
        )
    if user.get("tokenFile"):
        raise BackendConfigError("the kubeconfig names a tokenFile: put the token inline")
    cert, key = _inline(user, "client-certificate"), _inline(user, "client-key")
    if bool(cert) != bool(key):
        raise BackendConfigError("the kubeconfig's user has a client certificate without key")
    token = user.get("token")
    if not token and not cert:
        raise BackendConfigError("the kubeconfig's user has neither a token nor a certificate")
    return {"token": token or None, "client_cert_pem": cert, "client_key_pem": key}
