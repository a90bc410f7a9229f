#!/usr/bin/env python3
"""A LLaMA-shaped ~1.1B-parameter GGUF with random weights, for speed comparisons on a model
larger than SmolLM2 (timing does not depend on weight values), then its Q4_0 and Q4_K_M
quantisations made by llama.cpp's own quantiser.

Shape (Llama-3.2-1B-like apart from the vocabulary): hidden 2048, 16 layers, 32 query heads and
8 key/value heads of 64, FFN 8192, vocabulary 32000, untied output matrix: 1.1B parameters.
The tokenizer metadata is a minimal SentencePiece-style ("llama") vocabulary: <unk>, <s>, </s>,
the 256 byte tokens and made-up pieces, enough for llama.cpp to load the file.

Needs the PyPI `gguf` and `numpy` packages and llama-cpp-python (for `llama_model_quantize`),
all present in the venv scripts/bench-engine.sh builds:

    .cache/llama-ref/bin/python scripts/make_synthetic_llama.py [--out .cache/synthetic]

Writes synthetic-llama-1b.F16.gguf (2.2 GB), .Q4_0.gguf and .Q4_K_M.gguf; existing files are
kept (delete them to regenerate). Takes a few minutes on 2 cores.
"""

import argparse
import ctypes
from pathlib import Path

import numpy as np
from gguf import GGUFWriter, TokenType

HIDDEN, LAYERS, HEADS, KV_HEADS, FFN, VOCAB, CONTEXT = 2048, 16, 32, 8, 8192, 32000, 2048
HEAD_DIM = HIDDEN // HEADS


def vocabulary():
    """<unk>, <s>, </s>, <0x00>..<0xFF>, then distinct made-up pieces up to VOCAB."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL] + [TokenType.BYTE] * 256
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = 0
    while len(tokens) < VOCAB:
        # Base-26 words, half of them with the SentencePiece word-start marker.
        n, word = i // 2, ""
        while True:
            word = letters[n % 26] + word
            n = n // 26 - 1
            if n < 0:
                break
        tokens.append(("\u2581" if i % 2 == 0 else "") + word)
        types.append(TokenType.NORMAL)
        i += 1
    scores = [0.0] * 3 + [0.0] * 256 + [-float(k) for k in range(VOCAB - 259)]
    return tokens, scores, [int(t) for t in types]


def write_f16(path: Path, seed: int):
    rng = np.random.default_rng(seed)

    def matrix(rows, columns):
        # float32 generation then a cast: 0.02 standard deviation like an initialised model.
        return (rng.standard_normal((rows, columns), dtype=np.float32) * 0.02).astype(np.float16)

    writer = GGUFWriter(str(path), "llama")
    writer.add_name("synthetic-llama-1b")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(VOCAB)
    writer.add_file_type(1)  # LLAMA_FTYPE_MOSTLY_F16
    tokens, scores, types = vocabulary()
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)

    ones = np.ones(HIDDEN, dtype=np.float32)
    writer.add_tensor("token_embd.weight", matrix(VOCAB, HIDDEN))
    for i in range(LAYERS):
        p = f"blk.{i}."
        writer.add_tensor(p + "attn_norm.weight", ones)
        writer.add_tensor(p + "attn_q.weight", matrix(HIDDEN, HIDDEN))
        writer.add_tensor(p + "attn_k.weight", matrix(KV_HEADS * HEAD_DIM, HIDDEN))
        writer.add_tensor(p + "attn_v.weight", matrix(KV_HEADS * HEAD_DIM, HIDDEN))
        writer.add_tensor(p + "attn_output.weight", matrix(HIDDEN, HIDDEN))
        writer.add_tensor(p + "ffn_norm.weight", ones)
        writer.add_tensor(p + "ffn_gate.weight", matrix(FFN, HIDDEN))
        writer.add_tensor(p + "ffn_up.weight", matrix(FFN, HIDDEN))
        writer.add_tensor(p + "ffn_down.weight", matrix(HIDDEN, FFN))
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", matrix(VOCAB, HIDDEN))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def quantize(source: Path, target: Path, ftype: int, threads: int):
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    if status != 0:
        raise SystemExit(f"llama_model_quantize failed ({status}) for {target}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / ".cache/synthetic"))
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    f16 = out / "synthetic-llama-1b.F16.gguf"
    if not f16.exists():
        print(f"writing {f16} ...", flush=True)
        partial = f16.with_suffix(".partial")
        write_f16(partial, args.seed)
        partial.rename(f16)
    import llama_cpp

    for name, ftype in [("Q4_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0), ("Q4_K_M", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M)]:
        target = out / f"synthetic-llama-1b.{name}.gguf"
        if not target.exists():
            print(f"quantising to {target} ...", flush=True)
            partial = target.with_suffix(".partial")
            quantize(f16, partial, ftype, args.threads)
            partial.rename(target)
    for path in sorted(out.glob("synthetic-llama-1b.*.gguf")):
        print(f"{path} {path.stat().st_size / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
