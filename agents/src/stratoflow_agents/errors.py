"""The agents' exception tree: what a backend raises when it cannot start or stop a run.

```
StratoflowError
└── AgentError
    └── LaunchError        the infrastructure refused or failed to start a claimed run
```

The agent loop catches `LaunchError` and records the run CRASHED with its message; anything
else escaping a backend is a bug and stops the agent (after it stops its runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from stratoflow.exceptions import StratoflowError
from stratoflow.infrastructure import BaseInfraSettings, InfraSettingsError, settings_for
from stratoflow.schemas import InfrastructureType

SettingsT = TypeVar("SettingsT", bound=BaseInfraSettings)


class AgentError(StratoflowError):
    """Base of every error the agents raise."""


class LaunchError(AgentError):
    """A claimed run could not be started on its infrastructure."""


def job_settings(
    infrastructure: InfrastructureType, values: Mapping[str, Any], model: type[SettingsT]
) -> SettingsT:
    """`values` validated as `infrastructure`'s settings (`settings_for`), before a launch.

    Raises:
        LaunchError: they are not valid settings (the message names the field), so the run is
            CRASHED saying why and the agent goes on.
    """
    try:
        found = settings_for(infrastructure, dict(values))
    except InfraSettingsError as exc:
        raise LaunchError(str(exc)) from exc
    assert isinstance(found, model)
    return found
