"""Reading resource inputs the way the policy framework hands them over.

Inputs arrive as read-only Mapping/Sequence proxies (not dict/list), secrets as `pulumi_policy.Secret`,
and values unknown during preview as sentinel strings; these helpers hide all three from the rules.
"""
from collections.abc import Mapping, Sequence
from typing import Any, List, Optional

from pulumi_policy import Secret
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

_UNKNOWN_SENTINELS = {
    UNKNOWN_ARCHIVE_VALUE, UNKNOWN_ARRAY_VALUE, UNKNOWN_ASSET_VALUE, UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE,
}


def is_unknown(value: Any) -> bool:
    """A sentinel the engine sends for a value not known during preview."""
    return isinstance(value, str) and value in _UNKNOWN_SENTINELS


def is_secret(value: Any) -> bool:
    return isinstance(value, Secret)


def reveal(value: Any) -> Any:
    """The plain value behind a Secret; an unknown inside a secret is reported like any other unknown."""
    while isinstance(value, Secret):
        value = value.value
        if isinstance(value, str) and value in _UNKNOWN_SENTINELS:
            raise UnknownValueError(value, ["<secret>"])
    return value


def child(value: Any, *path: Any) -> Any:
    """Walk mapping keys / sequence indexes; None where the path does not exist."""
    for key in path:
        value = reveal(value)
        if isinstance(key, int):
            if not as_list(value) or key >= len(value):
                return None
            value = value[key]
        else:
            if not isinstance(value, Mapping) or not has_key(value, key):
                return None
            value = value[key]
    return reveal(value)


def has_key(mapping: Mapping, key: Any) -> bool:
    """Presence test that does not read the value (reading an unknown would raise during preview)."""
    return any(existing == key for existing in mapping)


def raw_value(mapping: Mapping, key: Any) -> Any:
    """A value as given, still wrapped if it is a Secret (child() would unwrap it)."""
    return mapping[key] if isinstance(mapping, Mapping) and has_key(mapping, key) else None


def as_map(value: Any) -> Mapping:
    value = reveal(value)
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> List[Any]:
    value = reveal(value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [value[i] for i in range(len(value))]
    return []


def as_str(value: Any) -> Optional[str]:
    value = reveal(value)
    return value if isinstance(value, str) else None


def short_kind(resource_type: str) -> str:
    """`kubernetes:apps/v1:Deployment` -> `Deployment`; `digitalocean:index/spacesBucket:SpacesBucket` -> `SpacesBucket`."""
    return resource_type.rsplit(":", 1)[-1]


def subject(resource_type: str, name: str) -> str:
    """How every violation message names its resource: kind and Pulumi resource name."""
    return f'{short_kind(resource_type)} "{name}"'


class _Unknown:
    """A value the engine does not know yet (preview); rules that need it decide at `up`."""

    def __repr__(self) -> str:
        return "<unknown until up>"


UNKNOWN = _Unknown()


def child_or_unknown(value: Any, *path: Any) -> Any:
    """child(), but UNKNOWN instead of raising where the value is not known during preview, so one
    unknown field (the load generator's image, built at `up`) does not stop every rule that reads the pod."""
    try:
        return child(value, *path)
    except UnknownValueError:
        return UNKNOWN


def walk(value: Any, path: str = "", depth: int = 0):
    """Every leaf under `value` as (path, leaf), secrets still wrapped and not entered; a value unknown
    during preview is skipped (it is decided at `up`)."""
    if depth > 24:
        return
    if is_secret(value):
        yield path, value
    elif isinstance(value, Mapping):
        for key in list(value):
            try:
                item = value[key]
            except UnknownValueError:
                continue
            yield from walk(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        for i in range(len(value)):
            try:
                item = value[i]
            except UnknownValueError:
                continue
            yield from walk(item, f"{path}[{i}]", depth + 1)
    elif not (isinstance(value, str) and value in _UNKNOWN_SENTINELS):
        yield path, value
