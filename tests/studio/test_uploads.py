"""Pictures handed over in the studio ("Your picture"): a phone photo is taken, downscaled as it is
decoded; what is refused says what is taken (#33, the page)."""
import io
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from attn_demo.errors import InputError
from attn_demo.imaging.folders import UPLOAD_MB, UPLOAD_PIXELS, load_upload


def phone_photo(w=4032, h=3024, orientation=6) -> bytes:
    """A 12-Mpx JPEG of noise over a gradient (several MB, as a phone's), rotated by its EXIF tag."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:h, :w]
    base = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 128)], -1)
    pixels = np.clip(base + rng.integers(-40, 40, (h, w, 3)), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def test_a_phone_photo_over_a_megabyte_is_taken_and_downscaled():
    data = phone_photo()
    assert len(data) > 2 << 20                      # over the old 1 MB cap
    t = time.perf_counter()
    img = load_upload(data, 32)
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert time.perf_counter() - t < 5              # decoded at 1/8 of its size (draft)
    # the EXIF orientation (6: rotated 90°) is applied: the gradient's red runs down, not across
    assert img[-1, 16, 0] > img[0, 16, 0] + 60


def test_what_is_refused_says_what_is_taken():
    with pytest.raises(InputError, match=rf"too large.*up to {UPLOAD_MB} MB"):
        load_upload(b"\xff\xd8" + b"\0" * ((UPLOAD_MB << 20) + 10), 32)
    with pytest.raises(InputError, match=r"not an image.*PNG, JPEG or WebP up to 20 MB and 89 megapixels"):
        load_upload(b"hello, not a picture", 32)
    # Pillow's decompression-bomb limit is kept: a PNG that claims more pixels is refused unread
    bomb = io.BytesIO()
    Image.new("1", (1, 1)).save(bomb, "PNG")
    raw = bytearray(bomb.getvalue())
    side = int(UPLOAD_PIXELS ** 0.5) + 100
    raw[16:24] = side.to_bytes(4, "big") * 2        # IHDR width and height, and the chunk's CRC again
    raw[29:33] = zlib.crc32(bytes(raw[12:29])).to_bytes(4, "big")
    with pytest.raises(InputError, match="decompression bomb"):
        load_upload(bytes(raw), 32)
