"""JSON Schema of the config files, generated from the pydantic models (for editors)."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from . import carriers

_KEY_REF = r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$"


def _provider_entry(carrier: carriers.Carrier) -> type[BaseModel]:
    """The ``providers:`` entry of one carrier: its config model, ``type`` fixed to its name and
    ``api_key`` only as an environment reference."""
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{carrier.name.capitalize()}Account",
        __base__=carrier.config_model,
        type=(Literal[carrier.name], ...),  # type: ignore[arg-type]
        api_key=(
            str | None,
            Field(
                default=None,
                pattern=_KEY_REF,
                description=f"Only as an environment reference: ${{{carrier.key_env}}}",
            ),
        ),
    )


def _config_file() -> type[BaseModel]:
    """One reconciler config file (a directory of them is merged), for every registered carrier."""
    known = [carriers.get(name) for name in carriers.names()]
    settings: Any = Union[tuple(c.settings_model for c in known)]  # noqa: UP007
    entries: Any = Union[tuple(_provider_entry(c) for c in known)]  # noqa: UP007

    number_entry = create_model(  # type: ignore[call-overload]
        "_NumberEntry",
        __config__=ConfigDict(extra="forbid"),
        provider=(str, Field(description="Name of an account under providers")),
        number=(
            str,
            Field(
                pattern=r"^\+[0-9]{1,15}\*?$",
                description='Exact E.164 number "+13135550100" or prefix pattern "+1313555*"',
            ),
        ),
        profile=(str | None, Field(default=None, description="Name of a profile")),
        settings=(settings | None, None),
    )
    config_file: type[BaseModel] = create_model(  # type: ignore[call-overload]
        "ConfigFile",
        __config__=ConfigDict(extra="forbid", title="reconciler config"),
        __doc__="One reconciler config file (a directory of them is merged).",
        providers=(dict[str, entries] | None, None),
        profiles=(dict[str, settings] | None, None),
        numbers=(list[number_entry] | None, None),  # type: ignore[valid-type, arg-type]
    )
    return config_file


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
    schema = _drop_null(_config_file().model_json_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
