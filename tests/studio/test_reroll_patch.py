"""The Textures tab's "re-roll what this pixel looks at": its default changes a local patch, not the
whole canvas (#33, the page). Measured as the share of the canvas's pixels that change."""
from pathlib import Path

import numpy as np
import pytest

from attn_demo.studio.textures.desk import CanvasView
from attn_demo.studio.textures.tab import TextureHandlers

ROOT = Path(__file__).resolve().parents[2]


def changed_share(desk, v, new) -> float:
    a, b = desk.render(v).image.astype(int), desk.render(new).image.astype(int)
    return float((np.abs(a - b).max(-1) > 0).mean())


def default_and_old(desk, v, x, y):
    """(the default re-roll's changed share, the old default's: the cells holding half the row)."""
    engine = desk.engine(v.model)
    patch = desk.reroll(v, engine.patch_cells(desk.render(v), x, y, v.map, radius=1), seed=7)
    return changed_share(desk, v, patch), changed_share(desk, v, desk.reroll_attended(v, x, y, 7, share=0.5))


def test_the_default_reroll_is_a_patch_around_the_cell_the_pixel_looks_at_most(studio):
    desk = studio.canvas
    v = CanvasView("tinytex", 1, 128, 128, label="rock")
    result = desk.render(v)
    engine = desk.engine("tinytex")
    cells = engine.patch_cells(result, 40, 70, v.map, radius=1)
    rows = {r for r, _ in cells}
    cols = {c for _, c in cells}
    assert len(cells) == 9 and len(rows) == 3 and len(cols) == 3      # one 3 x 3 patch (tiling wraps it)
    new, old = default_and_old(desk, v, 40, 70)
    assert new < 0.6 and new < old, (new, old)


def test_the_tab_rerolls_a_patch_by_default(studio):
    """The share slider's default is 0: a click with "re-roll what this pixel looks at" re-rolls the
    brush around the cell the pixel looks at most."""
    import gradio as gr
    from attn_demo.studio.textures.tab import ACTIONS
    h = TextureHandlers(studio.canvas)
    v = CanvasView("tinytex", 1, 128, 128, label="rock")
    evt = gr.SelectData(None, {"index": [40, 70], "value": None})
    out = h.on_reroll(evt, ACTIONS[2], 1, 0, v)
    new = next(o for o in out if isinstance(o, CanvasView))
    assert len(new.edited) == 9


@pytest.mark.skipif(not (ROOT / "weights" / "textures64").is_dir(), reason="the shipped texture model")
def test_on_the_shipped_texture_model_the_default_changes_a_local_patch():
    from attn_demo.serving.loader import find_models
    from attn_demo.studio.core import Studio
    desk = Studio(find_models(ROOT / "weights", kind=None), device="cpu").canvas
    v = CanvasView("textures64", 1, 256, 256, label="rock")
    for x, y in [(60, 60), (200, 128)]:
        new, old = default_and_old(desk, v, x, y)
        # measured: the patch 24 % of the pixels (at all), half the row's weight 100 % (107 of 256 cells)
        assert new <= 0.35 and old >= 0.95, (new, old)
