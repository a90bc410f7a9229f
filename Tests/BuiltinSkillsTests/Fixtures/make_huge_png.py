"""Writes huge-20000x20000.png: a valid one-bit PNG of 20,000 x 20,000 black pixels
(50 MB once decoded) that compresses to about 48 KB, so that the skills' examples show the size
check on the header, not memory, refusing it. Run from the project root:

    .venv/bin/python Tests/BuiltinSkillsTests/Fixtures/make_huge_png.py
"""
import struct
import zlib
from pathlib import Path

SIDE = 20_000


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


if __name__ == "__main__":
    row = b"\x00" * (1 + (SIDE + 7) // 8)  # filter byte 0, then the row's bits, all zero
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(SIDE)) + compressor.flush()
    header = struct.pack(">IIBBBBB", SIDE, SIDE, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    (Path(__file__).resolve().parent / "huge-20000x20000.png").write_bytes(png)
