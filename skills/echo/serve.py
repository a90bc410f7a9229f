#!/usr/bin/env python3
"""The echo skill as a persistent process (transport `persistent: true`).

One request per line on stdin, {"id": N, "params": {...}, "output_dir": "..."}; one answer
per line on stdout, {"id": N, ...result}. Used by the dispatch benchmark and as a template.
"""
import json
import sys

for line in sys.stdin:
    request = json.loads(line)
    params = request["params"]
    answer = {"id": request["id"], "text": params["text"], "times": params.get("times", 1)}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
