"""In-process fakes of third-party wire APIs (Kubernetes, Vertex AI), served over real HTTP."""
