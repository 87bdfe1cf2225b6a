"""SAGAN training: hinge loss, two time-scale Adam, spectral norm, EMA, DiffAugment.

    python -m attn_demo train --data data/emoji --out runs/emoji32 --time-budget 7000
    torchrun --nproc_per_node 2 -m attn_demo train --data ... --out ...   (DDP)

`train_step` (step.py) is one iteration; `train` is the loop around it:
batches, logging, samples, checkpoints, NaN rollback, signals and the time
budget. runtime.py says where the process trains.
A run directory holds checkpoint.safetensors (everything needed to resume),
log.jsonl (every metric), samples/ (fixed-seed grids) and summary.json.
"""
from __future__ import annotations

import json
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm import tqdm

from ..models.checkpoint import atomic_write, remove_stale_temps
from ..models.config import ModelConfig, TrainConfig
from ..imaging import draw
from .grow import fade_alpha, set_fade
from ..imaging.folders import ImageSet
from .runtime import (Runtime, TrainingError, agree, barrier, describe_hardware,
                      setup_runtime, step_modules)
from .state import (CHECKPOINT, KEPT_DIR, TrainState, keep_checkpoint, load_train_state, save_train_state,
                    set_aside_kept_after)
from .step import Batches, build_state, train_step


def gammas(st: TrainState) -> dict[str, float]:
    layers = {**st.G.attention_layers(), **st.D.attention_layers()}
    return {name: float(m.gamma.detach()) for name, m in layers.items()}


@torch.no_grad()
def sample_grid(G: torch.nn.Module, n: int = 16, psi: float = 1.0) -> torch.Tensor:
    """Fixed seeds 0..n-1 (the seed contract), classes cycling: (n, R, R, 3) uint8 array."""
    cfg = G.cfg
    device = next(G.parameters()).device
    z = G.latent_from_seeds(range(n)).to(device) * psi
    y = torch.arange(n, device=device) % cfg.num_classes if cfg.num_classes else None
    was_training = G.training
    G.eval()
    out = G(z, y).float().cpu().numpy()
    G.train(was_training)
    return draw.to_uint8(out)


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
    if cfg.global_dropout and not (model_cfg.kind == "canvas" and model_cfg.g_global):
        raise TrainingError("global_dropout zeroes a canvas model's global latent: this model has none "
                            f"(kind {model_cfg.kind}, g_global {model_cfg.g_global})")
    st = build_state(model_cfg, cfg, rt)
    if rt.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(run_dir)
        remove_stale_temps(run_dir / KEPT_DIR)
        (run_dir / "samples").mkdir(exist_ok=True)
    if rt.main and rt.device.type == "cpu" and cfg.amp == "auto" and rt.amp:
        log("bf16 autocast is on: this CPU runs bf16 in hardware, where it trained 1.4-1.7x faster than fp32 "
            "and scored at least as well per step at 32 and 64 px (docs/TRAINING.md, 'bf16 on a CPU'); "
            "--amp off trains in fp32")
    if resume:
        load_train_state(ckpt, st)
        aside = set_aside_kept_after(run_dir, st.step) if rt.main else None
        if aside:
            log(f"resuming at step {st.step}, before checkpoints kept later: moved those to {aside}")
        if rt.world > 1:  # ranks must not replay rank 0's random streams
            torch.manual_seed(cfg.seed + 7919 * rt.rank + st.step)
            st.data_gen.manual_seed(cfg.seed + 7919 * rt.rank + st.step + 1)
    elif cfg.init_from:
        from .grow import warm_start
        warm_start(st, Path(cfg.init_from), log=log if rt.main else (lambda *a: None))
    if st.step < cfg.freeze_copied:
        from .grow import copied_parameters
        st.frozen = copied_parameters(st.G, Path(cfg.init_from))
        log(f"the {len(st.frozen)} tensors copied from {cfg.init_from} stay fixed until step {cfg.freeze_copied}")
    if rt.main:   # on resume too: the configuration in force (a resume may change operational settings)
        _write_config(run_dir, model_cfg, cfg, data)
    if not resume and rt.main:
        # Step 0 is saved at once, so a NaN can always roll back to a good state.
        save_train_state(ckpt, st, model_cfg, cfg)
    barrier(rt)

    G, D = step_modules(st, rt)
    run = Session(st, G, D, Batches(data, cfg, rt, st.data_gen, crop=model_cfg.resolution), model_cfg, cfg, rt,
                  run_dir, log_file=(run_dir / "log.jsonl").open("a") if rt.main else None,
                  bar=tqdm(total=cfg.max_steps, initial=st.step, disable=not (progress and rt.main),
                           dynamic_ncols=True, unit="it"),
                  log=log, inject_nan_at=inject_nan_at, elapsed0=st.elapsed)
    bar, log_file = run.bar, run.log_file
    try:
        stop_reason = _loop(run)
        bar.close()
        run.checkpoint()
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


