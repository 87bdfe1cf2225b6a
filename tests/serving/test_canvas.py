"""The canvas generator (models/canvas.py): periodic by construction, any size, three tilings."""
import pytest
import torch

from attn_demo.errors import ConfigError
from attn_demo.models.canvas import CanvasGenerator
from attn_demo.models.config import ModelConfig
from attn_demo.models.networks import Discriminator


def canvas_config(**overrides) -> ModelConfig:
    base = dict(resolution=32, z_dim=8, z_local=4, g_width=16, d_width=16, g_attn=(16,), d_attn=(16,),
                kind="canvas", num_classes=3)
    return ModelConfig(**{**base, **overrides})


# the first canvases (a quarter of the crop per cell, nearest upsampling), and issue #36's finer field
# with a blur after each upsampling
# with a blur after each upsampling, attending at 1/2 of the canvas or over the field itself
# and per-pixel noise
OPTIONS = [{}, {"cell": 4, "g_blur": True}, {"cell": 4, "g_blur": True, "g_attn": (8,)},
           {"cell": 4, "g_blur": True, "g_noise": 1}]


def that_matters(g: CanvasGenerator) -> CanvasGenerator:
    """Attention and noise that change the picture (both start at 0 in training)."""
    with torch.no_grad():
        for m in g.attn.values():
            m.gamma.fill_(0.8)
        for b in g.blocks:
            if b.noise_strength is not None:
                b.noise_strength.fill_(0.5)
    return g


@pytest.fixture(scope="module", params=OPTIONS, ids=["cell8", "cell4-blur", "cell4-blur-field-attention",
                                                     "cell4-blur-noise"])
def G(request):
    torch.manual_seed(0)
    return that_matters(CanvasGenerator(canvas_config(**request.param)).eval())


def test_a_canvas_tiles_exactly_in_both_axes(G):
    field = G.sample_field(1, (3, 5), torch.Generator().manual_seed(1))
    y = torch.tensor([1])
    with torch.no_grad():
        img = G(field, y)
        assert img.shape == (1, 3, 3 * G.cell, 5 * G.cell)
        # a field shifted by whole cells paints the same canvas shifted by as many pixels, wrapped:
        # no pixel knows where the edge is
        shifted = G(torch.roll(field, (1, 2), dims=(2, 3)), y)
    assert torch.allclose(shifted, torch.roll(img, (G.cell, 2 * G.cell), dims=(2, 3)), atol=1e-5)


def test_a_band_wraps_in_x_only_and_none_wraps_nowhere(G):
    field = G.sample_field(1, (2, 4), torch.Generator().manual_seed(2))
    y = torch.tensor([0])
    with torch.no_grad():
        band = G.set_tiling("x")(field, y)
        band_shifted = G(torch.roll(field, 1, dims=3), y)
        assert torch.allclose(band_shifted, torch.roll(band, G.cell, dims=3), atol=1e-5)
        rolled_y = G(torch.roll(field, 1, dims=2), y)
        assert not torch.allclose(rolled_y, torch.roll(band, G.cell, dims=2), atol=1e-3)
        plain = G.set_tiling("none")(field, y)
        assert not torch.allclose(G(torch.roll(field, 1, dims=3), y), torch.roll(plain, G.cell, dims=3), atol=1e-3)
    G.set_tiling("both")
    with pytest.raises(ValueError, match="tiling"):
        G.set_tiling("diagonal")


