"""Label selectors decided the way the API server decides them, for "which pods does this reach".

A Service, a NetworkPolicy or a Cilium policy reaches pods by labels, not by name, so the rules ask
whether a selector *could* select a pod: every `matchLabels` pair and every `matchExpressions` term
must hold. Labels the program does not set but another controller may (the Dynamo operator's
`nvidia.com/...` labels on the graph's pods) are `open`: a term on an open key is taken to hold, the
stricter reading (a selector written against the operator's labels still counts as reaching the pod).
"""
from typing import Any, Iterable, Mapping, Optional

from .props import as_list, as_map, as_str, child


def _values(term: Any) -> set:
    return {as_str(v) for v in as_list(child(term, "values"))}


def _term_holds(term: Any, labels: Mapping[str, str], open_prefixes: Iterable[str]) -> bool:
    key = as_str(child(term, "key")) or ""
    operator = as_str(child(term, "operator")) or ""
    if key not in labels and any(key.startswith(prefix) for prefix in open_prefixes):
        return True
    present, value = key in labels, labels.get(key)
    if operator == "In":
        return present and value in _values(term)
    if operator == "NotIn":
        return not present or value not in _values(term)
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    return False  # an operator the API server refuses selects nothing


def could_select(selector: Any, labels: Mapping[str, str], open_prefixes: Iterable[str] = (),
                 flat: bool = False) -> bool:
    """Does `selector` select a pod labelled `labels`? `flat`: a Service's selector (a plain map)."""
    open_prefixes = tuple(open_prefixes)
    pairs = as_map(selector) if flat else as_map(child(selector, "matchLabels"))
    for key, value in pairs.items():
        if key not in labels and any(str(key).startswith(prefix) for prefix in open_prefixes):
            continue
        if labels.get(key) != as_str(value):
            return False
    terms = [] if flat else as_list(child(selector, "matchExpressions"))
    return all(_term_holds(term, labels, open_prefixes) for term in terms)


def selects_everything(selector: Any) -> bool:
    """An empty selector (or one whose terms every object meets: only `Exists` on a key every namespace
    has, `kubernetes.io/metadata.name`, or `NotIn`/`DoesNotExist` on keys none has)."""
    if selector is None:
        return False
    if as_map(child(selector, "matchLabels")):
        return False
    for term in as_list(child(selector, "matchExpressions")):
        key = as_str(child(term, "key")) or ""
        operator = as_str(child(term, "operator")) or ""
        universal = {"kubernetes.io/metadata.name"}
        if operator == "Exists" and key in universal:
            continue
        if operator in ("NotIn", "DoesNotExist") and key not in universal:
            continue  # holds for every object that lacks the key; the stricter reading: for all
        return False
    return True


def namespace_names(selector: Any) -> Optional[set]:
    """The namespaces a namespaceSelector names by `kubernetes.io/metadata.name`, or None if it names them
    some other way (then any namespace may match)."""
    name = as_str(child(selector, "matchLabels", "kubernetes.io/metadata.name"))
    if name is not None:
        return {name}
    for term in as_list(child(selector, "matchExpressions")):
        if as_str(child(term, "key")) == "kubernetes.io/metadata.name" and as_str(child(term, "operator")) == "In":
            return _values(term)
    return None
