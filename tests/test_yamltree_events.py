"""The event path of ``yamltree.parse`` builds the same tree as the node path, or steps aside."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import yamltree
from reconciler.yamltree import LDict, LList

LOADERS = [False, True] if yaml.__with_libyaml__ else [False]


def _loader(libyaml: bool) -> type[Any]:
    loader = yamltree._CLoader if libyaml else yamltree._PyLoader
    assert loader is not None
    return loader


def _events(text: str, libyaml: bool) -> Any:
    return yamltree._from_events(_loader(libyaml)(text))


def _nodes(text: str, libyaml: bool) -> Any:
    return yamltree._from_nodes(_loader(libyaml), text, libyaml)


def _shape(value: Any) -> Any:
    """Everything a tree carries: values and their types, lines, key texts, shared objects."""
    if isinstance(value, LDict):
        items = [(repr(k), type(k).__name__, _shape(v)) for k, v in value.items()]
        return ("map", value.line, items, sorted(value.lines.items(), key=repr), dict(value.texts))
    if isinstance(value, LList):
        return ("seq", value.line, [_shape(v) for v in value], list(value.lines))
    return (type(value).__name__, repr(value))


DOCUMENTS = [
    "",
    "# only a comment\n",
    "a: 1\n",
    """\
    providers:
      wx: {type: wavix, api_key: "${WAVIX_KEY}"}
    profiles:
      base: &base
        sms_enabled: yes
        transcription_threshold: 0x1f
        ratio: 1.5e3
        nothing: ~
        when: 2024-01-02
      derived:
        <<: *base
        sms_enabled: false
      both:
        <<: [*base, {extra: [1, 2, {deep: [true]}]}]
    numbers:
      - provider: wx
        number: "+13135550100"
        settings: {"transcription_threshold": 140}
      - provider: wx
        number: '+1313555*'
        profile: derived
      - &entry {provider: wx, number: "+13135550101"}
      - *entry
      - !!str 123
      - ! 456
      - !!map {a: !!seq [1]}
    """,
    """\
    123: integer key
    yes: boolean key
    1.5: float key
    ~: null key
    "quoted": 1
    ? complex
    : value
    multi: |
      line one
      line two
    folded: >
      a
      b
    """,
    "- a\n- - b\n  - &s c\n- *s\n- {<<: {x: 1}, y: 2}\n",
]


@pytest.mark.parametrize("libyaml", LOADERS)
@pytest.mark.parametrize("text", DOCUMENTS)
def test_event_path_builds_the_node_paths_tree(text: str, libyaml: bool) -> None:
    text = textwrap.dedent(text)
    assert _shape(_events(text, libyaml)) == _shape(_nodes(text, libyaml))


def test_an_alias_shares_its_anchors_object_on_both_paths() -> None:
    tree = _events("a: &x {k: v}\nb: *x\n", False)
    assert tree["a"] is tree["b"]


REFUSED = [
    "a: *nowhere\n",  # undefined alias
    "a: &x [*x]\n",  # an alias inside its own anchor
    "a: 1\na: 2\n",  # duplicate key
    "a: 1\n---\nb: 2\n",  # two documents
    "? [1, 2]\n: v\n",  # a collection as a key
    "a: !custom 1\n",  # an unsupported tag
    "a: 2020-13-45\n",  # a value PyYAML cannot build
    "<<: 1\n",  # a merge of a scalar
    "a: [1\n",  # a syntax error
    "[" * 70 + "]" * 70 + "\n",  # deeper than MAX_DEPTH
]


@pytest.mark.parametrize("libyaml", LOADERS)
@pytest.mark.parametrize("text", REFUSED)
def test_event_path_steps_aside_where_the_node_path_decides(text: str, libyaml: bool) -> None:
    with pytest.raises(Exception):  # noqa: B017 - any exception sends parse to the node path
        _events(text, libyaml)
    with pytest.raises(yamltree.YamlProblem):
        yamltree.parse(text, libyaml=libyaml)


def test_parse_takes_the_event_path_for_an_ordinary_config(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_nodes(*args: Any) -> Any:
        raise AssertionError("the node path ran")

    monkeypatch.setattr(yamltree, "_from_nodes", no_nodes)
    text = textwrap.dedent(DOCUMENTS[3])
    assert yamltree.parse(text)["numbers"][0]["settings"] == {"transcription_threshold": 140}


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["yes", "no", "on", "0x1A", "1_000", "2024-01-02", "~", "<<", "0o17", ".inf"]),
)
_TREES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=6), st.integers()), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(tree=_TREES, flow=st.booleans(), shared=st.booleans())
def test_event_path_equals_node_path_on_random_documents(
    tree: Any, flow: bool, shared: bool
) -> None:
    data = {"a": tree, "b": tree} if shared else tree  # shared: dumped with an anchor and alias
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    for libyaml in LOADERS:
        assert _shape(_events(text, libyaml)) == _shape(_nodes(text, libyaml)), text
