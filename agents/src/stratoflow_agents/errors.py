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

from stratoflow.exceptions import StratoflowError


class AgentError(StratoflowError):
    """Base of every error the agents raise."""


class LaunchError(AgentError):
    """A claimed run could not be started on its infrastructure."""
