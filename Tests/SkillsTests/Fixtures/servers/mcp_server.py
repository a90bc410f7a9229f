#!/usr/bin/env python3
"""An MCP server for the transport tests (standard library only).

Speaks JSON-RPC 2.0 over stdio (newline-delimited) by default, or streamable HTTP with
`--http` (POST /mcp; tool calls answer as an SSE stream, everything else as JSON; the port is
printed as `PORT <n>` on stdout). Tool calls run on their own threads, so a call can be
cancelled while it sleeps and other calls still answer.
"""
import base64
import json
import os
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVER_INFO = {"name": "test-tools", "version": "2.1.0"}
TOOLS = [
    {"name": "add", "description": "Adds two numbers.",
     "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                     "required": ["a", "b"]}},
    {"name": "describe", "description": "Says something about a text.",
     "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
    {"name": "json_text", "description": "Answers a JSON object in a text block.",
     "inputSchema": {"type": "object", "properties": {}}},
    {"name": "Flip.Image", "description": "Reads a PNG file and returns it edited.",
     "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}},
    {"name": "fail", "description": "Always fails.", "inputSchema": {"type": "object"}},
    {"name": "count", "description": "Counts to n, reporting progress.",
     "inputSchema": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "required": ["n"]}},
    {"name": "sleep", "description": "Sleeps unless cancelled.",
     "inputSchema": {"type": "object", "properties": {"seconds": {"type": "number"}}}},
    {"name": "cancellations", "description": "The request ids cancelled so far.",
     "inputSchema": {"type": "object", "properties": {}}},
    {"name": "crash", "description": "Exits the server.", "inputSchema": {"type": "object"}},
    {"name": "garbage", "description": "Writes a line that is not JSON-RPC.", "inputSchema": {"type": "object"}},
    {"name": "big", "description": "Answers about 2 MB of text.", "inputSchema": {"type": "object"}},
    {"name": "choose", "description": "A schema this project does not accept (oneOf).",
     "inputSchema": {"type": "object", "properties": {"x": {"oneOf": [{"type": "string"}, {"type": "number"}]}}}},
]

cancelled_ids = []
cancel_events = {}
lock = threading.Lock()


def edit(image: bytes) -> bytes:
    return image[:8] + image[8:][::-1]


def run_tool(name, arguments, request_id, progress_token, send):
    """The tool's result, or None when the call was cancelled (no answer is sent then)."""
    if name == "add":
        total = arguments["a"] + arguments["b"]
        return {"content": [{"type": "text", "text": json.dumps({"sum": total})}], "structuredContent": {"sum": total}}
    if name == "describe":
        return {"content": [{"type": "text", "text": "a text of %d characters" % len(arguments["text"])}]}
    if name == "json_text":
        return {"content": [{"type": "text", "text": '{"count": 3, "unit": "cats"}'}]}
    if name == "Flip.Image":
        with open(arguments["path"], "rb") as f:
            data = f.read()
        return {"content": [{"type": "text", "text": "flipped %d bytes" % len(data)},
                            {"type": "image", "mimeType": "image/png", "data": base64.b64encode(edit(data)).decode()}]}
    if name == "fail":
        return {"content": [{"type": "text", "text": "the tool failed on purpose"}], "isError": True}
    if name == "count":
        n = arguments["n"]
        for i in range(1, n + 1):
            if progress_token is not None:
                send({"jsonrpc": "2.0", "method": "notifications/progress",
                      "params": {"progressToken": progress_token, "progress": i, "total": n, "message": "step %d" % i}})
        return {"content": [], "structuredContent": {"counted": n}}
    if name == "sleep":
        event = threading.Event()
        with lock:
            cancel_events[request_id] = event
        if event.wait(arguments.get("seconds", 30)):
            return None
        return {"content": [{"type": "text", "text": "slept"}]}
    if name == "cancellations":
        with lock:
            return {"content": [], "structuredContent": {"cancelled": list(cancelled_ids)}}
    if name == "crash":
        os._exit(7)
    if name == "garbage":
        send("this is {not json")
        return None
    if name == "big":
        return {"content": [{"type": "text", "text": "x" * 2_000_000}]}
    raise KeyError(name)


def handle(message, send):
    """Answers one client message through `send` (requests only; notifications are absorbed)."""
    method = message.get("method")
    request_id = message.get("id")
    params = message.get("params") or {}
    if method == "notifications/cancelled":
        with lock:
            cancelled_ids.append(params.get("requestId"))
            event = cancel_events.get(params.get("requestId"))
        if event:
            event.set()
        return
    if request_id is None:
        return
    if method == "initialize":
        result = {"protocolVersion": params.get("protocolVersion", "2025-06-18"),
                  "capabilities": {"tools": {}}, "serverInfo": SERVER_INFO}
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        token = (params.get("_meta") or {}).get("progressToken")
        try:
            result = run_tool(params["name"], params.get("arguments") or {}, request_id, token, send)
        except KeyError as error:
            send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": "unknown tool or argument %s" % error}})
            return
        if result is None:
            return
    else:
        send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": "no method " + str(method)}})
        return
    send({"jsonrpc": "2.0", "id": request_id, "result": result})


def serve_stdio():
    write_lock = threading.Lock()

    def send(message):
        # A str is written as it is (the garbage tool's broken line).
        with write_lock:
            sys.stdout.write((message if isinstance(message, str) else json.dumps(message)) + "\n")
            sys.stdout.flush()

    print("mcp test server on stdio", file=sys.stderr, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        if message.get("method") == "tools/call":
            threading.Thread(target=handle, args=(message, send), daemon=True).start()
        else:
            handle(message, send)


class HTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    session = str(uuid.uuid4())

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        message = json.loads(self.rfile.read(length))
        accept = self.headers.get("Accept", "")
        if "application/json" not in accept or "text/event-stream" not in accept:
            self.reply(406, b'{"error": "Accept must list application/json and text/event-stream"}')
            return
        if message.get("method") != "initialize" and self.headers.get("Mcp-Session-Id") != self.session:
            self.reply(400, b'{"error": "missing or unknown Mcp-Session-Id"}')
            return
        if "id" not in message:
            handle(message, lambda m: None)
            self.reply(202)
            return
        if message.get("method") == "tools/call":
            # An SSE stream, chunked: progress notifications, then the response.
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            write_lock = threading.Lock()

            def send(reply):
                event = ("event: message\ndata: %s\n\n" % json.dumps(reply)).encode()
                with write_lock:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                    self.wfile.flush()

            handle(message, send)
            self.wfile.write(b"0\r\n\r\n")
            return
        answers = []
        handle(message, answers.append)
        headers = [("Content-Type", "application/json")]
        if message.get("method") == "initialize":
            headers.append(("Mcp-Session-Id", self.session))
        self.reply(200, json.dumps(answers[0]).encode(), headers)


def main():
    if "--http" in sys.argv:
        # A backlog of 5 (the default) drops simultaneous connects, which then retry after 1 s.
        ThreadingHTTPServer.request_queue_size = 64
        server = ThreadingHTTPServer(("127.0.0.1", 0), HTTPHandler)
        server.daemon_threads = True
        print("PORT %d" % server.server_address[1], flush=True)
        server.serve_forever()
    else:
        serve_stdio()


if __name__ == "__main__":
    main()
