"""YAML text → plain Python values that remember their line: ``LDict``, ``LList`` and scalars.

libyaml (``yaml.CSafeLoader``) composes the node graph in C; the tree is then built from the nodes
in one pass here, not through PyYAML's generic constructor, which is most of the time a pure
Python load spends. Without libyaml the same pass runs on the pure-Python composer
(``yaml.SafeLoader``); the two give the same tree and the same errors.

Safe schema only (null, bool, int, float, str, timestamps, binary); other tags are refused. Merge
keys (``<<: *base``) work: the mapping's own keys win over merged ones. Every failure is a
``YamlProblem`` with the 1-based line, never another exception: nesting deeper than ``MAX_DEPTH``,
an alias that contains itself, aliases that expand the document past ``MAX_EXPANSION`` values
("billion laughs"), duplicate or unhashable keys, and values PyYAML cannot build (``2020-13-45``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 64
"""Deeper nesting is refused: no config needs it, and it keeps every later walk shallow."""
MAX_EXPANSION = 1_000_000
"""Values that aliases may add on top of the document's own nodes."""

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float", "binary", "timestamp", "str")
)


class YamlProblem(Exception):
    """A YAML file that cannot become a tree; ``line`` is 1-based (None when unknown)."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class LDict(dict):  # type: ignore[type-arg]
    """A mapping that remembers its line and the line of each key.

    ``texts`` keeps the source text of keys YAML read as something other than a string
    (``123:``, ``yes:``) so messages can quote what the user wrote.
    """

    # Slots, not a __dict__ per mapping: a 100k-entry file builds 200k of them.
    __slots__ = ("line", "lines", "_texts")
    line: int
    lines: dict[Any, int]
    _texts: dict[Any, str]

    @property
    def texts(self) -> Mapping[Any, str]:
        try:
            return self._texts
        except AttributeError:
            return _NO_TEXTS


_NO_TEXTS: Mapping[Any, str] = MappingProxyType({})


class LList(list):  # type: ignore[type-arg]
    """A list that remembers its line and the line of each item."""

    __slots__ = ("line", "lines")
    line: int
    lines: list[int]


def _implicit_resolvers() -> dict[str, list[tuple[str, Any]]]:
    table = yaml.SafeLoader.yaml_implicit_resolvers
    wildcard = list(table.get(None, []))  # type: ignore[call-overload]
    return {first: [*rules, *wildcard] for first, rules in table.items() if first is not None}


_IMPLICIT = _implicit_resolvers()
_WILDCARD = list(yaml.SafeLoader.yaml_implicit_resolvers.get(None, []))  # type: ignore[call-overload]


class _Resolving:
    """PyYAML's resolver for the safe schema, without its generic bookkeeping.

    The composer calls these three methods for every node; PyYAML's versions maintain path
    resolvers the safe schema never has and rebuild a list per scalar, a measurable share of
    a large load. Same tags, same rules (``tests/test_loader.py`` compares with ``SafeLoader``).
    """

    # Called per node with (parent, index) and () respectively; C builtins that ignore their
    # arguments cost no Python frame, unlike PyYAML's methods that keep an unused path stack.
    descend_resolver: Any = {}.get
    ascend_resolver: Any = tuple

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if implicit[0]:  # plain (unquoted): the value's text decides its type
                for tag, pattern in _IMPLICIT.get(value[:1], _WILDCARD):
                    if pattern.match(value):
                        return tag  # type: ignore[no-any-return]
            return _STR
        return _SEQ if kind is SequenceNode else _MAP


class _PyLoader(_Resolving, yaml.SafeLoader):
    pass


_CLoader: type[Any] | None = None
if yaml.__with_libyaml__:

    class _CLoader(_Resolving, yaml.CSafeLoader):  # type: ignore[no-redef]
        pass


def parse(text: str, *, libyaml: bool | None = None) -> Any:
    """One YAML document → tree (None for an empty one). ``libyaml``: None picks it when present.

    Raises ``YamlProblem`` for every failure.
    """
    use_c = _CLoader is not None if libyaml is None else libyaml
    loader_class = _CLoader if use_c else _PyLoader
    if loader_class is None:
        raise ValueError("PyYAML was built without libyaml")
    try:
        return _from_events(loader_class(text))
    except _DECLINES:  # input the event path does not take: the node path decides and words it
        return _from_nodes(loader_class, text, use_c)


def _from_nodes(loader_class: type[Any], text: str, use_c: bool) -> Any:
    """The tree from the composed node graph: the reference path, and every error's wording."""
    loader = None
    try:
        loader = loader_class(text)  # the pure-Python reader checks characters here
        node = loader.get_single_node()
        return None if node is None else _Builder(loader).build(node, 0)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        if line is not None and exc.context_mark and line > len(text.splitlines()):
            line = exc.context_mark.line + 1  # past the end: where the broken part started
        raise YamlProblem(line, _marked_problem(exc, text, line)) from None
    except yaml.reader.ReaderError as exc:
        raise YamlProblem(_reader_line(text, exc, use_c), _reader_problem(exc)) from None
    except UnicodeEncodeError as exc:  # libyaml encodes the text first: a lone surrogate
        line = text.count("\n", 0, exc.start) + 1
        shown = f"character #x{ord(text[exc.start]):04x}"
        raise YamlProblem(line, f"{shown} is not allowed in YAML (a binary file?)") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(None, clip(str(exc))) from None
    except RecursionError:  # the pure-Python composer on very deep nesting
        raise YamlProblem(None, f"nesting deeper than {MAX_DEPTH} levels") from None
    finally:
        if loader is not None:
            loader.dispose()


