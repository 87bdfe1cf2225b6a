import io

import numpy as np
import pytest
from PIL import Image

from attn_demo.imaging import draw
from attn_demo.errors import InputError


def heat_overlay(image, heat, alpha=0.6, cmap="inferno"):
    """A heat map (any grid) blended over an image of any size: overlay_picture without upscaling."""
    return draw.overlay_picture(image, heat, 1, alpha, cmap)


def test_to_uint8_range_and_layout():
    a = np.zeros((3, 2, 2), np.float32)
    a[0] = -1.0
    a[1] = 1.0
    a[2, 0, 0] = 5.0
    out = draw.to_uint8(a)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert (out[..., 0] == 0).all() and (out[..., 1] == 255).all() and out[0, 0, 2] == 255
    assert draw.to_uint8(np.zeros((4, 3, 2, 2))).shape == (4, 2, 2, 3)


def test_upscale_nearest_blocks():
    img = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    big = draw.upscale_nearest(img, 3)
    assert big.shape == (6, 6, 3)
    assert (big[3:6, 0:3] == img[1, 0]).all()


def test_overlay_blend_formula():
    img = np.full((4, 4, 3), 100, np.uint8)
    heat = np.array([[0.0, 1.0], [0.5, 0.25]], np.float32)
    out = heat_overlay(img, heat, alpha=0.5, cmap="gray")
    grey = np.asarray(draw.heat_colours(heat, 4, 4, "gray"))[..., 0].astype(float)
    assert np.abs(out[..., 0].astype(float) - (50 + 0.5 * grey)).max() <= 1
    assert np.array_equal(heat_overlay(img, heat, alpha=0.0), img)
    assert np.array_equal(heat_overlay(img, heat, alpha=1.0, cmap="gray"),
                          np.asarray(draw.heat_colours(heat, 4, 4, "gray")))


def test_heat_colours_scale_by_maximum_and_keep_cell_centres():
    heat = np.random.default_rng(0).random((8, 8)).astype(np.float32) + 0.1
    grey = np.asarray(draw.heat_colours(heat, 64, 64, "gray"))[..., 0].astype(float) / 255
    norm = heat / heat.max()
    for r, c in [(0, 0), (3, 5), (7, 7)]:                 # pixels around a cell centre
        y, x = r * 8 + 3, c * 8 + 3
        assert abs(grey[y:y + 2, x:x + 2].mean() - norm[r, c]) < 0.1
    assert grey.max() <= 1.0 and np.isclose(grey.max(), 1.0, atol=0.05)
    zeros = np.asarray(draw.heat_colours(np.zeros((2, 2)), 4, 4, "gray"))
    assert (zeros == 0).all()


@pytest.mark.parametrize("grid, size", [((16, 16), (512, 512)), ((8, 8), (64, 64)), ((5, 7), (20, 33)),
                                        ((32, 32), (16, 16)), ((4, 4), (4, 4)), ((1, 1), (8, 8))])
def test_map_levels_are_pils_float_bilinear_resize_rounded(grid, size):
    """Our resize by matrix products is PIL's bilinear resize of the float map (up, down and the
    same size, any aspect), rounded to levels: no 8-bit map in between."""
    heat = np.random.default_rng(sum(grid)).random(grid).astype(np.float32)
    w, h = size
    expected = np.asarray(Image.fromarray(heat * (255 / heat.max()), mode="F").resize((w, h), Image.BILINEAR))
    levels = draw.map_levels(heat, w, h)
    assert levels.shape == (h, w) and levels.dtype == np.uint8
    assert np.abs(levels - expected).max() <= 0.5 + 1e-3
    assert np.allclose(draw.resize_weights(grid[0], h).sum(axis=1), 1.0)


def test_overlay_picture_reuses_the_upscaled_image_but_never_draws_on_it():
    img = np.random.default_rng(2).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    heat = np.ones((4, 4))
    first = draw.overlay_picture(img, heat, scale=4, alpha=0.0, marker=(5.5, 5.5, (0, 255, 0), 2))
    second = draw.overlay_picture(img, heat, scale=4, alpha=0.0)           # no marker left over
    assert np.array_equal(second, draw.upscale_nearest(img, 4)) and not np.array_equal(first, second)
    other = img.copy()
    other[0, 0] = 255 - other[0, 0]                                          # new pixels, new picture
    assert np.array_equal(draw.overlay_picture(other, heat, scale=4, alpha=0.0), draw.upscale_nearest(other, 4))
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        draw.overlay_picture(img.astype(np.float32), heat)


