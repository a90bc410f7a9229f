#!/usr/bin/env python3
"""llama.cpp's side of scripts/bench-engine.sh: the same measurements as our engine-bench
(prompt processing: N tokens from an empty context in one call; generation: N single-token
calls from an empty context), through llama-cpp-python. Prints one JSON object, with the
process's peak memory after `import llama_cpp` and at the end (what llama.cpp itself adds).

The Python call per generated token costs tens of microseconds, under 1% of a token here."""

import argparse
import json
import statistics
import time

from llama_cpp import Llama


def peak_rss_kib():
    """The process's peak resident memory so far (VmHWM), in KiB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--generate", type=int, default=128)
    parser.add_argument("-r", "--repetitions", type=int, default=3)
    args = parser.parse_args()
    before_model = peak_rss_kib()
    llm = Llama(model_path=args.model, n_ctx=max(args.prompt, args.generate) + 16, n_batch=512, n_ubatch=512,
                n_threads=args.threads, n_threads_batch=args.threads, verbose=False)
    vocabulary = llm.n_vocab()
    tokens = [(i * 7919 + 13) % vocabulary for i in range(max(args.prompt, args.generate))]
    llm.eval(tokens[:16])  # warm up: page in the weights
    prompt_seconds, generate_seconds = [], []
    for _ in range(args.repetitions):
        llm.reset()
        start = time.perf_counter()
        llm.eval(tokens[:args.prompt])
        prompt_seconds.append(time.perf_counter() - start)
        llm.reset()
        start = time.perf_counter()
        for token in tokens[:args.generate]:
            llm.eval([token])
        generate_seconds.append(time.perf_counter() - start)
    print(json.dumps({
        "engine": "llama.cpp", "threads": args.threads,
        "pp_tokens": args.prompt, "pp_tokens_per_second": args.prompt / statistics.median(prompt_seconds),
        "tg_tokens": args.generate, "tg_tokens_per_second": args.generate / statistics.median(generate_seconds),
        "peak_rss_before_model_kib": before_model, "peak_rss_kib": peak_rss_kib(),
    }, sort_keys=True))


if __name__ == "__main__":
    main()
