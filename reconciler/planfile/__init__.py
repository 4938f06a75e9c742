"""Saved plans: ``plan -o plan.json`` writes one, ``show`` renders it, ``apply plan.json`` runs it.

One concept per module:

- ``format``: the document (kind, ``FORMAT_VERSION``, config checksum, accounts, the plan,
  fingerprints, checksum): ``build``, ``write``, ``read`` and what a file must hold to be used;
- ``secrets``: secret values as salted digests (``Hider``), fingerprints of live values;
- ``staleness``: at apply time, the config and the live state checked against the file
  (``check_config``, ``restore_secrets``, ``compare`` → ``Moved``);
- ``wording``: how a stale plan is told (``stale_message``).

``from reconciler import planfile`` then ``planfile.read(...)`` etc.: the names below are the
package's interface.
"""

from __future__ import annotations

from .format import (
    FORMAT_VERSION,
    INDENT_UP_TO,
    KIND,
    AccountSettings,
    SavedPlan,
    _checksum,
    build,
    config_checksum,
    dumps,
    looks_like_plan_file,
    read,
    to_document,
    write,
)
from .secrets import ITERATIONS, SCHEME, Hider, ValueMap, hide_plan, is_hidden, rewrite
from .staleness import Moved, MovedField, check_config, compare, restore_secrets
from .wording import stale_message

__all__ = [
    "FORMAT_VERSION",
    "INDENT_UP_TO",
    "ITERATIONS",
    "KIND",
    "SCHEME",
    "AccountSettings",
    "Hider",
    "Moved",
    "MovedField",
    "SavedPlan",
    "ValueMap",
    "_checksum",
    "build",
    "check_config",
    "compare",
    "config_checksum",
    "dumps",
    "hide_plan",
    "is_hidden",
    "looks_like_plan_file",
    "read",
    "restore_secrets",
    "rewrite",
    "stale_message",
    "to_document",
    "write",
]
