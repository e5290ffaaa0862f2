"""A local HTTP server standing in for webhook, Discord and Telegram endpoints."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Receiver:
    """A local HTTP server recording every POST; paths can be told to fail first."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict] = []
        self.fail_first: dict[str, int] = {}  # path -> how many 500s to answer first
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urlsplit(self.path).path
                with receiver._lock:
                    failing = receiver.fail_first.get(path, 0)
                    if failing:
                        receiver.fail_first[path] = failing - 1
                    status = 500 if failing else 200
                    receiver.requests.append(
                        {
                            "path": path,
                            "headers": dict(self.headers),
                            "body": body,
                            "status": status,
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str, status: int | None = 200) -> list[dict]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r["path"] == path and (status is None or r["status"] == status)
            ]

    def all_bodies(self) -> list[bytes]:
        with self._lock:
            return [r["body"] for r in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
