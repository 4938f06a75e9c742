"""Applying a plan, as named stages (``reconciler.applier.apply_plan`` runs them in order)::

    send ──▶ follow-ups ──▶ verify ──▶ re-send ──▶ verify the re-sent ──▶ credit
    (dispatch) (followup)    (verify)   (followup)                        (stages)

* ``events``   — what the applier tells its journal (``CallJournal``): one dataclass per moment.
* ``dispatch`` — sending calls (``Dispatch``): per-account gates, the journal, Ctrl-C; each call
  sent becomes an ``Attempt`` (the call, its result, its index, which call it follows up).
* ``followup`` — which numbers of a finished call may be sent again in the same run.
* ``verify``   — re-reading the touched numbers until they show their new values.
* ``stages``   — the stage functions with their typed inputs and outputs.
* ``report``   — ``ApplyReport`` and ``ApplyInterrupted``, what a caller gets back.
"""
