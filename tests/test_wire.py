"""The light GET sender (providers/wire.py, issue 18 "a lighter read path") under the one HTTP
policy (providers/http.py): real loopback servers only (``http.server`` in a thread, the served
sandbox). What the server sees (request targets, headers) tells which sender was used: the wire
asks for ``Accept-Encoding: gzip``, httpx for ``gzip, deflate``."""

from __future__ import annotations

import asyncio
import functools
import gzip
import http.server
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.clock import FakeClock
from reconciler.errors import ConfigError, TransportError
from reconciler.providers.http import Budget, Http, RetryPolicy, wire_refused
from reconciler.providers.wire import Wire, query

KEY = "sk_CANARY_wire_0000"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")

Answer = Callable[["Handler", int], None]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as carriers serve
    server: Server

    def do_GET(self) -> None:
        with self.server.lock:
            n = len(self.server.seen)
            self.server.seen.append((self.requestline.split(" ")[1], dict(self.headers)))
        self.server.answer(self, n)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Transfer-Encoding" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: Answer) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answer = answer
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api"


@contextmanager
def serving(answer: Answer) -> Iterator[Server]:
    server = Server(answer)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def echo(h: Handler, n: int) -> None:
    h.reply(200, h.path.encode(), {"Content-Type": "application/json"})


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXY_VARS, "RECONCILER_HTTP"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def client(url: str, **kw: Any) -> Http:
    clock = FakeClock()
    return Http(
        account="acct",
        base_url=url,
        api_key=KEY,
        clock=clock,
        budget=Budget(4, None, clock),
        policy=RetryPolicy(attempts=3),
        **{"connections": 4, **kw},
    )


def used_wire(server: Server) -> list[bool]:
    return [h.get("Accept-Encoding") == "gzip" for _, h in server.seen]


TELNYX_JOBS = {
    "filter[type]": "update_phone_numbers",
    "filter[status][]": ["pending", "in_progress"],
    "page[number]": 2,
    "page[size]": 250,
}


# ---- same requests as httpx


async def test_pages_through_the_wire_equal_pages_through_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asks: list[tuple[str, dict[str, Any] | None]] = [
        ("/v1/numbers", {"page": 3, "per_page": 100}),
        ("/phone_numbers/jobs", TELNYX_JOBS),
        ("/phone_numbers", {"handle_messaging_profile_error": True, "x": None, "y": False}),
        ("/phone_numbers/12/voice", None),
        ("/phone_numbers/a b", {"q": "é&=+/ ?"}),  # escaped: sent by httpx, same target
        ("/a/../b", {}),  # a dot segment: httpx's rule, through httpx
    ]
    bodies: dict[str, list[bytes]] = {}
    targets: dict[str, list[str]] = {}
    for sender in ("httpx", "auto"):
        monkeypatch.setenv("RECONCILER_HTTP", sender)
        with serving(echo) as server:
            http = client(server.url)
            try:
                got = [(await http.request("GET", p, params=q)).content for p, q in asks]
            finally:
                await http.aclose()
            bodies[sender] = got
            targets[sender] = [t for t, _ in server.seen]
            if sender == "auto":
                assert used_wire(server) == [True] * 4 + [False] * 2
                ua = {h["User-Agent"] for _, h in server.seen}
                assert {h["Authorization"] for _, h in server.seen} == {f"Bearer {KEY}"}
                assert {h["Accept"] for _, h in server.seen} == {"application/json"}
                assert len(ua) == 1 and ua.pop().startswith("reconciler/")
            else:
                assert not any(used_wire(server))
    assert targets["auto"] == targets["httpx"]
    assert targets["auto"][1] == (
        "/api/phone_numbers/jobs?filter%5Btype%5D=update_phone_numbers"
        "&filter%5Bstatus%5D%5B%5D=pending&filter%5Bstatus%5D%5B%5D=in_progress"
        "&page%5Bnumber%5D=2&page%5Bsize%5D=250"
    )
    assert bodies["auto"] == bodies["httpx"]


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)
_VALUE = st.one_of(st.integers(-5, 10**6), st.booleans(), st.none(), _TEXT, st.floats(0, 9))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    path=st.one_of(
        st.sampled_from(["/v1/numbers", "phone_numbers/x.y/voice", "/", "", "//x", "/a/./b"]),
        st.text(alphabet="ab/.~-_%:;=é ?#", max_size=12),
    ),
    params=st.dictionaries(_TEXT, st.one_of(_VALUE, st.lists(_VALUE, max_size=3)), max_size=4),
)
def test_a_target_the_wire_takes_is_the_one_httpx_sends(path: str, params: dict) -> None:  # type: ignore[type-arg]
    wire, httpx_client = _senders()
    built = httpx_client.build_request("GET", path, params=params)
    target = wire.target(path, params)
    if target is not None:
        assert target == built.url.raw_path.decode("ascii")
    assert query(params) == built.url.query.decode("ascii")


