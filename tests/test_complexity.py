"""No function on the apply path is above cyclomatic complexity 15 (radon's measure).

Before issue 16, ``applier.apply_plan`` was E (33, counting its closures): a closure mutating
seven locals, maps keyed by ``id(result)``, a ``list[bool]`` flag. The apply path is now named
stages (``reconciler/apply``); this keeps each of them small enough to change safely."""

from __future__ import annotations

from pathlib import Path

from radon.visitors import ComplexityVisitor

import reconciler

LIMIT = 15
ROOT = Path(reconciler.__file__).parent
APPLY_PATH = sorted(
    [ROOT / "applier.py", ROOT / "journal.py", *(ROOT / "apply").glob("*.py")],
    key=lambda p: p.name,
)


def test_no_function_on_the_apply_path_is_above_the_limit() -> None:
    measured, over = 0, {}
    for path in APPLY_PATH:
        visitor = ComplexityVisitor.from_code(path.read_text(encoding="utf-8"))
        blocks = [*visitor.functions, *(m for c in visitor.classes for m in c.methods)]
        measured += len(blocks)
        name = path.relative_to(ROOT)
        over.update({f"{name}: {b.name} (line {b.lineno})": b.complexity for b in blocks})
    assert measured > 30, "the apply path's functions were not measured"
    assert not {k: v for k, v in over.items() if v > LIMIT}, f"above {LIMIT}"


def test_the_measure_would_catch_a_long_function() -> None:
    branches = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(LIMIT + 1))
    (block,) = ComplexityVisitor.from_code(f"def f(x):\n{branches}    return -1\n").functions
    assert block.complexity > LIMIT
