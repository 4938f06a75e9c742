"""Rendering: compact and bounded at any size, every number with ``full``, secrets never shown,
Markdown split into parts that each fit and never cut a table, JSON valid against its schema."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import REPO

from reconciler import render
from reconciler.applier import ApplyReport, Unconverged
from reconciler.plan import AccountSummary, BulkCall, FieldChange, NumberChange, Plan
from reconciler.providers.base import CallResult, CallStatus

PIN, OLD_PIN = "987123", "135799"
SCHEMA = json.loads((REPO / "docs" / "plan-output.schema.json").read_text())
DEST = [
    {"destination": "sip:in@pbx.example.com", "priority": 1, "transport": 1, "trunk_id": None},
    {"destination": "+13135550199", "priority": 2, "transport": 4, "trunk_id": None},
]


def e164(i: int) -> str:
    return f"+1313{5_000_000 + i:07d}"


def make_plan(
    changes: list[tuple[str, tuple[FieldChange, ...]]],
    *,
    account: str = "wavix-main",
    carrier: str = "wavix",
    batch: int = 500,
    total: int | None = None,
    **extra: Any,
) -> Plan:
    """One account; calls group the numbers by their patch, chunked by ``batch``."""
    numbers = [
        NumberChange(account, str(1000 + i), e, fields) for i, (e, fields) in enumerate(changes)
    ]
    by_patch: dict[str, list[NumberChange]] = {}
    for n in numbers:
        by_patch.setdefault(
            json.dumps({f.field: f.new for f in n.changes}, sort_keys=True), []
        ).append(n)
    calls = []
    for key, members in by_patch.items():
        for start in range(0, len(members), batch):
            chunk = members[start : start + batch]
            calls.append(
                BulkCall(
                    account,
                    carrier,
                    json.loads(key),
                    tuple(n.id for n in chunk),
                    tuple(n.e164 for n in chunk),
                )
            )
    total = total if total is not None else len(numbers) + 5
    summary = AccountSummary(
        account,
        carrier,
        total,
        total - len(numbers),
        len(numbers),
        0,
        len(calls),
        len(calls),
        -(-len(numbers) // batch),
        batch,
        "cover",
        **extra,
    )
    return Plan(accounts=(summary,), changes=tuple(numbers), calls=tuple(calls))


def big_plan(n: int = 10_000) -> Plan:
    """``n`` changed numbers over a few causes (SMS off, a destination removed, a threshold)."""
    rows = []
    for i in range(n):
        fields = [FieldChange("sms_enabled", False, True)]
        if i % 3 == 0:
            fields.append(FieldChange("destinations", DEST[:1], DEST))
        if i % 7 == 0:
            fields.append(FieldChange("transcription_threshold", 20 + i % 4, 30))
        rows.append((e164(i), tuple(fields)))
    return make_plan(rows)


def pin_plan() -> Plan:
    rows = [
        (
            e164(i),
            (
                FieldChange("external_pin", OLD_PIN if i % 2 else None, PIN),
                FieldChange("tags", ["a"], ["a", "b"]),
            ),
        )
        for i in range(40)
    ]
    return make_plan(rows, account="telnyx-main", carrier="telnyx", batch=1000)


def text(plan: Plan, **kw: Any) -> str:
    out = io.StringIO()
    render.write_plan(plan, out, **kw)
    return out.getvalue()


def drift(plan: Plan, **kw: Any) -> str:
    out = io.StringIO()
    render.write_drift(plan, out, **kw)
    return out.getvalue()


class WithWarnings:
    """A plan carrying rail warnings (``Plan.warnings`` may not exist yet on this branch)."""

    def __init__(self, plan: Plan, warnings: tuple[Any, ...]) -> None:
        self._plan, self.warnings = plan, warnings

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plan, name)


class Warning_:
    def __init__(self, rail: str, account: str | None, message: str) -> None:
        self.rail, self.account, self.message = rail, account, message


# --------------------------------------------------------------------------------------------
# Text


def test_compact_text_is_bounded_on_a_10k_plan() -> None:
    plan = big_plan(10_000)
    out = text(plan)
    lines = out.splitlines()
    assert len(lines) < 200, len(lines)
    assert lines[-1] == render.summary_line(plan)
    assert "Plan: 10000 numbers to change in" in out
    # The biggest cause: every number, three named, the rest counted.
    [sms] = [line for line in lines if "sms_enabled: false → true" in line and "numbers:" in line]
    assert "10000 numbers" in sms and "… and 9997 more" in sms
    assert "(added +13135550199 (pstn, p2))" in out  # the list delta, carrier-formatted
    assert "… and 9980 more numbers" in out  # per-number detail stops at the limit (20)
    assert "PATCH /v1/numbers" in out


def test_full_lists_every_number() -> None:
    plan = big_plan(2_000)
    out = text(plan, full=True)
    listed = set(re.findall(r"^  ~ (\+\d+)", out, flags=re.M))
    assert listed == {c.e164 for c in plan.changes}
    assert "more numbers" not in out


def test_limit_bounds_the_per_number_detail() -> None:
    out = text(big_plan(100), limit=5)
    assert len(re.findall(r"^  ~ \+\d+", out, flags=re.M)) == 5
    assert "… and 95 more numbers" in out


def test_summary_line_wording_is_kept() -> None:
    plan = make_plan([(e164(i), (FieldChange("sms_enabled", False, True),)) for i in range(3)])
    assert render.summary_line(plan) == (
        "Plan: 3 numbers to change in 1 bulk call (lower bound 1; per-number 3), "
        "5 in sync, 0 unmanaged."
    )
    assert text(plan).splitlines()[-1] == render.summary_line(plan)


def test_list_delta_is_a_multiset_difference() -> None:
    rows = [
        (e164(0), (FieldChange("tags", ["a", "a", "b"], ["a", "b", "c"]),)),
        (e164(1), (FieldChange("tags", ["b", "a"], ["a", "b"]),)),
    ]
    out = text(make_plan(rows, account="tx", carrier="telnyx"))
    assert '(added "c"; removed "a")' in out  # the second "a" went, one stays
    assert "(reordered)" in out


def test_one_changed_item_is_shown_as_a_change_of_its_keys() -> None:
    moved = [dict(DEST[0], destination="sip:new@pbx.example.com"), DEST[1]]
    out = text(make_plan([(e164(0), (FieldChange("destinations", DEST, moved),))]))
    assert (
        "changed sip:in@pbx.example.com (sip_uri, p1) → sip:new@pbx.example.com (sip_uri, p1)"
        in out
    )
    assert "(destination)" in out


def test_colour_only_when_asked() -> None:
    plan = big_plan(30)
    assert "\x1b[" in text(plan, color=True)
    assert "\x1b[" not in text(plan) and "\x1b[" not in drift(plan)


def test_warnings_come_first_in_text_and_markdown_and_json() -> None:
    warned = WithWarnings(
        big_plan(50),
        (
            Warning_(
                "max_changed_share",
                "wavix-main",
                "50 of 55 managed numbers (91 %) change; the limit is 30 %",
            ),
        ),
    )
    out = text(warned)  # type: ignore[arg-type]
    assert out.startswith("! Warning: max_changed_share [wavix-main]: 50 of 55")
    md = render.markdown_parts(warned)[0]  # type: ignore[arg-type]
    assert md.index("[!WARNING]") < md.index("#### Accounts")
    doc = json.loads(render.plan_json(warned))  # type: ignore[arg-type]
    assert doc["warnings"] == [
        {
            "rail": "max_changed_share",
            "account": "wavix-main",
            "message": "50 of 55 managed numbers (91 %) change; the limit is 30 %",
        }
    ]


def test_not_patchable_and_missing_are_bounded() -> None:
    plan = make_plan(
        [(e164(0), (FieldChange("sms_enabled", False, True),))],
        not_patchable=tuple((e164(100 + i), "port-pending") for i in range(50)),
        missing=tuple(e164(500 + i) for i in range(30)),
    )
    out = text(plan, limit=10)
    assert out.count("port-pending") == 10 and "… and 40 more not patchable" in out
    assert "… and 20 more missing" in out
    assert text(plan, full=True).count("port-pending") == 50


class CountingWriter(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_each_output_is_written_once(fmt: str) -> None:
    plan = big_plan(3_000)
    for write in (
        lambda o: render.write_plan(plan, o, fmt=fmt, full=True),
        lambda o: render.write_drift(plan, o, fmt=fmt, verbose=True),
    ):
        out = CountingWriter()
        write(out)
        assert out.writes == 1 and out.getvalue()


# --------------------------------------------------------------------------------------------
# Secrets


def every_output(plan: Plan) -> dict[str, str]:
    result = CallResult(plan.calls[0], CallStatus.PARTIAL, failed={plan.calls[0].ids[0]: "refused"})
    failed = {("telnyx-main", plan.calls[0].ids[0]): Unconverged(e164(0), "refused")}
    report = ApplyReport(results=[result], unconverged=failed)
    apply_out = io.StringIO()
    render.write_apply(report, plan, apply_out)
    outs = {
        "apply": apply_out.getvalue(),
        "markdown parts": "".join(render.markdown_parts(plan, max_chars=2_000)),
        "markdown drift parts": "".join(render.markdown_parts(plan, drift=True, max_chars=2_000)),
    }
    for fmt in render.FORMATS:
        outs[fmt] = text(plan, fmt=fmt)
        outs[f"{fmt} full"] = text(plan, fmt=fmt, full=True)
        outs[f"drift {fmt}"] = drift(plan, fmt=fmt, verbose=True)
    return outs


def test_external_pin_never_appears() -> None:
    plan = pin_plan()
    assert plan.calls[0].patch["external_pin"] == PIN  # the plan carries it, the outputs must not
    for name, out in every_output(plan).items():
        assert PIN not in out and OLD_PIN not in out, name
        if name != "apply":
            assert "(sensitive)" in out, name
    causes = json.loads(text(plan, fmt="json"))["causes"]
    pins = [c for c in causes if c["field"] == "external_pin"]
    assert len(pins) == 1 and pins[0]["count"] == 40  # one cause: distinct PINs are not told apart


# --------------------------------------------------------------------------------------------
# Markdown


def wide_plan(n: int = 300) -> Plan:
    """Many causes: each number had its own old SMS URL."""
    rows = [
        (
            e164(i),
            (
                FieldChange(
                    "sms_relay_url", f"https://old.example.com/{i}", "https://new.example.com/sms"
                ),
                FieldChange("sms_enabled", False, True),
            ),
        )
        for i in range(n)
    ]
    return make_plan(rows)


def tables(part: str) -> list[list[str]]:
    """The tables of a Markdown text: runs of consecutive lines starting with "|"."""
    out: list[list[str]] = []
    run: list[str] = []
    for line in part.split("\n") + [""]:
        if line.startswith("|"):
            run.append(line)
        elif run:
            out.append(run)
            run = []
    return out


def cells(row: str) -> int:
    return len(re.split(r"(?<!\\)\|", row)) - 2


@pytest.mark.parametrize("drift_", [False, True])
def test_markdown_splits_into_parts_that_fit_and_never_cut_a_table(drift_: bool) -> None:
    plan = wide_plan()
    whole = render.markdown_parts(plan, drift=drift_, full=True, max_chars=10_000_000)
    assert len(whole) == 1 and "(part" not in whole[0]
    parts = render.markdown_parts(plan, drift=drift_, full=True, max_chars=3_000)
    n = len(parts)
    assert n > 3
    rows_split: list[str] = []
    for i, part in enumerate(parts, 1):
        assert len(part) <= 3_000
        assert part.startswith(render.MARKER + "\n")
        assert f"<!-- reconciler-plan part {i}/{n} -->" in part
        assert f"(part {i}/{n})" in part
        assert part.count("<details>") == part.count("</details>")
        for table in tables(part):
            assert len(table) >= 3, table  # a header, its separator and at least one row
            assert re.fullmatch(r"\|(-{3}|-{2}:)(\|(-{3}|-{2}:))*\|", table[1]), table[1]
            assert {cells(r) for r in table} == {cells(table[0])}, table
            rows_split += table[2:]
    rows_whole = [r for t in tables(whole[0]) for r in t[2:]]
    assert rows_split == rows_whole  # every row once, in order: nothing cut, lost or repeated


def test_markdown_summary_first_and_details_collapsed() -> None:
    [md] = render.markdown_parts(big_plan(100))
    assert md.startswith(render.MARKER + "\n<!-- reconciler-plan part 1/1 -->\n")
    assert (
        md.index("**Plan: 100 numbers to change")
        < md.index("#### Accounts")
        < md.index("<details>")
    )
    assert "<details><summary><b>wavix-main</b> (wavix)" in md
    assert "… and 80 more numbers" in md


def test_markdown_custom_marker_and_too_small_a_limit() -> None:
    parts = render.markdown_parts(wide_plan(50), marker="<!-- my-bot -->", max_chars=2_500)
    assert all(p.startswith("<!-- my-bot -->\n") for p in parts)
    assert "<!-- my-bot part 1/" in parts[0]
    with pytest.raises(ValueError, match="max_chars is too small"):
        render.markdown_parts(wide_plan(5), max_chars=200)


# --------------------------------------------------------------------------------------------
# JSON


@pytest.mark.parametrize("make", [big_plan, pin_plan, wide_plan])
def test_json_validates_against_its_schema_and_keeps_the_figures(make: Any) -> None:
    plan = make() if make is not big_plan else make(1_000)
    doc = json.loads(text(plan, fmt="json"))
    jsonschema.validate(doc, SCHEMA)
    assert doc["format_version"] == 1 and doc["kind"] == "plan"
    s = doc["summary"]
    assert (s["changed"], s["calls"], s["lower_bound"], s["in_sync"], s["unmanaged"]) == (
        plan.changed,
        len(plan.calls),
        plan.lower_bound,
        plan.in_sync,
        plan.unmanaged,
    )
    assert s["line"] == render.summary_line(plan)
    assert [c["ids"] for c in doc["calls"]] == [list(c.ids) for c in plan.calls]
    assert [(c["e164"], len(c["changes"])) for c in doc["changes"]] == [
        (c.e164, len(c.changes)) for c in plan.changes
    ]
    assert (
        sum(c["count"] for c in doc["causes"])
        == s["fields"]
        == sum(len(c.changes) for c in plan.changes)
    )
    assert doc["accounts"][0]["max_batch"] == plan.accounts[0].max_batch
    drifted = json.loads(drift(plan, fmt="json"))
    jsonschema.validate(drifted, SCHEMA)
    assert drifted["kind"] == "drift" and drifted["summary"]["line"].startswith("Drift: ")


def test_json_values_are_the_plan_values() -> None:
    plan = big_plan(21)
    doc = json.loads(render.plan_json(plan))
    first = doc["changes"][0]["changes"]
    assert first[1] == {"field": "destinations", "old": DEST[:1], "new": DEST}


def test_schema_rejects_a_wrong_document() -> None:
    doc = json.loads(render.plan_json(big_plan(10)))
    doc["format_version"] = 2
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


# --------------------------------------------------------------------------------------------
# Drift


def test_drift_is_grouped_by_cause() -> None:
    rows = [(e164(i), (FieldChange("sms_enabled", False, True),)) for i in range(500)]
    rows += [(e164(900 + i), (FieldChange("transcription_threshold", 25, 30),)) for i in range(3)]
    plan = make_plan(rows, total=1_000)
    plan = Plan(
        accounts=(AccountSummary(**{**_fields(plan.accounts[0]), "unmanaged": 12}),),
        changes=plan.changes,
        calls=plan.calls,
    )
    out = drift(plan)
    lines = out.splitlines()
    assert len(lines) < 15
    [sms] = [line for line in lines if "sms_enabled" in line]
    assert "desired true, actual false" in sms and "500 numbers" in sms and "… and 497 more" in sms
    [thr] = [line for line in lines if "transcription_threshold" in line]
    assert "3 numbers: +13135000900, +13135000901, +13135000902" in thr
    assert "12 unmanaged" in lines[0]
    assert lines[-1].startswith("Drift: 503 numbers (503 fields) differ from the configuration")
    verbose = drift(plan, verbose=True)
    assert all(n.e164 in verbose for n in plan.changes)


def test_no_drift_says_so() -> None:
    plan = make_plan([])
    out = drift(plan)
    assert out.splitlines()[-1].startswith("No drift: 5 managed numbers match the configuration")


def _fields(summary: AccountSummary) -> dict[str, Any]:
    return {k: getattr(summary, k) for k in AccountSummary.__dataclass_fields__}


# --------------------------------------------------------------------------------------------
# Apply


def test_apply_report_is_bounded() -> None:
    plan = big_plan(2_000)
    bad = max(plan.calls, key=lambda c: len(c.ids))
    results = [CallResult(c, CallStatus.OK) for c in plan.calls if c is not bad]
    results.append(
        CallResult(
            bad,
            CallStatus.PARTIAL,
            failed={i: "code 10015: refused" for i in bad.ids[:100]},
            job_id="job-1",
        )
    )
    failed = {
        ("wavix-main", i): Unconverged(e, "code 10015: refused")
        for i, e in zip(bad.ids[:100], bad.e164s[:100], strict=True)
    }
    out = io.StringIO()
    render.write_apply(ApplyReport(results=results, unconverged=failed), plan, out)
    lines = out.getvalue().splitlines()
    assert len(lines) < 40
    assert lines[0].startswith("wavix-main: ") and "1 partial" in lines[0]
    assert any("partial" in line and "job job-1" in line for line in lines)
    # One cause, counted, with a few numbers (issue 15 item 17: it listed 20, "… and 80 more").
    assert "✗ code 10015: refused  100 numbers: " in out.getvalue()
    assert "… and 97 more" in out.getvalue() and "… and 80 more" not in out.getvalue()
    assert lines[-1].startswith("Apply partial: 1900 of 2000 numbers converged, 100 did not")


def test_docs_describe_every_top_level_key() -> None:
    doc = (Path(REPO) / "docs" / "output.md").read_text()
    for key in SCHEMA["required"]:
        assert f"`{key}`" in doc, key


class Unmanaged:
    """An account summary carrying its unmanaged numbers (as ``drift -v`` collects them)."""

    def __init__(self, summary: AccountSummary, numbers: tuple[str, ...]) -> None:
        self._summary, self.unmanaged_numbers = summary, numbers

    def __getattr__(self, name: str) -> Any:
        return getattr(self._summary, name)


def test_unmanaged_numbers_only_with_verbose() -> None:
    base = make_plan([(e164(i), (FieldChange("sms_enabled", False, True),)) for i in range(3)])
    strays = tuple(e164(800 + i) for i in range(4))
    plan = Plan(
        accounts=(Unmanaged(base.accounts[0], strays),),
        changes=base.changes,  # type: ignore[arg-type]
        calls=base.calls,
    )
    assert strays[0] not in drift(plan) and strays[0] not in "".join(
        render.markdown_parts(plan, drift=True)
    )
    assert all(e in drift(plan, verbose=True) for e in strays)
    assert all(e in drift(plan, fmt="markdown", verbose=True) for e in strays)
    doc = json.loads(drift(plan, fmt="json"))
    jsonschema.validate(doc, SCHEMA)
    assert doc["accounts"][0]["unmanaged_numbers"] == list(strays)


def test_drift_markdown_carries_its_own_marker() -> None:
    """A CI step that upserts the plan comment must never find a drift report by its marker."""
    plan = Plan(accounts=(), changes=(), calls=())
    out = io.StringIO()
    render.write_drift(plan, out, fmt="markdown")
    first = out.getvalue().splitlines()[0]
    assert first == render.DRIFT_MARKER and render.MARKER not in out.getvalue()


def test_no_changes_while_jobs_are_pending_says_so() -> None:
    """When only numbers a live carrier job already covers remain, the plan does not claim the
    accounts match the configuration."""
    from reconciler.plan import PlanWarning

    held = PlanWarning("pending_job", "tx", "3 planned numbers pending at the carrier (job j1)")
    plan = Plan(accounts=(), changes=(), calls=(), warnings=(held,))
    line = render.summary_line(plan)
    assert line.startswith("No changes to send: the rest is pending at the carrier (1 live job")
    assert "match the configuration" not in line
