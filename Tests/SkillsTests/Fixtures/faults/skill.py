#!/usr/bin/env python3
"""Fault-injection skill for the subprocess transport tests (standard library only).

One-shot (default): reads one JSON object of parameters from stdin, answers on stdout.
--persistent: JSON lines, {"id", "params", "output_dir"} in and {"id", ...} out.
--slow-start SECONDS: sleeps before serving, like a skill loading its model.
params["mode"] picks the behaviour (see handle); "echo" is the default.
"""
import json
import os
import socket
import subprocess
import sys
import time


def handle(params, output_dir):
    """The answer object for one call, or None when the mode wrote (or never writes) it."""
    mode = params.get("mode", "echo")
    if mode in ("echo", "wrong_id"):
        return {"pid": os.getpid(), "echo": params}
    if mode == "crash":
        sys.stderr.write("boom: the skill failed on purpose\n")
        sys.stderr.flush()
        os._exit(3)
    if mode == "hang":
        # A grandchild that must die with the skill when the call times out.
        child = subprocess.Popen(["sleep", "300"])
        with open(params["pid_file"], "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        time.sleep(300)
    if mode == "garbage":
        sys.stdout.write("this is not json\n")
        sys.stdout.flush()
        return None
    if mode == "flood":
        chunk = b"x" * 65536
        while True:
            sys.stdout.buffer.write(chunk)
    if mode == "environment":
        return {"environment": dict(os.environ), "cwd": os.getcwd()}
    if mode == "allocate":
        data = bytearray(params["mb"] << 20)
        return {"allocated": len(data)}
    if mode == "connect":
        try:
            socket.create_connection(("127.0.0.1", params["port"]), timeout=1).close()
            return {"connected": True}
        except OSError as error:
            return {"connected": False, "reason": str(error)}
    if mode == "artifact":
        with open(os.path.join(output_dir, "note.txt"), "w") as f:
            f.write(params.get("text", "note"))
        return {"written": True, "artifacts": [{"path": "note.txt", "kind": "file"}]}
    return {"error": f"unknown mode {mode!r}"}


def serve():
    for line in sys.stdin:
        request = json.loads(line)
        params = request["params"]
        answer = handle(params, request["output_dir"])
        if answer is None:
            continue
        answer["id"] = request["id"] + (1 if params.get("mode") == "wrong_id" else 0)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def main():
    if "--slow-start" in sys.argv:
        time.sleep(float(sys.argv[sys.argv.index("--slow-start") + 1]))
    if "--persistent" in sys.argv:
        serve()
    else:
        answer = handle(json.load(sys.stdin), os.environ["LLAVA_PLUS_OUTPUT_DIR"])
        if answer is not None:
            json.dump(answer, sys.stdout)


main()
