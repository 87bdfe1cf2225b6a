"""The folders of R9: good images in every mode a user has, and the 20 files of items 20-25
that a loader must skip (non-images, hidden, empty, truncated, bombs, tiny, extreme aspect,
symlinks in and out of the root, a named pipe, an unsupported format)."""
from __future__ import annotations

import io
import os
import random
import shutil
import struct
from pathlib import Path


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG whose header declares w x h pixels (no pixel data): a bomb by its declared size."""
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _bmp_header_only(w: int, h: int) -> bytes:
    return (b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54)
            + struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 16, 2835, 2835, 0, 0) + b"\x00" * 16)


def good_images(n: int, rng: random.Random):
    """(name, PIL image, save kwargs): modes and formats a user folder holds (items 23-25)."""
    import numpy as np
    from PIL import Image
    kinds = ["rgb.png", "rgb.jpg", "rgba.png", "p.gif", "la.png", "cmyk.jpg", "i16.png", "l.png", "one.png",
             "rgb.webp", "rgb.bmp", "rgb.tif", "exif.jpg", "anim.gif"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        w, h = rng.choice([(64, 64), (40, 40), (120, 80), (80, 160), (200, 200), (33, 47)])
        colour = tuple(rng.randrange(256) for _ in range(3))
        img = Image.new("RGB", (w, h), colour)
        img.paste(tuple(255 - c for c in colour), (w // 4, h // 4, w // 2, h // 2))
        kw = {}
        if kind.startswith("rgba"):
            img = img.convert("RGBA")
        elif kind == "p.gif":
            img = img.convert("P")
        elif kind == "la.png":
            img = img.convert("LA")
        elif kind == "cmyk.jpg":
            img = img.convert("CMYK")
        elif kind == "i16.png":
            img = Image.fromarray((np.asarray(img.convert("L"), dtype=np.uint16) * 257))
        elif kind == "l.png":
            img = img.convert("L")
        elif kind == "one.png":
            img = img.convert("1")
        elif kind == "exif.jpg":
            exif = Image.Exif()
            exif[0x0112] = 6
            kw = {"exif": exif}
        elif kind == "anim.gif":
            kw = {"save_all": True, "append_images": [Image.new("RGB", (w, h), (0, 0, 0))], "duration": 100}
        yield f"{i:03d}-{kind}", img, kw


def make_bad_files(folder: Path, outside: Path, good_example: Path) -> list[str]:
    """The 20 files of items 20-25 that a loader must skip; returns their names."""
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    before = set(os.listdir(folder))
    png = good_example.read_bytes()
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, "JPEG")
    jpg = buf.getvalue()
    files = {
        "notes.txt": b"not an image\n", "fake.png": b"\x89PNG\r\n\x1a\n" + b"garbage" * 20,
        "page.jpg": b"<html><body>not a jpeg</body></html>", ".hidden.png": png, ".DS_Store": b"\x00\x00\x00\x01Bud1",
        "empty.png": b"", "empty.jpg": b"", "truncated.jpg": jpg[: len(jpg) // 3], "truncated.png": png[: len(png) // 2],
        "bomb-declared.png": _png_header_only(30000, 30000), "bomb-declared.bmp": _bmp_header_only(50000, 50000),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    Image.new("L", (8000, 8000)).save(folder / "bomb-64mpx.png")               # 64 Mpx > our 40 Mpx cap
    Image.new("RGB", (1, 1)).save(folder / "one-pixel.png")
    Image.new("RGB", (7, 7)).save(folder / "seven-pixels.png")
    Image.new("RGB", (400, 20)).save(folder / "strip.png")
    Image.new("RGB", (30, 300)).save(folder / "tower.jpg")
    Image.new("RGB", (64, 64)).save(folder / "image.ppm")                      # a format we do not decode
    outside.mkdir(parents=True, exist_ok=True)
    shutil.copy(good_example, outside / "elsewhere.png")
    (folder / "link-out.png").symlink_to(outside / "elsewhere.png")
    (folder / "link-in.png").symlink_to(good_example)
    os.mkfifo(folder / "fifo.png")
    return sorted(set(os.listdir(folder)) - before)
