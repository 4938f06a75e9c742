"""The planner's and the renderers' memos agree with the rule they memoise (issue 18, CPU).

``planner.Outcomes`` computes R, widened D and the field changes once per pair of (desired,
current) objects, and ``render.common.account_views`` groups a number's causes once per shared
tuple of field changes. Both are only faster when objects are shared: a plan must not depend on
it. Each test plans the same live numbers three ways: settings shared as a read shares them,
every number with its own copy (nothing shared, so nothing memoised), and with a memo emptied at
every entry; and renders the results.
"""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import carriers, render
from reconciler.carriers import MASK
from reconciler.config import ProviderConfig
from reconciler.desired import Account, DesiredState, Rule
from reconciler.models import LiveNumber
from reconciler.plan import Plan
from reconciler.planner import Outcomes, make_plan, plan_account
from reconciler.render.common import CausesOf, account_views

ACCOUNT = "acct"

# A few fields per carrier, each with a small domain so that numbers collide often: a scalar, a
# list, a whole object's subfields (Telnyx), an unreadable value (Telnyx), a secret (Telnyx), and
# a field of another operation (Telnyx messaging and emergency).
DOMAINS: dict[str, dict[str, list[Any]]] = {
    "wavix": {
        "sms_enabled": [True, False],
        "call_recording_enabled": [True, False],
        "transcription_threshold": [0, 30, 60],
        "destinations": [
            [],
            [{"destination": "sip:a@pbx.example.com", "priority": 1, "transport": "sip_uri"}],
            [{"destination": "sip:b@pbx.example.com", "priority": 1, "transport": "sip_uri"}],
        ],
    },
    "telnyx": {
        "tags": [[], ["a"], ["a", "b"]],
        "connection_id": ["c1", "c2"],
        "external_pin": ["1111", "2222"],
        "voice.call_forwarding.call_forwarding_enabled": [True, False],
        "voice.call_forwarding.forwards_to": ["+13135550000", "+13135550001", None],
        "messaging_profile_id": ["m1", "m2", "UNAVAILABLE"],
        "emergency_enabled": [True, False],
        "emergency_address_id": ["e1", "e2"],
    },
}


@st.composite
def cases(draw: st.DrawFn, carrier: str) -> tuple[DesiredState, list[LiveNumber]]:
    domain = DOMAINS[carrier]
    fields = sorted(domain)

    def some_settings(live: bool) -> dict[str, Any]:
        chosen = fields if live else draw(st.lists(st.sampled_from(fields), unique=True))
        out = {f: draw(st.sampled_from(domain[f])) for f in chosen}
        if not live:  # the YAML never sets a null or the unreadable marker
            out = {k: v for k, v in out.items() if v is not None and v != "UNAVAILABLE"}
        return out

    pool = [some_settings(live=True) for _ in range(draw(st.integers(1, 6)))]
    count = draw(st.integers(1, 40))
    numbers = [
        LiveNumber(
            f"id{i}",
            f"+1313555{i:04d}",
            "active",
            pool[draw(st.integers(0, len(pool) - 1))],  # shared, as a read shares them
            draw(st.booleans()) or i % 4 != 0,
        )
        for i in range(count)
    ]
    rules = [Rule(ACCOUNT, "+1313*", False, some_settings(live=False), ["n.yaml:1"])]
    if draw(st.booleans()):
        rules.append(Rule(ACCOUNT, "+131355500*", False, some_settings(live=False), ["n.yaml:4"]))
    exact = draw(st.lists(st.integers(0, count + 2), unique=True, max_size=8))
    rules += [
        Rule(ACCOUNT, f"+1313555{i:04d}", True, some_settings(live=False), [f"n.yaml:{9 + i}"])
        for i in exact
    ]
    config = ProviderConfig(type=carrier, sandbox=True, max_ids_per_call=3)  # type: ignore[arg-type]
    state = DesiredState(
        accounts={ACCOUNT: Account(ACCOUNT, config, "p.yaml:1")},
        rules={ACCOUNT: rules},
        files=("p.yaml", "n.yaml"),
    )
    return state, numbers


