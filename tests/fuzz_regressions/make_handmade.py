#!/usr/bin/env python3
"""Writes the hand-made hostile inputs of tests/fuzz_regressions (README.md
there lists them). Only the standard library; run from anywhere:

    python3 tests/fuzz_regressions/make_handmade.py
"""
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    path = os.path.join(HERE, target, name)
    with open(path, "wb") as f:
        f.write(data)
    print(f"{path}: {len(data)} bytes")


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, rows, colour_type=2, channels=3):
    """A PNG whose header claims width x height; `rows` rows of zero pixels follow."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    raw = (b"\0" + b"\0" * (width * channels)) * rows
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 9)) +
            png_chunk(b"IEND", b""))


def jpeg_header(width, height):
    """The markers of a baseline greyscale JPEG claiming width x height, with
    no scan data: libjpeg warns and decodes the missing data as grey."""
    soi = b"\xff\xd8"
    # Quantization table 0: all ones.
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + b"\x01" * 64
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    # DC and AC Huffman tables with a single 1-bit code each.
    dht = (b"\xff\xc4" + struct.pack(">H", 2 + 17 + 1) + b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00" +
           b"\xff\xc4" + struct.pack(">H", 2 + 17 + 1) + b"\x10" + b"\x01" + b"\x00" * 15 + b"\x00")
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00" + b"\x00\x3f\x00"
    return soi + dqt + sof + dht + sos + b"\x00" * 16 + b"\xff\xd9"


def safetensors(header, data=b""):
    text = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


def main():
    # Images. A header claiming far more pixels than stylize accepts (2^27)
    # must be refused before anything is allocated for them.
    write("fuzz_image", "png_100000x100000_header.png", png(100000, 100000, 0))
    write("fuzz_image", "png_20000x20000_truncated.png", png(20000, 20000, 2))
    write("fuzz_image", "jpeg_30000x30000_no_scan.jpg", jpeg_header(30000, 30000))
    write("fuzz_image", "pnm_30000x30000_header.ppm", b"P6\n30000 30000\n255\n" + b"\0" * 12)
    write("fuzz_image", "pam_65535x65535_header.pam",
          b"P7\nWIDTH 65535\nHEIGHT 65535\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n" + b"\0" * 16)
    write("fuzz_image", "bmp_negative_height.bmp",
          b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) +
          struct.pack("<IiiHHIIiiII", 40, 4, -0x7FFFFFFF, 1, 24, 0, 16, 2835, 2835, 0, 0) + b"\0" * 16)
    write("fuzz_image", "png_truncated_ihdr.png", png(16, 16, 16)[:20])
    write("fuzz_image", "empty", b"")

    # Safetensors.
    write("fuzz_safetensors", "truncated_length.safetensors", b"\x10\x00\x00")
    write("fuzz_safetensors", "header_length_past_end.safetensors", struct.pack("<Q", 1 << 40) + b"{}")
    write("fuzz_safetensors", "truncated_header.safetensors",
          safetensors({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})[:30])
    write("fuzz_safetensors", "huge_shape.safetensors",
          safetensors({"x": {"dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 4]}}, b"\0" * 4))
    # A zero dimension used to hide the size check of the dimensions after it:
    # 2^64 - 1 was accepted and read back as the dimension -1.
    write("fuzz_safetensors", "dimension_2_64_after_zero.safetensors",
          safetensors(b'{"x":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}}'))
    # A deeply nested dtype used to be printed whole, recursively, in the error.
    write("fuzz_safetensors", "nested_dtype.safetensors",
          safetensors(b'{"x":{"dtype":' + b"[" * 5000 + b"]" * 5000 + b',"shape":[1],"data_offsets":[0,4]}}',
                      b"\0" * 4))

    # Keras HDF5, made from the tiny fixture.
    with open(os.path.join(HERE, "..", "fixtures", "keras_vgg19_notop_tiny.h5"), "rb") as f:
        keras = f.read()
    write("fuzz_keras_h5", "truncated_half.h5", keras[: len(keras) // 2])
    write("fuzz_keras_h5", "superblock_only.h5", keras[:96])
    write("fuzz_keras_h5", "signature_then_zeros.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    write("fuzz_keras_h5", "empty", b"")


if __name__ == "__main__":
    main()
