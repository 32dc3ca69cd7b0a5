"""The errors the job backends raise (`kubernetes_backend`, `vertex_backend`).

A launcher step lets them propagate: Step Functions catches the failure and the `settle` step
reports the run CRASHED with the message as its reason, so each message names the problem and
what to change (a permission, the kubeconfig, the service-account key).
"""

from __future__ import annotations

from stratoflow_functions.errors import StratoflowError


class JobBackendError(StratoflowError):
    """The infrastructure's API refused or failed a request."""

    status = 502
    code = "infrastructure_error"


class BackendConfigError(JobBackendError):
    """The connection settings (a kubeconfig, a service-account key) cannot be used."""

    code = "infrastructure_config_error"
