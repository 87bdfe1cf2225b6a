"""SAGAN training: hinge loss, two time-scale Adam, spectral norm, EMA, DiffAugment.

    python -m attn_demo train --data data/emoji --out runs/emoji32 --time-budget 7000
    torchrun --nproc_per_node 2 -m attn_demo train --data ... --out ...   (DDP)

`train_step` is one iteration; `train` is the loop around it: batches,
logging, samples, checkpoints, NaN rollback, signals and the time budget.
A run directory holds checkpoint.safetensors (everything needed to resume),
log.jsonl (every metric), samples/ (fixed-seed grids) and summary.json.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from . import render
from .augment import diff_augment
from .checkpoint import remove_stale_temps
from .config import ModelConfig, TrainConfig
from .data import ImageSet, to_float
from .errors import AttnDemoError
from .latents import z_from_seed
from .model import Discriminator, Generator
from .train_state import (CHECKPOINT, KEPT_DIR, TrainState, keep_checkpoint, load_train_state,
                          save_train_state, set_aside_kept_after)


class TrainingError(AttnDemoError):
    """Training cannot go on (diverged repeatedly, or a run directory conflict)."""


@dataclass
class Runtime:
    """Where this process trains: device, DDP rank/world, mixed precision, memory format."""

    device: torch.device
    rank: int = 0
    world: int = 1
    amp: bool = False
    channels_last: bool = False
    compile: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        if self.amp:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 on this CPU in hardware (AVX512-BF16 or AMX), not emulated."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def setup_runtime(device: str, cfg: TrainConfig) -> Runtime:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda was asked for but no CUDA GPU is available")
    rank = 0
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
        rank = dist.get_rank()
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    on_gpu = dev.type == "cuda"
    amp = cfg.amp == "bf16" or (cfg.amp == "auto" and on_gpu)
    cl = cfg.channels_last == "on" or (cfg.channels_last == "auto" and on_gpu)
    return Runtime(dev, rank, world, amp, cl, cfg.compile == "on")


def step_modules(st: TrainState, rt: Runtime) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The G and D that `train_step` runs: st.G and st.D, wrapped for DDP over several processes and
    compiled with --compile on. The wrappers share st's parameters: checkpoints, the EMA and
    rollbacks keep working on st.G and st.D. Compiling happens at the first step (minutes on a
    CPU, less with Inductor's cache warm); D gets two graphs, as the G step turns its gradients off."""
    G = torch.nn.parallel.DistributedDataParallel(st.G) if rt.world > 1 else st.G
    D = torch.nn.parallel.DistributedDataParallel(st.D) if rt.world > 1 else st.D
    if rt.compile:
        G, D = torch.compile(G), torch.compile(D)
    return G, D


def describe_hardware(rt: Runtime) -> str:
    if rt.device.type == "cuda":
        name = torch.cuda.get_device_name(rt.device)
    else:
        name = platform.processor() or platform.machine()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        name = f"{name}, {torch.get_num_threads()} threads"
    return f"{rt.world} x {name}" if rt.world > 1 else name


