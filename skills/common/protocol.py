"""The subprocess skill protocol, shared by the built-in Python skills.

One-shot (the runner sets LLAVA_PLUS_OUTPUT_DIR): the parameters arrive as one JSON object on
stdin; the answer is one JSON object on stdout.
Persistent (no LLAVA_PLUS_OUTPUT_DIR): one request per line, {"id": N, "params": {...},
"output_dir": "..."}, one answer per line, {"id": N, ...}; the process keeps its models loaded.

A handler returns the result object, or raises InputError for input it rejects, which becomes
{"error": message} (a tool_error the model sees). Any other exception is a bug: it goes to
stderr and the process exits non-zero, so the runner reports a crash instead of blaming the
input.
"""
import json
import os
import sys
from pathlib import Path

OUTPUT_DIR_VARIABLE = "LLAVA_PLUS_OUTPUT_DIR"


class InputError(Exception):
    """The call's input is unusable; the message names the parameter and what was expected."""


def project_root() -> Path:
    """The checkout the skill runs in (the runner's working directory and variable)."""
    return Path(os.environ.get("LLAVA_PLUS_PROJECT_ROOT") or Path(__file__).resolve().parents[2])


def model_store() -> Path:
    """The model store made by scripts/setup.sh (LLAVA_PLUS_MODELS moves it, as for the CLI)."""
    return Path(os.environ.get("LLAVA_PLUS_MODELS") or project_root() / "models")


def _answer(handler, params, output_dir: Path) -> dict:
    if not isinstance(params, dict):
        return {"error": "expected the parameters as one JSON object"}
    try:
        return handler(params, output_dir)
    except InputError as error:
        return {"error": str(error)}


def serve(handler) -> None:
    """Runs `handler(params, output_dir) -> dict` one-shot or persistent, as the runner asks."""
    one_shot = os.environ.get(OUTPUT_DIR_VARIABLE)
    if one_shot:
        params = json.loads(sys.stdin.read())
        sys.stdout.write(json.dumps(_answer(handler, params, Path(one_shot))) + "\n")
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        answer = _answer(handler, request.get("params"), Path(request["output_dir"]))
        sys.stdout.write(json.dumps({"id": request["id"], **answer}) + "\n")
        sys.stdout.flush()
