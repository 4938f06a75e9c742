"""The one HTTP policy (providers/http.py): retries, backoff, carrier rate hints, time bounds,
the per-key budget and key scrubbing, on the fake clock with an in-test transport."""

from __future__ import annotations

import asyncio
import email.utils
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler import errors
from reconciler.clock import FakeClock
from reconciler.providers.http import (
    Budget,
    Counter,
    Http,
    RetryPolicy,
    check_key,
    parse_retry_after,
    reset_epoch,
    reset_seconds,
    retry_after_hint,
    scrub,
)
from reconciler.providers.telnyx import TelnyxProvider
from reconciler.providers.wavix import WavixProvider

KEY = "sk_CANARY_3b9f"


def answers(*items: Any) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(items)

    def handle(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handle


def make_http(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: FakeClock,
    *,
    policy: RetryPolicy | None = None,
    hint: Any = retry_after_hint,
    key: str = KEY,
) -> Http:
    return Http(
        account="acct",
        base_url="https://carrier.invalid",
        api_key=key,
        clock=clock,
        budget=Budget(4, None, clock),
        transport=httpx.MockTransport(handler),
        policy=policy or RetryPolicy(),
        retry_hint=hint,
        rng=random.Random(7),
    )


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_idempotent_requests_retry_retryable_statuses(clock: FakeClock, status: int) -> None:
    http = make_http(answers(httpx.Response(status), httpx.Response(200, json={})), clock)
    counter = Counter()
    assert (await http.request("GET", "/x", counter=counter)).status_code == 200
    assert counter.n == 2 and len(clock.slept) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_other_statuses_are_not_retried(clock: FakeClock, status: int) -> None:
    http = make_http(answers(httpx.Response(status, text="no")), clock)
    with pytest.raises(errors.ProviderError) as info:
        await http.request("GET", "/x")
    assert info.value.status == status and clock.slept == []


async def test_backoff_is_full_jitter_and_bounded_by_attempts(clock: FakeClock) -> None:
    http = make_http(answers(*[httpx.Response(503)] * 5), clock)
    with pytest.raises(errors.ServerError, match=r"\[acct\] GET /x → 503: .*\(5 attempts\)"):
        await http.request("GET", "/x")
    assert len(clock.slept) == 4
    for attempt, slept in enumerate(clock.slept, 1):
        assert 0 <= slept <= min(8.0, 0.5 * 2 ** (attempt - 1))
    assert len(set(clock.slept)) == 4  # jittered, not a fixed ladder


async def test_total_time_bounds_retries(clock: FakeClock) -> None:
    slow = [httpx.Response(429, headers={"Retry-After": "50"})] * 5
    http = make_http(answers(*slow), clock, policy=RetryPolicy(total_s=120))
    with pytest.raises(errors.RateLimitError):
        await http.request("GET", "/x")
    assert clock.slept == [50.0, 50.0]  # a third wait would pass the 120 s budget


async def test_retry_after_seconds_and_http_date(clock: FakeClock) -> None:
    when = email.utils.formatdate(clock.wall() + 7, usegmt=True)
    http = make_http(
        answers(
            httpx.Response(503, headers={"Retry-After": "3"}),
            httpx.Response(503, headers={"Retry-After": when}),
            httpx.Response(200, json={}),
        ),
        clock,
    )
    await http.request("GET", "/x")
    assert clock.slept[0] == 3.0 and 3.0 <= clock.slept[1] <= 4.0  # the wall clock moved 3 s


async def test_carrier_hints_telnyx_seconds_and_wavix_unix_time(clock: FakeClock) -> None:
    telnyx = make_http(
        answers(
            httpx.Response(429, headers={"x-ratelimit-reset": "4"}), httpx.Response(200, json={})
        ),
        clock,
        hint=TelnyxProvider.retry_hint,
    )
    await telnyx.request("GET", "/x")
    assert clock.slept == [4.0]
    reset_at = str(int(clock.wall()) + 9)
    wavix = make_http(
        answers(
            httpx.Response(429, headers={"X-RateLimit-Reset": reset_at}),
            httpx.Response(200, json={}),
        ),
        clock,
        hint=WavixProvider.retry_hint,
    )
    await wavix.request("GET", "/x")
    assert 8.0 <= clock.slept[1] <= 9.0


async def test_non_idempotent_requests_are_not_retried_except_named_statuses(
    clock: FakeClock,
) -> None:
    http = make_http(answers(httpx.Response(503)), clock)
    with pytest.raises(errors.ServerError):
        await http.request("POST", "/jobs")
    lost = make_http(answers(httpx.ReadTimeout("lost")), clock)
    with pytest.raises(errors.TransportError):
        await lost.request("POST", "/jobs")
    assert clock.slept == []
    limited = make_http(answers(httpx.Response(429), httpx.Response(202, json={})), clock)
    response = await limited.request("POST", "/jobs", retry_statuses=frozenset({429}))
    assert response.status_code == 202 and len(clock.slept) == 1


async def test_idempotent_write_retries_transport_errors(clock: FakeClock) -> None:
    http = make_http(answers(httpx.ConnectError("down"), httpx.Response(200, json={})), clock)
    assert (await http.request("PATCH", "/numbers", idempotent=True)).status_code == 200


@pytest.mark.parametrize(
    "key", [KEY, "sk_\x07bell", "sk_clé_ünïcode", "sk_line\nbreak", "sk_tab\tkey"]
)
async def test_keys_never_appear_in_errors(clock: FakeClock, key: str) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused, header was {request.headers['authorization']!r}")

    http = make_http(echo, clock, key=key)
    # A key that cannot be sent is refused before any HTTP library sees it; a sendable key is
    # scrubbed from whatever the library says.
    expected = errors.TransportError if check_key(key) is None else errors.ConfigError
    with pytest.raises(expected) as info:
        await http.request("GET", "/x")
    text = str(info.value) + repr(info.value)
    assert key not in text and repr(key)[1:-1] not in text


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("KEY0123abc_-.", True),
        ("", False),
        (" padded", False),
        ("has space", False),
        ("ctrl\x01", False),
        ("ünïcode", False),
        ("tab\t", False),
    ],
)
def test_check_key_refuses_unsendable_keys_without_echoing(key: str, ok: bool) -> None:
    why = check_key(key)
    assert (why is None) is ok
    if why and key.strip():
        assert key.strip() not in why


