import numpy as np
import pytest

from attn_demo import render
from attn_demo.errors import InputError


def test_to_uint8_range_and_layout():
    a = np.zeros((3, 2, 2), np.float32)
    a[0] = -1.0
    a[1] = 1.0
    a[2, 0, 0] = 5.0
    out = render.to_uint8(a)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert (out[..., 0] == 0).all() and (out[..., 1] == 255).all() and out[0, 0, 2] == 255
    assert render.to_uint8(np.zeros((4, 3, 2, 2))).shape == (4, 2, 2, 3)


def test_upscale_nearest_blocks():
    img = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    big = render.upscale_nearest(img, 3)
    assert big.shape == (6, 6, 3)
    assert (big[3:6, 0:3] == img[1, 0]).all()


def test_overlay_blend_formula():
    img = np.full((4, 4, 3), 100, np.uint8)
    heat = np.array([[0.0, 1.0], [0.5, 0.25]], np.float32)
    out = render.heat_overlay(img, heat, alpha=0.5, cmap="gray")
    up = render.normalize_map(render.upsample_bilinear(heat, 4, 4))
    grey = np.rint(up * 255)
    assert np.abs(out[..., 0].astype(float) - np.rint(50 + 0.5 * grey)).max() <= 1
    assert np.array_equal(render.heat_overlay(img, heat, alpha=0.0), img)


def test_bilinear_upsample_keeps_cell_centres():
    heat = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    up = render.upsample_bilinear(heat, 64, 64)
    # Pixel pair straddling a cell centre averages to the cell value.
    for r, c in [(0, 0), (3, 5), (7, 7)]:
        y, x = r * 8 + 3, c * 8 + 3
        assert abs(float(up[y:y + 2, x:x + 2].mean()) - heat[r, c]) < 0.1


def test_grid_and_marker_and_png():
    imgs = np.random.default_rng(0).integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    grid = render.image_grid(imgs, nrow=3, pad=1)
    assert grid.shape == (2 * 8 + 3, 3 * 8 + 4, 3)
    assert np.array_equal(grid[1:9, 1:9], imgs[0])
    marked = render.draw_marker(np.zeros((64, 64, 3), np.uint8), 32, 32, (0, 255, 255), radius=6)
    assert marked[32, 32].tolist() == [0, 255, 255]
    from PIL import Image
    import io
    png = render.encode_png(imgs[0])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), imgs[0])


def test_bad_colormap_and_alpha():
    with pytest.raises(InputError):
        render.colormap("rainbow-unicorn")
    with pytest.raises(InputError):
        render.heat_overlay(np.zeros((2, 2, 3), np.uint8), np.ones((1, 1)), alpha=2)
