"""Project tooling: helm/kubectl install, chart vendoring and rendering (not part of the Pulumi program)."""
