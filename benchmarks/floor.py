"""The floor: the least a client can do to read an account's listing pages.

    python benchmarks/floor.py BASE_URL --carrier wavix|telnyx [--key KEY] [--threads 8]

``http.client`` with one keep-alive connection per thread (8 threads), each thread fetching
the next page number while there is one, parsing the body with orjson and dropping it. The
pages are the ones ``reconciler plan`` reads (the same paths, queries and page sizes: Wavix
``GET /v1/numbers?page=N&per_page=100``; Telnyx ``GET /phone_numbers?...&page[number]=N&
page[size]=250`` and ``GET /phone_numbers/voice?...``), the page count from page 1's own
pagination. Nothing is decoded into settings, diffed or rendered, so its CPU time is a floor
for the fetch phase; ``benchmarks/e2e.py --floor`` prints ``plan`` CPU ÷ this CPU per carrier.

Prints one JSON line: pages, numbers, wall s, and the process's CPU s (user + sys).
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import sys
import threading
import time
from urllib.parse import urlencode, urlsplit

import orjson

LISTINGS: dict[str, list[tuple[str, dict[str, str], int]]] = {
    "wavix": [("/v1/numbers", {}, 100)],
    "telnyx": [
        ("/phone_numbers", {"handle_messaging_profile_error": "true"}, 250),
        ("/phone_numbers/voice", {}, 250),
    ],
}
"""Per carrier: (path, fixed query, page size) of each listing ``plan`` reads
(``providers/wavix/provider.py``, ``providers/telnyx/provider.py``)."""


def _query(carrier: str, fixed: dict[str, str], page: int, size: int) -> str:
    if carrier == "wavix":
        return urlencode({**fixed, "page": page, "per_page": size})
    return urlencode({**fixed, "page[number]": page, "page[size]": size})


def _pages(carrier: str, body: dict) -> tuple[int, int]:  # type: ignore[type-arg]
    """(total pages, items on this page) from a listing page."""
    if carrier == "wavix":
        return int(body["pagination"]["total_pages"]), len(body["items"])
    return int(body["meta"]["total_pages"]), len(body["data"])


class Reader:
    """Pages of one listing read by ``threads`` threads, each on its own connection."""

    def __init__(self, base_url: str, carrier: str, key: str, threads: int) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.carrier, self.threads = carrier, threads
        self.headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        self.pages = self.numbers = 0
        self._lock = threading.Lock()

    def read(self, path: str, fixed: dict[str, str], size: int) -> None:
        conn = http.client.HTTPConnection(self.host, self.port)
        total, items = _pages(self.carrier, self._get(conn, path, fixed, 1, size))
        conn.close()
        self.pages, self.numbers = self.pages + 1, self.numbers + items
        next_page = iter(range(2, total + 1))

        def work() -> None:
            conn = http.client.HTTPConnection(self.host, self.port)
            try:
                while True:
                    with self._lock:
                        page = next(next_page, None)
                    if page is None:
                        return
                    _, got = _pages(self.carrier, self._get(conn, path, fixed, page, size))
                    with self._lock:
                        self.pages, self.numbers = self.pages + 1, self.numbers + got
            finally:
                conn.close()

        workers = [threading.Thread(target=work) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _get(
        self,
        conn: http.client.HTTPConnection,
        path: str,
        fixed: dict[str, str],
        page: int,
        size: int,
    ) -> dict:  # type: ignore[type-arg]
        url = f"{self.prefix}{path}?{_query(self.carrier, fixed, page, size)}"
        conn.request("GET", url, headers=self.headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {url} → {response.status}: {body[:200]!r}")
        return orjson.loads(body)  # type: ignore[no-any-return]


def floor(base_url: str, carrier: str, key: str, threads: int = 8) -> dict[str, float]:
    """Read every listing page of the account at ``base_url``; pages, numbers, wall and CPU s."""
    started, cpu = time.perf_counter(), time.process_time()
    reader = Reader(base_url, carrier, key, threads)
    for path, fixed, size in LISTINGS[carrier]:
        reader.read(path, fixed, size)
    return {
        "carrier": carrier,
        "pages": reader.pages,
        "numbers": reader.numbers,
        "wall_s": round(time.perf_counter() - started, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:8765/wavix")
    parser.add_argument("--carrier", choices=sorted(LISTINGS), required=True)
    parser.add_argument("--key", help="default: the sandbox simulator's key")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    key = args.key or importlib.import_module(f"reconciler.sandbox.{args.carrier}").DEFAULT_KEY
    print(json.dumps(floor(args.base_url, args.carrier, key, args.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
