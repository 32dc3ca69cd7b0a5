"""Push launchers: the Step Functions state machines that start each due run of a pushed
deployment on its infrastructure (ECS, Kubernetes, Vertex AI, Lambda), the steps their launcher
Lambda runs, the scheduler's dispatcher that starts one execution per due run, and the
cancellation of pushed runs (docs/launchers.md).

`asl` builds the machines as data; `steps` answers the launcher Lambda's actions over the store
and the services; `backends` is the port the Kubernetes and Vertex steps call; `diagnosis`
turns an infrastructure failure into the reason a CRASHED run carries; `dispatcher` starts
executions; `cancel` stops what a cancelled run launched.
"""

from __future__ import annotations

from stratoflow_functions.launchers.names import execution_name, launcher_agent_id

__all__ = ["execution_name", "launcher_agent_id"]
