#!/usr/bin/env python3
"""The echo skill as an HTTP service (transport `http`): POST JSON, get it back.

Usage: http_server.py PORT. GET /health answers 200. Keep-alive (HTTP/1.1), so a client can
reuse one connection; used by the dispatch benchmark and as a template for tool workers.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK add 40 ms to every answer.
    disable_nagle_algorithm = True

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply(200 if self.path == "/health" else 404, {"ok": self.path == "/health"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        params = json.loads(self.rfile.read(length) or b"{}")
        self.reply(200, {"text": params.get("text", ""), "times": params.get("times", 1)})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