# --------------------------------------------------------------- one step
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

    def __init__(self, data: ImageSet, cfg: TrainConfig, rt: Runtime, gen: torch.Generator):
        self.data, self.cfg, self.rt, self.gen = data, cfg, rt, gen
        self.images = data.images.to(rt.device)
        self.labels = data.labels.to(rt.device) if data.labels is not None else None
        if data.labels is not None:  # each class equally often, whatever its size
            counts = torch.bincount(data.labels, minlength=data.num_classes).float()
            self.weights = 1.0 / counts[data.labels]
        else:
            self.weights = torch.ones(len(data))

    def real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = torch.multinomial(self.weights, self.cfg.batch_size, replacement=True, generator=self.gen)
        x = to_float(self.images[idx.to(self.rt.device)])
        if self.cfg.hflip:
            flip = (torch.rand(len(idx), generator=self.gen) < 0.5).to(self.rt.device)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if self.rt.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = self.labels[idx.to(self.rt.device)] if self.labels is not None else None
        return x, y

    def fake(self, z_dim: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        n, dev = self.cfg.batch_size, self.rt.device
        z = torch.randn(n, z_dim, device=dev)
        y = torch.randint(0, self.data.num_classes, (n,), device=dev) if self.labels is not None else None
        return z, y


def _cat(a, b):
    return None if a is None else torch.cat([a, b])


def train_step(st: TrainState, G: torch.nn.Module, D: torch.nn.Module, batches: Batches,
               cfg: TrainConfig, rt: Runtime) -> dict[str, torch.Tensor]:
    """One iteration. G and D may be DDP wrappers of st.G and st.D."""
    z_dim = st.G.cfg.z_dim
    aug = (lambda x: diff_augment(x, cfg.diffaug)) if cfg.diffaug else (lambda x: x)

    # 1. D steps: hinge loss on augmented real and detached fake images, in one forward.
    for _ in range(cfg.d_steps):
        real, y_real = batches.real()
        z, y_fake = batches.fake(z_dim)
        with torch.no_grad(), rt.autocast():
            fake = st.G(z, y_fake)
        with rt.autocast():
            logits = D(aug(torch.cat([real, fake.to(real.dtype)])), _cat(y_real, y_fake)).float()
        d_real, d_fake = logits[:len(real)], logits[len(real):]
        loss_d = hinge_d(d_real, d_fake)
        st.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        st.opt_d.step()

    # 2. G step: make D score fresh samples as real. D's weights need no gradient
    #    (skipped outright in one process; under DDP, kept local and discarded).
    z, y_fake = batches.fake(z_dim)
    ddp = rt.world > 1
    st.D.requires_grad_(ddp)
    with D.no_sync() if ddp else contextlib.nullcontext():
        with rt.autocast():
            loss_g = hinge_g(D(aug(G(z, y_fake)), y_fake).float())
        st.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
    st.D.requires_grad_(True)
    st.opt_g.step()

    # 3. EMA of G (a plain copy until ema_start).
    update_ema(st.G_ema, st.G, cfg.ema_decay if st.step >= cfg.ema_start else 0.0)
    return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
            "d_real": d_real.detach().mean(), "d_fake": d_fake.detach().mean()}


# --------------------------------------------------------------- the loop
def build_state(model_cfg: ModelConfig, cfg: TrainConfig, rt: Runtime) -> TrainState:
    torch.manual_seed(cfg.seed)                      # same initial weights on every rank
    G, D = Generator(model_cfg).to(rt.device), Discriminator(model_cfg).to(rt.device)
    G_ema = Generator(model_cfg).to(rt.device).eval()
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


def gammas(st: TrainState) -> dict[str, float]:
    layers = {**st.G.attention_layers(), **st.D.attention_layers()}
    return {name: float(m.gamma.detach()) for name, m in layers.items()}


@torch.no_grad()
def sample_grid(G: torch.nn.Module, n: int = 16, psi: float = 1.0) -> torch.Tensor:
    """Fixed seeds 0..n-1 (the seed contract), classes cycling: (n, R, R, 3) uint8 array."""
    cfg = G.cfg
    device = next(G.parameters()).device
    z = torch.stack([z_from_seed(i, cfg.z_dim) for i in range(n)]).to(device) * psi
    y = torch.arange(n, device=device) % cfg.num_classes if cfg.num_classes else None
    was_training = G.training
    G.eval()
    out = G(z, y).float().cpu().numpy()
    G.train(was_training)
    return render.to_uint8(out)


