"""Every container image is pinned to a tag or digest: never untagged, never `latest`.

An image unknown at preview (the load generator's, whose digest reference exists once `up` has pushed it)
is checked at `up`.

An unpinned image makes two `pulumi up` runs deploy different code from the same commit.
"""
import re
from typing import Any, List, Mapping, Optional

from ..props import UNKNOWN, reveal, subject
from ..workloads import pod_views

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def image_problem(image: Any) -> Optional[str]:
    """Why `image` is not pinned, or None when it is (or is decided at `up`, where it is known)."""
    if image is UNKNOWN:  # the program's own image: its digest reference exists once `up` has pushed it
        return None
    image = reveal(image)
    if not isinstance(image, str) or not image.strip():
        return "has no image (the cluster or operator would pick one)"
    name, _, digest = image.partition("@")
    if digest:
        return None if _DIGEST.match(digest) else f'image "{image}" has a malformed digest "{digest}"'
    last_segment = name.rsplit("/", 1)[-1]        # a registry port ("host:5000/x") is not a tag
    if ":" not in last_segment:
        return f'image "{image}" has no tag or digest'
    tag = last_segment.rsplit(":", 1)[1]
    if not tag:
        return f'image "{image}" has an empty tag'
    if tag.lower() == "latest":
        return f'image "{image}" uses the "latest" tag'
    return None


def check(resource_type: str, name: str, props: Mapping) -> List[str]:
    messages = []
    for pod in pod_views(resource_type, props):
        for container in pod.containers:
            problem = image_problem(container.image)
            if problem:
                messages.append(f"{subject(resource_type, name)}: {container.where} {problem}; "
                                "pin an explicit version tag or an @sha256 digest")
    return messages


def digest_problem(image: Any) -> Optional[str]:
    """Why `image` is not pinned to a content digest, or None when it is (or is decided at `up`)."""
    if image is UNKNOWN:
        return None
    image = reveal(image)
    if not isinstance(image, str) or "@" not in image:
        return f'image "{image}" has no @sha256 digest (a tag can be re-pushed; a digest cannot)'
    digest = image.partition("@")[2]
    return None if _DIGEST.match(digest) else f'image "{image}" has a malformed digest "{digest}"'


def check_digests(resource_type: str, name: str, props: Mapping) -> List[str]:
    return [f"{subject(resource_type, name)}: {container.where} {problem}"
            for pod in pod_views(resource_type, props) for container in pod.containers
            if (problem := digest_problem(container.image))]
