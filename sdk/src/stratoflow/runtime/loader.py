"""Find a deployment's code and import its flow: `path/to/file.py:function`.

The code is already in the working directory (a container image), or a bundle: a local folder,
or a zip given as a `file://` URI or a path, checked against its sha256 and unpacked into a
scratch folder. (`s3://` bundles are fetched by the deploy tooling; not yet here.)
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from stratoflow.exceptions import StratoflowError
from stratoflow.flows import Flow
from stratoflow.schemas import CodeBundle, CodeSource


class CodeLoadError(StratoflowError):
    """The deployment's code or entrypoint could not be found or imported."""


def materialize_code(code: CodeSource | None, workdir: Path, scratch: Path) -> Path:
    """The folder holding the deployment's code.

    Args:
        code: the deployment's code source (None or an image: the code is in `workdir`).
        workdir: the current working directory.
        scratch: an empty folder to unpack a zip bundle into.

    Raises:
        CodeLoadError: the bundle is missing, corrupt, or stored somewhere not supported.
    """
    if not isinstance(code, CodeBundle):
        return workdir
    parts = urlsplit(code.uri)
    if parts.scheme not in ("", "file"):
        raise CodeLoadError(f"code bundle {code.uri}: only local and file:// bundles are supported")
    path = Path(unquote(parts.path) if parts.scheme == "file" else code.uri)
    if path.is_dir():
        return path
    if not path.is_file():
        raise CodeLoadError(f"code bundle {code.uri} not found")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != code.sha256:
        raise CodeLoadError(f"code bundle {code.uri}: sha256 {digest} != expected {code.sha256}")
    try:
        with zipfile.ZipFile(path) as bundle:
            bundle.extractall(scratch)  # our own bundle, checked by hash above
    except zipfile.BadZipFile as exc:
        raise CodeLoadError(f"code bundle {code.uri} is not a zip file") from exc
    return scratch


def load_flow(entrypoint: str, root: Path) -> Flow[..., Any]:
    """Import `path/to/file.py:function` (relative to `root`) and return the flow.

    Raises:
        CodeLoadError: the file or function does not exist, fails to import, or is not a flow.
    """
    file_part, _, attribute = entrypoint.rpartition(":")
    path = (root / file_part).resolve()
    if not file_part or not attribute or not path.is_file():
        raise CodeLoadError(f"entrypoint {entrypoint!r}: no file {file_part!r} under {root}")
    module = _import_file(path, root)
    flow = getattr(module, attribute, None)
    if not isinstance(flow, Flow):
        raise CodeLoadError(f"entrypoint {entrypoint!r}: {attribute!r} is not a @flow")
    return flow


def _import_file(path: Path, root: Path) -> Any:
    name = f"stratoflow_entrypoint_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CodeLoadError(f"cannot import {path}")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # so the flow's own modules import as they do locally
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise CodeLoadError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return module
