"""The client against carrier answers nobody here wrote (issue 15): property test.

Every answer is drawn from the carriers' vendored OpenAPI response schemas (tests/contracts/,
``$ref`` resolved here into self-contained schemas, sizes capped) with ``hypothesis-jsonschema``,
mixed with hostile paging (huge, negative, missing, inconsistent counts; small, short, empty and
repeated pages), duplicate ids and E.164s, nulls in optional fields, and the documented error
bodies. A mock carrier (``httpx.MockTransport``) serves them to the real client, and the
commands users run go through the CLI: ``plan``, ``drift``, ``export`` and ``apply`` of the
plan (``--auto-approve``; Telnyx job answers come from the schema too).

Each command must end with an exit code the CLI documents (0-4), with no uncaught exception or
traceback, in at most ``MAX_REQUESTS`` requests and ``MAX_PEAK`` bytes of allocation peak; an
exit 1 without an injected error status must say "carrier data".

The accounts are reached through the runner's one way of opening accounts, with the mock as
the account's transport and a fake clock (so job polling never waits for real).
"""

from __future__ import annotations

import json
import math
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from unittest import mock

import httpx
import hypothesis_jsonschema._from_schema as _hjs
from click.testing import CliRunner
from conftest import spec_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import utils as _cu
from hypothesis_jsonschema import from_schema

from reconciler import runner
from reconciler.cli import main
from reconciler.clock import FakeClock
from reconciler.export import files as export_files

MAX_REQUESTS = 200
MAX_PEAK = 64 * 1024 * 1024
EXAMPLES = 40
COMMANDS = ("plan", "drift", "export", "apply")
Json = Any


# ---- hypothesis-jsonschema 0.23 on a newer hypothesis: ``many`` became a context manager


class _Many:
    """The old ``many(...).more()`` protocol over hypothesis' iterator form."""

    def __init__(self, data: Any, **kwargs: Any) -> None:
        self._many = _cu.many(data, **kwargs)
        self._many.__enter__()
        self._elements = iter(self._many)

    def more(self) -> bool:
        try:
            next(self._elements)
        except StopIteration:
            self._many.__exit__(None)
            return False
        return True

    def reject(self) -> None:
        self._many.reject()


if not hasattr(_cu.many, "more"):
    _hjs.cu = type("cu", (), {"many": _Many})  # type: ignore[assignment]


# ---- schemas: the vendored response schemas, self-contained and small

_DROP = {"example", "examples", "discriminator", "readOnly", "writeOnly", "deprecated", "xml"}
_DROP |= {"externalDocs", "title", "description", "$schema", "contentMediaType"}


def resolve(node: Json, root: Json, depth: int = 0) -> Json:
    """``node`` with every ``$ref`` inlined (recursion cut at depth 8), documentation keys
    dropped, arrays at most 3 items, free strings at most 12 characters, no extra keys."""
    if isinstance(node, list):
        return [resolve(n, root, depth) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        if depth > 8:
            return {}
        target = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**resolve(target, root, depth + 1), **resolve(rest, root, depth)}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key.startswith("x-"):
            continue
        if key == "properties":
            out[key] = {p: resolve(s, root, depth) for p, s in value.items()}
        else:
            out[key] = resolve(value, root, depth)
    if out.get("type") == "array" or "items" in out:
        out["maxItems"] = min(out.get("maxItems", 3), 3)
    if out.get("type") == "object" or "properties" in out:
        out.setdefault("additionalProperties", False)
    if out.get("type") == "string" and not {"pattern", "enum", "format", "const"} & out.keys():
        out["maxLength"] = min(out.get("maxLength", 12), 12)
    return out


@cache
def _spec(name: str) -> Json:
    return json.loads(spec_path(name).read_text(encoding="utf-8"))


WAVIX, TELNYX = "wavix-numbers.openapi.json", "telnyx-phone-numbers.openapi.json"


def body_schema(spec: str, path: str, method: str, status: str) -> Json:
    root = _spec(spec)
    response = resolve(root["paths"][path][method]["responses"][status], root)
    return response["content"]["application/json"]["schema"]


