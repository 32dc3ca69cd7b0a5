"""Use cases: each module is one capability of the control plane, with its clients injected."""
