"""Push launchers: the Step Functions state machines that start flow runs on their
infrastructure (ECS, Kubernetes, Vertex AI, Lambda), the scheduler's dispatcher that starts one
execution per due run, and the cancellation of pushed runs (docs/launchers.md)."""
