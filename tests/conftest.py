"""Suite-wide: a SIGTERM (a CI time-out, `kill`) unwinds like Ctrl-C, so fixtures stop what they started."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.guard import sigterm_as_interrupt  # noqa: E402


# Besides every test marked `e2e` (the rehearsal's real processes): the load generator's tests that
# measure rates, deadlines or time slices against the wall clock.
REALTIME_MODULES = {
    "test_loadgen_lockout.py", "test_loadgen_workload.py", "test_loadgen_scenario.py", "test_loadgen_edge.py",
    "test_loadgen_feed.py", "test_loadgen_upstream_trouble.py", "test_loadgen_control.py", "test_loadgen_booth.py",
    "test_loadgen_itl_runs.py", "test_loadgen_cli.py", "test_loadgen_live.py", "test_loadgen_check_report.py",
}
BOOTH_MODULES = {"test_rehearsal_booth_acceptance.py"}
# The `edge` lane, which starts once the booth lane has ended, so none of these runs beside its real-time
# rehearsals: real servers under attack (issue 28, CPU-heavy), and the lanes' own CPU-weight test (its two lanes'
# share of a core is the scheduler's weights only when no real-time process takes that core at moments: beside
# the six rehearsals a CI run read 1.5x for a bound of 2x).
EDGE_MODULES = {"test_loadgen_attacks.py", "test_lanes.py"}


def pytest_configure(config):
    sigterm_as_interrupt()


def pytest_collection_modifyitems(config, items):
    """Which lane of tools/test_lanes.py runs a test: `booth`, `edge`, `realtime` (protected CPU share) or not."""
    import pytest
    for item in items:
        name = item.path.name
        if name in BOOTH_MODULES:
            item.add_marker(pytest.mark.booth)
        if name in EDGE_MODULES:
            item.add_marker(pytest.mark.edge)
        if item.get_closest_marker("e2e") or name in REALTIME_MODULES | BOOTH_MODULES | EDGE_MODULES:
            item.add_marker(pytest.mark.realtime)
