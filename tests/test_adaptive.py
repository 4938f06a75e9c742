"""Adaptive concurrency per API key (providers/http.py ``Budget``, issue 18 part 5): the window
starts small, ramps up while the carrier shows room, halves on 429 or a budget running dry,
never passes the account's ceiling and is shared by every account on the key. Fake clock and an
in-test transport that counts requests in flight."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import httpx
import pytest

from reconciler.clock import FakeClock
from reconciler.providers.http import START_WINDOW, Budget, Http, RetryPolicy, rate_state

KEY = "sk_CANARY_adapt"
ROOM = {"x-ratelimit-limit": "10000", "x-ratelimit-remaining": "9000", "x-ratelimit-reset": "50"}


class Carrier:
    """Answers after a simulated 100 ms, counting requests in flight."""

    def __init__(self, clock: FakeClock, headers: dict[str, str] | None = None) -> None:
        self.clock = clock
        self.headers = headers if headers is not None else ROOM
        self.inside = 0
        self.seen: list[int] = []  # requests in flight as each one arrived
        self.refuse = 0  # answer this many next requests with a bare 429

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.inside += 1
        self.seen.append(self.inside)
        self.clock.advance(0.1)
        for _ in range(5):
            await asyncio.sleep(0)
        self.inside -= 1
        if self.refuse:
            self.refuse -= 1
            return httpx.Response(429, headers={"retry-after": "0"})
        return httpx.Response(200, json={}, headers=self.headers)


def http(carrier: Carrier, budget: Budget, account: str = "acct") -> Http:
    return Http(
        account=account,
        base_url="https://carrier.invalid",
        api_key=KEY,
        clock=carrier.clock,
        budget=budget,
        transport=httpx.MockTransport(carrier),
        policy=RetryPolicy(),
        rng=random.Random(3),
    )


async def many(client: Http, n: int) -> None:
    await asyncio.gather(*(client.request("GET", f"/p/{i}") for i in range(n)))


async def test_ramps_up_from_a_small_window_while_the_rate_limit_shows_room(
    clock: FakeClock,
) -> None:
    carrier = Carrier(clock)
    budget = Budget(16, None, clock)
    await many(http(carrier, budget), 200)
    assert carrier.seen[:START_WINDOW] == list(range(1, START_WINDOW + 1))
    assert max(carrier.seen[: START_WINDOW + 1]) <= START_WINDOW  # no more than 4 at first
    assert max(carrier.seen) == 16 and budget.window == 16
    assert budget.describe() == (
        "up to 16 requests in flight (ramped from 4: the rate limit showed room; "
        "ceiling concurrency=16)"
    )


async def test_a_carrier_without_rate_headers_shows_room_by_answering(clock: FakeClock) -> None:
    carrier = Carrier(clock, headers={})  # Wavix: no rate-limit headers documented
    budget = Budget(12, None, clock)
    await many(http(carrier, budget), 100)
    assert max(carrier.seen) == 12 and "no rate-limit headers" in budget.why


async def test_never_above_the_ceiling(clock: FakeClock) -> None:
    carrier = Carrier(clock)
    budget = Budget(6, None, clock)
    await many(http(carrier, budget), 300)
    assert max(carrier.seen) == 6 and budget.window == 6 and budget.peak == 6


async def test_a_window_that_is_never_full_does_not_grow(clock: FakeClock) -> None:
    carrier = Carrier(clock)
    budget = Budget(16, None, clock)
    client = http(carrier, budget)
    for i in range(50):  # one at a time: the window is never the limit
        await client.request("GET", f"/p/{i}")
    assert budget.window == START_WINDOW


async def test_backs_off_on_429_once_per_round(clock: FakeClock) -> None:
    budget = Budget(16, None, clock, start=16)
    tickets = []
    for _ in range(16):
        tickets.append(await budget.__aenter__())
    for _ in tickets:
        await budget.__aexit__()
    for t in tickets[:10]:  # one round's 429s: one cut
        budget.observe(t, 429)
    assert budget.window == 8 and budget.cuts == 1
    assert budget.why == "backed off: the carrier answered 429"
    later = await budget.__aenter__()
    await budget.__aexit__()
    budget.observe(later, 429)  # a request sent after the cut: the next round
    assert budget.window == 4 and budget.cuts == 2


async def test_429s_through_http_halve_the_window_and_are_retried(clock: FakeClock) -> None:
    carrier = Carrier(clock)
    budget = Budget(16, None, clock)
    client = http(carrier, budget)
    await many(client, 200)
    assert budget.window == 16
    carrier.refuse = 16
    await many(client, 16)  # a round of 429s, each retried: one cut, then room again
    assert budget.cuts == 1
    assert carrier.seen[-1] <= 16 and budget.window < 16


async def test_backs_off_when_the_remaining_budget_runs_low_before_the_reset(
    clock: FakeClock,
) -> None:
    budget = Budget(16, None, clock, start=8)
    t = await budget.__aenter__()
    await budget.__aexit__()
    budget.observe(t, 200, remaining=9, reset_s=30.0, elapsed=0.1)  # ~1 round left, 300 to reset
    assert budget.window == 4
    assert budget.why == "backed off: x-ratelimit-remaining 9 with the reset 30s away"
    # The same few requests left, but the window resets within a round: no reason to slow down.
    t = await budget.__aenter__()
    await budget.__aexit__()
    budget.observe(t, 200, remaining=5, reset_s=0.05, elapsed=0.1)
    assert budget.window == 4 and budget.cuts == 1


async def test_a_rate_limit_without_room_holds_the_window(clock: FakeClock) -> None:
    carrier = Carrier(
        clock,
        {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "12", "x-ratelimit-reset": "30"},
    )
    budget = Budget(16, None, clock)
    await many(http(carrier, budget), 40)
    assert budget.window == START_WINDOW and max(carrier.seen) == START_WINDOW


async def test_two_accounts_on_one_key_share_the_window(clock: FakeClock) -> None:
    carrier = Carrier(clock)
    budget = Budget(8, None, clock)
    a, b = http(carrier, budget, "a"), http(carrier, budget, "b")
    await asyncio.gather(many(a, 60), many(b, 60))
    assert max(carrier.seen) == 8  # both accounts together, never one window each
    carrier.refuse = 1
    await a.request("GET", "/x")
    assert budget.window == 4  # a's 429 slowed b too: one budget per key
    assert a.budget is b.budget


def test_one_budget_per_key_through_open_account(clock: FakeClock) -> None:
    from reconciler.config import ProviderConfig
    from reconciler.providers import open_account

    budgets: dict[Any, Any] = {}
    cfg = ProviderConfig.model_validate(
        {"type": "telnyx", "api_key": KEY, "base_url": "https://api.telnyx.com/v2"}
    )
    a = open_account("a", cfg, "p.yaml:1", budgets=budgets, clock=clock)
    b = open_account("b", cfg, "p.yaml:5", budgets=budgets, clock=clock)
    assert a.http.budget is b.http.budget
    assert a.http.budget.window == min(START_WINDOW, cfg.concurrency)
    assert a.http.budget.concurrency == cfg.concurrency


def test_rate_state_reads_both_carriers_headers() -> None:
    telnyx = httpx.Response(200, headers=ROOM)
    assert rate_state(telnyx, 0.0) == (9000, 50.0)
    wavix = httpx.Response(
        429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1790000007"}
    )
    assert rate_state(wavix, 1_790_000_000.0) == (0, 7.0)
    assert rate_state(httpx.Response(200), 0.0) == (None, None)
    assert rate_state(httpx.Response(200, headers={"x-ratelimit-remaining": "x"}), 0.0) == (
        None,
        None,
    )


async def test_the_verbose_log_says_what_concurrency_was_used_and_why(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    carrier = Carrier(clock)
    client = http(carrier, Budget(16, None, clock), "wavix-main")
    await many(client, 200)
    with caplog.at_level(logging.INFO, logger="reconciler.providers.http"):
        await client.aclose()
    assert caplog.messages == [
        "[wavix-main] read with up to 16 requests in flight (ramped from 4: the rate limit "
        "showed room; ceiling concurrency=16)"
    ]
