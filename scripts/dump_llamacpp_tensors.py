#!/usr/bin/env python3
"""Every named f32 tensor llama.cpp computes while it decodes tokens one at a time, saved as
numpy arrays: the way to find where our decoder's arithmetic first departs from ggml's.

llama.cpp names its intermediate tensors per layer (`attn_norm-L`, `Qcur-L`, `Kcur-L`, `Vcur-L`,
`kq-L`, `kq_soft_max-L`, `kqv-L`, `attn_out-L`, `ffn_inp-L`, `ffn_norm-L`, `ffn_gate-L`,
`ffn_up-L`, `ffn_swiglu-L`, `ffn_out-L`, `l_out-L`) and at the end (`result_norm`,
`result_output`); keys in the output are `STEP:NAME` (the last tensor of a name wins, so a
rotated `Qcur-L` replaces the projected one). Write the same points from `LlamaSession` (a
temporary hook in `runLayers`) and compare with `numpy` layer by layer: the first tensor that is
not bit-identical names the operation. This is how token-by-token decoding was made to match
llama.cpp exactly (README, Decisions).

  .cache/llama-ref/bin/python scripts/dump_llamacpp_tensors.py MODEL.gguf 1,4093,198 /tmp/ggml.npz

Needs llama-cpp-python (scripts/bench-engine.sh builds it into .cache/llama-ref).
"""

import ctypes
import os
import sys

import numpy as np
import llama_cpp
from llama_cpp import llama_cpp as api

GGML_TYPE_F32 = 0


class TensorHead(ctypes.Structure):
    """The leading fields of `struct ggml_tensor` (ggml.h): type, buffer, ne[4], nb[4]."""
    _fields_ = [("type", ctypes.c_int), ("buffer", ctypes.c_void_p),
                ("ne", ctypes.c_int64 * 4), ("nb", ctypes.c_size_t * 4)]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    model_path, token_list, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    tokens = [int(t) for t in token_list.split(",")]
    base = ctypes.CDLL(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))
    base.ggml_get_name.restype, base.ggml_get_name.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
    base.ggml_get_data.restype, base.ggml_get_data.argtypes = ctypes.c_void_p, [ctypes.c_void_p]

    tensors, step = {}, [0]

    @api.ggml_backend_sched_eval_callback
    def observe(tensor, ask, _user_data):
        if ask:
            return True  # yes, call again once it is computed
        head = TensorHead.from_address(tensor)
        ne, nb = list(head.ne), list(head.nb)
        contiguous = nb[0] == 4 and nb[1] == 4 * ne[0] and nb[2] == nb[1] * ne[1] and nb[3] == nb[2] * ne[2]
        if head.type == GGML_TYPE_F32 and contiguous:
            count = ne[0] * ne[1] * ne[2] * ne[3]
            data = ctypes.cast(base.ggml_get_data(tensor), ctypes.POINTER(ctypes.c_float))
            name = base.ggml_get_name(tensor).decode()
            tensors[f"{step[0]}:{name}"] = np.ctypeslib.as_array(data, shape=(count,)).copy()
        return True

    api.llama_backend_init()
    model = api.llama_model_load_from_file(model_path.encode(), api.llama_model_default_params())
    params = api.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_ubatch = 512, 1, 1
    params.n_threads = params.n_threads_batch = 2
    params.flash_attn_type = api.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as the reference fixtures
    params.cb_eval = observe
    context = api.llama_init_from_model(model, params)
    for position, token in enumerate(tokens):
        step[0] = position
        batch = api.llama_batch_init(1, 0, 1)
        batch.n_tokens = 1
        batch.token[0], batch.pos[0], batch.n_seq_id[0], batch.logits[0] = token, position, 1, 1
        batch.seq_id[0][0] = 0
        if api.llama_decode(context, batch) != 0:
            sys.exit(f"llama_decode failed at position {position}")
        api.llama_batch_free(batch)
    np.savez(out_path, **tensors)
    print(f"wrote {len(tensors)} tensors for {len(tokens)} tokens to {out_path}")


if __name__ == "__main__":
    main()
