"""Schemathesis against both simulators, in process, on the vendored official specs.

Every operation the sandbox simulates is fuzzed (examples from the schema, the coverage phase's
boundary and negative cases, then random positive and negative data) and each response must pass
``CHECKS``: no 5xx the sandbox did not choose, a status the operation declares, the declared
content type, a body that matches the declared schema, invalid input refused with a 4xx, and a
method the path does not have answered 405 with an ``Allow`` header.

Seeded and bounded (``MAX_EXAMPLES`` per operation), on a fresh sandbox database per operation
(``tmp_path``), authenticated with each simulator's documented full-access key.

Where the official spec and the simulator's documented behaviour part ways, the spec is adjusted
narrowly here, with the reason beside it:

* Wavix ids: the spec types them ``int32`` while its own examples are 11-12 digits; the widened
  document of ``wavix_contract`` (three ``format``s) is the one checked.
* Operations the sandbox does not simulate are left out (``SIMULATED``): Wavix's ``DELETE
  /v1/numbers`` (answered 405 on purpose: the reconciler never releases numbers), Telnyx's
  slim and messaging listings, and the per-number ``enable_emergency`` action.
* Telnyx's messaging-profile and emergency bulk operations are fuzzed from their own vendored
  extract (``telnyx-bulk-messaging-emergency.openapi.json``), under the same mount.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from conftest import spec_path
from schemathesis.config import SchemathesisConfig
from wavix_contract import wavix_spec

from reconciler.sandbox import Sandbox, telnyx, wavix

MAX_EXAMPLES = int(os.environ.get("RECONCILER_FUZZ_EXAMPLES", "25"))
"""Per operation, for the fuzzing phase. For a deeper run by hand, set the variable higher and
``RECONCILER_FUZZ_SEED`` to another seed."""
SEED = int(os.environ.get("RECONCILER_FUZZ_SEED", "20261207"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",
)

WAVIX_SIMULATED = {
    ("GET", "/v1/numbers"),
    ("PATCH", "/v1/numbers"),
    ("GET", "/v1/numbers/{id}"),
    ("PATCH", "/v1/numbers/{id}"),
}
TELNYX_SIMULATED = {
    ("GET", "/phone_numbers"),
    ("GET", "/phone_numbers/voice"),
    ("GET", "/phone_numbers/{id}"),
    ("PATCH", "/phone_numbers/{id}"),
    ("GET", "/phone_numbers/{id}/voice"),
    ("PATCH", "/phone_numbers/{id}/voice"),
    ("GET", "/phone_numbers/jobs"),
    ("POST", "/phone_numbers/jobs/update_phone_numbers"),
    ("GET", "/phone_numbers/jobs/{id}"),
}
TELNYX_BULK_SIMULATED = {
    ("POST", "/messaging_numbers_bulk_updates"),
    ("GET", "/messaging_numbers_bulk_updates/{order_id}"),
    ("POST", "/phone_numbers/jobs/update_emergency_settings"),
}


def _config(key: str, base_url: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "base-url": base_url,
            "headers": {"Authorization": f"Bearer {key}"},
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "database": "none",
                "deterministic": True,
            },
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


def _schema(raw: dict[str, Any], mount: str, key: str, simulated: set[tuple[str, str]]) -> Any:
    schema = schemathesis.openapi.from_dict(
        copy.deepcopy(raw), config=_config(key, f"http://sandbox.invalid{mount}")
    )
    schema.app = CURRENT
    return schema.include(
        func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in simulated
    )


class _CurrentSandbox:
    """The ASGI app Schemathesis calls: forwards to the sandbox of the running test, so each
    operation is fuzzed on a fresh database although the schemas are built at import time;
    ``calls`` counts what reached it."""

    sandbox: Sandbox | None = None
    calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.sandbox is not None, "no sandbox: use the fuzz_sandbox fixture"
        self.calls += 1
        await self.sandbox.app(scope, receive, send)


CURRENT = _CurrentSandbox()


@pytest.fixture(autouse=True)
def fuzz_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A fresh sandbox database for each fuzzed operation, seeded as documented."""
    sb = Sandbox.open(tmp_path / "sandbox.sqlite3")
    CURRENT.sandbox = sb
    yield sb
    CURRENT.sandbox = None
    sb.close()


WAVIX = _schema(wavix_spec().spec.read_value(), wavix.MOUNT, wavix.DEFAULT_KEY, WAVIX_SIMULATED)
# The Telnyx spec's server is https://api.telnyx.com/v2: MOUNT stands for it.
TELNYX = _schema(
    json.loads(spec_path("telnyx-phone-numbers.openapi.json").read_text()),
    telnyx.MOUNT,
    telnyx.DEFAULT_KEY,
    TELNYX_SIMULATED,
)
TELNYX_BULK = _schema(
    json.loads(spec_path("telnyx-bulk-messaging-emergency.openapi.json").read_text()),
    telnyx.MOUNT,
    telnyx.DEFAULT_KEY,
    TELNYX_BULK_SIMULATED,
)


def _call(case: Any) -> None:
    """One fuzzed request, which must reach the sandbox and pass every check in ``CHECKS``."""
    before = CURRENT.calls
    case.call_and_validate()
    assert CURRENT.calls > before, f"{case.method} {case.formatted_path} missed the sandbox"


@WAVIX.parametrize()
def test_wavix_simulator_survives_the_fuzzer(case: Any) -> None:
    _call(case)


@TELNYX.parametrize()
def test_telnyx_simulator_survives_the_fuzzer(case: Any) -> None:
    _call(case)


@TELNYX_BULK.parametrize()
def test_telnyx_bulk_operations_survive_the_fuzzer(case: Any) -> None:
    _call(case)


def test_every_simulated_operation_is_fuzzed() -> None:
    """The filters above cannot silently drop an operation (or all of them)."""
    for schema, simulated in (
        (WAVIX, WAVIX_SIMULATED),
        (TELNYX, TELNYX_SIMULATED),
        (TELNYX_BULK, TELNYX_BULK_SIMULATED),
    ):
        ops = {(r.ok().method.upper(), r.ok().path) for r in schema.get_all_operations()}
        assert ops == simulated
