"""What the e2e prints at the end: resources, seconds per phase, notes (one dict shared by tests and conftest)."""

SUMMARY: dict = {"timings": {}, "resources": None, "notes": [], "previews": {}}
