"""What a plan warns a reviewer of (``PlanWarning``, ``WarningKind``): its own module, light
enough for ``validate``, whose config warnings are plan warnings, to load without the plan's
types (``reconciler.plan`` re-exports them, where they have always been imported from)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["REFUSING", "PlanWarning", "WarningKind"]


class WarningKind(StrEnum):
    """What a ``PlanWarning`` is about; the value is the name output shows (``rail``).

    Safety rails first: ``apply`` refuses a plan that trips one without ``--force``
    (``refusing``). ``EMPTY`` is a rail only ``drift`` refuses (``rails.refuse_empty``). The
    rest inform and never refuse.
    """

    CHANGE_SHARE = "change_share"
    MAX_CHANGES = "max_changes"
    ROUTING = "routing"
    EMPTY = "empty"
    TARGET = "target"
    """The run was limited by ``--target`` or ``--account``."""
    PENDING_JOB = "pending_job"
    """Numbers a live carrier job holds: apply waits for it and verifies."""
    JOB_CONFLICT = "job_conflict"
    """A live carrier job sets a planned number to another value."""

    @property
    def refusing(self) -> bool:
        """A safety rail ``apply`` refuses without ``--force``."""
        return self in REFUSING


REFUSING = frozenset({WarningKind.CHANGE_SHARE, WarningKind.MAX_CHANGES, WarningKind.ROUTING})


@dataclass(frozen=True, slots=True)
class PlanWarning:
    """Something a reviewer must see: a safety rail the plan trips (``apply`` will refuse it
    without ``--force``), an empty config, a run limited by ``--target``, a live carrier job."""

    rail: WarningKind
    account: str
    """The account it is about; "" for the whole run."""
    message: str

    def __post_init__(self) -> None:
        if self.rail.__class__ is not WarningKind:  # given by its name: one of the kinds only
            object.__setattr__(self, "rail", WarningKind(self.rail))
