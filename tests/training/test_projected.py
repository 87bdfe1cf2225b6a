"""D's pretrained feature branch (training/projected.py): a checked ImageNet network, frozen."""
import numpy as np
import pytest
import torch
from PIL import Image

from attn_demo.cli import main
from attn_demo.models.config import ModelConfig, TrainConfig
from attn_demo.models.networks import Discriminator
from attn_demo.training.projected import MEAN, STD, PretrainedBranch, attach_pretrained, load_backbone


@pytest.fixture(scope="module")
def backbone():
    return load_backbone()


@pytest.mark.parametrize("photo, imagenet_class", [("cheetah.jpg", 293), ("lion.jpg", 291)])
def test_the_network_ranks_the_right_imagenet_class_first(backbone, photo, imagenet_class):
    """The package's own README warns its conversion is lightly tested: photos that ship with Gradio."""
    import gradio
    from pathlib import Path
    path = Path(gradio.__file__).parent / "media_assets" / "images" / photo
    im = Image.open(path).convert("RGB").resize((224, 224), Image.BICUBIC)
    x = torch.from_numpy(np.array(im)).permute(2, 0, 1)[None].float() / 255
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        probs = backbone(x).softmax(-1)[0]
    assert int(probs.argmax()) == imagenet_class and float(probs.max()) > 0.5


def test_the_branch_judges_beside_d_trains_only_its_heads_and_stays_out_of_checkpoints():
    torch.manual_seed(0)
    D = Discriminator(ModelConfig(resolution=32, d_width=16, g_width=16, z_dim=8, num_classes=3))
    own = {k for k in D.state_dict()}
    x, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.tensor([0, 2])
    before = D(x, y)
    attach_pretrained(D, "efficientnet-lite0")
    assert isinstance(D.projected, PretrainedBranch)
    extra = set(D.state_dict()) - own
    assert extra and all(k.startswith("projected.heads.") or k.startswith("projected.mix") for k in extra)
    assert not any(p is q for p in D.parameters() for q in D.projected.backbone.parameters())
    x.requires_grad_(True)
    out = D(x, y)
    assert out.shape == (2,) and not torch.allclose(out, before)
    out.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0              # G learns through it
    assert all(p.grad is None for p in D.projected.backbone.parameters())    # the network stays frozen
    assert D.projected.heads[0].out.parametrizations.weight.original.grad is not None
    D.train()
    assert not D.projected.backbone.training                                 # its BatchNorm stays frozen too
    with pytest.raises(Exception, match="pretrained_d"):
        TrainConfig(pretrained_d="resnet")


def test_a_run_with_the_branch_resumes_and_exports(tmp_path, monkeypatch):
    run = tmp_path / "run"
    common = ["--batch-size", "4", "--log-every", "1"]
    assert main(["train", "--data", "shapes", "--out", str(run), "--resolution", "32", "--g-width", "16",
                 "--d-width", "16", "--z-dim", "8", "--pretrained-d", "efficientnet-lite0", "--steps", "1",
                 "--amp", "bf16", *common]) == 0     # bf16: the branch's resize has no bf16 kernel on a CPU
    assert main(["train", "--data", "shapes", "--out", str(run), "--resume", "--steps", "2", *common]) == 0
    from attn_demo.training import projected

    def no_network(*args, **kwargs):
        raise AssertionError("exporting built the pretrained branch")
    monkeypatch.setattr(projected, "attach_pretrained", no_network)   # an export reads G_ema only
    assert main(["export", str(run), "--out", str(tmp_path / "m")]) == 0
    size = (run / "checkpoint.safetensors").stat().st_size
    assert size < 8 << 20                                                    # heads only, not the 13 MB network
