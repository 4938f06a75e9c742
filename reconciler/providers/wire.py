"""A light sender for GET requests: the standard library's ``http.client`` in a thread pool.

Why: a listing page costs ~0.85 ms of CPU through ``httpx.AsyncClient`` (request building,
httpcore's pool, h11, anyio) and ~0.15 ms as one ``http.client`` exchange on a keep-alive
connection run in a worker thread and awaited from asyncio; at 100k numbers that is half of
``plan``'s CPU. ``Http.request`` (the one HTTP policy) sends GETs here and everything else
through httpx; everything after "send" (statuses, rate headers, the budget, retries, errors,
scrubbing) is the same code for both senders, because this module answers as httpx does:

* an ``httpx.Response`` (status, headers, body; httpx decodes ``Content-Encoding: gzip``, the
  only encoding asked for). It carries no ``.request``: the policy never reads it;
* failures as the matching ``httpx.TransportError`` subclass: ``ConnectError``,
  ``ConnectTimeout``, ``WriteError``, ``WriteTimeout``, ``ReadError``, ``ReadTimeout``,
  ``RemoteProtocolError`` (a server that disconnects without an answer, a body cut short, a
  malformed answer). Only a keep-alive connection the server closed while it sat idle (the
  answer fails before its first byte on a *reused* connection) is reopened, once, without a
  trace: the request never reached the server, as httpcore does it.

Connections: at most ``connections`` worker threads, each with its own keep-alive connection
(thread-local, opened on first use, reopened after the server closes it). Timeouts are
``DEFAULT_TIMEOUT``'s (connect, then read/write per socket operation). HTTPS verifies as
httpx does, with the context ``httpx.create_ssl_context()`` builds (certifi, or
``SSL_CERT_FILE``/``SSL_CERT_DIR``). ``aclose`` shuts every socket down, so a thread blocked on
a read returns at once (SIGTERM must not wait 30 s for a silent server), and leaves the pool
without waiting for it.

``target`` says which requests this sender takes: only those whose URL it builds exactly as
httpx would (the same path and query bytes on the wire); for any other path (characters to
escape, ``.`` segments) it answers None and the caller sends through httpx.
"""

from __future__ import annotations

import asyncio
import http.client
import re
import socket
import ssl
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import httpx

_PLAIN_PATH = re.compile(r"/?(?:[A-Za-z0-9_.~-][A-Za-z0-9/_.~-]*)?")
"""Paths httpx sends unchanged (unreserved characters, no leading ``//``)."""

_IDLE_CLOSED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
"""How a keep-alive connection the server closed while idle fails before any answer."""


def query(params: Mapping[str, Any] | None) -> str:
    """``params`` as httpx encodes them (``httpx.QueryParams``): a list or tuple is the key
    repeated, ``True``/``False`` are ``true``/``false``, ``None`` is empty, in dict order."""
    if not params:
        return ""
    pairs = []
    for key, value in params.items():
        for item in value if isinstance(value, list | tuple) else (value,):
            text = "true" if item is True else "false" if item is False else item
            pairs.append((str(key), "" if item is None else str(text)))
    return urlencode(pairs)


