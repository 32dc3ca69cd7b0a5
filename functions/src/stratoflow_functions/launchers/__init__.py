"""Push launchers: the Step Functions state machines that start each due run of a pushed
deployment on its infrastructure, and the steps their launcher Lambda runs (docs/launchers.md).

`asl` builds the machines as data; `steps` answers the launcher Lambda's actions over the store
and the services; `backends` is the port the Kubernetes and Vertex steps call; `diagnosis`
turns an infrastructure failure into the reason a CRASHED run carries.
"""

from __future__ import annotations

from stratoflow_functions.launchers.naming import execution_name, launcher_agent_id

__all__ = ["execution_name", "launcher_agent_id"]
