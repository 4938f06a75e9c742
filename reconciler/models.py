"""Canonical per-number settings, one normal form for both sides of the diff.

Users write settings as nested YAML (validated by the pydantic models below). Live state comes
from the carrier in its own wire shape. Both are reduced to the same *flat canonical form*: a dict
from a dotted field path (``"sms_enabled"``, ``"destinations"``,
``"voice.call_forwarding.forwards_to"``) to a JSON-compatible value in a normal form:

each carrier names, per field path, the function that brings a value to its normal form
(``Carrier.canonical``: Wavix destinations sorted by priority, Telnyx tags as a sorted set);
every other field is the scalar as the carrier stores it. The carrier-specific settings models
live in the carrier's provider package (``providers/<carrier>/settings.py``); this module holds
what every carrier shares.

Only the fields a number's YAML declares are *managed*; flattening keeps exactly the declared
leaves, so a partially declared nested object (Telnyx ``voice.call_forwarding``) manages only the
declared subfields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr, model_validator

from .e164 import check_e164

if TYPE_CHECKING:
    from .carriers import Carrier

Settings = dict[str, Any]
"""Flat canonical settings: dotted field path -> canonical JSON-compatible value."""


# --------------------------------------------------------------------------------------------
# Live numbers (what providers return)


@dataclass(slots=True)
class LiveNumber:
    """One number of a carrier account as read from the carrier, in canonical form.

    ``settings`` holds every field the provider can set (flat canonical). ``patchable`` is False
    for numbers the carrier will not let us update (e.g. Telnyx ``port-pending``): they are
    reported, never patched. Numbers with equal settings may share one ``settings`` dict (a
    read keeps equal values once): treat it as read-only, copy it to change it.
    """

    id: str
    e164: str
    status: str
    settings: Settings = field(default_factory=dict)
    patchable: bool = True


# --------------------------------------------------------------------------------------------
# Validators shared by the settings models


def check_url(value: str) -> str:
    """An absolute http(s) URL. Kept verbatim (no normalisation) so diffs never show noise."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return value


E164 = Annotated[StrictStr, AfterValidator(check_e164)]
HttpUrlStr = Annotated[StrictStr, AfterValidator(check_url)]


class StrictSettings(BaseModel):
    """Base for user-facing settings: unknown keys rejected, explicit nulls rejected."""

    # defer_build: a validator is built on first use; a nested model (Telnyx ``voice``) is
    # validated inside its parent's and never needs its own (issue 18, startup).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None and key in cls.model_fields:
                    raise ValueError(
                        f"{key}: null is not a value; remove the key to leave the field unmanaged"
                    )
        return data


# --------------------------------------------------------------------------------------------
# Flat form


def flatten(model: BaseModel, carrier: Carrier) -> Settings:
    """Declared leaves of a settings model of ``carrier`` → flat canonical settings (each value
    brought to its normal form by ``carrier.canonical``)."""
    return _flatten(model, carrier.canonical, "")


def _flatten(model: BaseModel, normal: Mapping[str, Any], prefix: str) -> Settings:
    out: Settings = {}
    for name in model.model_fields_set:
        value = getattr(model, name)
        if value is None:
            continue
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            out.update(_flatten(value, normal, f"{path}."))
        elif isinstance(value, list):
            raw = [v.model_dump() if isinstance(v, BaseModel) else v for v in value]
            out[path] = normal[path](raw) if path in normal else raw
        else:
            out[path] = normal[path](value) if path in normal else value
    return out


def model_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every flat field path of a settings model, in declaration order."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        sub = submodel(info.annotation)
        if sub is not None:
            paths.extend(model_paths(sub, f"{prefix}{name}."))
        else:
            paths.append(f"{prefix}{name}")
    return paths


def submodel(annotation: Any) -> type[BaseModel] | None:
    """The nested settings model inside an annotation like ``Voice | None``, if any."""
    for arg in getattr(annotation, "__args__", ()) or (annotation,):
        if isinstance(arg, type) and issubclass(arg, StrictSettings):
            return arg
    return None


def unflatten(flat: Settings) -> dict[str, Any]:
    """Flat dotted paths → nested dict (for building carrier request bodies)."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out
