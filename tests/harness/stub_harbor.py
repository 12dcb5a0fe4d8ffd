"""A stand-in for one Harbor node's front door, for load-balancer tests on loopback.

    python -m tests.harness.stub_harbor ADDRESS PORT NAME

GET /v2/            401 with the headers a docker client needs, as Harbor answers
GET /whoami         200, JSON: this node's name and the request headers it received
GET /blob/N         200, N bytes streamed
PUT|POST|PATCH *    201, JSON: bytes received and whether they came chunked
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK = 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stub-harbor"

    def log_message(self, *args):  # quiet: tests read responses, not logs
        pass

    def _reply(self, status: int, payload: dict, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/v2/":
            realm = f"http://{self.headers.get('Host')}/service/token"
            self._reply(401, {"errors": [{"code": "UNAUTHORIZED"}]}, {
                "Docker-Distribution-Api-Version": "registry/2.0",
                "WWW-Authenticate": f'Bearer realm="{realm}",service="harbor-registry"',
            })
        elif self.path == "/whoami":
            self._reply(200, {"server": self.server.name, "headers": dict(self.headers.items())})
        elif self.path.startswith("/blob/"):
            size = int(self.path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            block = bytes(BLOCK)
            while size:
                self.wfile.write(block[: min(size, BLOCK)])
                size -= min(size, BLOCK)
        else:
            self._reply(404, {"path": self.path})

    def _receive(self):
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        received = self._read_chunked() if chunked else self._read_exactly(int(self.headers.get("Content-Length", 0)))
        self._reply(201, {"server": self.server.name, "bytes": received, "chunked": chunked})

    do_PUT = do_POST = do_PATCH = _receive

    def _read_exactly(self, size: int) -> int:
        left = size
        while left:
            data = self.rfile.read(min(left, BLOCK))
            if not data:
                raise ConnectionError("body ended early")
            left -= len(data)
        return size

    def _read_chunked(self) -> int:
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return total
            total += self._read_exactly(size)
            self.rfile.readline()


def main() -> None:
    address, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    server = ThreadingHTTPServer((address, port), Handler)
    server.name = name
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
