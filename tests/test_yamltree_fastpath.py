"""The YAML event path (``yamltree._from_events``) steps aside only for input it cannot take.

``parse`` used to catch any exception from the event path and silently re-parse through the
node path: a bug in the fast path was hidden (and its cost paid twice). Now it falls back only on
what the event path is known to raise for such input (``yamltree._DECLINES``), and every
failure of a document is a ``YamlProblem`` with its line, on both paths.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from reconciler import yamltree
from reconciler.yamltree import YamlProblem, parse

LIBYAML = [pytest.param(True, id="libyaml"), pytest.param(False, id="pure-python")]
if not yaml.__with_libyaml__:
    LIBYAML = LIBYAML[1:]


@pytest.mark.parametrize("libyaml", LIBYAML)
def test_a_bug_in_the_event_path_surfaces(monkeypatch: pytest.MonkeyPatch, libyaml: bool) -> None:
    # Before: ``except Exception`` swallowed this and returned the node path's tree.
    def broken(self: Any) -> Any:
        raise TypeError("a bug in the event path")

    monkeypatch.setattr(yamltree._Events, "document", broken)
    with pytest.raises(TypeError, match="a bug in the event path"):
        parse("a: 1\n", libyaml=libyaml)


@pytest.mark.parametrize("libyaml", LIBYAML)
def test_input_the_event_path_declines_is_still_parsed_or_refused(libyaml: bool) -> None:
    anchored = "base: &b {x: 1}\nuse:\n  <<: [*b]\n  y: 2\n"  # a merge of an aliased list
    assert parse(anchored, libyaml=libyaml) == {"base": {"x": 1}, "use": {"x": 1, "y": 2}}
    with pytest.raises(YamlProblem) as bad:
        parse("a: 1\nb: 2020-13-45\n", libyaml=libyaml)  # a constructor's ValueError
    assert bad.value.line == 2 and "cannot read '2020-13-45'" in bad.value.message
    with pytest.raises(YamlProblem) as dup:
        parse("a: 1\na: 2\n", libyaml=libyaml)  # _Declined
    assert dup.value.line == 2


@pytest.mark.parametrize("libyaml", LIBYAML)
@pytest.mark.parametrize(
    "text,tag",
    [
        ("k: 1\nflag: !!bool maybe\n", "bool"),  # PyYAML: KeyError
        ("k: 1\nwhen: !!timestamp soon\n", "timestamp"),  # PyYAML: AttributeError
        ("k: 1\n!!bool maybe: 3\n", "bool"),  # as a key
    ],
)
def test_explicit_tags_pyyaml_slips_on_are_problems(text: str, tag: str, libyaml: bool) -> None:
    # Before: a KeyError or AttributeError traceback out of parse (both paths).
    with pytest.raises(YamlProblem) as problem:
        parse(text, libyaml=libyaml)
    assert problem.value.line == 2 and f"as !!{tag}" in problem.value.message


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="libyaml only")
def test_a_lone_surrogate_is_a_yaml_problem_with_libyaml() -> None:
    # Before: libyaml encodes the text first and a UnicodeEncodeError escaped parse.
    with pytest.raises(YamlProblem) as problem:
        parse("a: 1\nb: \ud800\n", libyaml=True)
    assert problem.value.line == 2 and "#xd800 is not allowed" in problem.value.message