@functools.cache
def _senders() -> tuple[Wire, httpx.AsyncClient]:
    """Built once (nothing is sent: no thread, no connection to close)."""
    base = "http://127.0.0.1:9/telnyx/v2"
    return Wire(base, connections=1, timeout=httpx.Timeout(1.0)), httpx.AsyncClient(base_url=base)


# ---- the policy is the same: statuses, retries, errors


async def test_429_with_retry_after_is_retried_through_the_wire() -> None:
    def answer(h: Handler, n: int) -> None:
        if n == 0:
            h.reply(429, b'{"errors":[]}', {"Retry-After": "2"})
        else:
            h.reply(200, b'{"ok":1}')

    with serving(answer) as server:
        http = client(server.url)
        try:
            response = await http.request("GET", "/v1/numbers", params={"page": 1})
        finally:
            await http.aclose()
    assert response.json() == {"ok": 1}
    assert http.requests_sent == 2 and used_wire(server) == [True, True]
    assert http.clock.slept == [2.0]  # type: ignore[attr-defined]  # the carrier's hint
    assert http.budget.cuts == 1  # the 429 halved the window, as through httpx


async def test_500_then_200() -> None:
    def answer(h: Handler, n: int) -> None:
        h.reply(500, b"boom") if n == 0 else h.reply(200, b"{}")

    with serving(answer) as server:
        http = client(server.url)
        try:
            response = await http.request("GET", "/v1/numbers")
        finally:
            await http.aclose()
    assert response.status_code == 200 and http.requests_sent == 2
    assert used_wire(server) == [True, True]


@pytest.mark.parametrize("tell", [False, True], ids=["silently", "connection-close"])
async def test_a_server_closing_keep_alive_after_each_answer_costs_no_attempt(
    tell: bool, caplog: pytest.LogCaptureFixture
) -> None:
    def answer(h: Handler, n: int) -> None:
        h.reply(200, b'{"n":%d}' % n, {"Connection": "close"} if tell else {})
        h.close_connection = True  # the socket closes after this answer

    with serving(answer) as server:
        http = client(server.url, connections=1)  # one thread: every request reuses its conn
        try:
            got = [(await http.request("GET", "/p")).json()["n"] for _ in range(6)]
        finally:
            await http.aclose()
    assert got == list(range(6))
    assert http.requests_sent == 6 and len(server.seen) == 6  # no attempt was counted twice
    assert used_wire(server) == [True] * 6
    assert "retrying" not in caplog.text


def _reset(h: Handler) -> None:
    """Abort the connection (RST, not FIN)."""
    h.wfile.flush()
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


async def test_a_connection_reset_mid_body_is_retried_then_a_transport_error_without_the_key() -> (
    None
):
    def answer(h: Handler, n: int) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "5000")
        h.end_headers()
        h.wfile.write(f'{{"key":"{KEY}", '.encode())
        _reset(h)

    with serving(answer) as server:
        http = client(server.url)
        try:
            with pytest.raises(TransportError) as caught:
                await http.request("GET", "/v1/numbers", params={"page": 1})
        finally:
            await http.aclose()
    said = str(caught.value)
    assert "after 3 attempts" in said and ("ReadError" in said or "RemoteProtocolError" in said)
    assert KEY not in said and KEY not in repr(caught.value)
    assert len(server.seen) == 3 and used_wire(server) == [True] * 3


async def test_a_server_that_accepts_and_closes_is_a_transport_error() -> None:
    def answer(h: Handler, n: int) -> None:
        _reset(h)

    with serving(answer) as server:
        http = client(server.url)
        try:
            with pytest.raises(TransportError, match="after 3 attempts"):
                await http.request("GET", "/x")
        finally:
            await http.aclose()
    assert len(server.seen) == 3  # one per attempt: the reopen-once rule is for reused conns


async def test_nothing_listening_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed at once: nothing listens there
    http = client(f"http://127.0.0.1:{port}/api")
    try:
        with pytest.raises(TransportError, match="ConnectError"):
            await http.request("GET", "/x")
    finally:
        await http.aclose()


# ---- bodies


async def test_a_gzip_body_is_asked_for_and_decoded() -> None:
    raw = b'{"items":[' + b",".join(b'{"id":%d}' % i for i in range(500)) + b"]}"

    def answer(h: Handler, n: int) -> None:
        h.reply(200, gzip.compress(raw), {"Content-Encoding": "gzip"})

    with serving(answer) as server:
        http = client(server.url)
        try:
            response = await http.request("GET", "/v1/numbers")
        finally:
            await http.aclose()
    assert response.content == raw
    assert used_wire(server) == [True]


async def test_a_chunked_body() -> None:
    parts = [b'{"data":[', b"1,2,", b"3]}"]

    def answer(h: Handler, n: int) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for part in parts:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        h.wfile.write(b"0\r\n\r\n")

    with serving(answer) as server:
        http = client(server.url)
        try:
            first = await http.request("GET", "/a")
            second = await http.request("GET", "/b")  # the connection is still good after
        finally:
            await http.aclose()
    assert first.json() == second.json() == {"data": [1, 2, 3]}
    assert used_wire(server) == [True, True]


