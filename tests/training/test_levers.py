"""Training levers (training/levers.py): lazy R1 and D's reconstruction loss."""
import json

import numpy as np
import pytest
import torch

from attn_demo.cli import main
from attn_demo.models.config import ModelConfig, TrainConfig
from attn_demo.models.networks import Discriminator
from attn_demo.training.levers import Reconstruction, attach_recon, r1_penalty


@pytest.mark.parametrize("channels_last", [False, True])
def test_r1_is_the_squared_gradient_norm_of_d_at_the_real_images(channels_last):
    torch.manual_seed(0)
    D = Discriminator(ModelConfig(resolution=32, d_width=16, g_width=16, z_dim=8, d_attn=(16,), g_attn=(16,))).eval()
    # (eval: spectral norm keeps its estimate, so every forward below is the same function)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    if channels_last:           # as --channels-last on trains: CPU attention then picks a fused kernel
        D, x = D.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    penalty = r1_penalty(D, x, None)
    grads = []
    for i in range(3):                                        # one image at a time, by hand
        xi = x[i:i + 1].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(D(xi).sum(), xi)
        grads.append(g.pow(2).sum())
    assert torch.allclose(penalty, torch.stack(grads).mean(), rtol=1e-4)
    penalty.backward()                                        # it trains D: gradients reach its weights
    assert D.head.parametrizations.weight.original.grad is not None


def test_the_decoders_rebuild_halves_and_quarters_from_ds_own_maps():
    torch.manual_seed(0)
    cfg = ModelConfig(resolution=64, d_width=16, g_width=16, z_dim=8, d_attn=(32,), g_attn=(32,))
    D = Discriminator(cfg)
    attach_recon(D)
    x = torch.rand(4, 3, 64, 64) * 2 - 1
    D(x)                                                      # outside record(): nothing kept
    assert D.recon.taps == {}
    with D.recon.record():
        D(torch.cat([x, x]))
    assert D.recon.taps[8].shape == (8, 64, 8, 8) and D.recon.taps[16].shape == (8, 32, 16, 16)
    loss = D.recon.loss(x, torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and torch.isfinite(loss) and D.recon.taps == {}
    loss.backward()                                           # both decoders and D's blocks learn from it
    assert D.recon.whole.rgb.weight.grad is not None and D.recon.part.rgb.weight.grad is not None
    assert D.blocks[1].conv1.parametrizations.weight.original.grad is not None
    assert D.recon.whole(torch.zeros(1, 64, 8, 8)).shape == (1, 3, 32, 32)
    small = Discriminator(ModelConfig(resolution=32, d_width=16, g_width=16, z_dim=8, d_attn=(16,), g_attn=(16,)))
    assert Reconstruction(small).part(torch.zeros(1, 16, 8, 8)).shape == (1, 3, 16, 16)   # 32 px: halves of 16


def test_runs_with_the_levers_log_them_resume_and_export(tmp_path):
    run = tmp_path / "run"
    common = ["--batch-size", "4", "--log-every", "1", "--ema-start", "5"]
    assert main(["train", "--data", "shapes", "--out", str(run), "--resolution", "32", "--g-width", "16",
                 "--d-width", "16", "--z-dim", "8", "--r1", "10", "--r1-every", "2", "--recon", "1",
                 "--steps", "2", *common]) == 0
    assert main(["train", "--data", "shapes", "--out", str(run), "--resume", "--steps", "3", *common]) == 0
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if '"step"' in line]
    assert all("recon" in r for r in rows) and [("r1" in r) for r in rows] == [True, False, True]
    assert main(["export", str(run), "--out", str(tmp_path / "m")]) == 0
    with pytest.raises(Exception, match="r1"):
        TrainConfig(r1=float("nan"))


def test_skip_layer_excitation_gates_the_high_res_channels_and_is_served_as_trained(tmp_path):
    """--sle on: 8-px features gate the 32-px channels (64 px also 16 -> 64); the served (folded)
    generator paints what the trained one does; configs without the field load as before."""
    from attn_demo.models.checkpoint import save_pretrained
    from attn_demo.models.networks import Generator
    from attn_demo.imaging import draw
    from attn_demo.serving.engine import Engine, RenderArgs
    assert ModelConfig(resolution=64).sle_pairs() == [(8, 32), (16, 64)]
    assert ModelConfig(resolution=32).sle_pairs() == [(8, 32)] and ModelConfig().g_sle is False
    torch.manual_seed(0)
    G = Generator(ModelConfig(resolution=32, g_width=16, d_width=16, z_dim=8, g_sle=True, num_classes=2)).eval()
    assert list(G.sle) == ["32"]
    gate = G.sle["32"](torch.randn(3, 32, 8, 8))
    assert gate.shape == (3, 8, 1, 1) and bool(((gate > 0) & (gate < 1)).all())
    with torch.no_grad():
        G.sle["32"].conv2.bias.fill_(-30)                      # gates shut: the 32-px map is 0 before the output
        shut = G(G.latent_from_seeds([1]), torch.tensor([0]))
        G.sle["32"].conv2.bias.fill_(0.3)
    save_pretrained(tmp_path / "sle", G)
    engine = Engine.from_pretrained(tmp_path / "sle", device="cpu")
    with torch.no_grad():
        want = draw.to_uint8(G(G.latent_from_seeds([5]), torch.tensor([1])).numpy())[0]
    got = engine.render(RenderArgs(seed=5, label=1)).image
    assert np.abs(got.astype(int) - want).max() <= 1                       # folding keeps the gates
    inside = shut[0, :, 1:-1, 1:-1]                                          # (the output conv pads with zeros)
    assert float(inside.flatten(1).std(1).max()) < 1e-4                      # the gate does act: a flat image


def test_a_run_with_sle_trains_from_the_command_line(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--data", "shapes", "--out", str(run), "--resolution", "32", "--g-width", "16",
                 "--d-width", "16", "--z-dim", "8", "--sle", "on", "--steps", "1", "--batch-size", "4"]) == 0
    from attn_demo.training.state import CHECKPOINT, read_configs
    assert read_configs(run / CHECKPOINT)[0].g_sle is True
    with pytest.raises(Exception, match="g_sle"):
        ModelConfig(kind="canvas", z_local=4, g_sle=True)
