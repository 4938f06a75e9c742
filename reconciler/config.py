"""Provider account configuration (the ``providers:`` section), after ``${VAR}`` expansion."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictBool, StrictStr

CARRIERS = ("wavix", "telnyx")


class ProviderConfig(BaseModel):
    """One named carrier account.

    ``sandbox: true`` points the account at the embedded simulator (in-process, no network);
    ``base_url`` at any other endpoint (e.g. a served sandbox ``http://127.0.0.1:P/wavix``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["wavix", "telnyx"]
    api_key: SecretStr | None = None
    sandbox: StrictBool = False
    base_url: StrictStr | None = None
    max_ids_per_call: int | None = Field(default=None, ge=1)
    """Bulk call size limit. Wavix documents none (default 500); Telnyx allows at most 1000."""
    grouping: Literal["cover", "exact"] = "cover"
    concurrency: int = Field(default=8, ge=1, le=64)
    """Concurrent requests when reading (page fetches) and, for Wavix, when applying."""
    verify_timeout_s: float = Field(default=30.0, ge=0)
    """How long apply waits for the carrier to show the new values before calling it a failure."""
    poll_interval_s: float = Field(default=1.0, gt=0)
    """Telnyx: seconds between job polls (and between verify re-reads)."""
    job_timeout_s: float = Field(default=900.0, gt=0)
    """Telnyx: give up polling a job after this long (it is reported, the next plan shows the rest)."""


DEFAULT_MAX_IDS = {"wavix": 500, "telnyx": 1000}
HARD_MAX_IDS = {"wavix": 10_000, "telnyx": 1000}
