"""The local profile file: where the CLI and the SDK find the API when no environment says so.

`stratoflow server start` writes it (API URL and admin key) and the client reads it. It lives at
`$STRATOFLOW_HOME/profile.toml`, default `~/.stratoflow/profile.toml`, as flat `key = "value"`
lines. Reading uses `tomllib`; writing emits the same flat form (JSON string escaping is valid
TOML basic-string escaping for the values we store).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from stratoflow._private_files import open_private, private_dir

PROFILE_FILE = "profile.toml"
PROFILE_KEYS = ("api_url", "api_key", "auth", "region", "results_uri")
"""The keys a profile may hold; anything else in the file is ignored."""


def stratoflow_home(environ: Mapping[str, str] | None = None) -> Path:
    """The Stratoflow home folder: `$STRATOFLOW_HOME` or `~/.stratoflow`."""
    env = os.environ if environ is None else environ
    home = env.get("STRATOFLOW_HOME")
    return Path(home).expanduser() if home else Path.home() / ".stratoflow"


def profile_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the profile file lives for this environment."""
    return stratoflow_home(environ) / PROFILE_FILE


def read_profile(path: Path) -> dict[str, str]:
    """Read a profile file; a missing file is an empty profile.

    Raises:
        ValueError: the file exists but is not valid TOML.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"profile file {path} is not valid TOML: {exc}") from exc
    return {key: str(data[key]) for key in PROFILE_KEYS if data.get(key) is not None}


def write_profile(values: Mapping[str, str], path: Path) -> Path:
    """Write (merge into) a profile file, readable by its owner only.

    Args:
        values: keys from `PROFILE_KEYS` to set; other keys already in the file are kept.
        path: the profile file.

    Returns:
        The path written.
    """
    unknown = set(values) - set(PROFILE_KEYS)
    if unknown:
        raise ValueError(f"unknown profile keys: {sorted(unknown)}")
    merged = {**read_profile(path), **values}
    if not path.parent.exists():  # a new home: owner-only, whatever the umask
        private_dir(path.parent)
    text = "".join(f"{key} = {json.dumps(merged[key])}\n" for key in sorted(merged))
    tmp = path.with_suffix(".tmp")
    # A new file, 0600 from creation (not chmod after writing, nor a leftover tmp someone may
    # hold open): the key is never readable by others.
    with open_private(tmp) as handle:
        handle.write(text)
    tmp.replace(path)
    return path
