"""The dashboard's static files over real HTTP (the live API): open without a key, with the
right types, caching and security headers; client routes fall back to index.html; traversal is
refused; and every data route still needs a key."""

from __future__ import annotations

import gzip
import http.client
import re
from urllib.parse import urlsplit

import httpx
import pytest

from stratoflow_functions.api.ui import ASSETS
from tests.fixtures.live_api import LiveApi


@pytest.fixture(autouse=True)
def _built() -> None:
    if not (ASSETS / "index.html").is_file():
        pytest.fail(f"the dashboard is not built in {ASSETS}: run `make sync` (node ui/build.mjs)")


def _raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET `path` exactly as written (httpx would normalise `..` segments away)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/ui/assets/[^"]+)"', html)


def test_the_dashboard_answers_without_a_key(live_api: LiveApi) -> None:
    page = httpx.get(f"{live_api.url}/ui")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text  # no inline script: the CSP would block it
    assets = _assets(page.text)
    assert {a.rsplit(".", 1)[1] for a in assets} == {"js", "css"}
    for asset in assets:
        answer = httpx.get(f"{live_api.url}{asset}")
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        kind = "text/javascript" if asset.endswith(".js") else "text/css"
        assert answer.headers["content-type"].startswith(kind)
        assert answer.content == (ASSETS / asset.rsplit("/", 1)[1]).read_bytes()


def test_assets_are_gzipped_for_clients_that_accept_it(live_api: LiveApi) -> None:
    script = next(a for a in _assets(httpx.get(f"{live_api.url}/ui/").text) if a.endswith(".js"))
    with httpx.stream("GET", f"{live_api.url}{script}", headers={"Accept-Encoding": "gzip"}) as r:
        assert r.headers["content-encoding"] == "gzip"
        raw = b"".join(r.iter_raw())
    assert gzip.decompress(raw) == (ASSETS / script.rsplit("/", 1)[1]).read_bytes()
    assert len(raw) < len(gzip.decompress(raw))


def test_client_routes_get_index_and_missing_files_a_404(live_api: LiveApi) -> None:
    index = (ASSETS / "index.html").read_text()
    for path in ("/ui/", "/ui/runs", "/ui/runs/3f1c/logs"):
        answer = httpx.get(f"{live_api.url}{path}")
        assert (answer.status_code, answer.text) == (200, index), path
    for path in ("/ui/assets/app.000000000000.js", "/ui/favicon.ico", "/ui/assets/"):
        missing = httpx.get(f"{live_api.url}{path}")
        assert missing.status_code == 404, path
        assert missing.json()["error"]["code"] == "asset_not_found"


def test_path_traversal_is_refused(live_api: LiveApi) -> None:
    config = (ASSETS.parent.parent / "config.py").read_bytes()
    for path in (
        "/ui/../config.py",
        "/ui/assets/../../config.py",
        "/ui/assets/../../../stratoflow_functions/config.py",
        "/ui/assets/./index.html",
        "/ui/assets/..\\..\\config.py",
    ):
        status, body = _raw_get(live_api.url, path)
        assert status == 400, path
        assert b"invalid_path" in body
        assert config not in body
    status, body = _raw_get(live_api.url, "/ui/assets/%2e%2e/%2e%2e/config.py")
    assert status == 404
    assert config not in body


def test_only_get_reads_the_dashboard(live_api: LiveApi) -> None:
    answer = httpx.post(f"{live_api.url}/ui", json={})
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"


def test_every_data_route_still_needs_a_key(live_api: LiveApi) -> None:
    auth = {"Authorization": f"Bearer {live_api.key}"}
    document = httpx.get(f"{live_api.url}/openapi.json", headers=auth).json()
    assert not [p for p in document["paths"] if p.startswith("/ui")]
    checked = 0
    for template, operations in document["paths"].items():
        path = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", template)
        for method in operations:
            if template == "/health":
                continue
            answer = httpx.request(method.upper(), f"{live_api.url}{path}")
            assert answer.status_code == 401, f"{method.upper()} {template}"
            checked += 1
    assert checked > 20
    for path in ("/uix", "/ui-flows", "/openapi.json"):
        assert httpx.get(f"{live_api.url}{path}").status_code == 401, path
