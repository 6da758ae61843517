"""Writes variants of a PNG for case_png_shortcut.sh: each a well-formed
container (every chunk CRC right, so the sender's structure check lets it
through) whose image data the receiver must judge exactly as the full
streaming validator does. Usage: png_variants.py IN.png OUTDIR"""
import os
import struct
import sys
import zlib


def chunks(data):
    pos = 8
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        yield data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + \
        struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)


def build(head, idats, tail, between=b""):
    out = b"\x89PNG\r\n\x1a\n" + b"".join(chunk(k, b) for k, b in head)
    for i, body in enumerate(idats):
        if i == 1 and between:
            out += between
        out += chunk(b"IDAT", body)
    return out + b"".join(chunk(k, b) for k, b in tail)


def split(stream, size=8192):
    return [stream[i:i + size] for i in range(0, len(stream), size)] or [b""]


def main():
    src = open(sys.argv[1], "rb").read()
    out = sys.argv[2]
    parts = list(chunks(src))
    head = [(k, b) for k, b in parts if k not in (b"IDAT", b"IEND")][:]
    first = next(i for i, (k, _) in enumerate(parts) if k == b"IDAT")
    head = [p for p in parts[:first]]
    stream = b"".join(b for k, b in parts if k == b"IDAT")
    raw = zlib.decompress(stream)
    w, h = struct.unpack(">II", head[0][1][:8])
    depth, ctype = head[0][1][8], head[0][1][9]
    chans = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    row = 1 + (w * chans * depth + 7) // 8
    assert len(raw) == row * h, "expects a non-interlaced PNG"
    iend = [(b"IEND", b"")]

    def z(data, wbits=15, level=6):
        c = zlib.compressobj(level, zlib.DEFLATED, wbits)
        return c.compress(data) + c.flush()

    bad_filter = bytearray(raw)
    bad_filter[row * (h // 2)] = 7
    flipped = bytearray(z(raw))
    flipped[len(flipped) // 2] ^= 0x10
    variants = {
        "good": build(head, split(z(raw)), iend),
        "one-idat": build(head, [z(raw)], iend),
        "small-window": build(head, split(z(raw, wbits=9)), iend),
        "text-after-data": build(head, split(z(raw)), [(b"tEXt", b"k\x00v")] + iend),
        "time-after-data": build(head, split(z(raw)), [(b"tIME", b"\x07\xea\x0c\x06\x00\x00\x00")] + iend),
        "trailing-after-iend": build(head, split(z(raw)), iend) + b"junk after the end",
        "bad-filter": build(head, split(z(bytes(bad_filter))), iend),
        "row-missing": build(head, split(z(raw[:-row])), iend),
        "row-extra": build(head, split(z(raw + raw[-row:])), iend),
        "flipped-bit": build(head, split(bytes(flipped)), iend),
        "bytes-after-stream": build(head, split(z(raw) + b"\x00\x00\x00\x00"), iend),
        "empty-idat": build(head, split(z(raw)) + [b""], iend),
        "split-by-text": build(head, split(z(raw)), iend, between=chunk(b"tEXt", b"k\x00v")),
        "adler-wrong": build(head, split(z(raw)[:-4] + b"\x00\x00\x00\x00"), iend),
        "stream-cut": build(head, split(z(raw)[:-100]), iend),
        "iend-not-empty": build(head, split(z(raw)), [(b"IEND", b"x")]),
    }
    for name, data in variants.items():
        with open(os.path.join(out, name + ".png"), "wb") as f:
            f.write(data)


main()