def _marked_problem(exc: yaml.MarkedYAMLError, text: str, line: int | None) -> str:
    """PyYAML's problem, with its context ("while parsing a flow mapping") and a tab hint."""
    problem = exc.problem or str(exc)
    context, mark = exc.context, exc.context_mark
    if context:
        where = mark.line + 1 if mark is not None else None
        if context.startswith("while ") and where is not None and where != line:
            context += f" started on line {where}"
        problem = (
            f"{context}, {problem}" if problem.startswith("but ") else f"{problem} ({context})"
        )
    lines = text.split("\n", line)[:line] if line is not None else []
    if line is not None and len(lines) == line and "\t" in lines[-1][:200]:
        problem += "; YAML indents with spaces, not tabs"
    return clip(problem)


def _reader_line(text: str, exc: yaml.reader.ReaderError, libyaml: bool) -> int | None:
    if not isinstance(exc.position, int):
        return None
    if libyaml:  # libyaml counts bytes of the UTF-8 text
        return text.encode("utf-8", "surrogatepass")[: exc.position].count(b"\n") + 1
    return text.count("\n", 0, exc.position) + 1


def _reader_problem(exc: yaml.reader.ReaderError) -> str:
    char = exc.character
    code = char if isinstance(char, int) else ord(char) if isinstance(char, str) and char else None
    shown = f"character #x{code:04x}" if code is not None else "a character"
    return f"{shown} is not allowed in YAML (a binary file?)"


