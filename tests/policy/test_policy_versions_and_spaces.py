"""doks-version-pinned, chart-versions-pinned, spaces-not-public."""
import pytest

from policy_harness import BUCKET, CLUSTER, RELEASE, messages

CLUSTER_POLICY = "doks-version-pinned"
CHART_POLICY = "chart-versions-pinned"
SPACES_POLICY = "spaces-not-public"


def test_exact_doks_version_passes():
    assert messages(CLUSTER, "gtc-demo", {"version": "1.33.1-do.3", "region": "ams3"}, CLUSTER_POLICY) == []


@pytest.mark.parametrize("version, shown", [("1.33", '"1.33"'), ("latest", '"latest"'), (None, "unset")])
def test_prefix_latest_or_missing_doks_version_is_named(version, shown):
    props = {"region": "ams3", **({"version": version} if version else {})}
    assert messages(CLUSTER, "gtc-demo", props, CLUSTER_POLICY) == [
        f'KubernetesCluster "gtc-demo": version {shown} is not an exact DOKS version (like "1.33.1-do.3"); '
        "resolve the prefix with digitalocean.get_kubernetes_versions"]


@pytest.mark.parametrize("version", ["1.16.2", "v0.8.1", "75.15.1", "1.0.0-rc.1"])
def test_exact_chart_versions_pass(version):
    props = {"chart": "cert-manager", "version": version, "repositoryOpts": {"repo": "https://charts.jetstack.io"}}
    assert messages(RELEASE, "cert-manager", props, CHART_POLICY) == []


@pytest.mark.parametrize("version, shown", [("^1.16", '"^1.16"'), ("1.16.x", '"1.16.x"'), ("1.16", '"1.16"'),
                                            (None, "unset")])
def test_floating_chart_versions_are_named(version, shown):
    props = {"chart": "cert-manager", **({"version": version} if version else {})}
    assert messages(RELEASE, "cert-manager", props, CHART_POLICY) == [
        f'Release "cert-manager": chart "cert-manager" version {shown} is not an exact version (like "1.16.2"); '
        "ranges and unset versions float to new releases"]


def test_chart_from_a_local_path_is_pinned_by_the_commit():
    assert messages(RELEASE, "local", {"chart": "./charts/local"}, CHART_POLICY) == []


@pytest.mark.parametrize("props", [{"name": "cache", "region": "atl1"}, {"name": "cache", "acl": "private"}])
def test_private_bucket_passes(props):
    assert messages(BUCKET, "cache", props, SPACES_POLICY) == []


def test_public_bucket_is_named():
    assert messages(BUCKET, "cache", {"name": "cache", "acl": "public-read"}, SPACES_POLICY) == [
        'SpacesBucket "cache": acl "public-read" makes it public; use "private"']
