#!/usr/bin/env python3
"""llama.cpp `mmproj` GGUFs of LLaVA-1.5's vision side with random weights, for speed
comparisons of image encoding (timing does not depend on weight values).

Shape: CLIP ViT-L/14 at 336 px (hidden 1024, 16 heads, FFN 4096, quick GELU, 577 tokens) with
the 23 layers LLaVA-1.5 mmproj files store (the converter drops the last one), and an `mlp`
projector (Linear, GELU, Linear) to the width of scripts/make_synthetic_llama.py's language
model (2048), which llama.cpp needs beside the mmproj file. Keys and tensor names follow
llama.cpp's legacy LLaVA converter (`clip.vision.*`, `v.blk.N.*`, `mm.0`/`mm.2`, CLIP's fc1
stored as `ffn_down`). Matrices are stored as F16 or F32; biases, norms and embeddings as F32.

Needs the PyPI `gguf` and `numpy` packages (present in the venv scripts/bench-engine.sh builds):

    .cache/llama-ref/bin/python scripts/make_synthetic_mmproj.py [--out .cache/synthetic]

Writes synthetic-clip-vit-l-336.mmproj.F16.gguf (0.6 GB) and .F32.gguf (1.2 GB); existing
files are kept (delete them to regenerate).
"""

import argparse
from pathlib import Path

import numpy as np
from gguf import GGUFWriter

IMAGE, PATCH, HIDDEN, HEADS, FFN, LAYERS, LM_WIDTH = 336, 14, 1024, 16, 4096, 23, 2048
MEAN, STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]


def write(path, dtype):
    rng = np.random.default_rng(20261123)

    def matrix(rows, columns):
        return (rng.standard_normal((rows, columns), dtype=np.float32) / np.sqrt(columns)).astype(dtype)

    def vector(n, scale=0.02, offset=0.0):
        return (offset + scale * rng.standard_normal(n, dtype=np.float32)).astype(np.float32)

    w = GGUFWriter(str(path), "clip")
    w.add_name("synthetic CLIP ViT-L/14-336 (random weights)")
    w.add_bool("clip.has_text_encoder", False)
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_llava_projector", True)
    w.add_string("clip.projector_type", "mlp")
    w.add_bool("clip.use_gelu", False)  # CLIP's quick GELU
    w.add_uint32("clip.vision.image_size", IMAGE)
    w.add_uint32("clip.vision.patch_size", PATCH)
    w.add_uint32("clip.vision.embedding_length", HIDDEN)
    w.add_uint32("clip.vision.feed_forward_length", FFN)
    w.add_uint32("clip.vision.projection_dim", LM_WIDTH)
    w.add_uint32("clip.vision.attention.head_count", HEADS)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    w.add_uint32("clip.vision.block_count", LAYERS)
    w.add_array("clip.vision.image_mean", MEAN)
    w.add_array("clip.vision.image_std", STD)
    tokens = (IMAGE // PATCH) ** 2 + 1
    w.add_tensor("v.class_embd", vector(HIDDEN))
    w.add_tensor("v.patch_embd.weight", (0.02 * rng.standard_normal((HIDDEN, 3, PATCH, PATCH), dtype=np.float32)).astype(dtype))
    w.add_tensor("v.position_embd.weight", 0.02 * rng.standard_normal((tokens, HIDDEN), dtype=np.float32))
    w.add_tensor("v.pre_ln.weight", vector(HIDDEN, offset=1.0))
    w.add_tensor("v.pre_ln.bias", vector(HIDDEN))
    for i in range(LAYERS):
        b = f"v.blk.{i}."
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            w.add_tensor(b + name + ".weight", matrix(HIDDEN, HIDDEN))
            w.add_tensor(b + name + ".bias", vector(HIDDEN))
        for name in ("ln1", "ln2"):
            w.add_tensor(b + name + ".weight", vector(HIDDEN, offset=1.0))
            w.add_tensor(b + name + ".bias", vector(HIDDEN))
        # The legacy converter's names: fc1 (hidden -> FFN) as ffn_down, fc2 as ffn_up.
        w.add_tensor(b + "ffn_down.weight", matrix(FFN, HIDDEN))
        w.add_tensor(b + "ffn_down.bias", vector(FFN))
        w.add_tensor(b + "ffn_up.weight", matrix(HIDDEN, FFN))
        w.add_tensor(b + "ffn_up.bias", vector(HIDDEN))
    w.add_tensor("mm.0.weight", matrix(LM_WIDTH, HIDDEN))
    w.add_tensor("mm.0.bias", vector(LM_WIDTH))
    w.add_tensor("mm.2.weight", matrix(LM_WIDTH, LM_WIDTH))
    w.add_tensor("mm.2.bias", vector(LM_WIDTH))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / ".cache/synthetic"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for label, dtype in (("F16", np.float16), ("F32", np.float32)):
        path = out / f"synthetic-clip-vit-l-336.mmproj.{label}.gguf"
        if path.exists():
            print(f"kept {path}")
            continue
        write(path, dtype)
        print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
