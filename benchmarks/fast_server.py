"""A minimal, fast HTTP/1.1 keep-alive server that answers every request with one fixed Primo ticket.

It exists so the client benchmark measures the clients, not the server: the sandbox validates bodies and
answers against JSON schemas, which costs far more than a client's own overhead. Standard library only;
one thread per connection; the request line and headers are read, the body is skipped, and the same
``201`` JSON ticket is written back. Run it as ``python -m benchmarks.fast_server``: it prints its port on
stdout and serves until terminated.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys

TICKET: dict[str, object] = {
    "id": "tkt_0123456789abcdef01234567",
    "reference": "T-00001",
    "title": "Disk full on db-1",
    "status": "PENDING",
    "priority": None,
    "assignee": None,
    "dueDate": None,
    "createdAt": "2026-01-01T00:00:00.000Z",
    "updatedAt": "2026-01-01T00:00:00.000Z",
    "description": "The nightly load failed: no space left on device.",
    "comments": [],
}
_BODY = json.dumps(TICKET).encode()
RESPONSE = (
    b"HTTP/1.1 201 Created\r\n"
    b"Content-Type: application/json; charset=utf-8\r\n"
    b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n" + _BODY
)
_MAX_LINE = 65536


class _Handler(socketserver.StreamRequestHandler):
    """Serve requests on one connection until the client closes it (or asks to)."""

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        rfile = self.rfile
        send = self.request.sendall
        while True:
            line = rfile.readline(_MAX_LINE)
            if not line:
                return
            if line in (b"\r\n", b"\n"):
                continue
            length, close = 0, False
            while True:
                header = rfile.readline(_MAX_LINE)
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            if length:
                rfile.read(length)
            send(RESPONSE)
            if close:
                return


class FastServer(socketserver.ThreadingTCPServer):
    """Threaded TCP server with reusable address and daemon connection threads."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main() -> int:
    """Serve on 127.0.0.1 on a free port; print the port; serve until killed."""
    with FastServer(("127.0.0.1", 0), _Handler) as server:
        print(server.server_address[1], flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever(poll_interval=0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