def test_it_trains_against_the_sagan_discriminator_on_crops():
    cfg = canvas_config()
    G, D = CanvasGenerator(cfg), Discriminator(cfg)
    field = G.sample_field(4, (cfg.resolution // G.cell,) * 2)
    y = torch.tensor([0, 1, 2, 0])
    loss = -D(G(field, y), y).mean()
    loss.backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad and p.dim() > 1)


def test_the_config_says_what_a_canvas_needs():
    with pytest.raises(ConfigError, match="z_local"):
        canvas_config(z_local=0)
    with pytest.raises(ConfigError, match="z_local"):
        ModelConfig(z_local=4)                          # a sagan model has no local latents
    with pytest.raises(ConfigError, match="kind"):
        canvas_config(kind="mosaic")
    assert ModelConfig.from_json(canvas_config().to_json()) == canvas_config()
    g = CanvasGenerator(canvas_config(cell=4, g_attn=(8, 16)))              # the field's own attention
    assert list(g.attention_layers()) == ["G8", "G16"]
    with pytest.raises(ConfigError, match="g_attn 4"):
        ModelConfig(resolution=32, g_attn=(4,))                            # an image model's 4x4 input: no
    assert ModelConfig.from_dict({"resolution": 32}).kind == "sagan"          # configs from before
    with pytest.raises(ValueError, match="latent field"):
        CanvasGenerator(canvas_config())(torch.zeros(1, 5, 2, 2), torch.tensor([0]))


def test_wrapped_crops_cut_any_window_of_a_tiling_image():
    from attn_demo.training.step import wrapped_crops
    x = torch.arange(2 * 3 * 8 * 8).view(2, 3, 8, 8)
    gen = torch.Generator().manual_seed(0)
    crops = wrapped_crops(x, 5, gen)
    assert crops.shape == (2, 3, 5, 5)
    gen = torch.Generator().manual_seed(0)
    dy, dx = torch.randint(0, 8, (2, 1), generator=gen), torch.randint(0, 8, (2, 1), generator=gen)
    for b in range(2):
        rolled = torch.roll(x[b], (-int(dy[b]), -int(dx[b])), dims=(1, 2))
        assert torch.equal(crops[b], rolled[:, :5, :5])


def test_a_canvas_model_trains_exports_and_loads_from_the_command_line(tmp_path):
    """Tiling textures at 64 px, crops of 32: train a few steps, resume, export, load, render."""
    import numpy as np
    from PIL import Image
    from attn_demo.cli import main
    from attn_demo.models.checkpoint import load_pretrained
    from test_textures import tiling
    for cls in ("grass", "sand"):
        (tmp_path / "tex" / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(tiling(i + (10 if cls == "sand" else 0), 64)).save(tmp_path / "tex" / cls / f"{i}.png")
    run = tmp_path / "run"
    flags = ["train", "--data", str(tmp_path / "tex"), "--out", str(run), "--kind", "canvas", "--z-local", "4",
             "--resolution", "32", "--data-size", "64", "--g-width", "16", "--d-width", "16", "--z-dim", "8",
             "--attn", "16", "--batch-size", "4", "--ckpt-every", "2", "--sample-every", "2", "--log-every", "1",
             "--global-dropout", "0.5"]
    assert main(flags + ["--steps", "2"]) == 0
    assert main(flags + ["--steps", "4", "--resume"]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "model")]) == 0
    G = load_pretrained(tmp_path / "model")
    assert G.cfg.kind == "canvas" and G.cfg.z_local == 4
    with torch.no_grad():
        img = G(G.latent_from_seeds([3], (2, 3)), torch.tensor([1]))
    assert img.shape == (1, 3, 2 * G.cell, 3 * G.cell) and torch.isfinite(img).all()
    # the seed contract: a field's global part is a SAGAN model's z for that seed
    from attn_demo.models.latents import z_from_seed
    assert torch.equal(G.latent_from_seeds([3], (2, 3))[0, 4:, 1, 2], z_from_seed(3, 8))
    assert np.asarray(Image.open(run / "samples" / "latest.png")).shape[-1] == 3


@pytest.fixture(scope="module")
def canvas_dir(tmp_path_factory):
    from attn_demo.models.checkpoint import save_pretrained
    torch.manual_seed(0)
    G = CanvasGenerator(canvas_config()).eval()
    with torch.no_grad():
        for m in G.attn.values():
            m.gamma.fill_(0.8)
    return save_pretrained(tmp_path_factory.mktemp("w") / "tex", G)


def test_generate_paints_a_canvas_of_any_size_that_tiles(canvas_dir, tmp_path):
    import numpy as np
    from PIL import Image
    from attn_demo.cli import main
    out = tmp_path / "t.png"
    assert main(["generate", "--weights", str(canvas_dir), "--seed", "7", "--width", "40", "--height", "24",
                 "--class", "1", "--out", str(out)]) == 0
    tile = np.asarray(Image.open(out))
    assert tile.shape == (24, 40, 3)
    assert main(["generate", "--weights", str(canvas_dir), "--seed", "7", "--width", "40", "--height", "24",
                 "--class", "1", "--out", str(out)]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), tile)                  # the same seed, the same canvas
    # (that it tiles is the generator's property, tested above by shifting the field)
    assert main(["generate", "--weights", str(canvas_dir), "--seeds", "1,2", "--width", "16", "--height", "8",
                 "--tile", "x", "--class", "0", "--out", str(tmp_path / "bands")]) == 0
    assert sorted(p.name for p in (tmp_path / "bands").iterdir()) == ["seed00001.png", "seed00002.png"]