def unshared(numbers: list[LiveNumber]) -> list[LiveNumber]:
    """The same numbers, each with its own copy of its settings: nothing for a memo to share."""
    return [
        LiveNumber(n.id, n.e164, n.status, copy.deepcopy(n.settings), n.patchable) for n in numbers
    ]


def outputs(plan: Plan) -> dict[str, str]:
    out = {}
    for fmt in render.FORMATS:
        buf = io.StringIO()
        render.write_plan(plan, buf, fmt=fmt, full=True)
        out[fmt] = buf.getvalue()
    return out


def plan_of(state: DesiredState, numbers: list[LiveNumber]) -> Plan:
    return make_plan(state, {ACCOUNT: numbers})


def causes(plan: Plan) -> dict[tuple[str, str, str, str], list[str]]:
    """The grouping by cause that ``account_views`` made: (account, field, old, new) → numbers."""
    return {
        (c.account, c.field, json.dumps(c.old), json.dumps(c.new)): c.e164s
        for view in account_views(plan)
        for c in view.causes
    }


def reference_causes(plan: Plan) -> dict[tuple[str, str, str, str], list[str]]:
    """The same grouping written out, field change by field change (secrets masked)."""
    out: dict[tuple[str, str, str, str], list[str]] = {}
    for change in plan.changes:
        hidden = carriers.get(plan.accounts[0].carrier).secret_fields
        for f in change.changes:
            old, new = (MASK, MASK) if f.field in hidden else (f.old, f.new)
            key = (change.account, f.field, json.dumps(old), json.dumps(new))
            out.setdefault(key, []).append(change.e164)
    return out


