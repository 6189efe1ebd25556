"""A local HTTP proxy that adds a fixed delay to every request, to measure at AWS-like latency.

    python bench/latency_proxy.py --upstream http://127.0.0.1:5000 --delay-ms 100

On loopback a moto call costs a few milliseconds, so a serial client looks fast; a real AWS
API call costs 50–300 ms. Put this proxy in front of a moto server and point the client at it
(`--endpoint-url`): every request waits `delay_ms` before it is forwarded, as one round trip
to a region would. Requests are served concurrently (one thread each) and over keep-alive
connections, so concurrency on the client side pays off here as it would against AWS. The
proxy counts the requests it forwarded (`proxy.requests`).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-length"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog (5) drops connections when a client opens many at once, and a
    # dropped SYN costs a 1 s retransmission: not the latency we mean to add.
    request_queue_size = 128


class LatencyProxy:
    """`with LatencyProxy(upstream, delay_ms) as proxy:` … `proxy.url` … `proxy.requests`."""

    def __init__(self, upstream: str, delay_ms: float) -> None:
        self.upstream = urlsplit(upstream)
        self.delay = delay_ms / 1000
        self._count = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> int:
        with self._lock:
            return self._count

    def __enter__(self) -> LatencyProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _counted(self) -> None:
        with self._lock:
            self._count += 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self
        local = threading.local()  # one upstream connection per serving thread

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as botocore and AWS use

            def log_message(self, *_: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                time.sleep(proxy.delay)
                proxy._counted()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                status, reason, response_headers, data = self._send_upstream(body, headers)
                self.send_response(status, reason)
                for key, value in response_headers:
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_upstream(
                self, body: bytes | None, headers: dict[str, str]
            ) -> tuple[int, str, list[tuple[str, str]], bytes]:
                for attempt in (1, 2):  # a kept-alive upstream connection may have been closed
                    conn = getattr(local, "conn", None)
                    if conn is None:
                        conn = local.conn = http.client.HTTPConnection(
                            proxy.upstream.hostname, proxy.upstream.port, timeout=120)
                    try:
                        conn.request(self.command, self.path, body=body, headers=headers)
                        response = conn.getresponse()
                        data = response.read()
                        return response.status, response.reason, response.getheaders(), data
                    except (ConnectionError, http.client.HTTPException):
                        conn.close()
                        local.conn = None
                        if attempt == 2:
                            raise
                raise AssertionError("unreachable")

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:5000")
    parser.add_argument("--delay-ms", type=float, default=100.0)
    args = parser.parse_args()
    with LatencyProxy(args.upstream, args.delay_ms) as proxy:
        print(f"{proxy.url} → {args.upstream} (+{args.delay_ms:g} ms per request); Ctrl-C stops",
              flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
