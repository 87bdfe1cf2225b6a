"""Inversion (serving/invert.py): a picture into a model, latents in states and links, bad uploads."""
import io
import json
import threading
from urllib.parse import parse_qs

import numpy as np
import pytest
import torch
from PIL import Image

from attn_demo.errors import InputError
from attn_demo.serving.engine import Engine, RenderArgs
from attn_demo.serving.invert import Cancelled, invert
from attn_demo.imaging.folders import load_upload
from attn_demo.studio.view import View, parse_state, query_of, state_dict, view_from_query


@pytest.fixture(scope="module")
def engine(cond_model_dir):
    return Engine.from_pretrained(cond_model_dir, device="cpu")


def png_bytes(img: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", **kw)
    return buf.getvalue()


def test_a_render_of_the_model_inverts_close_to_itself(engine):
    target = engine.render(RenderArgs(seed=3, label="dog")).image
    out = invert(engine, load_upload(png_bytes(target), 32), None, steps=120, restarts=6, classes=3)
    blank = invert(engine, load_upload(png_bytes(target), 32), None, steps=1, restarts=6, classes=3)
    assert out.psnr > blank.psnr + 3                     # the optimisation moved toward the picture
    assert out.class_index in (0, 1, 2) and out.z.shape == (engine.cfg.z_dim,)
    again = engine.render(RenderArgs(seed=0, label=engine.class_names[out.class_index], latent=tuple(out.z.tolist())))
    assert np.array_equal(again.image, out.image)        # the view renders exactly what the inversion found


def test_an_inversion_can_be_cancelled_and_the_next_one_works(engine):
    target = load_upload(png_bytes(engine.render(RenderArgs(seed=1, label="cat")).image), 32)
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p)
        if len(seen) == 3:
            cancel.set()
    with pytest.raises(Cancelled, match="cancelled"):
        invert(engine, target, None, steps=500, progress=progress, cancel=cancel)
    assert len(seen) == 3
    assert invert(engine, target, None, steps=3).steps == 3


def test_a_latent_travels_in_states_and_links_exactly(engine, cond_model_dir):
    z = tuple(torch.randn(engine.cfg.z_dim).tolist())
    v = View("tinycond", RenderArgs(seed=9, psi=0.7, label="fish", latent=z), click=(10, 20))
    engines = {"tinycond": engine}
    back, _ = parse_state(json.dumps(state_dict(v, engine.weights_sha256)), engines)
    assert back.args.latent == tuple(np.float32(z).tolist())
    params = {k: vals[-1] for k, vals in parse_qs(query_of(v)[1:]).items()}
    linked = view_from_query(params, engines, v)
    image = engine.render(v.args).image
    assert np.array_equal(engine.render(back.args).image, image)
    assert np.array_equal(engine.render(linked.args).image, image)
    old = state_dict(View("tinycond", RenderArgs(seed=9, label="fish")), engine.weights_sha256)
    assert "latent" not in old and parse_state(json.dumps(old), engines)[0].args.latent is None   # old states load
    for bad in ([float("nan")] * engine.cfg.z_dim, [0.0] * 3, [1e6] * engine.cfg.z_dim, "abc"):
        state = {**state_dict(v, engine.weights_sha256), "latent": bad}
        with pytest.raises(InputError, match="latent"):
            parse_state(json.dumps(state), engines)
    with pytest.raises(InputError, match="latent"):
        view_from_query({**params, "latent": "AAAA"}, engines, v)


def _cmyk_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("CMYK", (40, 40), (0, 128, 255, 0)).save(buf, format="JPEG")
    return buf.getvalue()


def _gif() -> bytes:
    buf = io.BytesIO()
    frames = [Image.new("P", (40, 40), i) for i in range(3)]
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def _huge_png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels and holds none (what a hostile upload looks like)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def test_pictures_of_every_kind_load_and_broken_ones_are_refused_with_a_reason():
    rgb = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    good = {"16-bit PNG": png_bytes((rgb[..., 0].astype(np.uint16) * 257)), "CMYK JPEG": _cmyk_jpeg(),
            "animated GIF": _gif(), "RGBA PNG": png_bytes(np.dstack([rgb, rgb[..., :1]]))}
    for name, data in good.items():
        out = load_upload(data, 32)
        assert out.shape == (32, 32, 3) and out.dtype == np.uint8, name
    bomb = io.BytesIO()
    Image.new("L", (12000, 12000)).save(bomb, format="PNG")
    bad = {"not an image": (b"hello world" * 10, "not an image"),
           "truncated": (png_bytes(rgb)[:200], "truncated"),
           "bomb": (bomb.getvalue(), "bomb"),
           "1x1": (png_bytes(rgb[:1, :1]), "too small"),
           "huge dimension": (_huge_png_header(100_000, 100_000), "bomb or huge"),
           "extreme aspect": (_huge_png_header(60_000, 40), "aspect|bomb|huge")}
    for name, (data, message) in bad.items():
        with pytest.raises(InputError, match=message):
            load_upload(data, 32)
