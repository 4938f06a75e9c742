"""Plans, drift reports and apply reports as text, Markdown and JSON. Only render and the CLI print.

One renderer per form, one shared grouping (``common``): changes are grouped by cause (field,
old → new) and by bulk call once, then each form lays the groups out, bounded with "… and N
more" (``full``/``verbose`` lift the bounds). Text and Markdown are built as one string and
written with one ``write``; JSON, which lists every number, is streamed (``jsonout``: written in
writes of about 4 MB, never the whole document in memory). No per-line console calls, whatever
the plan's size. Labels and value
formatting come from the carrier descriptions (``reconciler.carriers``); secret fields are
masked in every form.

- ``write_plan(plan, out, fmt=text|json|markdown, full=, color=, limit=)``
- ``write_drift(plan, out, fmt=..., verbose=, color=)``: drift grouped by (account, field,
  desired, actual)
- ``markdown_parts(plan, drift=, max_chars=, marker=)``: pull-request comments that each fit
- ``write_apply(report, plan, out, fmt=..., full=, color=)``: the apply report, grouped like a
  plan (``apply.ApplyOutcome``: also refused, interrupted, nothing to do); ``apply_parts`` splits
  its Markdown like ``markdown_parts``
- ``progress(console, providers, calls)``: the transient progress display (stderr)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, TextIO

from ..gcpause import without_gc
from ..plan import Plan
from . import apply as apply_outcome
from .apply import ApplyOutcome, apply_text
from .common import drift_line, summary_line
from .drift import drift_text
from .jsonout import FORMAT_VERSION, apply_document, chunks, plan_chunks, write_json
from .jsonout import plan_json as _json
from .markdown import (
    APPLY_MARKER,
    DRIFT_MARKER,
    GITHUB_LIMIT,
    MARKER,
    apply_markdown,
    apply_parts,
    markdown_parts,
    markdown_text,
)
from .mdlayout import part_marker
from .progress import progress
from .text import plan_text

if TYPE_CHECKING:
    from ..applier import ApplyReport

FORMATS = ("text", "json", "markdown")


@without_gc  # grouping a big plan allocates much and frees nothing cyclic
def write_plan(
    plan: Plan,
    out: TextIO,
    *,
    fmt: str = "text",
    full: bool = False,
    color: bool = False,
    limit: int = 20,
) -> None:
    """Write the plan in ``fmt``: per-number detail up to ``limit`` numbers per account unless
    ``full``; ANSI colour only with ``color`` (text)."""
    if fmt == "json":
        write_json(plan_chunks(plan), out)
        return
    if fmt == "text":
        body = plan_text(plan, full=full, color=color, limit=limit)
    elif fmt == "markdown":
        body = markdown_text(plan, limit=limit, full=full)
    else:
        raise ValueError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    out.write(body)


@without_gc  # grouping a big plan allocates much and frees nothing cyclic
def write_drift(
    plan: Plan,
    out: TextIO,
    *,
    fmt: str = "text",
    verbose: bool = False,
    color: bool = False,
    marker: str = DRIFT_MARKER,
) -> None:
    """Write the drift report (the plan read as "what moved"), grouped by cause."""
    if fmt == "json":
        write_json(plan_chunks(plan, kind="drift"), out)
        return
    if fmt == "text":
        body = drift_text(plan, verbose=verbose, color=color)
    elif fmt == "markdown":
        body = markdown_text(plan, drift=True, full=verbose, marker=marker)
    else:
        raise ValueError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    out.write(body)


@without_gc  # grouping a big plan allocates much and frees nothing cyclic
def write_apply(
    report: ApplyReport | ApplyOutcome,
    plan: Plan,
    out: TextIO,
    *,
    fmt: str = "text",
    full: bool = False,
    color: bool = False,
    marker: str = APPLY_MARKER,
) -> None:
    """Write the apply report (a finished ``ApplyReport``, or an ``ApplyOutcome`` from
    ``apply_outcome.refused/interrupted/nothing_to_do``): calls by outcome, what changed and
    what did not converge grouped by cause (a few numbers each unless ``full``)."""
    o = report if isinstance(report, ApplyOutcome) else apply_outcome.outcome(report, plan)
    if fmt == "json":
        write_json(chunks(apply_document(o)), out)
        return
    if fmt == "text":
        body = apply_text(o, color=color, full=full)
    elif fmt == "markdown":
        body = apply_markdown(o, full=full, marker=marker)
    else:
        raise ValueError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    out.write(body)


def use_color(stream: Any) -> bool:
    """Whether to colour text written to ``stream``: a terminal, ``NO_COLOR`` unset, not dumb."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def plan_json(plan: Plan) -> str:
    """The ``--format json`` document of a plan (format_version 1) as text."""
    return _json(plan)


__all__ = [
    "APPLY_MARKER",
    "ApplyOutcome",
    "FORMATS",
    "FORMAT_VERSION",
    "GITHUB_LIMIT",
    "DRIFT_MARKER",
    "MARKER",
    "apply_document",
    "apply_outcome",
    "apply_parts",
    "drift_line",
    "markdown_parts",
    "part_marker",
    "plan_json",
    "progress",
    "summary_line",
    "use_color",
    "write_apply",
    "write_drift",
    "write_plan",
]
