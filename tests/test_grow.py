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