class _Stop:
    """SIGINT/SIGTERM set a flag; the loop saves once and exits at the next step."""

    def __init__(self):
        self.reason: str | None = None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        self.reason = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _agree(rt: Runtime, *flags: bool) -> list[bool]:
    """Under DDP every rank must take the same branch: OR the flags across ranks."""
    if rt.world == 1:
        return list(flags)
    t = torch.tensor([float(f) for f in flags], device=rt.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def train(model_cfg: ModelConfig, cfg: TrainConfig, data: ImageSet, run_dir: Path,
          device: str = "auto", resume: bool = False, inject_nan_at: int | None = None,
          progress: bool = True, log=print) -> dict:
    """Train until max_steps, the time budget or a signal; returns the run summary."""
    run_dir = Path(run_dir)
    ckpt = run_dir / CHECKPOINT
    rt = setup_runtime(device, cfg)
    if ckpt.exists() and not resume:
        raise TrainingError(f"{run_dir} already holds a run: pass --resume, or choose another --out")
    if resume and not ckpt.exists():
        raise TrainingError(f"nothing to resume: {ckpt} does not exist")
    st = build_state(model_cfg, cfg, rt)
    if rt.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(run_dir)
        remove_stale_temps(run_dir / KEPT_DIR)
        (run_dir / "samples").mkdir(exist_ok=True)
    if rt.main and rt.device.type == "cpu" and cfg.amp == "auto" and cpu_has_native_bf16():
        log("this CPU runs bf16 in hardware: --amp bf16 trained 1.4-1.7x faster on such a CPU, "
            "scoring at least as well per step in a 38-minute test (docs/TRAINING.md, 'bf16 on a CPU')")
    if resume:
        load_train_state(ckpt, st)
        aside = set_aside_kept_after(run_dir, st.step) if rt.main else None
        if aside:
            log(f"resuming at step {st.step}, before checkpoints kept later: moved those to {aside}")
        if rt.world > 1:  # ranks must not replay rank 0's random streams
            torch.manual_seed(cfg.seed + 7919 * rt.rank + st.step)
            st.data_gen.manual_seed(cfg.seed + 7919 * rt.rank + st.step + 1)
    elif rt.main:
        # Step 0 is saved at once, so a NaN can always roll back to a good state.
        _write_config(run_dir, model_cfg, cfg, data)
        save_train_state(ckpt, st, model_cfg, cfg)
    _barrier(rt)

    G, D = step_modules(st, rt)
    batches = Batches(data, cfg, rt, st.data_gen)
    log_file = (run_dir / "log.jsonl").open("a") if rt.main else None
    session_start, elapsed0 = time.monotonic(), st.elapsed
    bar = tqdm(total=cfg.max_steps, initial=st.step, disable=not (progress and rt.main),
               dynamic_ncols=True, unit="it")

    def clock() -> float:  # training seconds over all sessions of this run
        return elapsed0 + time.monotonic() - session_start

    def checkpoint():
        st.elapsed = clock()
        if rt.main:
            save_train_state(ckpt, st, model_cfg, cfg)
            if cfg.keep_every and st.step % cfg.keep_every == 0:
                keep_checkpoint(run_dir, st.step)
        _barrier(rt)

    try:
        stop_reason = _loop(st, G, D, batches, cfg, rt, ckpt, run_dir, log_file, bar, checkpoint, clock,
                            inject_nan_at, log)
        bar.close()
        checkpoint()
        if rt.main:
            _save_samples(run_dir, st)
    except OSError as e:  # disk full, folder removed...: the last checkpoint is intact (atomic saves)
        bar.close()
        raise TrainingError(f"could not write to {run_dir} ({e.strerror or e}); stopped. The last "
                            f"checkpoint {ckpt} is intact: free space, then resume with --resume") from None
    summary = {"stop_reason": stop_reason, "step": st.step, "elapsed_s": round(st.elapsed, 1),
               "images_seen": st.images_seen,
               "images_per_s": round(st.images_seen / max(st.elapsed, 1e-9), 1),
               "hardware": describe_hardware(rt), "world_size": rt.world, "gamma": gammas(st),
               "data": data.source, "data_images": len(data), "torch": torch.__version__}
    if rt.main:
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        log_file.close()
        log(f"stopped ({stop_reason}) at step {st.step}; checkpoint {ckpt}")
    return summary


def _loop(st, G, D, batches, cfg, rt, ckpt, run_dir, log_file, bar, checkpoint, clock, inject_nan_at, log):
    """Steps until max_steps, the time budget, a signal or divergence; returns why it stopped."""
    session_start, rollbacks, injected = time.monotonic(), 0, False
    window_t, window_images = time.perf_counter(), 0
    with _Stop() as stop:
        while st.step < cfg.max_steps:
            over_budget = cfg.time_budget > 0 and time.monotonic() - session_start >= cfg.time_budget
            (halt,) = _agree(rt, stop.reason is not None or over_budget)
            if halt:
                return stop.reason or ("time_budget" if over_budget else "signal")
            try:
                metrics = train_step(st, G, D, batches, cfg, rt)
            except torch._dynamo.exc.TorchDynamoException as e:   # only --compile on gets here
                cause = getattr(e, "inner_exception", None) or e   # the backend's own error, if it raised one
                first = f"{type(cause).__name__}: " + (str(cause).strip().splitlines() or [""])[0]
                raise TrainingError(f"torch.compile failed at step {st.step + 1} ({first}); stopped. The last "
                                    f"checkpoint {ckpt} is intact: resume with --resume --compile off") from e
            if inject_nan_at is not None and st.step == inject_nan_at and not injected:
                metrics["loss_d"] = metrics["loss_d"] * float("nan")   # fault injection (tests)
                injected = True
            values = {k: float(v) for k, v in metrics.items()}
            (bad,) = _agree(rt, not all(math.isfinite(v) for v in values.values()))
            if bad:
                rollbacks += 1
                _event(log_file, {"event": "non_finite", "step": st.step, "rollback": rollbacks, **values})
                if rollbacks > cfg.max_nan_rollbacks:
                    raise TrainingError(f"losses became NaN/Inf {rollbacks} times since the last good "
                                        f"checkpoint (step {st.step}); stopped. Try a lower learning rate.")
                log(f"non-finite loss at step {st.step}: rolling back to the last checkpoint")
                load_train_state(ckpt, st)
                torch.manual_seed(cfg.seed + 1_000_003 * rollbacks + st.step + 7919 * rt.rank)
                st.data_gen.manual_seed(cfg.seed + 1_000_033 * rollbacks + st.step + 7919 * rt.rank)
                bar.n = st.step
                continue
            st.step += 1
            st.images_seen += cfg.batch_size * rt.world
            window_images += cfg.batch_size * rt.world
            bar.update(1)
            if st.step % cfg.log_every == 0 or st.step == 1:
                now = time.perf_counter()
                rate = window_images / max(now - window_t, 1e-9)
                window_t, window_images = now, 0
                record = {"step": st.step, "time": round(clock(), 2),
                          **{k: round(v, 5) for k, v in values.items()},
                          **{f"gamma_{k}": round(v, 5) for k, v in gammas(st).items()},
                          "images_per_s": round(rate, 1)}
                _event(log_file, record)
                bar.set_postfix_str(_postfix(record, cfg, session_start))
            if st.step % cfg.sample_every == 0 and rt.main:
                _save_samples(run_dir, st)
            if st.step % cfg.ckpt_every == 0 or (cfg.keep_every and st.step % cfg.keep_every == 0):
                checkpoint()
                rollbacks = 0
    return "max_steps"


def _postfix(r: dict, cfg: TrainConfig, session_start: float) -> str:
    g = " ".join(f"{k[6:]}={v:+.3f}" for k, v in r.items() if k.startswith("gamma_"))
    text = f"D={r['loss_d']:.3f} G={r['loss_g']:.3f} {g} {r['images_per_s']:.0f} img/s"
    if cfg.time_budget > 0:
        left = max(0.0, cfg.time_budget - (time.monotonic() - session_start))
        text += f" budget {left / 60:.0f} min left"
    return text


def _event(log_file, record: dict) -> None:
    if log_file is not None:
        log_file.write(json.dumps(record) + "\n")
        log_file.flush()


def _save_samples(run_dir: Path, st: TrainState) -> None:
    grid = render.image_grid(sample_grid(st.G_ema), nrow=4)
    render.save_png(grid, run_dir / "samples" / f"step-{st.step:07d}.png", compress_level=1)
    render.save_png(grid, run_dir / "samples" / "latest.png", compress_level=1)


def _write_config(run_dir: Path, model_cfg: ModelConfig, cfg: TrainConfig, data: ImageSet) -> None:
    info = {"model": model_cfg.to_dict(), "train": cfg.to_dict(),
            "data": {"source": data.source, "images": len(data), "sha256": data.sha256(),
                     "classes": data.class_counts(), "skipped": len(data.skipped)}}
    (run_dir / "config.json").write_text(json.dumps(info, indent=2) + "\n")


def _barrier(rt: Runtime) -> None:
    if rt.world > 1:
        dist.barrier()
