"""A Spaces bucket (or object) the program declares is never public: the model cache must not leak."""
from typing import List, Mapping

from ..props import as_str, child, subject

BUCKET_TYPE = "digitalocean:index/spacesBucket:SpacesBucket"
OBJECT_TYPE = "digitalocean:index/spacesBucketObject:SpacesBucketObject"
PRIVATE_ACL = "private"


def check(resource_type: str, name: str, props: Mapping) -> List[str]:
    if resource_type not in (BUCKET_TYPE, OBJECT_TYPE):
        return []
    acl = as_str(child(props, "acl"))
    if acl is not None and acl != PRIVATE_ACL:    # unset means the provider default, "private"
        return [f'{subject(resource_type, name)}: acl "{acl}" makes it public; use "{PRIVATE_ACL}"']
    return []