@pytest.mark.parametrize("width, height, tile, message", [
    (0, 16, "both", "multiple of 8"), (12, 16, "both", "multiple of 8"), (8.5, 16, "both", "whole number"),
    (4096, 4096, "both", "limit"), (16, 16, "diagonal", "tiling"), (float("nan"), 8, "both", "whole number"),
])
def test_canvas_sizes_and_tilings_outside_the_limits_are_refused(canvas_dir, width, height, tile, message):
    from attn_demo.errors import InputError
    from attn_demo.models.checkpoint import load_pretrained
    from attn_demo.serving.canvas import render_canvas
    with pytest.raises(InputError, match=message):
        render_canvas(load_pretrained(canvas_dir), 1, width, height, tile, label=0)


def test_canvas_flags_on_an_image_model_say_what_they_are_for(tmp_path):
    from attn_demo.cli import main
    from conftest import make_model_dir
    model = make_model_dir(tmp_path / "m")
    assert main(["generate", "--weights", str(model), "--seed", "1", "--width", "64",
                 "--out", str(tmp_path / "x.png")]) != 0


def test_a_finer_cell_and_the_blur_are_canvas_options_with_limits():
    cfg = canvas_config(cell=4, g_blur=True)
    assert cfg.g_sizes() == [8, 16, 32] and cfg.g_channels() == canvas_config().g_channels()[1:]
    assert CanvasGenerator(cfg).cell == 4 and CanvasGenerator(canvas_config()).cell == 8
    assert cfg.d_sizes() == canvas_config().d_sizes()                      # D is the crop's, unchanged
    for bad in (dict(cell=2), dict(cell=6), dict(cell=16), dict(cell=4.0), dict(cell=True)):
        with pytest.raises(ConfigError, match="cell"):
            canvas_config(**bad)
    with pytest.raises(ConfigError, match="cell"):
        ModelConfig(cell=4)                                                # an image model has no field
    with pytest.raises(ConfigError, match="g_blur"):
        ModelConfig(g_blur=True)
    assert ModelConfig.from_json(canvas_config().to_json()) == canvas_config()
    g = CanvasGenerator(canvas_config(cell=4, g_attn=(8, 16)))              # the field's own attention
    assert list(g.attention_layers()) == ["G8", "G16"]
    with pytest.raises(ConfigError, match="g_attn 4"):
        ModelConfig(resolution=32, g_attn=(4,))                            # an image model's 4x4 input: no


def test_per_pixel_noise_is_part_of_the_field_with_limits():
    """g_noise: g_noise * cell^2 more values per cell, one per pixel; strengths start at 0 (the same
    picture as without), and with strengths the noise changes single pixels, not cells."""
    cfg = canvas_config(cell=4, g_noise=2, g_attn=(8,))       # attention over the field: before the noise
    assert cfg.local_values == 4 + 2 * 16 and ModelConfig.from_json(cfg.to_json()) == cfg
    for bad in (dict(g_noise=-1), dict(g_noise=5), dict(g_noise=1.5), dict(g_noise=True)):
        with pytest.raises(ConfigError, match="g_noise"):
            canvas_config(**bad)
    with pytest.raises(ConfigError, match="g_noise"):
        ModelConfig(g_noise=1)                                             # an image model has no field
    torch.manual_seed(0)
    g = CanvasGenerator(cfg).eval()
    assert all(b.noise_strength.shape == (c, 2) and not b.noise_strength.any()
               for b, c in zip(g.blocks, cfg.g_channels()[1:]))
    field = g.latent_from_seeds([5], (6, 8))
    assert field.shape == (1, cfg.local_values + cfg.z_dim, 6, 8)
    y = torch.tensor([1])
    with torch.no_grad():
        quiet = g(field, y)
        other_noise = field.clone()
        other_noise[:, 4:cfg.local_values] = torch.randn(1, 32, 6, 8)
        assert torch.equal(g(other_noise, y), quiet)                       # strengths 0: the noise is unused
        that_matters(g)
        a, b = g(field, y), g(other_noise, y)
    assert (a - b).abs().max() > 1e-2
    one_pixel = field.clone()
    one_pixel[0, 4 + 5, 1, 2] += 3.0               # noise channel 0, pixel (1, 1) of cell (1, 2): (5, 9)
    with torch.no_grad():
        diff = (g(one_pixel, y) - a).abs().sum(1)[0]
    assert diff[5, 9] > 1e-3
    changed = torch.nonzero(diff > 1e-5)
    d = (changed - torch.tensor([5, 9])).abs()
    d = torch.minimum(d, torch.tensor([24, 32]) - d)                   # the canvas wraps
    assert d.max() <= 8                                                # its neighbourhood only
    assert len(changed) < diff.numel() / 2


