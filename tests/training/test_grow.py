"""Warm start (training/grow.py): a 64-px run begins from a trained 32-px generator."""
import pytest
import torch

from attn_demo.cli import main
from attn_demo.models.checkpoint import load_pretrained
from attn_demo.models.config import ModelConfig
from attn_demo.training.state import CHECKPOINT, read_configs

from conftest import make_model_dir


def test_a_bigger_run_starts_from_the_smaller_generators_stages(tmp_path):
    small_dir = make_model_dir(tmp_path / "small", num_classes=3)     # 32 px, g_width 32, as "shapes"
    small = load_pretrained(small_dir)
    run = tmp_path / "run"
    assert main(["train", "--data", "shapes", "--out", str(run), "--resolution", "64", "--g-width", "16",
                 "--d-width", "16", "--z-dim", "16", "--attn", "16,32", "--d-attn", "32", "--init-from",
                 str(small_dir), "--steps", "1", "--batch-size", "4", "--log-every", "1", "--ema-start", "5"]) == 0
    big_cfg, train_cfg, _ = read_configs(run / CHECKPOINT)
    assert big_cfg.g_channels()[:4] == small.cfg.g_channels() and train_cfg.init_from == str(small_dir)
    from attn_demo.models.networks import Generator
    from attn_demo.training.grow import transfer
    fresh = Generator(ModelConfig(**{**big_cfg.to_dict()}))
    copied, new = transfer(fresh, small.state_dict())
    assert any(n.startswith("blocks.2.") for n in copied) and any(n.startswith("attn.16.") for n in copied)
    assert all(not n.startswith(("blocks.3.", "attn.32.", "out_")) for n in copied)
    sd = fresh.state_dict()
    for n in copied:
        assert torch.equal(sd[n], small.state_dict()[n])
    assert float(fresh.attn["32"].gamma.detach()) == 0.0                        # the new attention starts at 0


def test_a_generator_whose_stages_do_not_fit_is_refused(tmp_path):
    small_dir = make_model_dir(tmp_path / "small")                    # stages 128@4 64@8 32@16 16@32
    from attn_demo.models.config import TrainConfig
    from attn_demo.training.grow import warm_start
    from attn_demo.training.runtime import TrainingError, setup_runtime
    from attn_demo.training.step import build_state
    cfg = ModelConfig(resolution=64, z_dim=16, g_width=64, d_width=16, g_attn=(32,), d_attn=(32,))
    st = build_state(cfg, TrainConfig(), setup_runtime("cpu", TrainConfig()))
    with pytest.raises(TrainingError, match="no stage"):
        warm_start(st, small_dir, log=lambda *a: None)


def _warm_state(small_dir, fade_in):
    from attn_demo.models.config import TrainConfig
    from attn_demo.training.grow import warm_start
    from attn_demo.training.runtime import setup_runtime
    from attn_demo.training.step import build_state
    cfg = ModelConfig(resolution=64, z_dim=16, g_width=16, d_width=16, g_attn=(16, 32), d_attn=(32,), num_classes=3)
    train = TrainConfig(init_from=str(small_dir), fade_in=fade_in)
    st = build_state(cfg, train, setup_runtime("cpu", train))
    warm_start(st, small_dir, log=lambda *a: None)
    return st


def test_a_fade_in_starts_from_the_small_models_images_upsampled_and_ends_at_the_new_output(tmp_path):
    import torch.nn.functional as F
    from attn_demo.training.grow import fade_alpha, set_fade
    small_dir = make_model_dir(tmp_path / "small", num_classes=3)
    small = load_pretrained(small_dir).eval()
    st = _warm_state(small_dir, fade_in=10)
    G = st.G.eval()
    z, y = torch.randn(4, 16, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 1])
    with torch.no_grad():
        set_fade(st, 0, 10)
        want = F.interpolate(small(z, y), scale_factor=2, mode="nearest")
        assert torch.allclose(G(z, y), want, atol=1e-5)                       # step 0: the small model, upsampled
        set_fade(st, 10, 10)
        fade, G.fade = G.fade, None
        plain = G(z, y)
        G.fade = fade
        assert torch.equal(G(z, y), plain) and not torch.allclose(plain, want, atol=1e-2)
        set_fade(st, 5, 10)
        assert torch.allclose(G(z, y), 0.5 * want + 0.5 * plain, atol=1e-5)   # halfway: half of each
    assert float(st.G_ema.fade.alpha) == 0.5
    assert [fade_alpha(s, 4) for s in (0, 1, 4, 9)] == [0, 0.25, 1, 1] and fade_alpha(3, 0) == 1
    assert any(p is G.fade.conv.parametrizations.weight.original for g in st.opt_g.param_groups
               for p in g["params"])                                           # the fade head trains with G


