"""The local Kubernetes control plane and the Go-built tools that `make e2e` runs the real `pulumi` against."""