class _Builder:
    """Nodes → tree. Collections are built once per node, so an alias shares its target.

    ``count`` approximates the values built, aliases expanded (a collection adds its length);
    ``extra`` is the part aliases to collections added: "billion laughs" shows there.
    """

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.built: dict[int, tuple[Any, int]] = {}  # id(node) → (value, values under it)
        self.active: set[int] = set()  # collections being built: an alias to one is a cycle
        self.count = 0
        self.extra = 0

    def build(self, node: Node, depth: int) -> Any:
        if node.__class__ is ScalarNode:
            return node.value if node.tag == _STR else self.scalar(node)  # type: ignore[arg-type]
        key = id(node)
        done = self.built.get(key)
        if done is not None:
            self.count += done[1]
            self.extra += done[1]
            if self.extra > MAX_EXPANSION:
                raise YamlProblem(
                    _line(node),
                    f"aliases expand to more than {MAX_EXPANSION:,} values; write the values out",
                )
            return done[0]
        if key in self.active:
            raise YamlProblem(_line(node), "an alias refers to a node that contains it")
        if depth >= MAX_DEPTH:
            raise YamlProblem(_line(node), f"nesting deeper than {MAX_DEPTH} levels")
        start = self.count
        self.active.add(key)
        if node.tag == _MAP and isinstance(node, MappingNode):
            value: Any = self.mapping(node, depth + 1)
        elif node.tag == _SEQ and isinstance(node, SequenceNode):
            value = self.sequence(node, depth + 1)
        else:
            raise YamlProblem(_line(node), f"the tag {clip(node.tag, 100)} is not supported")
        self.active.discard(key)
        self.count += 1 + len(node.value)
        self.built[key] = (value, self.count - start)
        return value

    def scalar(self, node: ScalarNode) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise YamlProblem(_line(node), f"the tag {clip(node.tag, 100)} is not supported")
        try:
            return self.loader.yaml_constructors[node.tag](self.loader, node)
        except (ValueError, OverflowError) as exc:  # e.g. the date 2020-13-45
            raise YamlProblem(_line(node), f"cannot read {show(node.value)}: {exc}") from None
        except _UNREADABLE:  # PyYAML's own slip on an explicit tag: !!bool maybe, !!timestamp x
            tag = node.tag.rsplit(":", 1)[-1]
            raise YamlProblem(_line(node), f"cannot read {show(node.value)} as !!{tag}") from None

    def mapping(self, node: MappingNode, depth: int) -> LDict:
        out = LDict()
        out.line = node.start_mark.line + 1
        lines = out.lines = {}
        merged: list[LDict] = []
        build = self.build
        for key_node, value_node in node.value:
            # Plain string keys and values are nearly all of a config: no call for them.
            if key_node.tag == _STR and key_node.__class__ is ScalarNode:
                key = key_node.value
            elif key_node.tag == _MERGE:
                merged.extend(self.merge_sources(value_node, depth))
                continue
            else:
                key = self.odd_key(out, key_node, depth)
            if key in out:
                raise YamlProblem(
                    key_node.start_mark.line + 1,
                    f"duplicate key {show(key)} (first at line {lines[key]})",
                )
            if value_node.tag == _STR and value_node.__class__ is ScalarNode:
                out[key] = value_node.value
            else:
                out[key] = build(value_node, depth)
            lines[key] = key_node.start_mark.line + 1
        _merge(out, merged)
        return out

    def odd_key(self, out: LDict, node: Node, depth: int) -> Any:
        """A key that is not a plain string: a typed scalar (kept with its text) or an error."""
        key = self.build(node, depth)
        if key.__class__ is not str:
            if isinstance(key, LDict | LList):
                raise YamlProblem(
                    _line(node), "a mapping key must be a plain value, not a collection"
                )
            _remember_text(out, key, node.value)
        return key

    def merge_sources(self, node: Node, depth: int) -> list[LDict]:
        items = node.value if isinstance(node, SequenceNode) else [node]
        out = []
        for item in items:
            value = self.build(item, depth)
            if not isinstance(value, LDict):
                raise YamlProblem(_line(item), "<< merges a mapping or a list of mappings")
            out.append(value)
        return out

    def sequence(self, node: SequenceNode, depth: int) -> LList:
        build = self.build
        out = LList([build(child, depth) for child in node.value])
        out.line = node.start_mark.line + 1
        out.lines = [child.start_mark.line + 1 for child in node.value]
        return out


class _Declined(Exception):
    """The event path steps aside: the node path decides, with its exact message."""


_UNREADABLE = (KeyError, AttributeError)
"""What PyYAML's safe constructors raise, besides ValueError, for text an explicit tag does not
fit (``!!bool maybe``: a KeyError; ``!!timestamp x``: an AttributeError)."""

_DECLINES = (_Declined, yaml.YAMLError, ValueError, OverflowError)
"""Everything the event path raises for input it does not take: its own ``_Declined``, PyYAML's
errors (``ReaderError``, ``ScannerError``, ``ParserError``, ``ConstructorError``) and a scalar
constructor's ``ValueError``/``OverflowError`` (``2020-13-45``; ``UnicodeEncodeError``, a
``ValueError``, from libyaml on a lone surrogate). Anything else is a bug in the event path and
surfaces (``tests/test_yamltree_fastpath.py``)."""


