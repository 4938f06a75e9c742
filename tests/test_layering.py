"""The import graph of reconciler/ (issue 16): no cycle other than a package's ``__init__`` with
its own submodules, and the core never imports a carrier's code.

Every ``import`` statement counts, at module level or inside a function (a call-time import is a
dependency all the same); imports under ``if TYPE_CHECKING:`` do not (they are names for the type
checker only). Modules are parsed with ``ast``; nothing is imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "reconciler"

SANDBOX_HOSTS = {"reconciler.runner", "reconciler.export.files"}
"""Core modules that host the embedded sandbox (open ``reconciler.sandbox.Sandbox`` for accounts
with ``sandbox: true``); they never import a simulator package or a provider."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                yield from _imports(child)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def graph() -> dict[str, set[str]]:
    """module → the reconciler modules it imports (``from pkg import sub`` names ``pkg.sub``
    when that is a module, else ``pkg``)."""
    paths = {module_name(p): p for p in ROOT.rglob("*.py")}
    known = set(paths)
    out: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
                ]
            for target in targets:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    deps.add(target)
        out[name] = deps
    return out


def _own(a: str, b: str) -> bool:
    """``a`` is a package's ``__init__`` and ``b`` one of its own submodules (either way)."""
    return b.startswith(a + ".") or a.startswith(b + ".")


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), after dropping the
    edges between a package and its own submodules."""
    edges = {a: {b for b in deps if not _own(a, b)} for a, deps in g.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _core(name: str) -> bool:
    return not name.startswith(("reconciler.providers", "reconciler.sandbox", "reconciler.cli"))


def test_the_graph_sees_call_time_imports_and_skips_type_checking_ones() -> None:
    g = graph()
    # carriers.py names its provider classes lazily and imports providers under TYPE_CHECKING
    # only; the CLI imports the sandbox inside its commands (call time): both show as they are.
    assert "reconciler.providers.base" not in g["reconciler.carriers"]
    assert any(d.startswith("reconciler.sandbox") for d in g["reconciler.cli.sandbox"])


def test_no_import_cycle_among_reconciler_modules() -> None:
    found = cycles(graph())
    assert found == [], "\n".join(" ⇄ ".join(c) for c in found)


def _forbidden(name: str, dep: str) -> bool:
    if dep.startswith("reconciler.providers"):
        return True
    if dep.startswith("reconciler.sandbox"):
        return not (name in SANDBOX_HOSTS and dep == "reconciler.sandbox")
    return False


def test_the_core_never_imports_providers_or_simulators() -> None:
    g = graph()
    bad = sorted(
        f"{name} imports {dep}"
        for name, deps in g.items()
        if _core(name)
        for dep in deps
        if _forbidden(name, dep)
    )
    assert bad == [], "\n".join(bad)


def _carrier_names() -> set[str]:
    """The built-in carriers: provider packages with a ``carrier`` module."""
    return {p.parent.name for p in (ROOT / "providers").glob("*/carrier.py")}


def _code_strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """String constants of the code, without docstrings (a string statement is documentation)."""
    docs = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


def test_no_carrier_is_named_in_core_cli_or_sandbox_core_code() -> None:
    names = _carrier_names()
    assert {"wavix", "telnyx"} <= names  # the check below checks something
    own = tuple(f"reconciler.{side}.{n}" for side in ("providers", "sandbox") for n in names)
    found = []
    for path in ROOT.rglob("*.py"):
        module = module_name(path)
        if module.startswith(own):
            continue
        for line, text in _code_strings(ast.parse(path.read_text(encoding="utf-8"))):
            words = set(text.lower().replace("/", " ").replace("-", " ").replace("_", " ").split())
            if words & names:
                found.append(f"{path.relative_to(ROOT.parent)}:{line}: {text[:60]!r}")
    assert found == [], "\n".join(found)