def item_schema(spec: str, path: str, key: str) -> Json:
    return body_schema(spec, path, "get", "200")["properties"][key]["items"]


WAVIX_ERRORS = {400: ("/v1/numbers", "get"), 401: ("/v1/numbers", "get")}
WAVIX_ERRORS |= {403: ("/v1/numbers", "get"), 404: ("/v1/numbers/{id}", "get")}
TELNYX_ERRORS = {s: ("/phone_numbers", "get") for s in (400, 401, 404, 422, 500)}


@cache
def strategies(carrier: str) -> dict[str, st.SearchStrategy[Any]]:
    if carrier == "wavix":
        out = {
            "number": from_schema(item_schema(WAVIX, "/v1/numbers", "items")),
            "pagination": from_schema(
                body_schema(WAVIX, "/v1/numbers", "get", "200")["properties"]["pagination"]
            ),
            "patched": from_schema(body_schema(WAVIX, "/v1/numbers", "patch", "200")),
        }
        errors = WAVIX_ERRORS
        spec = WAVIX
    else:
        listing = body_schema(TELNYX, "/phone_numbers", "get", "200")
        out = {
            "number": from_schema(listing["properties"]["data"]["items"]),
            "voice": from_schema(item_schema(TELNYX, "/phone_numbers/voice", "data")),
            "pagination": from_schema(listing["properties"]["meta"]),
            "created": from_schema(
                body_schema(TELNYX, "/phone_numbers/jobs/update_phone_numbers", "post", "202")
            ),
            "job": from_schema(body_schema(TELNYX, "/phone_numbers/jobs/{id}", "get", "200")),
            "jobs": from_schema(body_schema(TELNYX, "/phone_numbers/jobs", "get", "200")),
        }
        errors = TELNYX_ERRORS
        spec = TELNYX
    for status, (path, method) in errors.items():
        out[f"error{status}"] = from_schema(body_schema(spec, path, method, str(status)))
    return out


# ---- scenarios

PAGING = ("honest", "missing", "huge", "negative", "generated", "same_page", "lying", "small")


@st.composite
def scenarios(draw: Callable[..., Any], carrier: str) -> dict[str, Any]:
    gen = strategies(carrier)
    numbers = draw(st.lists(gen["number"], max_size=4))
    sane = draw(st.sampled_from([True, True, True, False]))  # well-formed ids and numbers
    for i, item in enumerate(numbers):
        if sane:
            if carrier == "wavix":
                item.update(id=1000 + i, number=f"1313555{i:04d}")
            else:
                item.update(id=f"n{i}", phone_number=f"+1313555{i:04d}", status="active")
        if draw(st.booleans()) and len(item) > 1:  # a null where a field may be left out
            item[draw(st.sampled_from(sorted(k for k in item if k != "id")))] = None
    twin = draw(st.sampled_from(["none", "id", "e164"]))
    if len(numbers) >= 2 and twin != "none":
        key = "id" if twin == "id" else ("number" if carrier == "wavix" else "phone_number")
        if key in numbers[0]:
            numbers[1][key] = numbers[0][key]
    out: dict[str, Any] = {
        "carrier": carrier,
        "numbers": numbers,
        "paging": draw(st.sampled_from(("honest",) * 6 + PAGING)),
        "meta": draw(gen["pagination"]),
        "small": draw(st.integers(1, 2)),
        "fail_at": draw(st.sampled_from([None, None, None]) | st.integers(1, 8)),
        "status": draw(
            st.sampled_from(sorted(WAVIX_ERRORS if carrier == "wavix" else TELNYX_ERRORS))
        ),
    }
    out["error"] = draw(gen[f"error{out['status']}"])
    if carrier == "wavix":
        out["patched"] = draw(gen["patched"])
    else:
        voice = [draw(gen["voice"]) for _ in numbers]
        if draw(st.booleans()):  # the two listings agree on ids
            for item, row in zip(numbers, voice, strict=True):
                if "id" in item:
                    row["id"] = item["id"]
        out["voice"] = voice
        out["created"], out["job"], out["jobs"] = (
            draw(gen["created"]),
            draw(gen["job"]),
            draw(gen["jobs"]),
        )
        if sane:
            out["created"]["data"] = {**(out["created"].get("data") or {}), "id": "job-1"}
            job = out["job"].setdefault("data", {})
            job.update(id="job-1", status=draw(st.sampled_from(["pending", "completed", "failed"])))
    return out


