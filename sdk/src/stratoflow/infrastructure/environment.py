"""What every launched run receives (SPEC section 7), whatever it runs on.

The environment (`STRATOFLOW_API_URL`, `STRATOFLOW_FLOW_RUN_ID` and the deployment's own `env`),
the command (`stratoflow execute <id>`) and the image. The API key is never here: each builder
adds it as a reference its platform resolves (an ECS `secrets` entry, a Kubernetes
`secretKeyRef`, a Secret Manager version name that `stratoflow execute` reads).
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from stratoflow.infrastructure.settings import RESERVED_ENV, BaseInfraSettings, InfraSettingsError
from stratoflow.schemas import CodeImage, Deployment

DEFAULT_RUNTIME_IMAGE = "stratoflow-runtime:latest"
"""The image used when neither the settings nor the deployment name one: an image with the
`stratoflow` SDK installed, which downloads the deployment's code bundle itself."""


INFRASTRUCTURE_ID_ENV = "STRATOFLOW_INFRASTRUCTURE_ID"
"""Set by a builder that knows the run's infrastructure id before launch (a Kubernetes Job, a
Docker container): `stratoflow execute` then heartbeats that id rather than its pid."""


def launch_environment(
    api_url: str, flow_run_id: UUID | str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a launched run: the API, the run and the user's own variables.

    Raises:
        InfraSettingsError: `extra` names a variable the launcher sets (the API key among them:
            keys travel only by reference).
    """
    user = dict(extra or {})
    for name in user:
        if name in RESERVED_ENV:
            raise InfraSettingsError(
                f"env.{name}: set by the launcher, it cannot be given in env", field=f"env.{name}"
            )
    return {"STRATOFLOW_API_URL": api_url, "STRATOFLOW_FLOW_RUN_ID": str(flow_run_id), **user}


def execute_command(flow_run_id: UUID | str) -> list[str]:
    """The command a launched run executes."""
    return ["stratoflow", "execute", str(flow_run_id)]


def image_for(
    deployment: Deployment,
    settings: BaseInfraSettings,
    *,
    default_image: str = DEFAULT_RUNTIME_IMAGE,
) -> str:
    """The image a run of `deployment` runs in.

    The settings' `image` if they have one, else the deployment's code image, else
    `default_image` (a bundle deployment's code is downloaded inside `stratoflow execute`).
    """
    image = getattr(settings, "image", None)
    if isinstance(image, str):
        return image
    if isinstance(deployment.code, CodeImage):
        return deployment.code.image
    return default_image
