"""Provider account configuration (the ``providers:`` section), after ``${VAR}`` expansion.

``ProviderConfig`` holds the options every carrier account has; a carrier adds its own in a
subclass named by its ``Carrier.config_model`` (Telnyx: job polling). Validating a mapping with
``ProviderConfig.model_validate`` picks the model of the mapping's ``type``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StrictBool,
    StrictStr,
    field_validator,
)

from . import carriers

MAX_WAIT_S = 86_400.0
"""No timeout or interval may exceed a day: a longer one is a typo that would hang an apply."""


def not_a_boolean(value: Any) -> Any:
    """YAML ``true`` where a number belongs is a mistake, not 1 (pydantic would take it as 1)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


Number = Annotated[float, BeforeValidator(not_a_boolean)]
"""A float option, booleans refused: the one "not a boolean" rule (carrier configs use it too)."""
OptionalNumber = Annotated[float | None, BeforeValidator(not_a_boolean)]
"""The same, for an option that may be unset (``Number | None`` would leave the ``Field`` bounds
out of the JSON Schema)."""


class ProviderConfig(BaseModel):
    """One named carrier account.

    ``sandbox: true`` marks a sandbox account: without ``base_url`` it uses the embedded
    simulator (in-process, no network); with one, a served sandbox at that URL. Only a sandbox
    account may go without ``api_key`` (it then uses the simulator's documented key).
    """

    # defer_build: the validator is built on first use (the base class and PollingConfig are
    # never validated directly: an account validates with its carrier's subclass).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)

    type: StrictStr
    api_key: SecretStr | None = None
    sandbox: StrictBool = False
    base_url: StrictStr | None = None
    max_ids_per_call: int | None = Field(default=None, ge=1, strict=True)
    """Bulk call size limit (the carrier's default when unset; never above its hard limit)."""
    grouping: Literal["cover", "exact"] = "cover"
    concurrency: int = Field(default=8, ge=1, le=64, strict=True)
    """Ceiling on requests in flight per API key (reads, polls, calls): the budget starts at 4
    and ramps up to it while the carrier shows room, halving on 429 or a low rate budget."""
    requests_per_second: OptionalNumber = Field(default=None, gt=0, le=10_000)
    """Optional cap on requests per second for this account's API key (reads, polls and calls)."""
    verify_timeout_s: Number = Field(default=30.0, ge=0, le=MAX_WAIT_S)
    """How long apply waits for the carrier to show the new values before calling it a failure."""
    poll_interval_s: Number = Field(default=1.0, gt=0, le=3600)
    """Seconds between verify re-reads (and, for job carriers, between job polls)."""
    max_change_share: Number = Field(default=0.30, ge=0, le=1)
    """Safety rail: most of the managed numbers one run may change (accounts of ≥ 10 numbers)."""
    max_changes: int | None = Field(default=None, ge=0, strict=True)
    """Safety rail: most numbers one run may change (unset: no absolute limit)."""
    max_routing_changes: int | None = Field(default=100, ge=0, strict=True)
    """Safety rail: most numbers whose routing fields one run may change (null: no limit)."""
    _key_env: str | None = PrivateAttr(default=None)
    """The environment variable ``api_key: ${VAR}`` names (set by the loader, not a YAML key)."""

    @field_validator("type")
    @classmethod
    def _known_carrier(cls, value: str) -> str:
        known = carriers.names()
        if value in carriers.broken():  # a plugin that failed to load: say what and why
            raise ValueError(f"carrier {value!r} is not available: {carriers.broken()[value]}")
        if value not in known:
            from .wording import did_you_mean  # at call time: wording pulls in the YAML tree

            raise ValueError(
                f"unknown carrier type {value[:40]!r} (known: {', '.join(known)})"
                + did_you_mean(value, known)
            )
        return value

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> ProviderConfig:  # type: ignore[override]
        """On the base class, validate with the model of the carrier named by ``type``."""
        if cls is ProviderConfig and isinstance(obj, dict):
            kind = obj.get("type")
            if isinstance(kind, str) and kind in carriers.registry():
                model = carriers.get(kind).config_model
                if model is not ProviderConfig:
                    return model.model_validate(obj, **kwargs)
        return super().model_validate(obj, **kwargs)

    @property
    def carrier(self) -> carriers.Carrier:
        return carriers.get(self.type)

    def naming_key(self, variable: str | None) -> ProviderConfig:
        """This config, knowing the variable its ``api_key`` came from (for ``key_hint``)."""
        named = self.model_copy()
        named._key_env = variable
        return named

    @property
    def key_hint(self) -> str:
        """What to check when the carrier rejects the key: the variable this account's
        ``api_key`` names, else the carrier's usual one."""
        if self._key_env:
            return f"{self._key_env} (the variable api_key names)"
        return f"{self.carrier.key_env} or the account's api_key"

    @property
    def max_batch(self) -> int:
        return self.max_ids_per_call or self.carrier.default_max_batch


class PollingConfig(ProviderConfig):
    """Options of job-based carriers (Telnyx): how jobs are polled."""

    job_timeout_s: Number = Field(default=900.0, gt=0, le=MAX_WAIT_S)
    """Give up polling a job after this long (it is reported; the next plan shows the rest)."""
