"""A run's kept checkpoints -> the training snapshots a model ships (models/snapshots.py).

    python -m attn_demo snapshots --run runs/X --out weights/Y [--count 8]

takes about `count` of the checkpoints the run kept (--keep-every; runs/X/checkpoints/step-N.safetensors,
training/state.py), spread evenly over its steps (always the first and the last; the run's current
checkpoint.safetensors counts as its last), loads only each one's EMA generator, gives it standing
batch-norm statistics as an export does (training/publish.standing_stats), and writes them beside
the model exported from the same run (its config.json must match). The card is rewritten to say so.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from ..models.checkpoint import load_config
from ..models.networks import build_generator
from ..models.snapshots import MAX_SNAPSHOTS, save_snapshots
from .grow import attach_fade
from .publish import standing_stats, write_card
from .state import CHECKPOINT, KEPT_DIR, kept_path, kept_steps, load_ema_generator, read_configs


def pick(steps: list[int], count: int) -> list[int]:
    """About `count` of `steps`, evenly spread by index, the first and the last always among them."""
    if len(steps) <= count:
        return list(steps)
    idx = np.unique(np.round(np.linspace(0, len(steps) - 1, count)).astype(int))
    return [steps[i] for i in idx]


def write_snapshots(run_dir: Path, out: Path, count: int = 8) -> list[int]:
    run_dir, out = Path(run_dir), Path(out)
    if not 1 <= count <= MAX_SNAPSHOTS:
        raise CheckpointError(f"--count must be 1..{MAX_SNAPSHOTS}, got {count}")
    files = {s: kept_path(run_dir, s) for s in kept_steps(run_dir)}
    current = run_dir / CHECKPOINT
    if current.exists():
        step = int(read_configs(current)[2].get("step", -1))
        files.setdefault(step, current)
    if not files:
        raise CheckpointError(f"{run_dir} holds no checkpoints ({CHECKPOINT}, {KEPT_DIR}/step-N.safetensors): "
                              "is it a training run directory?")
    cfg = load_config(out)                         # the model exported from this run
    snapshots = []
    for step in pick(sorted(files), count):
        model_cfg, train_cfg, _ = read_configs(files[step])
        if model_cfg.to_json() != cfg.to_json():
            raise CheckpointError(f"{files[step]} is another architecture than {out / 'config.json'}: "
                                  "export this run to --out first")
        G = build_generator(model_cfg)
        if train_cfg.fade_in:
            attach_fade(G)
        load_ema_generator(files[step], G)
        G.fade = None if train_cfg.fade_in else G.fade
        snapshots.append((step, standing_stats(G)))
    save_snapshots(out, snapshots)
    write_card(out)
    return [s for s, _ in snapshots]