class Carrier:
    """Serves one scenario and counts requests."""

    def __init__(self, scenario: dict[str, Any]) -> None:
        self.s = scenario
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        s = self.s
        if s["fail_at"] is not None and self.requests == s["fail_at"]:
            return httpx.Response(s["status"], json=s["error"])
        path = request.url.path
        if s["carrier"] == "wavix":
            return self.wavix(request, path)
        return self.telnyx(request, path.removeprefix("/v2"))

    def page(self, items: list[Any], page: int, asked: int) -> tuple[list[Any], dict[str, Any]]:
        """The slice and the paging facts for one listing page, per the scenario's mode."""
        mode = self.s["paging"]
        size = self.s["small"] if mode in ("small", "same_page") else asked
        if mode == "same_page":
            page = 1
        chunk = items[(page - 1) * size : page * size]
        total = len(items)
        facts = {"page": page, "size": size, "total": total, "pages": math.ceil(total / size)}
        if mode == "huge":
            facts["pages"] = 10**9
        elif mode == "negative":
            facts.update(size=-1, pages=-1)
        elif mode == "lying":
            facts.update(total=total + 1000)
        elif mode == "same_page":
            facts.update(total=None, pages=None)
        return chunk, facts

    def wavix(self, request: httpx.Request, path: str) -> httpx.Response:
        numbers = self.s["numbers"]
        if request.method == "PATCH":
            return httpx.Response(200, json=self.s["patched"])
        if path == "/v1/numbers":
            asked = int(request.url.params.get("per_page", "25"))
            chunk, f = self.page(numbers, int(request.url.params.get("page", "1")), asked)
            pagination: Any = {
                "current_page": f["page"],
                "per_page": f["size"],
                "total": f["total"],
                "total_pages": f["pages"],
            }
            if self.s["paging"] == "missing":
                pagination = None
            elif self.s["paging"] == "generated":
                pagination = self.s["meta"]
            return httpx.Response(200, json={"items": chunk, "pagination": pagination})
        id_ = path.rsplit("/", 1)[-1]
        for item in numbers:
            if str(item.get("id")) == id_:
                return httpx.Response(200, json=item)
        return httpx.Response(404, json=self.s["error"] if self.s["status"] == 404 else {})

    def telnyx(self, request: httpx.Request, path: str) -> httpx.Response:
        s = self.s
        if request.method == "POST":
            return httpx.Response(202, json=s["created"])
        if path == "/phone_numbers/jobs":
            return httpx.Response(200, json=s["jobs"])
        if path.startswith("/phone_numbers/jobs/"):
            return httpx.Response(200, json=s["job"])
        listings = {"/phone_numbers": s["numbers"], "/phone_numbers/voice": s["voice"]}
        if path in listings:
            asked = int(request.url.params.get("page[size]", "20"))
            page = int(request.url.params.get("page[number]", "1"))
            chunk, f = self.page(listings[path], page, asked)
            meta: Any = {
                "page_number": f["page"],
                "page_size": f["size"],
                "total_pages": f["pages"],
                "total_results": f["total"],
            }
            if s["paging"] == "missing":
                meta = None
            elif s["paging"] == "generated":
                meta = s["meta"]
            return httpx.Response(200, json={"data": chunk, "meta": meta})
        parts = path.split("/")  # /phone_numbers/{id}[/voice]
        rows = s["voice"] if path.endswith("/voice") else s["numbers"]
        for item in rows:
            if len(parts) > 2 and str(item.get("id")) == parts[2]:
                return httpx.Response(200, json={"data": item})
        return httpx.Response(404, json={"errors": []})


