"""YAML loading that remembers where every mapping key and list item came from.

Zone and config errors must name a file and line, and duplicate keys must be errors, so
the loader builds dicts and lists that carry their source lines.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode


class SourceDict(dict):
    """A mapping with the line of the mapping itself and of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class SourceList(list):
    """A sequence with the line of the sequence and of each item (1-based)."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


class YamlSourceError(Exception):
    """A YAML document that cannot be read: syntax errors and duplicate keys."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


_BREAKS = "\0 \t\r\n\x85\u2028\u2029"


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads `[::1/128, 10.0.0.0/8]` as YAML 1.2 does.

    YAML 1.1 (PyYAML) treats any ':' in a flow collection as a key indicator, so an IPv6
    address cannot start a plain scalar there; SPEC's own config example needs it.
    """

    def check_value(self) -> bool:
        if self.flow_level:
            after = self.peek(1)
            if after in _BREAKS + ",[]{}":
                return True
            before = self.buffer[self.pointer - 1] if self.pointer else ""
            return before in "\"'"  # JSON style "key":value
        return super().check_value()

    def check_plain(self) -> bool:
        if self.flow_level and self.peek() == ":" and not self.check_value():
            return True
        return super().check_plain()


def _construct_mapping(loader: _Loader, node: MappingNode) -> SourceDict:
    own = {id(key) for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge"}
    loader.flatten_mapping(node)
    result = SourceDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    merged: set = set()
    for key_node, value_node in node.value:
        # Keys are the literal text: `on:`, `010:` or `1.10:` name records, not booleans.
        if isinstance(key_node, yaml.ScalarNode):
            key = key_node.value
        else:
            key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise YamlSourceError(key_node.start_mark.line + 1, "unhashable mapping key") from None
        line = key_node.start_mark.line + 1
        from_merge = id(key_node) not in own
        if key in result:
            if from_merge:
                continue  # an earlier merge or an explicit key already set it
            if key not in merged:
                first = result.key_lines[key]
                raise YamlSourceError(line, f"duplicate key {key!r} (first on line {first})")
            merged.discard(key)  # an explicit key overrides a merged one
        elif from_merge:
            merged.add(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _Loader, node: SequenceNode) -> SourceList:
    result = SourceList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


# libyaml parses a 100,000-record zone about ten times faster; its scanner cannot take the
# IPv6 fix above, so a document it rejects is read again by the pure-Python loader.
_FastLoader: type[yaml.CSafeLoader] | None = None
if yaml.__with_libyaml__:

    class _FastLoader(yaml.CSafeLoader):  # type: ignore[no-redef]
        pass


for _loader in (_Loader, _FastLoader):
    if _loader is not None:
        _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
        _loader.add_constructor(
            yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence
        )


class _NeedsGraph(Exception):
    """Anchors, aliases, explicit tags, merge keys, several documents: what only the
    node-graph loader reads."""


_STR = "tag:yaml.org,2002:str"


def _from_events(loader: Any) -> Any:
    """The document built straight from libyaml's events, as the node-graph loader builds
    it (same values, same lines), without holding the graph: a 100,000-record zone's graph
    alone takes hundreds of megabytes."""
    events = yaml.events

    def value(event: Any) -> Any:
        if getattr(event, "anchor", None) is not None or isinstance(event, events.AliasEvent):
            raise _NeedsGraph
        if isinstance(event, events.ScalarEvent):
            if event.tag not in (None, "!") or not event.implicit[0]:
                if event.tag not in (None, "!"):
                    raise _NeedsGraph
                return event.value  # quoted, literal or folded: a string
            tag = loader.resolve(ScalarNode, event.value, event.implicit)
            if tag == _STR:
                return event.value
            node = ScalarNode(tag, event.value, None, None)
            return loader.yaml_constructors[tag](loader, node)
        if event.tag not in (None, "!"):
            raise _NeedsGraph
        if isinstance(event, events.SequenceStartEvent):
            items = SourceList()
            items.line = _line(event)
            items.item_lines = []
            while not loader.check_event(events.SequenceEndEvent):
                child = loader.get_event()
                items.item_lines.append(_line(child))
                items.append(value(child))
            loader.get_event()
            return items
        result = SourceDict()
        result.line = _line(event)
        result.key_lines = {}
        while not loader.check_event(events.MappingEndEvent):
            key_event = loader.get_event()
            if not isinstance(key_event, events.ScalarEvent) or key_event.anchor is not None:
                raise _NeedsGraph
            if key_event.tag not in (None, "!"):
                raise _NeedsGraph
            key = key_event.value  # the literal text, as _construct_mapping keeps it
            if key == "<<" and key_event.implicit[0]:
                raise _NeedsGraph  # a merge key
            line = _line(key_event)
            if key in result:
                first = result.key_lines[key]
                raise YamlSourceError(line, f"duplicate key {key!r} (first on line {first})")
            result[key] = value(loader.get_event())
            result.key_lines[key] = line
        loader.get_event()
        return result

    loader.get_event()  # the stream's start
    if loader.check_event(events.StreamEndEvent):
        return None
    loader.get_event()  # the document's start
    root = value(loader.get_event())
    loader.get_event()  # the document's end
    if not loader.check_event(events.StreamEndEvent):
        raise _NeedsGraph  # a second document: the graph loader says what is wrong
    return root


def _line(event: Any) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 0


def _load_fast(text: str) -> Any:
    assert _FastLoader is not None
    loader = _FastLoader(text)
    try:
        return _from_events(loader)
    except _NeedsGraph:
        pass
    finally:
        loader.dispose()
    return yaml.load(text, Loader=_FastLoader)


def load(text: str) -> Any:
    """Parse one YAML document; raise YamlSourceError with a line for any problem."""
    if _FastLoader is not None:
        try:
            return _load_fast(text)
        except YamlSourceError:
            raise
        except (yaml.YAMLError, RecursionError):
            pass  # the pure-Python loader below reads it, or reports the error
    try:
        return yaml.load(text, Loader=_Loader)
    except YamlSourceError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise YamlSourceError(line, f"YAML syntax: {exc.problem or exc.context}") from None
    except (yaml.YAMLError, ConstructorError, RecursionError) as exc:
        raise YamlSourceError(0, f"YAML: {exc}") from None
