"""parse_kubeconfig: token and client-certificate users, the CA, and clear refusals."""

from __future__ import annotations

import base64
import datetime
import json
import ssl
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stratoflow_functions.launchers.backend_errors import BackendConfigError
from stratoflow_functions.launchers.kubeconfig import parse_kubeconfig
from tests.unit.launchers.launchers_support import TOKEN, kubeconfig


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _self_signed() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "launcher")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def _with_cluster(text: str, **cluster: Any) -> str:
    config = json.loads(text)
    config["clusters"][0]["cluster"].update(cluster)
    return json.dumps(config)


def test_a_token_user_gives_server_namespace_and_token_and_repr_hides_the_token() -> None:
    connection = parse_kubeconfig(kubeconfig("https://k8s.example:6443/"))

    assert (connection.server, connection.namespace, connection.token) == (
        "https://k8s.example:6443", "flows", TOKEN,
    )  # fmt: skip
    assert TOKEN not in repr(connection)


def test_a_client_certificate_user_and_the_cluster_ca_load_into_the_tls_context() -> None:
    cert, key = _self_signed()
    text = kubeconfig(
        "https://k8s.example:6443",
        user={"client-certificate-data": _b64(cert), "client-key-data": _b64(key)},
    )
    connection = parse_kubeconfig(_with_cluster(text, **{"certificate-authority-data": _b64(cert)}))

    assert (connection.token, connection.client_cert_pem, connection.ca_pem) == (None, cert, cert)
    context = connection._ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "launcher"),),)]
    with connection.client() as http:
        assert http.base_url.host == "k8s.example"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: v1\nkind: Config\n", "not JSON .YAML is not read.: export it with `kubectl"),
        (kubeconfig("https://x", user={"exec": {"command": "aws"}}), "credential plugin"),
        (kubeconfig("https://x", user={"client-certificate": "/home/me/c.crt",
                                       "client-key-data": "eA=="}), "names a file"),
        (kubeconfig("https://x", user={}), "neither a token nor a certificate"),
        (json.dumps({"current-context": "nope", "contexts": []}), "no context named 'nope'"),
        (json.dumps({"contexts": []}), "no current-context"),
        (_with_cluster(kubeconfig("https://x"), **{"certificate-authority-data": "%%"}),
         "not base64 PEM"),
    ],
)  # fmt: skip
def test_an_unusable_kubeconfig_is_refused_with_what_to_change(text: str, message: str) -> None:
    with pytest.raises(BackendConfigError, match=message):
        parse_kubeconfig(text)
