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

    line: int = 0
    lines: dict[Any, int]
    texts: Mapping[Any, str] = MappingProxyType({})


class LList(list):  # type: ignore[type-arg]
    """A list that remembers its line and the line of each item."""

    line: int = 0
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
        for source in merged:  # the mapping's own keys win; among merged ones, the first
            for key, value in source.items():
                if key not in out:
                    out[key] = value
                    lines[key] = source.lines[key]
                    if key in source.texts:
                        _remember_text(out, key, source.texts[key])
        return out

    def odd_key(self, out: LDict, node: Node, depth: int) -> Any:
        """A key that is not a plain string: a scalar YAML typed (kept with its text) or an error."""
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


def _remember_text(out: LDict, key: Any, text: str) -> None:
    if "texts" not in out.__dict__:
        out.texts = {}
    out.texts[key] = text  # type: ignore[index]


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def show(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to about ``limit`` characters: messages never echo a huge value."""
    return clip(repr(value), limit)


def clip(text: str, limit: int = 200) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text):,} characters)"