# ---- which sender


async def test_reconciler_http_httpx_sends_everything_through_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECONCILER_HTTP", "httpx")
    with serving(echo) as server:
        http = client(server.url)
        try:
            await http.request("GET", "/v1/numbers", params={"page": 1})
        finally:
            await http.aclose()
    assert used_wire(server) == [False]


async def test_a_proxy_variable_selects_httpx_which_honours_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with serving(echo) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        http = client("http://carrier.invalid/api")  # only reachable through the proxy
        try:
            response = await http.request("GET", "/v1/numbers", params={"page": 1})
        finally:
            await http.aclose()
    assert response.content == b"http://carrier.invalid/api/v1/numbers?page=1"
    assert [t for t, _ in proxy.seen] == ["http://carrier.invalid/api/v1/numbers?page=1"]


def test_which_proxy_variables_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://api.telnyx.com/v2"
    assert wire_refused(url, None) is None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    assert wire_refused(url, None) is None  # an http:// proxy does not apply to https
    assert wire_refused("http://127.0.0.1:8801/wavix", None) is not None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    assert "HTTPS_PROXY" in (wire_refused(url, None) or "")
    monkeypatch.setenv("NO_PROXY", "*")
    assert wire_refused(url, None) is None  # httpx too ignores every proxy then
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.setenv("all_proxy", "socks5://proxy:1080")
    assert wire_refused(url, None) is not None
    monkeypatch.delenv("all_proxy")
    assert wire_refused(url, httpx.MockTransport(lambda r: httpx.Response(200))) is not None
    assert wire_refused("https://user:pw@api.telnyx.com/v2", None) is not None
    assert wire_refused(url, None, {"RECONCILER_HTTP": "httpx"}) == "RECONCILER_HTTP=httpx"
    with pytest.raises(ConfigError, match="expected httpx"):
        wire_refused(url, None, {"RECONCILER_HTTP": "curl"})


async def test_writes_stay_on_httpx() -> None:
    class Both(Handler):
        def do_PATCH(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.do_GET()

    server = Server(echo)
    server.RequestHandlerClass = Both
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    http = client(server.url)
    try:
        await http.request("GET", "/v1/numbers")
        await http.request("PATCH", "/v1/numbers", json={"a": 1})
    finally:
        await http.aclose()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert used_wire(server) == [True, False]


# ---- closing


async def test_aclose_unblocks_a_request_stuck_on_a_silent_server() -> None:
    arrived = threading.Event()
    release = threading.Event()

    def answer(h: Handler, n: int) -> None:
        arrived.set()
        release.wait(60)  # never answers while the test runs

    with serving(answer) as server:
        http = client(server.url)
        before = set(threading.enumerate())
        task = asyncio.create_task(http.request("GET", "/v1/numbers"))
        await asyncio.get_running_loop().run_in_executor(None, arrived.wait, 30)
        workers = [t for t in set(threading.enumerate()) - before if t.name.startswith("wire")]
        assert len(workers) == 1
        task.cancel()  # as SIGTERM cancels the run; then the runner closes its accounts
        with pytest.raises(asyncio.CancelledError):
            await task
        await http.aclose()
        # the thread was inside a 30 s read: the shutdown returns it at once (generous bound)
        await asyncio.get_running_loop().run_in_executor(None, workers[0].join, 20)
        release.set()
        assert not workers[0].is_alive()


# ---- the served sandbox


def test_the_sandbox_knob_closes_every_nth_connection_and_the_wire_reads_on(
    tmp_path: Any,
) -> None:
    from reconciler.sandbox import Sandbox
    from reconciler.sandbox.serve import served
    from reconciler.sandbox.wavix import DEFAULT_KEY

    sandbox = Sandbox.open(tmp_path / "sandbox.sqlite3")
    sandbox.store.set_knob("connection_close_every", 3)
    try:
        with served(sandbox) as origin, httpx.Client(base_url=origin + "/wavix") as plain:
            said = [
                plain.get(
                    "/v1/numbers", headers={"Authorization": f"Bearer {DEFAULT_KEY}"}
                ).headers.get("connection")
                for _ in range(6)
            ]
            assert said == [None, None, "close", None, None, "close"]

            async def read() -> list[int]:
                clock = FakeClock()
                http = Http(
                    account="w",
                    base_url=origin + "/wavix",
                    api_key=DEFAULT_KEY,
                    clock=clock,
                    budget=Budget(1, None, clock),
                    connections=1,
                )
                try:
                    out = []
                    for page in range(1, 8):
                        r = await http.request("GET", "/v1/numbers", params={"page": page})
                        out.append(r.status_code)
                    assert http.requests_sent == 7 and http.wire is not None
                    return out
                finally:
                    await http.aclose()

            assert asyncio.run(read()) == [200] * 7
    finally:
        sandbox.close()