def test_a_faded_run_resumes_and_exports_the_plain_generator(tmp_path, capsys):
    import json
    from attn_demo.models.networks import Generator
    small_dir = make_model_dir(tmp_path / "small", num_classes=3)
    run, out = tmp_path / "run", tmp_path / "exported"
    common = ["--batch-size", "4", "--log-every", "1", "--ema-start", "5"]
    assert main(["train", "--data", "shapes", "--out", str(run), "--resolution", "64", "--g-width", "16",
                 "--d-width", "16", "--z-dim", "16", "--attn", "16,32", "--d-attn", "32", "--init-from",
                 str(small_dir), "--fade-in", "3", "--steps", "2", *common]) == 0
    assert main(["train", "--data", "shapes", "--out", str(run), "--resume", "--steps", "4", *common]) == 0
    alphas = [json.loads(line).get("fade_alpha") for line in (run / "log.jsonl").read_text().splitlines()]
    assert [a for a in alphas if a is not None] == [0.3333, 0.6667, 1.0, 1.0]    # steps 1-2, resumed 3-4
    assert main(["export", str(run), "--out", str(out)]) == 0
    G = load_pretrained(out)
    assert isinstance(G, Generator) and G.fade is None and not any(k.startswith("fade.") for k in G.state_dict())
    assert json.loads((out / "training.json").read_text())["fade_alpha"] == 1.0
    capsys.readouterr()
    assert main(["train", "--data", "shapes", "--out", str(tmp_path / "r2"), "--fade-in", "3", "--steps", "1"]) != 0
    assert "init_from" in capsys.readouterr().err


def test_a_canvas_model_grows_unpooled_attention_from_a_pooled_one(tmp_path):
    """--attn-pool off with --init-from: every tensor of the pooled canvas model is taken (pooling has
    no weights), and the run's attention sees 4x the keys."""
    from attn_demo.models.checkpoint import save_pretrained
    from conftest import tiny_canvas
    small_dir = tmp_path / "tex"
    save_pretrained(small_dir, tiny_canvas())
    run = tmp_path / "run"
    assert main(["train", "--data", "shapes", "--out", str(run), "--kind", "canvas", "--resolution", "32",
                 "--z-dim", "8", "--z-local", "4", "--g-width", "16", "--d-width", "16", "--attn", "8",
                 "--d-attn", "16", "--attn-pool", "off", "--init-from", str(small_dir), "--steps", "1",
                 "--batch-size", "4", "--log-every", "1"]) == 0
    cfg, train_cfg, _ = read_configs(run / CHECKPOINT)
    assert cfg.attn_pool is False and train_cfg.init_from == str(small_dir)
    small = load_pretrained(small_dir)
    from attn_demo.models.canvas import CanvasGenerator
    from attn_demo.training.grow import transfer
    copied, fresh = transfer(CanvasGenerator(cfg), small.state_dict())
    assert not fresh                                                    # all of it


