import numpy as np
import pytest
import torch

from attn_demo.errors import InputError
from attn_demo.models.checkpoint import load_pretrained
from attn_demo.models.folding import plain_copy
from attn_demo.models.networks import generator_parameters
from attn_demo.imaging import draw
from attn_demo.serving.engine import Engine, MapSettings, RenderArgs


@pytest.fixture(scope="module")
def engine(model_dir):
    return Engine.from_pretrained(model_dir, device="cpu")


def test_same_seed_same_bytes(engine):
    a = engine.render(RenderArgs(seed=42, psi=0.8))
    b = engine.render(RenderArgs(seed=42, psi=0.8))
    assert a.image.dtype == np.uint8 and a.image.shape == (32, 32, 3)
    assert a.image.tobytes() == b.image.tobytes()
    assert draw.encode_png(a.image) == draw.encode_png(b.image)
    assert engine.render(RenderArgs(seed=43)).image.tobytes() != a.image.tobytes()


def test_folded_model_matches_parametrised(model_dir):
    g = load_pretrained(model_dir)
    z = torch.randn(3, g.cfg.z_dim)
    with torch.no_grad():
        ref = g(z)
        folded = plain_copy(g)(z)
    assert torch.allclose(ref, folded, atol=1e-5)


def test_served_generator_keeps_its_layouts(engine):
    """prepare_generator's move to channels_last keeps the stem's input-major weight."""
    g = engine.generator
    assert g.stem.weight.t().is_contiguous() and not g.stem.weight.is_contiguous()
    assert g.blocks[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_batched_render_matches_single(engine):
    args = [RenderArgs(seed=s) for s in (1, 2, 3)]
    images, _ = engine.render_many(args)
    for a, img in zip(args, images):
        single = engine.render(a).image.astype(int)
        assert np.abs(single - img.astype(int)).max() <= 1  # batched BLAS may round differently


def test_inspect_uses_no_generator_pass(engine, monkeypatch):
    result = engine.render(RenderArgs(seed=3))
    monkeypatch.setattr(engine.generator, "forward", lambda *a: (_ for _ in ()).throw(AssertionError))
    out = engine.inspect(result, 5, 7, scale=4)
    assert out.overlay.shape == (128, 128, 3)
    assert out.heat.shape == (8, 8) and abs(out.heat.sum() - 1) < 1e-5
    assert out.stats["cell"] == [2, 3] and out.stats["layer"] == "G16"


def test_inspect_overlay_matches_engine_map(engine):
    result = engine.render(RenderArgs(seed=4))
    out = engine.inspect(result, 100, 60, MapSettings(alpha=1.0), size=(256, 256), scale=8, marker_color=None)
    expected = np.asarray(draw.heat_colours(out.heat, 256, 256, "inferno"))
    assert np.array_equal(out.overlay, expected)


def test_inspect_display_coordinates(engine):
    """A click on an upscaled picture maps to the same cell as on the image itself."""
    result = engine.render(RenderArgs(seed=5))
    a = engine.inspect(result, 13, 21)
    b = engine.inspect(result, 13 * 16 + 15, 21 * 16 + 15, size=(512, 512))
    assert np.array_equal(a.heat, b.heat)


@pytest.mark.parametrize("kwargs", [dict(x=-1, y=0), dict(x=0, y=32), dict(x=float("nan"), y=0),
                                    dict(x=1, y=1, layer="G99"), dict(x=1, y=1, mode="sideways"),
                                    dict(x=1, y=1, alpha=float("nan")), dict(x=1, y=1, cmap="nope"),
                                    dict(x=1, y=1, head=1), dict(x=1, y=1, scale=0),
                                    dict(x=1, y=1, size=(0, 5))])
def test_inspect_rejects_bad_input(engine, kwargs):
    result = engine.render(RenderArgs(seed=6))
    settings = MapSettings(**{k: kwargs.pop(k) for k in ("layer", "head", "mode", "alpha", "cmap") if k in kwargs})
    with pytest.raises(InputError):
        engine.inspect(result, settings=settings, **kwargs)


def test_inspect_answers_with_a_typed_map(engine):
    """One call gives the map and its statistics; the API's JSON keys are the same as before."""
    result = engine.render(RenderArgs(seed=6))
    out = engine.inspect(result, 200, 100, MapSettings(mode="looked-at-by"), size=(512, 512))
    m = out.map
    assert (m.layer, m.mode, m.head, m.x, m.y, m.size) == ("G16", "looked-at-by", None, 200, 100, (512, 512))
    assert m.cell == (200 * 8 // 512, 100 * 8 // 512) and m.heat.shape == m.grid == (16, 16)
    assert m.total_weight == pytest.approx(float(m.heat.sum())) and 0 <= m.entropy_norm <= 1
    assert set(out.stats) == {"layer", "mode", "head", "x", "y", "size", "gamma", "cell", "grid", "key_grid",
                              "entropy_nats", "uniform_entropy_nats", "entropy_norm", "mean_distance_px",
                              "max_weight", "total_weight", "map_ms", "overlay_ms"}
    assert "G16, head mean" in m.describe() and m.describe(markdown=True).startswith("**G16**")


@pytest.mark.parametrize("args", [RenderArgs(seed=-1), RenderArgs(seed=2**32), RenderArgs(psi=float("nan")),
                                  RenderArgs(psi=float("inf")), RenderArgs(label="cat"),
                                  RenderArgs(sliders=(1.0,))])
def test_render_rejects_bad_input(engine, args):
    with pytest.raises(InputError):
        engine.render(args)


def test_conditional_engine(cond_model_dir):
    e = Engine.from_pretrained(cond_model_dir, device="cpu")
    assert e.class_names == ["cat", "dog", "fish"]
    a = e.render(RenderArgs(seed=1, label="dog")).image
    assert np.array_equal(a, e.render(RenderArgs(seed=1, label=1)).image)
    assert not np.array_equal(a, e.render(RenderArgs(seed=1, label="fish")).image)
    r = e.render(RenderArgs(seed=1, label="cat"))
    for head in (None, 0, 1):
        for mode in ("looks-at", "looked-at-by"):
            e.inspect(r, 3, 3, MapSettings(head=head, mode=mode))
    with pytest.raises(InputError):
        e.render(RenderArgs(seed=1))  # a class is required


def test_summary(engine):
    result = engine.render(RenderArgs(seed=8))
    s = engine.summary(result, scale=2)
    assert s.heat.shape == (16, 16) and s.overlay.shape == (64, 64, 3)
    assert 0 < s.stats["mean_distance_px"] < 32 * 1.5
    assert s.stats["mean_entropy_nats"] <= s.stats["uniform_entropy_nats"] + 1e-5


def test_info(engine):
    info = engine.info()
    assert info["gamma"] == {"G16": pytest.approx(0.7)}
    assert info["parameters"] == generator_parameters(engine.cfg) and info["device"] == "cpu"   # as trained


def test_colour_scale_each_map_to_its_peak_or_one_scale_relative_to_uniform(engine):
    result = engine.render(RenderArgs(seed=4))
    peak = engine.inspect(result, 100, 60, MapSettings(), size=(256, 256), scale=8, marker_color=None)
    one = engine.inspect(result, 100, 60, MapSettings(norm="uniform"), size=(256, 256), scale=8, marker_color=None)
    nk = peak.map.key_grid[0] * peak.map.key_grid[1]
    assert peak.vmax == pytest.approx(peak.map.max_weight) and one.vmax == pytest.approx(8.0 / nk)
    assert np.array_equal(one.overlay, draw.overlay_picture(result.image, one.heat, 8, 0.6, "inferno", vmax=8.0 / nk))
    assert np.array_equal(peak.overlay, draw.overlay_picture(result.image, peak.heat, 8, 0.6, "inferno"))
    for out, settings in ((peak, MapSettings()), (one, MapSettings(norm="uniform"))):
        bar = engine.legend(out, settings)
        assert bar.shape == (44, 512, 3) and bar.dtype == np.uint8
    with pytest.raises(InputError, match="colour scale"):
        engine.inspect(result, 1, 1, MapSettings(norm="log"))


def test_a_model_with_attention_slots_shows_their_shares(tmp_path):
    """Registers and a null slot: /inspect's statistics say what each click's row puts outside the
    picture, the map is drawn at its share (not stretched to full colour), the page's live map
    gets the register keys and the null slot, and models without slots answer with the keys they always had."""
    from attn_demo.studio.live import payload
    from attn_demo.studio.view import View
    from conftest import make_model_dir
    engine = Engine.from_pretrained(make_model_dir(tmp_path / "slots", attn_registers=2, attn_null=True,
                                                   attn_whiten=True, attn_context=True), device="cpu")
    result = engine.render(RenderArgs(seed=3))
    out = engine.inspect(result, 10, 20, MapSettings(), size=(32, 32))
    m = out.map
    assert {"register_share", "null_share", "pixel_share", "gamma_ctx"} <= set(out.stats)
    assert m.pixel_share == pytest.approx(float(m.heat.sum()), abs=1e-5)
    assert m.pixel_share == pytest.approx(1 - m.register_share - m.null_share)
    assert MapSettings().vmax(m) == pytest.approx(m.max_weight / m.pixel_share)
    col = engine.inspect(result, 10, 20, MapSettings(mode="looked-at-by"), size=(32, 32))
    assert col.stats["register_share"] is None and col.map.slots_sentence() == ""
    live = payload(engine, result, View("slots", RenderArgs(seed=3)))
    assert live["server"] is False and live["null"] is True and live["registers"]
