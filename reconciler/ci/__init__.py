"""The GitHub side of the review loop: PR comments, the job summary, the reviewed plan at merge,
the drift issue. Used by the composite action (action.yml) through ``reconciler github …``.

- ``github``: a small client of GitHub's REST API (httpx; token from ``GITHUB_TOKEN``, never
  shown) and the run's context from the Actions environment.
- ``comments``: comments in numbered parts found by marker **and** author, hidden metadata,
  the footer naming the commit and the run, the job summary.
- ``review``: the steps (post the plan, fetch the reviewed plan, report the apply, the drift
  issue), each a function returning an exit code.
- ``command``: the ``reconciler github`` click group (wiring only).
"""

from __future__ import annotations