def test_frozen_copied_stages_hold_until_their_step_across_a_resume(tmp_path, capsys):
    """--freeze-copied N: the copied stages (and the fade head) keep the small model's values for N steps,
    found again on resume, while the new stages learn; then they train too."""
    from safetensors.torch import load_file
    small_dir = make_model_dir(tmp_path / "small", num_classes=3)
    small = load_pretrained(small_dir).state_dict()
    run = tmp_path / "run"
    common = ["--batch-size", "4", "--log-every", "1", "--ema-start", "99", "--keep-every", "1"]

    def G_at(step):
        return {k[2:]: v for k, v in load_file(run / "checkpoints" / f"step-{step:07d}.safetensors").items()
                if k.startswith("G.")}
    assert main(["train", "--data", "shapes", "--out", str(run), "--resolution", "64", "--g-width", "16",
                 "--d-width", "16", "--z-dim", "16", "--attn", "16,32", "--d-attn", "32", "--init-from",
                 str(small_dir), "--fade-in", "4", "--freeze-copied", "3", "--steps", "2", *common]) == 0
    assert "stay fixed until step 3" in capsys.readouterr().out
    assert main(["train", "--data", "shapes", "--out", str(run), "--resume", "--steps", "4", *common]) == 0
    assert "stay fixed until step 3" in capsys.readouterr().out                 # found again on resume
    copied = "blocks.1.conv1.parametrizations.weight.original"
    for step in (1, 2, 3):
        G = G_at(step)
        assert torch.equal(G[copied], small[copied]) and torch.equal(G["fade.conv.bias"], small["out_conv.bias"])
    assert not torch.equal(G_at(1)["out_conv.bias"], G_at(2)["out_conv.bias"])   # the new output learns
    assert not torch.equal(G_at(4)[copied], small[copied])                       # step 4: all of G trains
    assert main(["train", "--data", "shapes", "--out", str(tmp_path / "r2"), "--freeze-copied", "3",
                 "--steps", "1"]) != 0
    assert "init_from" in capsys.readouterr().err


def test_open_sle_gates_start_as_the_identity():
    """--sle open: a generator with skip-layer excitation whose gates start open paints exactly what
    the same weights paint without SLE, so a warm start's copied stages are not halved at step 0;
    FastGAN's sigmoid gates do change it (they start at 0.5)."""
    import torch
    from attn_demo.models.config import ModelConfig
    from attn_demo.models.networks import Generator
    base = dict(resolution=64, z_dim=16, g_width=16, d_width=16, g_attn=(32,), d_attn=(32,))
    torch.manual_seed(0)
    plain = Generator(ModelConfig(**base)).eval()
    z = torch.randn(2, 16)
    for gate, same in (("open", True), ("sigmoid", False)):
        sle = Generator(ModelConfig(**base, g_sle=True, sle_gate=gate)).eval()
        missing = sle.load_state_dict(plain.state_dict(), strict=False).missing_keys
        assert missing and all(k.startswith("sle.") for k in missing)
        with torch.no_grad():
            assert torch.allclose(sle(z), plain(z), atol=1e-6) is same


@pytest.mark.parametrize("options", [dict(attn_registers=2, attn_null=True), dict(attn_context=True),
                                     dict(attn_whiten=True, attn_context=True)])
def test_a_trained_attention_layer_is_copied_into_one_with_options(tmp_path, options):
    """The paired attention runs start from emoji32: its attention layer is copied whole and only
    the option's own parts (registers, the context path) start fresh."""
    from attn_demo.models.networks import Generator
    from attn_demo.training.grow import is_option_part, transfer
    small = load_pretrained(make_model_dir(tmp_path / "small", num_classes=3))
    small.attn["16"].gamma.data.fill_(0.7)                             # a trained layer's gamma
    G = Generator(ModelConfig(**{**small.cfg.to_dict(), **options}))
    copied, new = transfer(G, small.state_dict())
    assert new and all(is_option_part(n) for n in new)                  # only the option's parts are new
    assert any(n.startswith("attn.16.") for n in copied) and float(G.attn["16"].gamma.detach()) == pytest.approx(0.7)
    if "attn_registers" not in options and not options.get("attn_whiten"):
        # the context path starts at gamma_ctx 0: the copied layer paints what the trained one did
        G.eval(); small.eval()
        z = torch.randn(2, small.cfg.z_dim)
        y = torch.tensor([0, 2])
        with torch.no_grad():
            assert torch.allclose(G(z, y), small(z, y), atol=1e-5)
