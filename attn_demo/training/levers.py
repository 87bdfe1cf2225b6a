"""Optional training levers for small data on a CPU (the emoji64 issue), each off by default:

- Lazy R1 (`--r1 GAMMA --r1-every K`, StyleGAN2): every K-th D step adds
  K * GAMMA / 2 * E ||grad_x D(x)||^2 over the real images D saw (after DiffAugment),
  computed in fp32.
- Reconstruction (`--recon W`, lightweight-gan / FastGAN's self-supervised D): two small
  decoders rebuild real images from D's own features, and W times their MSE joins D's loss on
  every step: one decodes the whole 8 x 8 feature map to a half-resolution image, the other a
  random quarter (8 x 8) of the 16 x 16 map to the matching half-resolution crop. D must
  describe what it sees, not only judge it. The decoders live on D (`D.recon`), train with it,
  are kept in checkpoints and never leave training.
"""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel


RECON_SIZES = (8, 16)      # the D feature maps the decoders read


def r1_penalty(D: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """E ||grad_x D(x)||^2 over the batch, in fp32 (x: the real images as D sees them). D's attention
    runs on the math kernel here: the penalty is differentiated twice, and the fused CPU kernel
    (chosen for channels-last inputs) has no second derivative."""
    x = x.detach().float().requires_grad_(True)
    with torch.autocast(device_type=x.device.type, enabled=False), sdpa_kernel(SDPBackend.MATH):
        out = D(x, y).float()
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def _up(cin: int, cout: int) -> nn.Sequential:
    """Nearest x2, 3x3 conv, BatchNorm, GLU (lightweight-gan's decoder block)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout * 2, 3, padding=1),
                         nn.BatchNorm2d(cout * 2), nn.GLU(dim=1))


class Decoder(nn.Module):
    """An 8 x 8 feature map -> an RGB image of `out` pixels in [-1, 1]."""

    def __init__(self, channels: int, out: int, width: int = 64):
        super().__init__()
        ups = int(math.log2(out // 8))
        chans = [channels] + [max(16, width >> i) for i in range(ups)]
        self.body = nn.Sequential(*[_up(a, b) for a, b in zip(chans, chans[1:])])
        self.rgb = nn.Conv2d(chans[-1], 3, 3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.rgb(self.body(h)))


class Reconstruction(nn.Module):
    """The two decoders, and forward hooks on D's blocks that keep their 16- and 8-px outputs."""

    def __init__(self, D: nn.Module):
        super().__init__()
        cfg = D.cfg
        sizes, chans = cfg.d_sizes(), cfg.d_channels()       # every resolution (32 and up) has 16 and 8
        self.half = cfg.resolution // 2
        self.whole = Decoder(chans[sizes.index(8)], self.half)
        self.part = Decoder(chans[sizes.index(16)], self.half)
        self.taps: dict[int, torch.Tensor] = {}
        self.recording = False                # set around the D step's forward (`record`)
        for size in RECON_SIZES:
            D.blocks[sizes.index(size)].register_forward_hook(self._keep(size))

    def _keep(self, size: int):
        def hook(module, inputs, output):
            if self.recording:
                self.taps[size] = output
        return hook

    @contextlib.contextmanager
    def record(self):
        """Keep the maps of the forwards inside this context (the D step's), no others."""
        self.recording = True
        try:
            yield
        finally:
            self.recording = False

    def loss(self, x_real: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """MSE of both reconstructions of the first len(x_real) images of D's last forward; x_real: the
        real images D saw. Clears the kept maps."""
        n = len(x_real)
        h8, h16 = self.taps.pop(8)[:n], self.taps.pop(16)[:n]
        self.taps.clear()
        target = F.interpolate(x_real.float(), size=self.half, mode="area")
        loss_whole = F.mse_loss(self.whole(h8).float(), target)
        qy, qx = (int(v) * 8 for v in torch.randint(0, 2, (2,), generator=gen))      # a quarter of the 16-px map
        crop = x_real[:, :, qy * self.half // 8:(qy + 8) * self.half // 8, qx * self.half // 8:(qx + 8) * self.half // 8]
        loss_part = F.mse_loss(self.part(h16[:, :, qy:qy + 8, qx:qx + 8]).float(), crop.float())
        return loss_whole + loss_part


def attach_recon(D: nn.Module) -> None:
    """Give D its decoders (before the optimizer is made, so they train with D)."""
    D.recon = Reconstruction(D).to(next(D.parameters()).device)
