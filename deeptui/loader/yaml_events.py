"""The loader's YAML dialect: JSON-compatible values, read fast in the common case.

``NodeLoader`` composes the node tree (libyaml's parser when PyYAML has it);
the loader uses the tree for line:column positions and to refuse alias bombs,
custom tags and duplicate keys. Composing and constructing the tree costs
about 0.1 ms a task, so ``read_plain`` first builds the data straight from the
parser's events for a plain document: no anchors, aliases, tags, merge keys,
duplicate, non-string or collection keys, one document. It gives up
(returns None) on anything else, and the loader then takes the node tree path,
which decides and words every error; for a plain document both give equal
data.
"""

from __future__ import annotations

from typing import Any

import yaml

# YAML restricted to JSON-compatible values: no timestamps, sets, binary or '=' values.
YAML_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float", "str", "seq", "map")}
_STR = "tag:yaml.org,2002:str"

# The parser class: libyaml's when PyYAML was built with it, else pure Python (slower).
EventLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Resolver(yaml.resolver.Resolver):
    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in pairs if tag in YAML_TAGS or tag.endswith(":merge")]
        for first, pairs in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    }


class Constructor(yaml.constructor.SafeConstructor):
    yaml_constructors = {
        tag: fn
        for tag, fn in yaml.constructor.SafeConstructor.yaml_constructors.items()
        if tag is None or tag in YAML_TAGS
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key, _ in node.value:  # merged ('<<') keys may be overridden, others not
            if isinstance(key, yaml.ScalarNode) and not key.tag.endswith(":merge"):
                if key.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key '{_short(key.value)}'", key.start_mark)
                seen.add(key.value)
        return super().construct_mapping(node, deep)


class NodeLoader(EventLoader, Constructor, Resolver):  # type: ignore[misc, valid-type]
    """libyaml when PyYAML has it: fast, and it refuses nesting deeper than 1000 levels."""


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _NotPlain(Exception):
    """The document needs the node tree path."""


_NO_KEY = object()


def read_plain(text: str, max_depth: int) -> Any | None:
    """The data of a plain one-document YAML text, or None when the node tree path must decide.

    None for anything unusual (see the module docstring), for nesting deeper
    than ``max_depth`` and for any parser error.
    """
    try:
        return _build(text, max_depth)
    except (_NotPlain, yaml.YAMLError):
        return None


def _build(text: str, max_depth: int) -> Any:
    plain = _PlainScalars()
    stack: list[Any] = []  # the open lists and dicts
    keys: list[Any] = []  # per open dict, its key waiting for a value
    root: Any = _NO_KEY
    documents = 0
    loader = EventLoader(text)
    try:
        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                if event.anchor is not None or event.tag is not None:
                    raise _NotPlain
                value = plain.value(event.value) if event.implicit[0] else event.value
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.anchor is not None or event.tag is not None or len(stack) >= max_depth:
                    raise _NotPlain
                value = {} if kind is yaml.MappingStartEvent else []
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                if type(stack.pop()) is dict:
                    keys.pop()
                continue
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _NotPlain
                continue
            elif kind is yaml.StreamEndEvent:
                break
            elif kind is yaml.AliasEvent:
                raise _NotPlain
            else:  # stream start, document end
                continue
            if not stack:
                root = value
            elif type(parent := stack[-1]) is list:
                parent.append(value)
            elif (key := keys[-1]) is _NO_KEY:  # value is a key
                if type(value) is not str or value in parent:
                    raise _NotPlain
                keys[-1] = value
            else:
                parent[key] = value
                keys[-1] = _NO_KEY
            if type(value) is dict:
                stack.append(value)
                keys.append(_NO_KEY)
            elif type(value) is list:
                stack.append(value)
    finally:
        loader.dispose()
    if root is _NO_KEY:
        raise _NotPlain  # an empty stream
    return root


class _PlainScalars:
    """Plain (unquoted) scalars resolved and built as ``NodeLoader`` does, remembered by text."""

    def __init__(self) -> None:
        self.known: dict[str, Any] = {}
        self.constructor = Constructor()
        self.resolvers = Resolver.yaml_implicit_resolvers
        self.wildcard = self.resolvers.get(None, [])

    def value(self, text: str) -> Any:
        try:
            return self.known[text]
        except KeyError:
            pass
        tag = _STR
        for candidate, regexp in self.resolvers.get(text[:1], []) + self.wildcard:
            if regexp.match(text):
                tag = candidate
                break
        if tag == _STR:
            value: Any = text
        elif tag in YAML_TAGS:
            value = Constructor.yaml_constructors[tag](self.constructor, yaml.ScalarNode(tag, text))
        else:  # a merge key '<<'
            raise _NotPlain
        self.known[text] = value
        return value
