#!/usr/bin/env python3
"""An HTTP skill server for the transport tests (standard library only).

Each path is one behaviour, so one server covers every case: /echo answers the params,
/worker_generate speaks the LLaVA-Plus tool-worker protocol, the others inject faults.
`--port 0` picks a free port; the port is printed as `PORT <n>` on stdout. `--delay-start S`
waits before listening (a slow start for the start-command tests).
"""
import argparse
import base64
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def edit(image: bytes) -> bytes:
    """The 'edited image': the signature kept, the rest reversed (the tests redo this)."""
    return image[:8] + image[8:][::-1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="application/json", chunked=False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 65536):
                piece = body[start:start + 65536]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self.answer(200, {"status": "ok"})
        else:
            self.answer(404, {"error": "no such page"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        params = json.loads(self.rfile.read(length) or b"{}")
        path = self.path
        if path == "/echo":
            if params.get("exit"):
                os._exit(3)
            # The client's port shows whether calls share one kept-alive connection.
            self.answer(200, {"echo": params, "peer": self.client_address[1]})
        elif path == "/worker_generate":
            image = base64.b64decode(params["image"])
            if not image.startswith(PNG_SIGNATURE):
                self.answer(200, {"text": "the image is not a PNG", "error_code": 1})
                return
            self.answer(200, {
                "boxes": [[0.1, 0.2, 0.5, 0.6]],
                "logits": [0.87],
                "phrases": [params.get("caption", "")],
                "edited_image": base64.b64encode(edit(image)).decode(),
                "size": len(image),
            })
        elif path == "/oom/worker_generate":
            self.answer(200, {"text": "CUDA out of memory", "error_code": 50001})
        elif path == "/crash":
            os._exit(3)  # dies with the request read and unanswered
        elif path == "/hang":
            time.sleep(30)
            self.answer(200, {})
        elif path == "/garbage":
            self.answer(200, b"this is {not json", content_type="application/json")
        elif path == "/big":
            self.answer(200, {"blob": "x" * 2_000_000})
        elif path == "/big-chunked":
            self.answer(200, {"blob": "x" * 2_000_000}, chunked=True)
        elif path == "/chunked":
            self.answer(200, {"echo": params}, chunked=True)
        elif path == "/html":
            self.answer(200, b"<html>hello</html>", content_type="text/html")
        elif path == "/fail":
            self.answer(500, b"model exploded: tensor shape mismatch", content_type="text/plain")
        elif path == "/error":
            self.answer(200, {"error": "no objects found"})
        else:
            self.answer(404, {"error": "no such page"})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-start", type=float, default=0)
    args = parser.parse_args()
    time.sleep(args.delay_start)
    # A backlog of 5 (the default) drops simultaneous connects, which then retry after 1 s.
    ThreadingHTTPServer.request_queue_size = 64
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    print("listening", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
