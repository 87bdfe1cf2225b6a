"""One training iteration and what it needs: losses, the EMA, batches, the initial state.

`train_step` reads as numbered phases (D steps, G step, EMA); the optimizers
live in `TrainState`, outside the modules. The loop around it is trainer.py.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from ..models.config import ModelConfig, TrainConfig
from ..models.networks import Discriminator, build_generator
from .augment import diff_augment
from ..imaging.folders import ImageSet, to_float
from .levers import r1_penalty
from .runtime import Runtime, TrainingError
from .state import TrainState


def hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_g(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """Exponential moving average of the weights; buffers (BN stats, SN u/v) are copied."""
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.lerp_(p, 1.0 - decay)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


class Batches:
    """Draws real batches (class-balanced when labelled) and fake latents/classes."""

    def __init__(self, data: ImageSet, cfg: TrainConfig, rt: Runtime, gen: torch.Generator, crop: int | None = None):
        """crop: images larger than this are cut to random crops of it that may wrap around the
        edge (tiling textures for a canvas model)."""
        self.data, self.cfg, self.rt, self.gen = data, cfg, rt, gen
        self.crop = crop if crop is not None and crop < data.resolution else None
        self.images = data.images.to(rt.device)
        self.labels = data.labels.to(rt.device) if data.labels is not None else None
        if data.labels is not None:  # each class equally often, whatever its size
            counts = torch.bincount(data.labels, minlength=data.num_classes).float()
            self.weights = 1.0 / counts[data.labels]
        else:
            self.weights = torch.ones(len(data))

    def real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = torch.multinomial(self.weights, self.cfg.batch_size, replacement=True, generator=self.gen)
        x = self.images[idx.to(self.rt.device)]
        if self.crop is not None:
            x = wrapped_crops(x, self.crop, self.gen)
        x = to_float(x)
        if self.cfg.hflip:
            flip = (torch.rand(len(idx), generator=self.gen) < 0.5).to(self.rt.device)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if self.rt.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = self.labels[idx.to(self.rt.device)] if self.labels is not None else None
        return x, y

    def fake(self, G) -> tuple[torch.Tensor, torch.Tensor | None]:
        n, dev = self.cfg.batch_size, self.rt.device
        z = G.sample_latent(n, device=dev)
        if self.cfg.global_dropout:
            z = G.drop_global(z, torch.rand(n, device=dev) < self.cfg.global_dropout)
        y = torch.randint(0, self.data.num_classes, (n,), device=dev) if self.labels is not None else None
        return z, y


def wrapped_crops(x: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, size, size): one random crop per image, wrapping around its edges."""
    b, _, h, w = x.shape
    dy = torch.randint(0, h, (b, 1), generator=gen)
    dx = torch.randint(0, w, (b, 1), generator=gen)
    rows = ((dy + torch.arange(size)) % h).to(x.device)            # (B, size)
    cols = ((dx + torch.arange(size)) % w).to(x.device)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return x.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def _cat(a, b):
    return None if a is None else torch.cat([a, b])


def train_step(st: TrainState, G: torch.nn.Module, D: torch.nn.Module, batches: Batches,
               cfg: TrainConfig, rt: Runtime) -> dict[str, torch.Tensor]:
    """One iteration. G and D may be DDP wrappers of st.G and st.D."""
    aug = (lambda x: diff_augment(x, cfg.diffaug)) if cfg.diffaug else (lambda x: x)

    # 1. D steps: hinge loss on augmented real and detached fake images, in one forward
    #    (plus the optional levers: D's reconstruction loss, lazy R1; training/levers.py).
    recon = getattr(st.D, "recon", None)
    extra = {}
    for _ in range(cfg.d_steps):
        real, y_real = batches.real()
        z, y_fake = batches.fake(st.G)
        with torch.no_grad(), rt.autocast():
            fake = st.G(z, y_fake)
        x = aug(torch.cat([real, fake.to(real.dtype)]))
        with rt.autocast(), (recon.record() if recon is not None else contextlib.nullcontext()):
            logits = D(x, _cat(y_real, y_fake)).float()
        d_real, d_fake = logits[:len(real)], logits[len(real):]
        loss_d = hinge_d(d_real, d_fake)
        if recon is not None:
            with rt.autocast():
                extra["recon"] = recon.loss(x[:len(real)], st.data_gen)
            loss_d = loss_d + cfg.recon * extra["recon"]
        if cfg.r1 and st.step % cfg.r1_every == 0:
            extra["r1"] = r1_penalty(st.D, x[:len(real)], y_real)
            loss_d = loss_d + cfg.r1 / 2 * cfg.r1_every * extra["r1"]
        st.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        st.opt_d.step()

    # 2. G step: make D score fresh samples as real. D's weights need no gradient
    #    (skipped outright in one process; under DDP, kept local and discarded).
    z, y_fake = batches.fake(st.G)
    ddp = rt.world > 1
    st.D.requires_grad_(ddp)
    with D.no_sync() if ddp else contextlib.nullcontext():
        with rt.autocast():
            loss_g = hinge_g(D(aug(G(z, y_fake)), y_fake).float())
        st.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
    st.D.requires_grad_(True)
    if st.step < cfg.freeze_copied:             # Adam skips a parameter without a gradient (moments too)
        for p in st.frozen:
            p.grad = None
    st.opt_g.step()

    # 3. EMA of G (a plain copy until ema_start).
    update_ema(st.G_ema, st.G, cfg.ema_decay if st.step >= cfg.ema_start else 0.0)
    return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
            "d_real": d_real.detach().mean(), "d_fake": d_fake.detach().mean(),
            **{k: v.detach() for k, v in extra.items()}}


def build_state(model_cfg: ModelConfig, cfg: TrainConfig, rt: Runtime) -> TrainState:
    torch.manual_seed(cfg.seed)                      # same initial weights on every rank
    G, D = build_generator(model_cfg).to(rt.device), Discriminator(model_cfg).to(rt.device)
    G_ema = build_generator(model_cfg).to(rt.device).eval()
    if (cfg.r1 or cfg.recon) and rt.world > 1:
        raise TrainingError("--r1 and --recon run in one process for now (they use D outside its DDP wrapper)")
    attach_training_heads(G, G_ema, D, cfg)
    G_ema.load_state_dict(G.state_dict())
    G_ema.requires_grad_(False)
    if rt.channels_last:
        for m in (G, D, G_ema):
            m.to(memory_format=torch.channels_last)
    betas = (cfg.beta1, cfg.beta2)
    return TrainState(G, D, G_ema,
                      torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=betas),
                      torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=betas),
                      torch.Generator().manual_seed(cfg.seed + rt.rank))


def attach_training_heads(G, G_ema, D, cfg: TrainConfig) -> None:
    """The parts only training has, before the optimizers are made (so they train) and before a
    checkpoint is loaded (which holds them): a warm start's fade-in head on G (training/grow.py),
    D's reconstruction decoders (training/levers.py), D's pretrained branch (training/projected.py)."""
    if cfg.fade_in:
        from .grow import attach_fade
        attach_fade(G)
        attach_fade(G_ema)
    if cfg.recon:
        from .levers import attach_recon
        attach_recon(D)
    if cfg.pretrained_d:
        from .projected import attach_pretrained
        attach_pretrained(D, cfg.pretrained_d)
