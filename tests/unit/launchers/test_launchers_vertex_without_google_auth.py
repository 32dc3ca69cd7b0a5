"""Without google-auth (a Lambda without the Vertex layer), the Vertex backend says what is missing.

google-auth is the `[vertex]` extra, shipped on Lambda in a layer on the Vertex launcher
alone. The test runs a fresh `python -I` whose import system cannot find the `google`
namespace (a meta-path finder that refuses it, before any other finder), as on a function
without the layer, and builds a backend there.
"""

from __future__ import annotations

import json
import subprocess
import sys

# Refuses `google` and everything under it; everything else imports as usual.
PROBE = """
import json, sys
sys.path[:] = json.loads(sys.argv[1])

class NoGoogle:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "google" or name.startswith("google."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoGoogle)

class Secrets:
    def get_secret_value(self, SecretId):
        return {"SecretString": json.dumps({"type": "service_account", "project_id": "p"})}

from stratoflow_functions.launchers.backend_errors import BackendConfigError
from stratoflow_functions.launchers.vertex_backend import VertexBackend

try:
    VertexBackend.from_secret(Secrets(), "arn:secret", region="us-central1")
except BackendConfigError as exc:
    print(json.dumps({"error": str(exc), "google_auth": "google.auth" in sys.modules}))
"""


def _probe() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-c", PROBE, json.dumps(sys.path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_backend_without_google_auth_is_a_config_error_naming_the_extra_and_the_layer() -> None:
    result = _probe()

    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert "google-auth is not installed" in outcome["error"]
    assert "stratoflow-functions[vertex]" in outcome["error"]
    assert "Vertex layer" in outcome["error"]
    assert "missing: google." in outcome["error"]
    assert outcome["google_auth"] is False


def test_the_same_backend_module_imports_google_auth_when_it_is_there() -> None:
    # The control: the same probe without the refusing finder builds no error about
    # google-auth (the key is incomplete, so it is the key that is refused).
    code = PROBE.replace("sys.meta_path.insert(0, NoGoogle)", "")
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, json.dumps(sys.path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert "service-account key is not usable" in outcome["error"]
    assert outcome["google_auth"] is True
