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


def with_iccp(png_bytes, data):
    """The PNG with an iCCP chunk holding `data` right after IHDR."""
    return png_bytes[:33] + png_chunk(b"iCCP", data) + png_bytes[33:]


def icc_app2(sequence, count, data):
    return b"\xff\xe2" + struct.pack(">H", 2 + 14 + len(data)) + b"ICC_PROFILE\0" + bytes([sequence, count]) + data


def tiff_rgb_2x2(icc_count, icc_offset):
    """A little-endian, uncompressed 2x2 RGB TIFF whose ICC profile tag points
    at `icc_offset`."""
    entries = [(256, 3, 1, 2), (257, 3, 1, 2), (258, 3, 3, 0), (259, 3, 1, 1), (262, 3, 1, 2), (273, 4, 1, 0),
               (277, 3, 1, 3), (278, 3, 1, 2), (279, 4, 1, 12), (34675, 7, icc_count, icc_offset)]
    ifd_size = 2 + 12 * len(entries) + 4
    bits_at = 8 + ifd_size
    pixels_at = bits_at + 6
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = bits_at if tag == 258 else pixels_at if tag == 273 else value
        if kind == 3 and count == 1:
            ifd += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, kind, count, value)
    ifd += struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<HHH", 8, 8, 8) + bytes(range(0, 240, 20))


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
    # ICC profiles that cannot be read whole (src/io/icc_container.cpp): the
    # image decodes, the profile is ignored with a warning.
    write("fuzz_image", "png_iccp_zlib_bomb.png",
          with_iccp(png(4, 4, 4), b"bomb\0\0" + zlib.compress(b"\0" * (20 << 20), 9)))
    bad_crc = bytearray(with_iccp(png(4, 4, 4), b"icc\0\0" + zlib.compress(b"\1" * 500)))
    bad_crc[33 + 8 + 10] ^= 1
    write("fuzz_image", "png_iccp_bad_crc.png", bytes(bad_crc))
    header = jpeg_header(8, 8)
    write("fuzz_image", "jpeg_icc_part_2_of_3_missing.jpg",
          header[:2] + icc_app2(1, 3, b"\1" * 100) + icc_app2(3, 3, b"\3" * 100) + header[2:])
    write("fuzz_image", "tiff_icc_offset_past_end.tif", tiff_rgb_2x2(1000, 0x7FFFFFF0))
    write("fuzz_image", "tiff_icc_count_2_32_minus_1.tif", tiff_rgb_2x2(0xFFFFFFFF, 8))
    write("fuzz_image", "webp_iccp_past_end.webp",
          b"RIFF" + struct.pack("<I", 4 + 18 + 8) + b"WEBP" + b"VP8X" + struct.pack("<I", 10) + b"\x20" + b"\0" * 9 +
          b"ICCP" + struct.pack("<I", 0xFFFFFF00))

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
