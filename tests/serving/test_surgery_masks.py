"""Free-hand brushes (serving/regions.py "mask:N:BITS"): the text form against a plain bit-by-bit
re-implementation, its refusals, and interventions with a painted brush against the whole attention
matrix edited by hand (test_surgery.py's naive G)."""
import base64

import numpy as np
import pytest
import torch

from attn_demo.errors import InputError
from attn_demo.serving.engine import Engine, RenderArgs
from attn_demo.serving.regions import mask_from_text, mask_to_text, parse_region, region_mask
from attn_demo.serving.surgery import Surgery
from attn_demo.studio.intervene import Intervention, intervene
from attn_demo.studio.surgery import intervention_from_text, intervention_to_text

from conftest import tiny_generator
from test_surgery import check


def plain_text(cells: np.ndarray) -> str:
    """The format written out by hand: cells in raster order, 8 to a byte, first cell the top bit."""
    flat = [bool(v) for v in cells.ravel()]
    flat += [False] * (-len(flat) % 8)
    raw = bytes(sum(int(b) << (7 - i) for i, b in enumerate(flat[j:j + 8])) for j in range(0, len(flat), 8))
    return f"mask:{cells.shape[0]}:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def plain_picture_mask(cells: np.ndarray, width: int, height: int) -> np.ndarray:
    n = cells.shape[0]
    return np.array([[cells[y * n // height, x * n // width] for x in range(width)] for y in range(height)])


@pytest.mark.parametrize("side", [1, 3, 8, 16, 17])
def test_text_round_trip_matches_the_plain_format(side):
    rng = np.random.default_rng(side)
    cells = rng.random((side, side)) < 0.4
    cells[0, 0] = True
    text = mask_to_text(cells)
    assert text == plain_text(cells)
    assert np.array_equal(mask_from_text(text), cells)
    assert parse_region(text) == text
    for w, h in ((32, 32), (512, 512), (side * 3 + 1, side * 2)):
        assert np.array_equal(region_mask(text, (w, h)), plain_picture_mask(cells, w, h))
    if side == 16:
        assert len(text) == len("mask:16:") + 43          # 256 bits: 43 characters


@pytest.mark.parametrize("text, message", [
    ("mask:16", "mask:N:BITS"),
    ("mask:x:AAAA", "mask:N:BITS"),
    ("mask:0:", "1..128"),
    ("mask:200:AA", "1..128"),
    ("mask:4:AAAA", "needs 2"),
    ("mask:4:*?", "base64"),
    ("mask:3:AAE", "past its 3x3 grid"),
    ("mask:4:A", "base64"),
])
def test_bad_masks_are_refused(text, message):
    with pytest.raises(InputError, match=message):
        mask_from_text(text)


def test_an_empty_mask_says_so():
    with pytest.raises(InputError, match="covers no pixel"):
        mask_from_text(plain_text(np.zeros((8, 8), bool)), "brush")
    with pytest.raises(InputError, match="more than the 4x4 picture"):
        region_mask(mask_to_text(np.ones((8, 8), bool)), (4, 4))


@pytest.fixture(scope="module")
def setup():
    G = tiny_generator(attn_kind="dot", heads=2, attn_registers=1, attn_null=True, g_attn=(8, 16))
    engine = Engine(G, device="cpu")
    return G, engine, engine.render(RenderArgs(5, 1.0, None))


def test_painted_brushes_edit_exactly_the_painted_cells(setup):
    G, engine, result = setup
    rng = np.random.default_rng(0)
    for layer in G.attention_layers():
        s = Surgery(engine, result, layer)
        cells = rng.random(s.grid) < 0.3
        text = mask_to_text(cells)
        spec = Intervention("off", layer, brush=text, size=512)
        out, _ = intervene(engine, result, spec)
        check(G, result, out, layer, off=torch.from_numpy(cells.ravel()))
        assert out.touched["queries"] == int(cells.sum())
        # hide: the painted key cells leave every row (the register and the null slot stay)
        hidden = rng.random(s.key_grid) < 0.3
        out, _ = intervene(engine, result, Intervention("hide", layer, brush=mask_to_text(hidden), size=512))
        keep = torch.ones(s.nq, s.slots, dtype=torch.bool)
        keep[:, :s.nk] = ~torch.from_numpy(hidden.ravel())
        check(G, result, out, layer, keep=keep)
        # redirect: painted queries look only at a painted target
        target = np.zeros(s.key_grid, bool)
        target[-2:, :3] = True
        out, _ = intervene(engine, result, Intervention("redirect", layer, brush=text,
                                                         target=mask_to_text(target), size=32))
        keep = torch.ones(s.nq, s.slots, dtype=torch.bool)
        keep[torch.from_numpy(cells.ravel())] = torch.cat([torch.from_numpy(target.ravel()),
                                                           torch.zeros(s.slots - s.nk, dtype=torch.bool)])
        check(G, result, out, layer, keep=keep)


def test_all_covering_painted_brushes_are_refused(setup):
    G, engine, result = setup
    full = mask_to_text(np.ones((16, 16), bool))
    with pytest.raises(InputError, match="covers every pixel"):
        intervene(engine, result, Intervention("off", "G16", brush=full, size=512))
    with pytest.raises(InputError, match="whole image"):
        intervene(engine, result, Intervention("redirect", "G16", x=3, y=3, target=full, size=32))


def test_a_painted_brush_travels_in_the_link_and_state():
    cells = np.zeros((16, 16), bool)
    cells[3:9, 2:5] = True
    spec = Intervention("hide", "G16", brush=mask_to_text(cells), size=512).checked()
    text = intervention_to_text(spec)
    assert mask_to_text(cells) in text and len(text) < 120
    assert intervention_from_text(text) == spec
    assert Intervention.from_dict(spec.to_dict()) == spec
    with pytest.raises(InputError, match="past its"):
        Intervention.from_dict({**spec.to_dict(), "brush": "mask:3:AAE"})