# ---- running the commands


def config(carrier: str) -> str:
    if carrier == "wavix":
        extra = "    base_url: http://carrier.test\n    async_verify_timeout_s: 0.05\n"
        settings_ = "{sms_enabled: true}"
    else:
        extra = "    base_url: http://carrier.test/v2\n    job_timeout_s: 0.05\n"
        settings_ = "{tags: [a]}"
    return (
        "providers:\n  acct:\n"
        f"    type: {carrier}\n    api_key: ${{CARRIER_TEST_KEY}}\n{extra}"
        "    concurrency: 4\n    poll_interval_s: 0.01\n    verify_timeout_s: 0.05\n"
        f"numbers:\n  - {{provider: acct, number: '+1*', settings: {settings_}}}\n"
    )


@contextmanager
def served(carrier: Carrier) -> Iterator[None]:
    """Accounts opened by the runner (and export) reach ``carrier`` on a fake clock."""
    real = runner.open_accounts

    def opened(state: Any, **kwargs: Any) -> Any:
        kwargs["transports"] = {"acct": httpx.MockTransport(carrier)}
        kwargs["clock"] = FakeClock()
        return real(state, **kwargs)

    with (
        mock.patch.object(runner, "open_accounts", opened),
        mock.patch.object(export_files, "open_accounts", opened),
    ):
        yield


def check(scenario: dict[str, Any]) -> list[tuple[str, int]]:
    """Every command once on ``scenario``; the assertions of the module docstring."""
    carrier = Carrier(scenario)
    outcomes = []
    with TemporaryDirectory() as tmp, served(carrier):
        cfg = Path(tmp) / "config.yaml"
        cfg.write_text(config(scenario["carrier"]), encoding="utf-8")
        env = {
            "CARRIER_TEST_KEY": "k-test-123456",
            "NO_COLOR": "1",
            "RECONCILER_STATE_DIR": str(Path(tmp) / "state"),
            "RECONCILER_SANDBOX_DB": str(Path(tmp) / "sandbox.sqlite3"),
        }
        args = {
            "plan": ["plan", str(cfg)],
            "drift": ["drift", str(cfg)],
            "export": ["export", str(cfg), "--account", "acct"],
            "apply": ["apply", str(cfg), "--auto-approve"],
        }
        for name in COMMANDS:
            carrier.requests = 0
            tracemalloc.start()
            try:
                result = CliRunner().invoke(main, args[name], env=env)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            shown = f"{name}: exit {result.exit_code}\n{result.output[-2000:]}"
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise AssertionError(shown) from result.exception
            assert result.exit_code in (0, 1, 2, 3, 4), shown
            assert "Traceback" not in result.output, shown
            assert "k-test-123456" not in result.output, shown
            assert carrier.requests <= MAX_REQUESTS, f"{carrier.requests} requests; {shown}"
            assert peak < MAX_PEAK, f"peak {peak} bytes; {shown}"
            if result.exit_code == 1 and scenario["fail_at"] is None:
                assert "carrier data" in result.output, shown
            outcomes.append((name, result.exit_code))
    return outcomes


_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@_SETTINGS
@given(scenarios("wavix"))
def test_wavix_commands_survive_generated_answers(scenario: dict[str, Any]) -> None:
    assert len(check(scenario)) == len(COMMANDS)


@_SETTINGS
@given(scenarios("telnyx"))
def test_telnyx_commands_survive_generated_answers(scenario: dict[str, Any]) -> None:
    assert len(check(scenario)) == len(COMMANDS)


def test_hostile_paging_is_reported_as_carrier_data() -> None:
    """The mock itself: a huge page count is the carrier-data exit, not a success."""
    scenario = {
        "carrier": "wavix",
        "numbers": [{"id": 1, "number": "13135550000"}],
        "paging": "huge",
        "meta": {},
        "small": 1,
        "fail_at": None,
        "status": 400,
        "error": {},
        "patched": {},
    }
    assert check(scenario) == [(c, 1) for c in COMMANDS]