def test_overlay_picture_upscales_and_marks():
    img = np.random.default_rng(1).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    out = draw.overlay_picture(img, np.ones((4, 4)), scale=4, alpha=0.0, marker=(15.5, 15.5, (0, 255, 0), 4))
    assert out.shape == (32, 32, 3)
    assert np.array_equal(out[:8, :8], draw.upscale_nearest(img, 4)[:8, :8])
    assert out[15, 15].tolist() == [0, 255, 0]


def test_grid_and_marker_and_png():
    imgs = np.random.default_rng(0).integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    grid = draw.image_grid(imgs, nrow=3, pad=1)
    assert grid.shape == (2 * 8 + 3, 3 * 8 + 4, 3)
    assert np.array_equal(grid[1:9, 1:9], imgs[0])
    marked = draw.draw_marker(np.zeros((64, 64, 3), np.uint8), 32, 32, (0, 255, 255), radius=6)
    assert marked[32, 32].tolist() == [0, 255, 255]
    png = draw.encode_png(imgs[0])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), imgs[0])


def test_bad_colormap_and_alpha():
    with pytest.raises(InputError):
        draw.colormap("rainbow-unicorn")
    with pytest.raises(InputError):
        heat_overlay(np.zeros((2, 2, 3), np.uint8), np.ones((1, 1)), alpha=2)


@pytest.mark.parametrize("shape", [(7, 5, 3), (4, 9), (6, 6, 4), (1, 1, 3)])
def test_served_png_decodes_to_the_same_pixels(shape):
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    png = draw.encode_png(img)
    decoded = Image.open(io.BytesIO(png))
    decoded.load()  # checks the chunk CRCs and the zlib stream
    assert decoded.size == (shape[1], shape[0])
    assert np.array_equal(np.asarray(decoded), img)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(draw.encode_png_pil(img)))), img)


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4, 3), np.float32),
                                 np.zeros((2, 2, 2, 3), np.uint8)])
def test_served_png_refuses_other_arrays(bad):
    with pytest.raises(ValueError, match="uint8"):
        draw.encode_png(bad)


@pytest.mark.parametrize("name", draw.COLORMAPS)
def test_stored_palettes_are_matplotlibs(name):
    import matplotlib
    expected = (matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255).round().astype(np.uint8)
    assert np.frombuffer(draw.palette(name), np.uint8).reshape(256, 3).tolist() == expected.tolist()


def test_the_studio_starts_without_matplotlib():
    import subprocess
    import sys
    code = "import sys, attn_demo.studio.core, attn_demo.studio.ui; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_gradios_event_wrapper_does_not_import_pyplot_in_the_app():
    """Gradio checks matplotlib's backend around every event; app.py names one (MPLBACKEND),
    so the first event does not import pyplot to detect it."""
    import os
    import subprocess
    import sys
    code = ("import sys, app, gradio.utils\n"
            "with gradio.utils.MatplotlibBackendMananger():\n"
            "    pass\n"
            "print('matplotlib.pyplot' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                         cwd=os.path.join(os.path.dirname(__file__), "..", ".."))
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_served_jpeg_is_close_full_colour_and_smaller():
    # A real overlay: a nearest-upscaled image, a smooth map in colour and a marker ring.
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    overlay = draw.overlay_picture(image, rng.random((16, 16)), 8, 0.6, "inferno", (200.5, 300.5, (0, 255, 255), 10))
    jpeg = draw.encode_jpeg(overlay)
    decoded = Image.open(io.BytesIO(jpeg))
    assert decoded.format == "JPEG" and decoded.mode == "RGB" and decoded.size == (512, 512)
    assert [layer[1:3] for layer in decoded.layer] == [(1, 1)] * 3       # 4:4:4: no colour subsampling
    diff = np.abs(np.asarray(decoded).astype(int) - overlay)
    assert diff.mean() < 1.5 and diff.max() <= 64
    assert len(jpeg) < len(draw.encode_png(overlay)) / 2


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8),
                                 np.zeros((4, 4, 3), np.float32)])
def test_served_jpeg_refuses_other_arrays(bad):
    with pytest.raises(ValueError, match="uint8"):
        draw.encode_jpeg(bad)
