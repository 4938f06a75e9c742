"""``--format json`` is streamed (issue 18 part 6): the document is written in chunks, never built
whole, and its bytes are exactly those of the whole-document form it replaced.

``reference_document``/``reference_json`` below are that whole-document form (the package's
``jsonout.document`` + ``plan_json`` before streaming), kept here only as the reference the
streamed output is compared with, byte for byte."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import EXAMPLE
from helpers import cli, example_copy

from reconciler import render, runner
from reconciler.applier import ApplyReport, Unconverged
from reconciler.carriers import MASK
from reconciler.plan import AccountSummary, BulkCall, FieldChange, NumberChange, Plan
from reconciler.providers.base import CallResult, CallStatus
from reconciler.render import jsonout
from reconciler.render.common import (
    account_views,
    carrier_secrets,
    drift_line,
    label,
    no_drift_line,
    secret_fields,
    summary_line,
    warnings_of,
)
from reconciler.sandbox import Sandbox
from reconciler.sandbox.synthetic import SyntheticAccount
from reconciler.sandbox.synthetic import seed as seed_account

WHOLE = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def reference_document(plan: Plan, *, kind: str = "plan") -> dict[str, Any]:
    """The plan/drift document as one dict: the form before streaming."""
    secret = secret_fields(plan)
    causes = [c for v in account_views(plan) for c in v.causes]
    warned = warnings_of(plan)
    if kind == "plan":
        line = summary_line(plan)
    else:
        line = drift_line(plan) if plan.has_changes else no_drift_line(plan)
    return {
        "format_version": jsonout.FORMAT_VERSION,
        "kind": kind,
        "summary": {
            "has_changes": plan.has_changes,
            "changed": plan.changed,
            "fields": sum(len(c.changes) for c in plan.changes),
            "calls": len(plan.calls),
            "lower_bound": plan.lower_bound,
            "per_number": plan.changed,
            "in_sync": plan.in_sync,
            "unmanaged": plan.unmanaged,
            "not_patchable": sum(len(a.not_patchable) for a in plan.accounts),
            "missing": [{"account": a, "e164": e} for a, e in plan.missing],
            "accounts": len(plan.accounts),
            "warnings": len(warned),
            "line": line,
        },
        "warnings": [
            {"rail": str(w.rail), "account": w.account, "message": w.message} for w in warned
        ],
        "accounts": [
            {
                "account": a.account,
                "carrier": a.carrier,
                "total": a.total,
                "in_sync": a.in_sync,
                "changed": a.changed,
                "unmanaged": a.unmanaged,
                "calls": a.calls,
                "calls_exact": a.calls_exact,
                "lower_bound": a.lower_bound,
                "max_batch": a.max_batch,
                "grouping": a.grouping,
                "missing": list(a.missing),
                "not_patchable": [{"e164": e, "status": s} for e, s in a.not_patchable],
                "unmanaged_numbers": list(a.unmanaged_numbers),
                **jsonout._operations(a),
            }
            for a in plan.accounts
        ],
        "calls": [
            {
                "account": b.account,
                "carrier": b.carrier,
                "label": label(b.carrier, b.operation),
                "patch": jsonout._masked(
                    b.patch, secret.get(b.account) or carrier_secrets(b.carrier)
                ),
                "ids": list(b.ids),
                "e164s": list(b.e164s),
                **({"operation": b.operation} if b.operation is not None else {}),
            }
            for b in plan.calls
        ],
        "causes": [
            {
                "account": c.account,
                "carrier": c.carrier,
                "field": c.field,
                "old": c.old,
                "new": c.new,
                "count": len(c.e164s),
                "e164s": c.e164s,
            }
            for c in causes
        ],
        "changes": _reference_masked(plan.changes, secret),
        "meta": plan.scope.to_dict(),
    }


def _reference_masked(
    changes: tuple[NumberChange, ...], secret: dict[str, frozenset[str]]
) -> Sequence[NumberChange]:
    out = list(changes)
    for i, c in enumerate(out):
        hidden = secret.get(c.account)
        if hidden and any(f.field in hidden for f in c.changes):
            fields = tuple(
                FieldChange(f.field, MASK, MASK) if f.field in hidden else f for f in c.changes
            )
            out[i] = NumberChange(c.account, c.id, c.e164, fields)
    return out


def reference_json(plan: Plan, *, kind: str = "plan") -> bytes:
    return orjson.dumps(reference_document(plan, kind=kind), option=WHOLE, default=str)


class Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, s: str) -> int:
        self.sizes.append(len(s))
        return super().write(s)


def streamed(plan: Plan, kind: str) -> bytes:
    out = Writes()
    (render.write_plan if kind == "plan" else render.write_drift)(plan, out, fmt="json")
    return out.getvalue().encode()


async def planned(config: Path, **wiring: Any) -> Plan:
    async with runner.planned(config, wiring=runner.Wiring(**wiring)) as run:
        return run.plan


# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["plan", "drift"])
async def test_example_json_is_byte_identical(sandbox: Sandbox, clock: Any, kind: str) -> None:
    plan = await planned(EXAMPLE, sandbox=sandbox, clock=clock)
    assert plan.changes and plan.calls  # the example plans changes: every list has items
    assert streamed(plan, kind) == reference_json(plan, kind=kind)
    assert render.plan_json(plan).encode() == reference_json(plan)


@pytest.mark.parametrize("carrier", ["wavix", "telnyx"])
@pytest.mark.parametrize("slice_", [jsonout.SLICE, 3])
async def test_generated_account_json_is_byte_identical(
    sandbox: Sandbox,
    clock: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    carrier: str,
    slice_: int,
) -> None:
    """Lists longer than a slice (the changes) are written in slices; with a slice of 3 nearly
    every list is (a cause's numbers too), and each call's patch and numbers key by key."""
    account = SyntheticAccount(carrier, 4_000, profiles=5, overrides=0.2, drift=0.6, seed=3)
    seed_account(sandbox.store, account, tmp_path)
    plan = await planned(tmp_path, sandbox=sandbox, clock=clock)
    assert len(plan.changes) > jsonout.SLICE
    monkeypatch.setattr(jsonout, "SLICE", slice_)
    for kind in ("plan", "drift"):
        assert streamed(plan, kind) == reference_json(plan, kind=kind), kind


def small_plan(pin: str = "987123") -> Plan:
    """Telnyx numbers whose PIN changes (a secret field: masked in calls and changes), one
    missing, one not patchable, one unmanaged listed."""
    account, carrier = "telnyx-main", "telnyx"
    changes = tuple(
        NumberChange(
            account,
            str(100 + i),
            f"+1415555{i:04d}",
            (
                FieldChange("external_pin", None if i % 2 else "1", pin),
                FieldChange("tags", ["a"], ["a", "b"]),
            ),
        )
        for i in range(12)
    )
    calls = tuple(
        BulkCall(
            account,
            carrier,
            {"external_pin": pin, "tags": ["a", "b"]},
            tuple(c.id for c in changes[s : s + 5]),
            tuple(c.e164 for c in changes[s : s + 5]),
        )
        for s in range(0, 12, 5)
    )
    summary = AccountSummary(
        account,
        carrier,
        20,
        5,
        12,
        1,
        3,
        3,
        3,
        5,
        "cover",
        missing=("+14155559999",),
        not_patchable=(("+14155550777", "port-pending"),),
        unmanaged_numbers=("+14155550888",),
    )
    return Plan(accounts=(summary,), changes=changes, calls=calls)


@pytest.mark.parametrize("slice_", [1024, 1, 2])
def test_secrets_masked_and_every_list_shape_byte_identical(
    monkeypatch: pytest.MonkeyPatch, slice_: int
) -> None:
    monkeypatch.setattr(jsonout, "SLICE", slice_)
    plan = small_plan()
    for kind in ("plan", "drift"):
        out = streamed(plan, kind)
        assert out == reference_json(plan, kind=kind)
        assert b"987123" not in out and MASK.encode() in out
    empty = Plan(accounts=(), changes=(), calls=())
    assert streamed(empty, "drift") == reference_json(empty, kind="drift")


def test_output_is_written_in_bounded_pieces(
    sandbox: Sandbox, clock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never the whole document in one write: with a 16 KB flush size and slices of 64 items, a
    document of about 2 MB arrives in many writes, none much larger than that (the one-string
    form: one write of it all)."""
    account = SyntheticAccount("wavix", 4_000, profiles=5, drift=0.6, seed=5)
    seed_account(sandbox.store, account, tmp_path)
    import asyncio

    plan = asyncio.run(planned(tmp_path, sandbox=sandbox, clock=clock))
    monkeypatch.setattr(jsonout, "FLUSH", 16_384)
    monkeypatch.setattr(jsonout, "SLICE", 64)
    out = Writes()
    render.write_plan(plan, out, fmt="json")
    whole = reference_json(plan)
    assert out.getvalue().encode() == whole and len(whole) > 1_000_000
    assert len(out.sizes) > len(whole) // 40_000
    assert max(out.sizes) < 128_000  # at most 16 KB plus one slice (64 changes) or object


def test_apply_json_is_byte_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonout, "SLICE", 2)
    plan = small_plan()
    call = plan.calls[0]
    report = ApplyReport(
        results=[CallResult(call, CallStatus.PARTIAL, failed={call.ids[0]: "refused"})],
        unconverged={("telnyx-main", call.ids[0]): Unconverged(call.e164s[0], "refused")},
    )
    out = Writes()
    render.write_apply(report, plan, out, fmt="json")
    o = render.apply_outcome.outcome(report, plan)
    assert out.getvalue().encode() == orjson.dumps(
        render.apply_document(o), option=WHOLE, default=str
    )
    assert b"987123" not in out.getvalue().encode()


def test_cli_plan_json_is_the_reference_bytes(tmp_path: Path) -> None:
    """``plan --json`` through the CLI (stdout) is the whole-document bytes of the same plan."""
    import asyncio

    db = tmp_path / "sandbox.sqlite3"
    Sandbox.open(db).close()
    example = example_copy(tmp_path)
    result = cli(db, "plan", example, "--json")
    assert result.exit_code == 0, result.output
    plan = asyncio.run(planned(example, sandbox_path=db))
    assert result.stdout_bytes == reference_json(plan)