def test_without_the_global_latent_the_class_and_the_local_field_set_the_canvas():
    """g_global off: the field keeps its global part (the seed contract), the generator ignores it; a
    local latent still changes the canvas; the option is a canvas model's, off only there, and old
    configs (no such key) read as on."""
    from attn_demo.errors import InputError
    from attn_demo.serving.canvas import seed_field
    cfg = canvas_config(cell=4, g_blur=True, g_noise=1, g_attn=(8,), g_global=False)
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    old = {k: v for k, v in canvas_config().to_dict().items() if k != "g_global"}
    assert ModelConfig.from_dict(old).g_global is True
    for bad in (dict(g_global="off"), dict(g_global=0)):
        with pytest.raises(ConfigError, match="g_global"):
            canvas_config(**bad)
    with pytest.raises(ConfigError, match="g_global"):
        ModelConfig(g_global=False)                                        # an image model has no field
    torch.manual_seed(0)
    g = that_matters(CanvasGenerator(cfg)).eval()
    assert g.stem.weight.shape[1] == cfg.z_local                           # the stem sees z_local only
    field = g.latent_from_seeds([3], (6, 8))
    assert field.shape == (1, cfg.local_values + cfg.z_dim, 6, 8)          # the same field as before
    y = torch.tensor([2])
    other_global, other_local = field.clone(), field.clone()
    other_global[:, cfg.local_values:] = torch.randn(1, cfg.z_dim, 1, 1)
    other_local[:, :cfg.z_local, 2, 3] += 2.0
    with torch.no_grad():
        a = g(field, y)
        assert torch.equal(g(other_global, y), a)
        assert (g(other_local, y) - a).abs().max() > 1e-2
    assert torch.equal(seed_field(g, 3, (6, 8), sliders=(0.0, 0.0)), field[0])
    with pytest.raises(InputError, match="no global latent"):
        seed_field(g, 3, (6, 8), sliders=(1.0,))


def test_global_dropout_zeroes_the_global_latent_of_the_chosen_fakes_only(tmp_path, monkeypatch):
    """train --global-dropout: for a share of each batch's fakes the field's global part is zero (the
    local latents and the noise untouched); a share outside 0..1, or a model with no global latent,
    is refused before anything is written."""
    from attn_demo.imaging.folders import make_shapes
    from attn_demo.models.config import TrainConfig
    from attn_demo.training import step
    from attn_demo.training.runtime import TrainingError
    from attn_demo.training.trainer import train
    cfg = canvas_config(cell=4, g_noise=1, g_attn=(8,))
    g = CanvasGenerator(cfg)
    field = g.sample_latent(4)
    dropped = g.drop_global(field, torch.tensor([True, False, True, False]))
    k = cfg.local_values
    assert torch.equal(dropped[:, :k], field[:, :k])
    assert dropped[[0, 2], k:].abs().max() == 0 and torch.equal(dropped[[1, 3]], field[[1, 3]])
    with pytest.raises(ValueError, match="no global latent"):
        CanvasGenerator(canvas_config(cell=4, g_attn=(8,), g_global=False)).drop_global(field, torch.ones(4) > 0)
    for bad in (-0.1, 1.5, float("nan"), True, "half"):
        with pytest.raises(ConfigError, match="global_dropout"):
            TrainConfig(global_dropout=bad)
    data = make_shapes(16, 32)
    with pytest.raises(TrainingError, match="global latent"):
        train(ModelConfig(), TrainConfig(global_dropout=0.5, max_steps=1), data, tmp_path / "sagan", progress=False)
    assert not (tmp_path / "sagan").exists()
    # in training: the fakes' fields, half of them (in expectation) without their global part
    seen = []
    drop = CanvasGenerator.drop_global
    monkeypatch.setattr(CanvasGenerator, "drop_global", lambda self, f, d: seen.append(d) or drop(self, f, d))
    batches = step.Batches.__new__(step.Batches)
    batches.cfg, batches.labels = TrainConfig(global_dropout=0.5, batch_size=256), None
    batches.rt = type("Rt", (), {"device": torch.device("cpu")})()
    torch.manual_seed(0)
    z, _ = batches.fake(g)
    assert len(seen) == 1 and 0.4 < seen[0].float().mean() < 0.6
    assert (z[seen[0], k:] == 0).all() and (z[~seen[0], k:] != 0).all(dim=1).all()


