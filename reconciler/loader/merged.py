"""Rules on a number's *merged* desired settings (``Carrier.check``): what every entry that
selects it declares together, the most specific last, as the resolver merges them.

A number's merge is its selector chain: the prefix rules that cover it, shortest first, then its
exact rule. Every live number's merge is one of the chains that end at a declared rule (a number
matched by prefixes P1 ⊂ P2 only merges like P2's own chain), so checking each rule's chain
checks every number, offline. A problem is reported at the file:line of the entry that set the
field it blames (an address a prefix entry declares, under an exact entry that disables emergency
calling: at the prefix entry, naming the exact entry it was merged with).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..desired import Account, Rule
from .issues import Issues


def check_merged(
    accounts: Mapping[str, Account], rules: Mapping[str, list[Rule]], issues: Issues
) -> None:
    """Report every chain whose merged settings break its carrier's ``check``."""
    for name, account_rules in rules.items():
        account = accounts.get(name)
        if account is None:
            continue
        check = account.config.carrier.check
        if check is None:
            continue
        prefixes = {r.selector[:-1]: r for r in account_rules if not r.exact}
        lengths = sorted({len(p) for p in prefixes})
        reported: set[tuple[str, str]] = set()
        for rule in account_rules:
            digits = rule.selector if rule.exact else rule.selector[:-1]
            chain = [
                p
                for n in lengths
                if n <= len(digits)
                and (p := prefixes.get(digits[:n])) is not None
                and p is not rule
            ]
            chain.append(rule)
            merged: dict[str, object] = {}
            setter: dict[str, Rule] = {}
            for r in chain:
                merged.update(r.settings)
                setter.update(dict.fromkeys(r.settings, r))
            for path, message in check(merged):
                blamed = setter.get(path, rule)
                source = blamed.source_of(path) if path in blamed.settings else blamed.sources[0]
                if (source, message) in reported:
                    continue
                reported.add((source, message))
                file, _, line = source.rpartition(":")
                where = rule.selector
                via = f" (merged with {rule.sources[0]})" if blamed is not rule else ""
                issues.err(
                    file, int(line) if line.isdigit() else None, f"{where} ({name}): {message}{via}"
                )
