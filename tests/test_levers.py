"""Training levers (training/levers.py): lazy R1 and D's reconstruction loss."""
import json

import pytest
import torch

from attn_demo.cli import main
from attn_demo.models.config import ModelConfig, TrainConfig
from attn_demo.models.networks import Discriminator
from attn_demo.training.levers import Reconstruction, attach_recon, r1_penalty


def test_r1_is_the_squared_gradient_norm_of_d_at_the_real_images():
    torch.manual_seed(0)
    D = Discriminator(ModelConfig(resolution=32, d_width=16, g_width=16, z_dim=8, d_attn=(16,), g_attn=(16,))).eval()
    # (eval: spectral norm keeps its estimate, so every forward below is the same function)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
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