class Wire:
    """GETs of one base URL on ``http.client`` connections, one per worker thread."""

    def __init__(
        self,
        base_url: str,
        *,
        connections: int,
        timeout: httpx.Timeout,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        url = httpx.URL(base_url)  # normalised as httpx's client normalises its base_url
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("the wire sends to http(s) URLs only")
        self.https = url.scheme == "https"
        self.host = url.raw_host.decode("ascii")
        self.port = url.port or (443 if self.https else 80)
        prefix = url.raw_path.decode("ascii").partition("?")[0]
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.connect_s = timeout.connect
        self.read_s = timeout.read
        self._ssl = ssl_context
        self._pool = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="wire")
        self._local = threading.local()
        self._open: set[http.client.HTTPConnection] = set()
        self._busy: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()
        self._closed = False

    def target(self, path: str, params: Mapping[str, Any] | None = None) -> str | None:
        """The request target httpx would send for ``path`` (relative to the base URL) and
        ``params``, or None when this sender does not take the path (see the module doc)."""
        if not _PLAIN_PATH.fullmatch(path):
            return None
        if "." in path and any(s in (".", "..") for s in path.split("/")):
            return None  # httpx removes dot segments; not worth a second copy of that rule
        # httpx writes "?" for any key, even one whose list of values is empty
        return self.prefix + path.lstrip("/") + ("?" + query(params) if params else "")

    async def send(self, method: str, target: str, headers: Mapping[str, str]) -> httpx.Response:
        """One exchange in a worker thread; the answer, or an ``httpx.TransportError``."""
        if self._closed:
            raise RuntimeError("the wire is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._exchange, method, target, headers)

    async def aclose(self) -> None:
        """Close idle connections, shut busy ones down (a thread blocked on a read returns at
        once and closes its own) and leave the pool without waiting."""
        with self._lock:
            self._closed = True
            for conn in self._open:
                if conn not in self._busy:
                    conn.close()
                elif conn.sock is not None:
                    try:
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass  # the server closed it already
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- in a worker thread

    def _exchange(self, method: str, target: str, headers: Mapping[str, str]) -> httpx.Response:
        conn = self._connection()
        with self._lock:
            if self._closed:
                raise httpx.ConnectError("the connection was closed")
            self._busy.add(conn)
        try:
            return self._exchange_on(conn, method, target, headers)
        finally:
            with self._lock:
                self._busy.discard(conn)
                if self._closed:
                    conn.close()

    def _exchange_on(
        self, conn: http.client.HTTPConnection, method: str, target: str, headers: Mapping[str, str]
    ) -> httpx.Response:
        wanted = {**headers, "Accept-Encoding": "gzip"}
        while True:
            fresh = conn.sock is None
            if fresh:
                self._connect(conn)
            try:
                try:
                    conn.request(method, target, headers=wanted)
                except TimeoutError as exc:
                    raise httpx.WriteTimeout(_said(exc)) from None
                except _IDLE_CLOSED as exc:
                    if fresh:
                        raise httpx.WriteError(_said(exc)) from None
                    conn.close()
                    continue  # the server closed it while idle: nothing was sent; reopen once
                except OSError as exc:
                    raise httpx.WriteError(_said(exc)) from None
                try:
                    answer = conn.getresponse()
                except TimeoutError as exc:
                    raise httpx.ReadTimeout(_said(exc)) from None
                except _IDLE_CLOSED as exc:
                    if fresh:
                        if isinstance(exc, http.client.RemoteDisconnected):
                            raise httpx.RemoteProtocolError(
                                "Server disconnected without sending a response."
                            ) from None
                        raise httpx.ReadError(_said(exc)) from None
                    conn.close()
                    continue
                except http.client.HTTPException as exc:
                    raise httpx.RemoteProtocolError(_said(exc)) from None
                except OSError as exc:
                    raise httpx.ReadError(_said(exc)) from None
                try:
                    body = answer.read()
                except TimeoutError as exc:
                    raise httpx.ReadTimeout(_said(exc)) from None
                except http.client.IncompleteRead:
                    raise httpx.RemoteProtocolError(
                        "peer closed connection without sending complete message body"
                    ) from None
                except http.client.HTTPException as exc:
                    raise httpx.RemoteProtocolError(_said(exc)) from None
                except OSError as exc:
                    raise httpx.ReadError(_said(exc)) from None
            except BaseException:
                conn.close()
                raise
            # httpx decodes the body by its Content-Encoding, as for its own answers
            return httpx.Response(answer.status, headers=answer.getheaders(), content=body)

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.https:
                if self._ssl is None:
                    self._ssl = httpx.create_ssl_context()
                conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.connect_s, context=self._ssl
                )
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_s)
            self._local.conn = conn
            with self._lock:
                self._open.add(conn)
        return conn

    def _connect(self, conn: http.client.HTTPConnection) -> None:
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise httpx.ConnectTimeout(_said(exc)) from None
        except OSError as exc:  # refused, unreachable, DNS, TLS verification
            conn.close()
            raise httpx.ConnectError(_said(exc)) from None
        assert conn.sock is not None
        conn.sock.settimeout(self.read_s)
        with self._lock:
            if self._closed:  # aclose ran while this thread connected: its shutdown missed us
                conn.close()
                raise httpx.ConnectError("the connection was closed")


def _said(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
