"""How a stale saved plan is told: every moved number, bounded, and what to do."""

from __future__ import annotations

from ..wording import plural
from .staleness import Moved


def stale_message(moved: list[Moved], *, limit: int = 50) -> str:
    head = (
        f"the plan is stale: {plural(len(moved), 'planned number')} changed "
        "at the carrier since the plan was made; nothing was sent:"
    )
    done = sum(m.converged for m in moved)
    if done == len(moved):
        head += f" all {done} already have the planned values: was this plan applied already?"
    lines = [f"  - {m.describe()}" for m in moved[:limit]]
    if len(moved) > limit:
        lines.append(f"  … and {len(moved) - limit} more")
    tail = "Make and review a new plan (reconciler plan -o), or apply the rest with --skip-stale."
    return "\n".join([head, *lines, tail])