@pytest.mark.parametrize("carrier", sorted(DOMAINS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_shared_and_unshared_settings_plan_and_render_alike(
    carrier: str, data: st.DataObject
) -> None:
    state, numbers = data.draw(cases(carrier))
    shared = plan_of(state, numbers)
    alone = plan_of(state, unshared(numbers))
    assert shared.to_dict() == alone.to_dict()
    assert outputs(shared) == outputs(alone)
    assert causes(shared) == reference_causes(shared)


@pytest.mark.parametrize("carrier", sorted(DOMAINS))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_memo_emptied_at_every_pair_plans_alike(carrier: str, data: st.DataObject) -> None:
    state, numbers = data.draw(cases(carrier))
    usual = plan_account(ACCOUNT, carrier, state, numbers)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(Outcomes, "MAX_PAIRS", 1)
        emptied = plan_account(ACCOUNT, carrier, state, numbers)
    assert usual == emptied


def test_every_pair_is_one_outcome_and_numbers_alike_share_it() -> None:
    """The memo is used: numbers with the same desired and live objects get the same objects
    (R, D, field changes), and a number with equal but distinct live settings gets equal ones."""
    profile = {"sms_enabled": True, "call_recording_enabled": True}
    live_a = {"sms_enabled": False, "call_recording_enabled": True}
    numbers = [LiveNumber(f"id{i}", f"+1313555{i:04d}", "active", live_a) for i in range(3)]
    numbers.append(LiveNumber("id9", "+13135550009", "active", dict(live_a)))
    config = ProviderConfig(type="wavix", sandbox=True)  # type: ignore[arg-type]
    state = DesiredState(
        accounts={ACCOUNT: Account(ACCOUNT, config, "p.yaml:1")},
        rules={ACCOUNT: [Rule(ACCOUNT, "+1313*", False, profile, ["n.yaml:1"])]},
        files=("p.yaml",),
    )
    _, changes, calls = plan_account(ACCOUNT, "wavix", state, numbers)
    assert changes[0].changes is changes[1].changes is changes[2].changes
    assert changes[3].changes == changes[0].changes
    assert [c.patch for c in calls] == [{"sms_enabled": True}]
    assert calls[0].ids == ("id0", "id1", "id2", "id9")


def test_the_telnyx_example_domains_cover_its_special_fields() -> None:
    """The generated Telnyx cases exercise what the memo must carry per pair: whole objects,
    the unreadable marker, a secret, and fields of the other operations."""
    telnyx = carriers.get("telnyx")
    fields = set(DOMAINS["telnyx"])
    assert any(f.startswith(tuple(telnyx.whole_objects)) for f in fields)
    assert set(telnyx.unreadable) <= fields
    assert telnyx.secret_fields & fields
    assert {telnyx.operation_of(f).name for f in fields} == {op.name for op in telnyx.ops}


# ---- the resolver: one look-up of the prefix rules per head, the number's exact rule added


def reference_desired(rules: list[Rule], e164: str) -> dict[str, Any] | None:
    """The precedence rule written out: every selecting rule, shorter prefix → longer → exact."""
    selecting = [
        r for r in rules if (r.selector == e164 if r.exact else e164.startswith(r.selector[:-1]))
    ]
    if not selecting:
        return None
    merged: dict[str, Any] = {}
    for r in sorted(selecting, key=lambda r: (r.exact, len(r.selector))):
        merged.update(r.settings)
    return merged


digits = st.text("012", min_size=0, max_size=6).map(lambda d: "+1" + d)


@settings(max_examples=150, deadline=None)
@given(
    prefixes=st.lists(digits, unique=True, max_size=5),
    exact=st.lists(digits, unique=True, max_size=5),
    numbers=st.lists(digits, max_size=30),
    values=st.lists(st.dictionaries(st.sampled_from("abc"), st.integers(0, 2)), min_size=10),
    max_heads=st.sampled_from([1, 2, 1 << 16]),
)
def test_resolver_agrees_with_the_precedence_rule(
    prefixes: list[str],
    exact: list[str],
    numbers: list[str],
    values: list[dict[str, Any]],
    max_heads: int,
) -> None:
    """Numbers shorter than the longest prefix, exact selectors equal to another number's head,
    and a head table emptied at every entry all resolve as the rule says."""
    rules = [Rule(ACCOUNT, p + "*", False, values[i], ["n.yaml:1"]) for i, p in enumerate(prefixes)]
    rules += [Rule(ACCOUNT, e, True, values[5 + i], ["n.yaml:2"]) for i, e in enumerate(exact)]
    config = ProviderConfig(type="wavix", sandbox=True)  # type: ignore[arg-type]
    state = DesiredState({ACCOUNT: Account(ACCOUNT, config, "p.yaml:1")}, {ACCOUNT: rules}, ())
    resolver = state.resolver(ACCOUNT)
    resolver.MAX_HEADS = max_heads
    for e164 in [*numbers, *exact, *prefixes]:
        assert resolver.desired(e164) == reference_desired(rules, e164), e164


@pytest.mark.parametrize("carrier", sorted(DOMAINS))
@settings(max_examples=30, deadline=None)
@given(data=st.data(), sizes=st.sampled_from([(1, 1), (1, 2), (2, 1), (4, 3)]))
def test_grouping_by_cause_renders_alike_whatever_the_memo_does(
    carrier: str, data: st.DataObject, sizes: tuple[int, int]
) -> None:
    """``CausesOf`` memoising, stopping after its trial, or emptied every few tuples: the same
    text, Markdown and JSON."""
    state, numbers = data.draw(cases(carrier))
    plan = plan_of(state, numbers)
    usual = outputs(plan)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(CausesOf, "TRIAL", sizes[0])
        m.setattr(CausesOf, "MAX_TUPLES", sizes[1])
        assert outputs(plan) == usual
        assert causes(plan) == reference_causes(plan)
