"""The Wavix spec the contract tests check against: the official document with 64-bit ids.

The official spec types ``Number.id``, destination ``id`` and the ``{id}`` path parameter as
``int32``, yet its own examples use 11-12 digit ids (``47832123321``) and the sandbox seeds ids
like them (docs/sandbox-wavix.md). Only those three ``format``s are widened to ``int64``;
everything else is checked as published.
"""

from __future__ import annotations

import json
from functools import lru_cache

from conftest import spec_path
from openapi_core import OpenAPI

SPEC = "wavix-numbers.openapi.json"


@lru_cache(maxsize=1)
def wavix_spec() -> OpenAPI:
    data = json.loads(spec_path(SPEC).read_text())
    schemas = data["components"]["schemas"]
    widened = [
        schemas["Number"]["properties"]["id"],
        schemas["InboundCallDestination"]["properties"]["id"],
        *(
            p["schema"]
            for op in data["paths"]["/v1/numbers/{id}"].values()
            for p in op.get("parameters", ())
            if p["name"] == "id"
        ),
    ]
    for schema in widened:
        assert schema["format"] == "int32", "the published spec changed: revisit this helper"
        schema["format"] = "int64"
    return OpenAPI.from_dict(data)