_CACHED_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float"))


def _from_events(loader: Any) -> Any:
    """The tree straight from parser events, for a document the node path would accept.

    Composing first keeps every node and its two marks alive until the tree is built: ~0.5 GB
    for a 10 MB file of 100k entries, and the allocations cost time. Here each event is dropped
    once used. Same tree (``tests/test_yamltree_events.py`` compares the two on valid documents);
    anything unusual (an error of any kind, an undefined or duplicate anchor, an alias as a key,
    a merge of an aliased list, nesting or alias expansion near the limits) raises, and
    ``parse`` runs the node path, which also words every error.
    """
    try:
        return _Events(loader).document()
    finally:
        loader.dispose()


class _Events:
    """Recursive descent over events, mirroring ``yaml.composer`` + ``_Builder``.

    Each value comes back as (value, line, values under it); the line of an alias is its
    anchor's, as a composed alias is the anchored node; "values under it" counts as
    ``_Builder.count`` does, so alias expansion is measured the same way.
    """

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.next = loader.get_event
        self.anchors: dict[str, tuple[Any, int, int]] = {}
        self.extra = 0
        self.tags: dict[str, tuple[str, str]] = {}  # plain scalar text -> (tag, shared text)
        self.keys: dict[str, str] = {}  # quoted key text -> shared text
        self.values: dict[tuple[str, str], Any] = {}  # (tag, text) -> immutable scalar

    def document(self) -> Any:
        self.next()  # StreamStartEvent
        event = self.next()
        if event.__class__ is StreamEndEvent:
            return None
        if event.__class__ is not DocumentStartEvent:
            raise _Declined
        value = self.node(self.next(), 0)[0]
        if self.next().__class__ is not DocumentEndEvent:
            raise _Declined
        if self.next().__class__ is not StreamEndEvent:
            raise _Declined  # more than one document
        return value

    def tag(self, event: Any) -> str:
        tag = event.tag
        if tag is not None and tag != "!":
            return tag  # type: ignore[no-any-return]
        if not event.implicit[0]:
            return _Resolving.resolve(None, ScalarNode, event.value, event.implicit)  # type: ignore[arg-type]
        return self.plain(event)[0]

    def plain(self, event: Any) -> tuple[str, str]:
        """(resolved tag, one shared object for the text) of an untagged plain scalar."""
        text = event.value
        found = self.tags.get(text)
        if found is None:
            tag = _Resolving.resolve(None, ScalarNode, text, event.implicit)  # type: ignore[arg-type]
            found = self.tags[text] = (tag, text)
        return found

    def text(self, event: Any) -> tuple[str, str]:
        """(tag, text) of a scalar; plain ones and keys repeat, so their text is shared."""
        if event.tag is None:
            if event.implicit[0]:
                return self.tags.get(event.value) or self.plain(event)
            return _STR, self.keys.setdefault(event.value, event.value)
        return self.tag(event), event.value

    def scalar(self, event: Any, tag: str) -> Any:
        if tag not in _SCALAR_TAGS:
            raise _Declined
        key = (tag, event.value)
        if tag in _CACHED_TAGS and key in self.values:
            return self.values[key]
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            value = self.loader.yaml_constructors[tag](self.loader, node)
        except _UNREADABLE:
            raise _Declined from None
        if tag in _CACHED_TAGS:
            self.values[key] = value
        return value

    def node(self, event: Any, depth: int) -> tuple[Any, int, int]:
        kind = event.__class__
        if kind is AliasEvent:
            found = self.anchors.get(event.anchor)
            if found is None:
                raise _Declined  # undefined, or an alias inside its own anchor (a cycle)
            self.extra += found[2]
            if self.extra > MAX_EXPANSION // 2:
                raise _Declined
            return found
        line = event.start_mark.line + 1
        if kind is ScalarEvent:
            tag = self.tag(event)
            value: Any = event.value if tag == _STR else self.scalar(event, tag)
            under = 0
        elif depth >= MAX_DEPTH - 1:
            raise _Declined
        elif kind is MappingStartEvent and event.tag in (None, "!", _MAP):
            value, under = self.mapping(depth + 1)
        elif kind is SequenceStartEvent and event.tag in (None, "!", _SEQ):
            value, under = self.sequence(depth + 1)
        else:
            raise _Declined
        if kind is not ScalarEvent:
            value.line = line
        if event.anchor is not None:
            if event.anchor in self.anchors:
                raise _Declined
            self.anchors[event.anchor] = (value, line, under)
        return value, line, under

    def mapping(self, depth: int) -> tuple[LDict, int]:
        out = LDict()
        lines = out.lines = {}
        merged: list[LDict] = []
        under = 1
        take = self.next
        while (key_event := take()).__class__ is not MappingEndEvent:
            under += 1
            if key_event.__class__ is not ScalarEvent or key_event.anchor is not None:
                raise _Declined
            tag, key = self.text(key_event)  # 100k entries repeat a few keys: one object each
            if tag == _MERGE:
                under += self.merge(take(), depth, merged)
                continue
            if tag != _STR:
                key = self.scalar(key_event, tag)
                if key.__class__ is not str:
                    _remember_text(out, key, key_event.value)
            if key in out:
                raise _Declined
            value_event = take()
            if value_event.__class__ is ScalarEvent and value_event.anchor is None:
                if value_event.tag is None and not value_event.implicit[0]:
                    out[key] = value_event.value  # quoted: a number, a URL; seldom repeated
                else:
                    tag, text = self.text(value_event)  # plain: an account name repeats
                    out[key] = text if tag == _STR else self.scalar(value_event, tag)
            else:
                value, _, below = self.node(value_event, depth)
                out[key] = value
                under += below
            lines[key] = key_event.start_mark.line + 1
        _merge(out, merged)
        return out, under

    def merge(self, event: Any, depth: int, merged: list[LDict]) -> int:
        """A ``<<`` value's mappings appended to ``merged``; returns the values they count."""
        if event.__class__ is SequenceStartEvent:
            if event.anchor is not None or event.tag not in (None, "!", _SEQ):
                raise _Declined
            under = 0
            while (item := self.next()).__class__ is not SequenceEndEvent:
                under += self.merge_one(item, depth, merged)
            return under
        return self.merge_one(event, depth, merged)

    def merge_one(self, event: Any, depth: int, merged: list[LDict]) -> int:
        value, _, under = self.node(event, depth)
        if value.__class__ is not LDict:
            raise _Declined
        merged.append(value)
        return under

    def sequence(self, depth: int) -> tuple[LList, int]:
        items: list[Any] = []
        lines: list[int] = []
        under = 1
        take = self.next
        while (event := take()).__class__ is not SequenceEndEvent:
            if event.__class__ is ScalarEvent and event.anchor is None:
                tag = self.tag(event)
                items.append(event.value if tag == _STR else self.scalar(event, tag))
                lines.append(event.start_mark.line + 1)
            else:
                value, line, below = self.node(event, depth)
                items.append(value)
                lines.append(line)
                under += below
        out = LList(items)
        out.lines = lines
        return out, under + len(items)


def _merge(out: LDict, merged: list[LDict]) -> None:
    """``<<`` sources into a mapping: its own keys win; among merged ones, the first."""
    for source in merged:
        for key, value in source.items():
            if key not in out:
                out[key] = value
                out.lines[key] = source.lines[key]
                if key in source.texts:
                    _remember_text(out, key, source.texts[key])


def _remember_text(out: LDict, key: Any, text: str) -> None:
    try:
        texts = out._texts
    except AttributeError:
        texts = out._texts = {}
    texts[key] = text


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def show(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to about ``limit`` characters: messages never echo a huge value."""
    return clip(repr(value), limit)


def clip(text: str, limit: int = 200) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text):,} characters)"
