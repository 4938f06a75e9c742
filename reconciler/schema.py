"""JSON Schema of the config files, generated from the pydantic models (for editors)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .config import ProviderConfig
from .models import TelnyxSettings, WavixSettings


class _ProviderEntry(ProviderConfig):
    api_key: str | None = Field(  # type: ignore[assignment]
        default=None,
        pattern=r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$",
        description="Only as an environment reference: ${WAVIX_API_KEY}",
    )


class _NumberEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str = Field(description="Name of an account under providers")
    number: str = Field(
        pattern=r"^\+[0-9]{1,15}\*?$",
        description='Exact E.164 number "+13135550100" or prefix pattern "+1313555*"',
    )
    profile: str | None = Field(default=None, description="Name of a profile")
    settings: WavixSettings | TelnyxSettings | None = None


class ConfigFile(BaseModel):
    """One reconciler config file (a directory of them is merged)."""

    model_config = ConfigDict(extra="forbid", title="reconciler config")
    providers: dict[str, _ProviderEntry] | None = None
    profiles: dict[str, WavixSettings | TelnyxSettings] | None = None
    numbers: list[_NumberEntry] | None = None


def _drop_null(node: Any) -> Any:
    """Settings are optional by omission, never by ``null`` (the loader rejects null)."""
    if isinstance(node, dict):
        node = {k: _drop_null(v) for k, v in node.items()}
        options = node.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            node.pop("anyOf")
            if node.get("default", 0) is None:
                node.pop("default")
            if len(rest) == 1:
                node.update(rest[0])
            else:
                node["anyOf"] = rest
        return node
    if isinstance(node, list):
        return [_drop_null(v) for v in node]
    return node


def config_schema() -> dict[str, Any]:
    schema = _drop_null(ConfigFile.model_json_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
