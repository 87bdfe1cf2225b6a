"""The textures desk (serving/canvas.py's CanvasEngine, studio/canvas.py): canvases of any size in the
studio, clicks on them, local re-rolls with undo, state files and material exports."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from attn_demo.errors import InputError
from attn_demo.serving.canvas import CanvasEngine, render_canvas
from attn_demo.serving.engine import MapSettings
from attn_demo.serving import materials
from attn_demo.studio.textures.desk import CanvasDesk, CanvasView
from attn_demo.studio.files import ExportFolder

from conftest import tiny_canvas


@pytest.fixture(scope="module")
def canvas_dir(tmp_path_factory):
    """A random canvas model with attention at 16 px of a 32-px crop: a 16 x 16 key grid on 64² (8 x 8 cells)."""
    from attn_demo.models.checkpoint import save_pretrained
    return save_pretrained(tmp_path_factory.mktemp("w") / "tex", tiny_canvas(g_attn=(16,), class_names=()))


@pytest.fixture(scope="module")
def engine(canvas_dir):
    return CanvasEngine.from_pretrained(canvas_dir, device="cpu")


@pytest.fixture()
def desk(engine, tmp_path):
    return CanvasDesk({"tex": engine}, ExportFolder(tmp_path))


def test_a_seed_paints_the_same_bytes_in_the_studio_and_the_cli(engine):
    f = engine.field(5, 96, 64, 0.8)
    assert f.shape == (engine.cfg.z_local + engine.cfg.z_dim, 8, 12)
    out = engine.render(f, "1", "both")
    assert out.size == (96, 64)
    assert np.array_equal(out.image, render_canvas(engine.generator, 5, 96, 64, "both", 0.8, "1"))


def test_a_click_on_a_wide_canvas_answers_exactly(engine):
    result = engine.render(engine.field(2, 96, 32), 0, "both")
    for mode in ("looks-at", "looked-at-by"):
        out = engine.inspect(result, 90, 5, MapSettings(mode=mode), scale=2)
        cap = result.captures[engine.layers[-1]]
        full = torch.softmax(cap.logits(cap.q, cap.k), -1)[0].mean(0)    # (Nq, Nk), mean of heads
        qx, qy = 90 * cap.grid[1] // 96, 5 * cap.grid[0] // 32
        if mode == "looks-at":
            want = full[qy * cap.grid[1] + qx].reshape(cap.key_grid)
        else:
            kx, ky = 90 * cap.key_grid[1] // 96, 5 * cap.key_grid[0] // 32
            want = full[:, ky * cap.key_grid[1] + kx].reshape(cap.grid)
        torch.testing.assert_close(out.map.heat, want, atol=1e-5, rtol=1e-4)
        assert out.overlay.shape == (64, 192, 3)
    with pytest.raises(InputError, match="outside the image"):
        engine.inspect(result, 96, 5)


def test_a_reroll_changes_only_the_cells_asked_for(desk):
    v = desk.view(desk.default_view(), "tex", 3, 64, 64, "both", 1.0, "0")
    before = desk.render(v)
    cells = desk.engine("tex").brush_cells(before, 20, 20, radius=0)
    assert cells == [(2, 2)]
    after_v = desk.reroll(v, cells, seed=11)
    f0, f1 = desk.field_of(v), desk.field_of(after_v)
    changed = (f0 != f1).any(0)
    assert changed.nonzero().tolist() == [[2, 2]]
    assert torch.equal(f0[desk.engine("tex").cfg.z_local:], f1[desk.engine("tex").cfg.z_local:])  # global stays
    after = desk.render(after_v)
    diff = np.abs(after.image.astype(int) - before.image.astype(int)).sum(-1)
    assert diff[16:24, 16:24].mean() > 5 * diff[40:, 40:].mean()      # the edit is local; the rest nearly stays
    back = desk.undo(after_v)
    assert torch.equal(desk.field_of(back), f0) and np.array_equal(desk.render(back).image, before.image)
    with pytest.raises(InputError, match="nothing to undo"):
        desk.undo(back)


def test_the_brush_wraps_where_the_canvas_tiles(desk):
    v = desk.view(desk.default_view(), "tex", 3, 64, 64, "both", 1.0, "0")
    e = desk.engine("tex")
    assert (7, 7) in e.brush_cells(desk.render(v), 1, 1, radius=1)          # across both wraps
    band = desk.view(v, "tex", 3, 64, 64, "x", 1.0, "0")
    cells = e.brush_cells(desk.render(band), 1, 1, radius=1)
    assert (0, 7) in cells and not any(r == 7 for r, _ in cells)
    flat = desk.view(v, "tex", 3, 64, 64, "none", 1.0, "0")
    assert e.brush_cells(desk.render(flat), 1, 1, radius=1) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_reroll_what_a_pixel_looks_at_takes_its_heaviest_cells(desk):
    v = desk.view(desk.default_view(), "tex", 4, 64, 64, "both", 1.0, "0")
    e = desk.engine("tex")
    result = desk.render(v)
    few = e.attended_cells(result, 30, 30, v.map, share=0.2)
    many = e.attended_cells(result, 30, 30, v.map, share=0.8)
    assert set(few) <= set(many) and len(few) < len(many)
    heat = e.inspect(result, 30, 30, v.map).map.heat              # key grid 16 x 16 over 8 x 8 cells
    per_cell = heat.reshape(8, 2, 8, 2).sum((1, 3))
    assert min(per_cell[r, c] for r, c in few) >= max(per_cell[r, c] for r, c in set(many) - set(few)) - 1e-7
    edited = desk.reroll_attended(v, 30, 30, seed=1, share=0.2)
    assert set(edited.edited) == set(few)


@pytest.mark.parametrize("region, message", [((0, 0, 65, 10), "x1"), ((-1, 0, 10, 10), "x0"),
                                             ((10, 10, 10, 20), "empty region"), ((0, 0, 8.5, 8), "whole")])
def test_regions_outside_the_canvas_are_refused(desk, region, message):
    v = desk.view(desk.default_view(), "tex", 3, 64, 64, "both", 1.0, "0")
    with pytest.raises(InputError, match=message):
        desk.reroll_region(v, *region, seed=1)


def test_bad_sizes_and_fields_are_refused(desk, engine):
    v = desk.default_view()
    for w, h, msg in [(0, 64, "multiple"), (60, 64, "multiple"), (64.5, 64, "whole"), (4096, 2048, "limit")]:
        with pytest.raises(InputError, match=msg):
            desk.view(v, "tex", 1, w, h, "both", 1.0, "0")
    with pytest.raises(InputError, match="tiling"):
        desk.view(v, "tex", 1, 64, 64, "diagonal", 1.0, "0")
    f = engine.field(1, 64, 64)
    bad = f.clone()
    bad[0, 0, 0] = float("nan")
    for broken, msg in [(bad, "NaN"), (f[1:], "latent field is float32"), (f.double(), "float32"), (f * 1e4, "far outside")]:
        with pytest.raises(InputError, match=msg):
            engine.render(broken, "0")


def test_a_rerolled_canvas_reloads_from_its_state_to_the_same_bytes(desk):
    v = desk.view(desk.default_view(), "tex", 9, 96, 64, "x", 0.7, "2")
    v = desk.reroll_brush(v, 40, 30, 1, seed=5)
    v = desk.reroll_region(v, 0, 0, 20, 20, seed=6)
    v = CanvasView(**{**v.__dict__, "click": (10, 12)})
    text = json.dumps(desk.state_dict(v))
    assert len(text) < 4000                       # the seed's cells are not written out
    back, warnings = desk.parse_state(json.loads(text))
    assert warnings == [] and back.edited == v.edited and back.click == (10, 12) and back.tiling == "x"
    assert np.array_equal(desk.render(back).image, desk.render(v).image)
    forged = json.loads(text)
    forged["rerolled"]["latents_base64"] = forged["rerolled"]["latents_base64"][:-8]
    with pytest.raises(InputError):
        desk.parse_state(forged)
    forged = json.loads(text)
    forged["rerolled"]["cells"][0] = [99, 0]
    with pytest.raises(InputError, match="cell row"):
        desk.parse_state(forged)


def test_exports_a_tile_its_material_maps_and_a_preview(desk):
    v = desk.view(desk.default_view(), "tex", 3, 64, 32, "both", 1.0, "0")
    files = desk.export(v)
    names = [f.name for f in files]
    assert names[0].endswith("_all.zip") and any(n.endswith("_normal.png") for n in names)
    tile = np.asarray(Image.open(files[1]))
    assert tile.shape == (32, 64, 3) and np.array_equal(tile, desk.render(v).image)
    height = Image.open(files[2])
    assert height.size == (64, 32) and np.asarray(height).dtype == np.uint16 and np.asarray(height).max() == 65535
    normal = np.asarray(Image.open(files[3]))
    assert normal.shape == (32, 64, 3) and normal[..., 2].min() >= 128     # every normal points out of the surface
    assert np.asarray(Image.open(files[4])).shape == (96, 192, 3)          # 3 x 3
    state = json.loads(files[5].read_text())
    assert state["kind"] == "canvas" and state["width"] == 64


def test_a_normal_map_tiles_when_its_texture_does():
    rng = np.random.default_rng(0)
    h = rng.random((16, 16)).astype(np.float32)
    n = materials.normal_map(h, 4.0, "both")
    shifted = materials.normal_map(np.roll(h, (5, 7), (0, 1)), 4.0, "both")
    assert np.array_equal(np.roll(n, (5, 7), (0, 1)), shifted)                # no seam at the wrap
    ramp = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (16, 1))         # rising to the right
    assert materials.normal_map(ramp, 4.0, "none")[8, 8, 0] < 128            # the normal leans left


def test_a_canvas_loop_meets_its_first_frame(desk):
    import av
    v = desk.view(desk.default_view(), "tex", 3, 32, 32, "both", 1.0, "0")
    path = desk.loop(v, 8, frames=8, fps=8, fmt="mp4")
    with av.open(str(path)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 8
    with pytest.raises(InputError, match="512 x 512"):
        desk.loop(CanvasView("tex", 3, 1024, 1024, "both", 1.0, "0"), 8)
    with pytest.raises(InputError, match="click the canvas first"):
        desk.loop(v, 8, frames=4, follow=True)
    followed = desk.loop(CanvasView(**{**v.__dict__, "click": (5, 9)}), 8, frames=4, fmt="webp", follow=True)
    first = np.asarray(Image.open(followed).convert("RGB"))
    assert first.shape == (32, 64, 3)                                   # the frame, and its map beside it
    assert np.array_equal(first[:, :32], desk.render(v).image)          # frame 0 is the canvas itself (lossless)


def test_a_large_canvas_attends_in_bounded_memory(monkeypatch):
    """Above SDPA_MAX_LOGITS scores the dot kinds run in query chunks: the same rows."""
    from attn_demo.models import attention
    from attn_demo.models.attention import SelfAttention2d
    torch.manual_seed(0)
    m = SelfAttention2d(32, heads=2).eval()
    with torch.no_grad():
        m.gamma.fill_(1.0)
        x = torch.randn(1, 32, 16, 24)
        whole = m(x)
        monkeypatch.setattr(attention, "SDPA_MAX_LOGITS", 100)
        monkeypatch.setattr(attention, "CHUNK_ELEMENTS", 64)
        torch.testing.assert_close(m(x), whole, atol=1e-6, rtol=1e-5)


def test_canvas_quality_scores_crops_sizes_and_seams(engine):
    from attn_demo.quality.canvas import evaluate_canvas, seam_ratios
    from attn_demo.imaging.folders import ImageSet
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 255, (12, 3, 64, 64), dtype=np.uint8))
    data = ImageSet(images, torch.arange(12) % 3, ("0", "1", "2"))
    r = evaluate_canvas(engine, data, n=16, seeds=(0, 1), log=lambda *_: None, large=128, seam_side=64)
    assert set(r["swd_x1e3"]) == {"small", "large", "windows", "real"} and len(r["swd_x1e3"]["small"]["values"]) == 2
    assert r["seams"]["both_cells"]["max"] < 1.5 < r["seams"]["none_cells"]["max"]   # the wrap is no seam
    assert r["seams"]["both"]["max"] > r["seams"]["both_cells"]["max"]     # a random model's cells show
    assert "crops of 128² canvases" in r["table"]
    from attn_demo.quality.canvas import crop_set
    from attn_demo.quality.feature_net import train_feature_net
    crops = crop_set(data, 32, 4, seed=1)                  # what a texture feature net learns from
    assert len(crops) == 48 and crops.images.shape[-1] == 32 and crops.labels.tolist()[:5] == [0, 0, 0, 0, 1]
    net = train_feature_net(crops, epochs=1, input_size=16, log=lambda *_: None)
    f = evaluate_canvas(engine, data, n=16, seeds=(0,), log=lambda *_: None, large=128, seam_side=64, features=net)
    assert set(f["fid_textures"]) == {"small", "large", "real"}
    assert all(np.isfinite(v["mean"]) for v in f["fid_textures"].values())
    assert "FID (texture features)" in f["table"].splitlines()[0] and "texture feature net" in f["note"]
    assert f["table"].splitlines()[2].count("|") == 4 and f["table"].splitlines()[4].count("|") == 4
    assert "fid_textures" not in r
    ramp = np.tile(np.arange(8, dtype=np.uint8)[None, :, None] * 10, (8, 1, 3))   # steps of 10, a jump of 70 across
    assert seam_ratios(ramp) == (7.0, 0.0)
    assert seam_ratios(ramp, period=4) == (7.0, 0.0)          # the step at column 3 -> 4 is 10 as well


def test_the_map_of_a_large_canvas_is_drawn_over_it_shrunk(engine, monkeypatch):
    from attn_demo.serving import canvas
    monkeypatch.setattr(canvas, "MAP_SIDE", 40)
    result = engine.render(engine.field(2, 96, 32), 0, "both")
    out = engine.inspect(result, 90, 5)
    assert out.overlay.shape == (11, 32, 3)                  # 96 x 32 reduced by 3 (ceil(96 / 40))
    assert result.shrunk() is result.shrunk()                 # made once


def test_canvas_sliders_move_the_global_latent_and_keep_the_edits(canvas_dir, tmp_path):
    import shutil
    from attn_demo.models.checkpoint import load_pretrained, save_directions
    from attn_demo.training.directions import GlobalLatent, compute_directions
    model = tmp_path / "tex"
    shutil.copytree(canvas_dir, model)
    save_directions(model, compute_directions(GlobalLatent(load_pretrained(model)), k=2, samples=200))
    desk = CanvasDesk({"tex": CanvasEngine.from_pretrained(model, device="cpu")}, ExportFolder(tmp_path / "x"))
    k = desk.engine("tex").cfg.z_local
    v = desk.view(desk.default_view(), "tex", 3, 64, 64, "both", 1.0, "0")
    edited = desk.reroll(v, [(1, 1)], seed=4)
    moved = desk.view(edited, "tex", 3, 64, 64, "both", 1.0, "0", sliders=(1.5, 0))
    f0, f1 = desk.field_of(edited), desk.field_of(moved)
    assert torch.equal(f0[:k], f1[:k]) and moved.edited == ((1, 1),)        # the re-rolled cell stays
    assert not torch.equal(f0[k:], f1[k:])                                  # the global latent moved
    back, _ = desk.parse_state(json.loads(json.dumps(desk.state_dict(moved))))
    assert back.sliders == (1.5, 0.0) and np.array_equal(desk.render(back).image, desk.render(moved).image)
    with pytest.raises(InputError, match="slider 1"):
        desk.view(v, "tex", 3, 64, 64, "both", 1.0, "0", sliders=(99, 0))


def test_a_card_of_a_model_trained_on_share_alike_images_says_so(canvas_dir, tmp_path):
    import shutil
    from attn_demo.training.publish import write_card
    model = shutil.copytree(canvas_dir, tmp_path / "tex")
    (model / "training.json").write_text(json.dumps({
        "steps": 10, "images_seen": 640, "wall_time_s": 60, "hardware": "cpu", "stop_reason": "time_budget",
        "torch": "x", "gamma": {"G16": 0.1}, "data": {"images": 5},
        "attribution": "Terrain textures (c) 2010 Wildfire Games, licensed under CC BY-SA 3.0."}))
    card = write_card(model)
    assert "A canvas generator" in card and "released under CC BY-SA 3.0" in card and "MIT" not in card
    assert "## Notes" not in card
    (model / "NOTES.md").write_text("The attention barely shapes the texture.\n")
    card = write_card(model)                                       # a kept note joins the card
    assert "## Notes\n\nThe attention barely shapes the texture.\n" in card


def test_canvas_quality_maps_the_datas_classes_to_the_models_by_name():
    """A 10-class texture model is scored on the 7 terrain classes beside a 7-class one: the data's
    classes find the model's by name; a class the model lacks is refused."""
    from types import SimpleNamespace
    from attn_demo.errors import InputError
    from attn_demo.imaging.folders import ImageSet
    from attn_demo.quality.canvas import class_map
    model = SimpleNamespace(num_classes=3, class_names=("brick", "grass", "sand"))
    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    terrain = ImageSet(images, torch.tensor([0, 1, 0, 1]), ("grass", "sand"))
    assert class_map(model, terrain) == [1, 2]
    assert class_map(model, ImageSet(images, torch.tensor([0, 1, 2, 2]), ("a", "b", "c"))) == [0, 1, 2]
    with pytest.raises(InputError, match="no 'snow'"):
        class_map(model, ImageSet(images, torch.tensor([0, 1, 0, 1]), ("grass", "snow")))
    assert class_map(SimpleNamespace(num_classes=0, class_names=()), terrain) is None