def test_the_blur_is_a_fixed_low_pass_padded_as_the_canvas_tiles():
    from attn_demo.models.canvas import TilingBlur
    blur = TilingBlur()
    x = torch.zeros(1, 2, 6, 6)
    x[0, :, 0, 0] = 16.0
    out = blur(x)                                   # wraps: the corner's weight lands in all four corners
    assert out[0, 0, 0, 0] == 4.0 and out[0, 0, -1, -1] == 1.0 and out[0, 0, 0, -1] == 2.0
    assert torch.allclose(out.sum(), x.sum()) and torch.equal(out[0, 0], out[0, 1])
    blur.tiling = "none"
    assert torch.allclose(blur(torch.ones(1, 1, 1, 4)), torch.ones(1, 1, 1, 4))    # flat stays flat
    assert blur(x)[0, 0, -1, -1] == 0.0             # no wrap
    assert not list(blur.state_dict())              # fixed: nothing in a checkpoint


def test_an_edge_that_does_not_wrap_is_reflected_not_zero_padded(G):
    """Zeros at an edge the model never saw in training drew stripes along a band's top and bottom."""
    from attn_demo.models.canvas import TilingConv2d
    conv = TilingConv2d(1, 1, 3, padding=0, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 1] = 1.0                       # out[y, x] = in[y - 1, x]
    conv.tiling = "x"
    x = torch.arange(12.0).view(1, 1, 3, 4)
    out = conv(x)
    assert torch.equal(out[0, 0, 0], x[0, 0, 1])           # row -1 reflects row 1 (zeros would give 0)
    assert torch.equal(conv(torch.ones(1, 1, 1, 4)), torch.ones(1, 1, 1, 4))   # one row high: replicated


def test_info_describes_a_canvas_model_and_probe_refuses_one(canvas_dir, capsys):
    from attn_demo.cli import main
    assert main(["info", "--weights", str(canvas_dir)]) == 0
    assert "attention at [16]" in capsys.readouterr().out
    assert main(["probe", "--weights", str(canvas_dir), "--seed", "1", "--x", "1", "--y", "1",
                 "--out", "/tmp/never.png"]) == 2
    assert "is a texture model" in capsys.readouterr().err


@pytest.mark.parametrize("options", [{"g_attn": (8,)}, {"g_attn": (16,)}, {"g_attn": (8,), "g_blur": True},
                                     {"g_attn": (16,), "cell": 4, "g_blur": True},
                                     {"g_attn": (8,), "cell": 4, "g_blur": True},
                                     {"g_attn": (16,), "g_blur": True, "g_noise": 2}])
@pytest.mark.parametrize("tiling", ["both", "x", "none"])
def test_a_large_canvas_painted_in_strips_is_the_canvas_painted_whole(options, tiling, monkeypatch):
    """Serving paints the stages after the last attention layer in row strips with a halo (memory of a
    2048² canvas): every tiling gives the one-pass canvas, a short last strip included, with or
    without the blur (its reach is one more row per block) and a finer field."""
    import attn_demo.models.canvas as canvas
    torch.manual_seed(0)
    g = that_matters(CanvasGenerator(canvas_config(**options)).eval())
    field = g.sample_field(1, (11, 5), torch.Generator().manual_seed(3))   # tall enough to cut at its own grid
    y = torch.tensor([2])
    g.set_tiling(tiling)
    with torch.no_grad():
        whole = g(field, y)
        monkeypatch.setattr(canvas, "STRIP_ABOVE", 0)
        monkeypatch.setattr(canvas, "STRIP_PIXELS", 1)              # the smallest strips: STRIP_HALO rows
        strips = []
        to_rgb = g._to_rgb
        monkeypatch.setattr(g, "_to_rgb", lambda h: strips.append(h.shape) or to_rgb(h))
        cut = g(field, y)
    g.set_tiling("both")
    assert len(strips) >= 3                                            # painted in strips
    assert cut.shape == whole.shape and torch.allclose(cut, whole, atol=1e-5)


def test_training_never_paints_in_strips(monkeypatch):
    import attn_demo.models.canvas as canvas
    monkeypatch.setattr(canvas, "STRIP_ABOVE", 0)
    g = CanvasGenerator(canvas_config(g_attn=(8,)))
    field = g.sample_field(2, (7, 5))
    assert not g._in_strips(torch.zeros(2, 8, 14, 10), 1)            # training mode
    with torch.no_grad():
        assert g.eval()._in_strips(torch.zeros(2, 8, 14, 10), 1)
    assert not g._in_strips(torch.zeros(2, 8, 14, 10), 1)            # gradients on
    assert g(field, torch.tensor([0, 1])).requires_grad
