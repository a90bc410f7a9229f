#!/usr/bin/env python3
"""llama.cpp's side of scripts/bench-vision.sh: encodes one image with an mmproj file through
libmtmd (llama-cpp-python's `mtmd_cpp` bindings), timing `mtmd_encode_chunk` alone — the
vision tower and projector — after the image was decoded and preprocessed. Prints one JSON
object with the median and every run's wall-clock and process CPU seconds.

    .cache/llama-ref/bin/python scripts/bench_vision_llamacpp.py --mmproj MM.gguf --model LM.gguf --image IMG -t 2
"""

import argparse
import ctypes
import json
import statistics
import time

import llama_cpp
from llama_cpp import mtmd_cpp


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mmproj", required=True)
    parser.add_argument("--model", required=True, help="a language model GGUF whose width is the projector's output")
    parser.add_argument("--image", required=True)
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("-r", "--repetitions", type=int, default=3)
    args = parser.parse_args()

    llama_cpp.llama_backend_init()
    model_params = llama_cpp.llama_model_default_params()
    model = llama_cpp.llama_model_load_from_file(args.model.encode(), model_params)
    assert model, f"cannot load {args.model}"
    params = mtmd_cpp.mtmd_context_params_default()
    params.use_gpu = False
    params.n_threads = args.threads
    params.print_timings = False
    ctx = mtmd_cpp.mtmd_init_from_file(args.mmproj.encode(), model, params)
    assert ctx, f"cannot load {args.mmproj}"

    bitmap = mtmd_cpp.mtmd_helper_bitmap_init_from_file(ctx, args.image.encode(), False)
    assert bitmap, f"cannot read {args.image}"
    prompt = mtmd_cpp.mtmd_default_marker() + b"\n"
    text = mtmd_cpp.mtmd_input_text(text=prompt, text_len=len(prompt), add_special=True, parse_special=True)
    chunks = mtmd_cpp.mtmd_input_chunks_init()
    bitmaps = (mtmd_cpp.mtmd_bitmap_p_ctypes * 1)(bitmap)
    assert mtmd_cpp.mtmd_tokenize(ctx, chunks, ctypes.byref(text), bitmaps, 1) == 0, "mtmd_tokenize failed"
    image = next(chunk for chunk in (mtmd_cpp.mtmd_input_chunks_get(chunks, i)
                                     for i in range(mtmd_cpp.mtmd_input_chunks_size(chunks)))
                 if mtmd_cpp.mtmd_input_chunk_get_type(chunk) == mtmd_cpp.MTMD_INPUT_CHUNK_TYPE_IMAGE)
    tokens = mtmd_cpp.mtmd_input_chunk_get_n_tokens(image)

    seconds, cpu = [], []
    for _ in range(args.repetitions + 1):  # the first run warms up (pages in the weights)
        start, cpu_start = time.perf_counter(), time.process_time()
        assert mtmd_cpp.mtmd_encode_chunk(ctx, image) == 0, "mtmd_encode_chunk failed"
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    print(json.dumps({"engine": "llama.cpp", "threads": args.threads, "tokens": tokens,
                      "encode_seconds": statistics.median(seconds[1:]), "runs": seconds[1:], "cpu_seconds": cpu[1:]},
                     sort_keys=True))


if __name__ == "__main__":
    main()
