"""A real HTTP endpoint standing in for a chain's alert webhook in tests: it answers every POST
with the status it was given and keeps each JSON body."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


class WebhookReceiver:
    def __init__(self, status: int = 204) -> None:
        self.bodies: list[dict] = []
        receiver = self

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:      # keep the test output clean
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Hook)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        # shutdown() waits for serve_forever to look at its flag, once per poll_interval (0.5 s
        # by default, at the end of every test with a receiver).
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
