#!/usr/bin/env python3
"""Converts a legacy (non-zip) PyTorch checkpoint into safetensors, without PyTorch.

Usage: convert_efficientnet.py INPUT.pth OUTPUT.safetensors

The legacy format is five things back to back: three pickles (magic number, protocol
version, system info), the pickled state dict whose tensors refer to storages by persistent
id, a pickled list of storage keys, then each storage's raw data prefixed by its element
count. The unpickler below accepts only the handful of globals a state dict uses, so a
hostile file cannot run code. Tensor names, shapes and values are kept exactly.
"""

from __future__ import annotations

import json
import pickle
import struct
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
SAFETENSORS_DTYPES = {
    np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.float16): "F16",
    np.dtype(np.int64): "I64", np.dtype(np.int32): "I32", np.dtype(np.int16): "I16",
    np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL",
}


class StorageRef:
    def __init__(self, key: str, dtype: type, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel


class TensorRef:
    def __init__(self, storage: StorageRef, offset: int, shape: tuple, stride: tuple):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride


def rebuild_tensor(storage, offset, shape, stride, requires_grad=False, hooks=None, *rest):
    return TensorRef(storage, offset, tuple(shape), tuple(stride))


class StorageType:
    def __init__(self, name: str):
        self.name = name


class StateDictUnpickler(pickle.Unpickler):
    """Resolves only the globals a legacy state dict needs; anything else is an error."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")):
            return rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        raise pickle.UnpicklingError(f"refusing global {module}.{name}: not part of a plain state dict")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid[:5]
        return StorageRef(str(key), STORAGE_DTYPES[storage_type.name], int(numel))


def read_legacy(path: Path) -> OrderedDict:
    with path.open("rb") as f:
        if pickle.load(f) != LEGACY_MAGIC:
            raise ValueError(f"{path}: not a legacy PyTorch checkpoint (bad magic number)")
        if pickle.load(f) != 1001:
            raise ValueError(f"{path}: unsupported legacy protocol version")
        info = pickle.load(f)
        if not info.get("little_endian", False):
            raise ValueError(f"{path}: big-endian checkpoints are not supported")
        state = StateDictUnpickler(f).load()
        keys = pickle.load(f)
        storages = {}
        refs = {t.storage.key: t.storage for t in state.values() if isinstance(t, TensorRef)}
        for key in keys:
            (numel,) = struct.unpack("<q", f.read(8))
            dtype = np.dtype(refs[key].dtype)
            raw = f.read(numel * dtype.itemsize)
            if len(raw) != numel * dtype.itemsize:
                raise ValueError(f"{path}: storage {key} is truncated")
            storages[key] = np.frombuffer(raw, dtype=dtype)
        if f.read(1):
            raise ValueError(f"{path}: unexpected bytes after the last storage")
    tensors = OrderedDict()
    for name, ref in state.items():
        if not isinstance(ref, TensorRef):
            raise ValueError(f"{path}: entry {name} is not a tensor")
        base = storages[ref.storage.key]
        itemsize = base.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            base[ref.offset:], shape=ref.shape, strides=[s * itemsize for s in ref.stride])
        tensors[name] = np.ascontiguousarray(view)
    return tensors


def write_safetensors(tensors: OrderedDict, path: Path, metadata: dict[str, str]) -> None:
    header, offset = {"__metadata__": metadata}, 0
    for name, array in tensors.items():
        header[name] = {"dtype": SAFETENSORS_DTYPES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # keep the data section 8-byte aligned
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for array in tensors.values():
            f.write(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
    temporary.replace(path)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    tensors = read_legacy(source)
    write_safetensors(tensors, target, {"format": "pt", "source": source.name})
    print(f"  wrote {len(tensors)} tensors to {target.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
