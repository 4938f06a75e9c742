"""``reconciler export``: read a live account and write desired-state YAML that resolves to it.

    live numbers ──account──▶ value ids per field ──factoring──▶ profiles + selectors
                 ──document──▶ YAML text ──loader──▶ checked: every number resolves to exactly
                 its live values (nothing is written otherwise) ──files──▶ DIR/ACCOUNT.yaml

``factoring`` is pure (value ids in, rules out; its cost model and algorithm are in
docs/export.md); ``document`` writes text and measures lines with the same function; ``account``
holds the contract; ``files`` reads accounts and writes files. Nothing here writes to the
terminal: the CLI prints ``summary``.
"""

from __future__ import annotations

from .account import Exported, choose_fields, export_account, loader_expands_env
from .files import run_export, summary

__all__ = [
    "Exported",
    "choose_fields",
    "export_account",
    "loader_expands_env",
    "run_export",
    "summary",
]
