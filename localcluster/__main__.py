"""python -m localcluster up|down|status|netns|kubeconfig|tools|e2e"""

from __future__ import annotations

import sys

from localcluster import tools
from localcluster.cluster import Cluster, ClusterError, down, up


def main(argv: list[str]) -> int:
    verb = argv[0] if argv else "status"
    cluster = Cluster.for_this_clone()
    try:
        if verb == "up":
            up(cluster)
            print(cluster.kubeconfig)
        elif verb == "down":
            down(cluster)
        elif verb == "netns":
            print(cluster.netns)
        elif verb == "kubeconfig":
            print(cluster.kubeconfig)
        elif verb == "status":
            print(f"{'up' if cluster.is_up() else 'down'}: kubeconfig {cluster.kubeconfig}, "
                  f"network namespace {cluster.netns} (use `ip netns exec {cluster.netns} kubectl ...`)")
        elif verb == "tools":
            return tools.main(argv[1:])
        elif verb == "e2e":
            from localcluster.e2e_runner import main as e2e
            return e2e()
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (ClusterError, tools.ToolBuildError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
