"""The dashboard's static files (`ui/`, built by `node ui/build.mjs` into `ui/assets/` of this
package): `GET /ui` and `GET /ui/<path>`, answered before auth (the pages hold no data; every
data call they make needs a key). See docs/ui.md.

- `/ui/assets/<file>`: a built file; content-hashed names are `immutable`, others `no-cache`;
  a missing one is a 404 JSON error.
- any other path under `/ui` is a client-side route: `index.html` (`no-cache`), unless its last
  segment has an extension (a missing file, 404).
- a `..` or `.` segment, a backslash or a control character is a 400 `invalid_path`; a resolved
  path is served only if it lies inside the assets folder.
"""

from __future__ import annotations

import base64
import gzip
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stratoflow_functions.api.errors import error_event_response

ASSETS = Path(__file__).resolve().parent.parent / "ui" / "assets"
PREFIX = "/ui"
ASSET_PREFIX = "/ui/assets/"
INDEX = "index.html"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
HASHED = re.compile(r"\.[0-9a-f]{12}\.[a-z0-9]+$")
IMMUTABLE = "public, max-age=31536000, immutable"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
GZIP_MIN_BYTES = 1024
_BAD_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\\]")


def is_ui_path(path: str) -> bool:
    """Whether `path` is the dashboard's (`/ui` or under `/ui/`)."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def serve(event: Mapping[str, Any]) -> dict[str, Any]:
    """The answer to a request for a dashboard path (GET or HEAD only)."""
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "GET"))
    if method not in ("GET", "HEAD"):
        answer = error_event_response(
            405, "method_not_allowed", "the dashboard's files are read with GET"
        )
        answer["headers"]["Allow"] = "GET, HEAD"
        return answer
    path = str(event.get("rawPath", PREFIX))
    relative = path[len(PREFIX) :].lstrip("/")
    segments = relative.split("/")
    if _BAD_CHARACTERS.search(relative) or any(s in (".", "..") for s in segments):
        return error_event_response(400, "invalid_path", "the path is not a dashboard path")
    target = _target(path, segments)
    if target is None:
        return error_event_response(404, "asset_not_found", f"no dashboard file {path}")
    return _file_answer(target, _accepts_gzip(event))


def _target(path: str, segments: list[str]) -> Path | None:
    if path.startswith(ASSET_PREFIX):
        return _existing(ASSETS.joinpath(*segments[1:]))
    if "." in segments[-1]:
        return None  # a file, not a client-side route: no fallback
    return _existing(ASSETS / INDEX)


def _existing(candidate: Path) -> Path | None:
    resolved = candidate.resolve()
    inside = resolved.is_relative_to(ASSETS) and resolved != ASSETS
    return resolved if inside and resolved.is_file() else None


def _file_answer(target: Path, gzip_ok: bool) -> dict[str, Any]:
    data = target.read_bytes()
    headers = {
        "Content-Type": CONTENT_TYPES.get(target.suffix, "application/octet-stream"),
        "Cache-Control": IMMUTABLE if HASHED.search(target.name) else "no-cache",
        "Vary": "Accept-Encoding",
        **SECURITY_HEADERS,
    }
    if gzip_ok and len(data) >= GZIP_MIN_BYTES:
        headers["Content-Encoding"] = "gzip"
        data = gzip.compress(data, compresslevel=6, mtime=0)
    return {
        "statusCode": 200,
        "headers": headers,
        "body": base64.b64encode(data).decode("ascii"),
        "isBase64Encoded": True,
    }


def _accepts_gzip(event: Mapping[str, Any]) -> bool:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    return "gzip" in headers.get("accept-encoding", "").lower()