@dataclass
class Session:
    """One training session of a run: the state, the modules that step it, and where it writes.
    The loop (`_loop`) reads and moves everything through this one object."""
    st: TrainState
    G: Any                                   # the stepped modules (DDP-wrapped or compiled where on)
    D: Any
    batches: Batches
    model_cfg: ModelConfig
    cfg: TrainConfig
    rt: Runtime
    run_dir: Path
    log_file: Any = None                     # log.jsonl (rank 0), else None
    bar: Any = None                          # the tqdm bar
    log: Callable = print
    inject_nan_at: int | None = None         # fault injection (tests)
    elapsed0: float = 0.0                    # training seconds before this session
    started: float = field(default_factory=time.monotonic)

    @property
    def ckpt(self) -> Path:
        return self.run_dir / CHECKPOINT

    def clock(self) -> float:
        """Training seconds over all sessions of this run."""
        return self.elapsed0 + time.monotonic() - self.started

    def checkpoint(self) -> None:
        st, cfg = self.st, self.cfg
        st.elapsed = self.clock()
        if self.rt.main:
            save_train_state(self.ckpt, st, self.model_cfg, cfg)
            if cfg.keep_every and st.step % cfg.keep_every == 0:
                keep_checkpoint(self.run_dir, st.step)
        barrier(self.rt)


def _loop(run: Session) -> str:
    """Steps until max_steps, the time budget, a signal or divergence; returns why it stopped."""
    st, G, D, batches, cfg, rt, ckpt = run.st, run.G, run.D, run.batches, run.cfg, run.rt, run.ckpt
    log_file, bar, log, inject_nan_at = run.log_file, run.bar, run.log, run.inject_nan_at
    session_start, rollbacks, injected = time.monotonic(), 0, False
    window_t, window_images = time.perf_counter(), 0
    last, shown = None, None                     # the last logged record, the bar's text from it
    with _Stop() as stop:
        while st.step < cfg.max_steps:
            over_budget = cfg.time_budget > 0 and time.monotonic() - session_start >= cfg.time_budget
            (halt,) = agree(rt, stop.reason is not None or over_budget)
            if halt:
                return stop.reason or ("time_budget" if over_budget else "signal")
            if cfg.fade_in:                      # a warm start's fade-in (training/grow.py)
                set_fade(st, st.step, cfg.fade_in)
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
            (bad,) = agree(rt, not all(math.isfinite(v) for v in values.values()))
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
                record = {"step": st.step, "time": round(run.clock(), 2),
                          **{k: round(v, 5) for k, v in values.items()},
                          **{f"gamma_{k}": round(v, 5) for k, v in gammas(st).items()},
                          **({"fade_alpha": round(fade_alpha(st.step, cfg.fade_in), 4)} if cfg.fade_in else {}),
                          "images_per_s": round(rate, 1)}
                _event(log_file, record)
                last = record
            # every step, not only at log steps: the budget's minutes left move on between them
            if last is not None and (text := _postfix(last, cfg, session_start)) != shown:
                bar.set_postfix_str(text)
                shown = text
            if st.step % cfg.sample_every == 0 and rt.main:
                _save_samples(run.run_dir, st)
            if st.step % cfg.ckpt_every == 0 or (cfg.keep_every and st.step % cfg.keep_every == 0):
                run.checkpoint()
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
    grid = draw.image_grid(sample_grid(st.G_ema), nrow=4)
    draw.save_png(grid, run_dir / "samples" / f"step-{st.step:07d}.png", compress_level=1)
    draw.save_png(grid, run_dir / "samples" / "latest.png", compress_level=1)


def _write_config(run_dir: Path, model_cfg: ModelConfig, cfg: TrainConfig, data: ImageSet) -> None:
    info = {"model": model_cfg.to_dict(), "train": cfg.to_dict(),
            "data": {"source": data.source, "images": len(data), "sha256": data.sha256(),
                     "classes": data.class_counts(), "skipped": len(data.skipped)}}
    atomic_write(run_dir / "config.json", (json.dumps(info, indent=2) + "\n").encode())