def test_scrub_covers_escaped_forms() -> None:
    key = "k\x01ü"
    for form in (key, repr(key)[1:-1], key.encode("unicode_escape").decode()):
        assert "k" not in scrub(f"<{form}>", key).strip("<>*")


def test_header_parsers() -> None:
    assert parse_retry_after("2.5", 0) == 2.5
    assert parse_retry_after("garbage", 0) is None
    assert parse_retry_after("-3", 0) == 0.0
    assert reset_seconds("12") == 12.0 and reset_seconds("x") is None
    assert reset_epoch("1000", 990.0) == 10.0 and reset_epoch("", 0) is None


async def test_budget_bounds_concurrency_and_rate(clock: FakeClock) -> None:
    budget = Budget(2, 5.0, clock)
    inside = 0
    peak = 0
    started: list[float] = []

    async def one() -> None:
        nonlocal inside, peak
        async with budget:
            started.append(clock.now())
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0)
            inside -= 1

    async def go() -> None:
        await asyncio.gather(*(one() for _ in range(20)))

    await go()
    assert peak <= 2
    span = max(started) - min(started)
    # 5 tokens at once (the burst), then 5 per second: 20 requests take ≥ 3 s.
    assert span >= 2.9


def test_one_budget_is_shared_by_accounts_with_the_same_key(clock: FakeClock) -> None:
    from reconciler.config import ProviderConfig
    from reconciler.providers import open_account

    budgets: dict[Any, Any] = {}
    cfg = ProviderConfig.model_validate(
        {"type": "wavix", "api_key": KEY, "base_url": "https://api.wavix.com"}
    )
    a = open_account("a", cfg, "p.yaml:1", budgets=budgets, clock=clock)
    b = open_account("b", cfg, "p.yaml:5", budgets=budgets, clock=clock)
    assert a.http.budget is b.http.budget and len(budgets) == 1
