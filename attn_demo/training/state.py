"""The training checkpoint: one safetensors file, written atomically.

It holds G, D and the EMA generator, both Adam optimisers, the step, the
wall time so far and every RNG state the loop draws from (torch's CPU and
CUDA generators and the data sampler's generator), all as tensors; the
configs and the optimisers' hyper-parameters go in the JSON metadata. Nothing
is pickled, so a checkpoint from anywhere is safe to open.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..models.checkpoint import atomic_write, check_state, read_tensors, save_tensors
from ..models.config import ModelConfig, TrainConfig
from ..errors import CheckpointError, ConfigError

FORMAT = "attn-demo-train-v1"
CHECKPOINT = "checkpoint.safetensors"
KEPT_DIR = "checkpoints"          # copies kept with --keep-every: checkpoints/step-0010000.safetensors


@dataclass
class TrainState:
    """Everything a resumed run needs, besides the data."""

    G: torch.nn.Module
    D: torch.nn.Module
    G_ema: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    data_gen: torch.Generator
    step: int = 0
    elapsed: float = 0.0          # training seconds over all sessions of this run
    images_seen: int = 0
    # G's parameters held fixed while step < TrainConfig.freeze_copied (a warm start's copied stages;
    # found again on resume, never saved: training/grow.py copied_parameters)
    frozen: list = field(default_factory=list)


def kept_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / KEPT_DIR / f"step-{step:07d}.safetensors"


def keep_checkpoint(run_dir: Path, step: int) -> Path:
    """Copy the run's checkpoint (just saved at `step`) to checkpoints/, atomically."""
    dest = kept_path(run_dir, step)
    atomic_write(dest, (Path(run_dir) / CHECKPOINT).read_bytes())
    return dest


def kept_steps(run_dir: Path) -> list[int]:
    """The steps of the checkpoints kept in run_dir/checkpoints/, ascending."""
    steps = []
    for p in (Path(run_dir) / KEPT_DIR).glob("step-*.safetensors"):
        digits = p.name[len("step-"):-len(".safetensors")]
        if digits.isdigit():
            steps.append(int(digits))
    return sorted(steps)


def set_aside_kept_after(run_dir: Path, step: int) -> Path | None:
    """A run resumed from an earlier kept checkpoint would overwrite the kept copies past it with
    another history: move those into checkpoints/set-aside-from-STEP-N/ first (nothing is deleted)."""
    later = [s for s in kept_steps(run_dir) if s > step]
    if not later:
        return None
    base = Path(run_dir) / KEPT_DIR / f"set-aside-from-step-{step}"
    dest, n = base, 1
    while dest.exists():
        n += 1
        dest = base.with_name(f"{base.name}-{n}")
    dest.mkdir()
    for s in later:
        kept_path(run_dir, s).rename(dest / kept_path(run_dir, s).name)
    return dest


def _optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict, str]:
    sd = opt.state_dict()
    tensors = {}
    for idx, state in sd["state"].items():
        for name, value in state.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{prefix}.state.{idx}.{name}"] = t
    return tensors, json.dumps(sd["param_groups"])


def _restore_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict, groups_json: str) -> None:
    state: dict[int, dict] = {}
    for key, t in tensors.items():
        if key.startswith(prefix + ".state."):
            idx, name = key[len(prefix) + 7:].split(".", 1)
            state.setdefault(int(idx), {})[name] = t
    params = [p for group in opt.param_groups for p in group["params"]]
    for idx, entry in state.items():
        for name, t in entry.items():
            if not 0 <= idx < len(params) or (t.ndim and t.shape != params[idx].shape):
                raise CheckpointError(f"optimizer state {prefix}.{idx}.{name} does not fit this model")
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise CheckpointError(f"optimizer state {prefix}.{idx}.{name} holds NaN or Inf")
    # The moments come from the file; the settings (learning rate, betas) stay those the run was
    # built with now, so a resume that changed --lr-g with --force trains with the new rate.
    settings = [{k: v for k, v in group.items() if k != "params"} for group in opt.param_groups]
    try:
        groups = json.loads(groups_json)
        opt.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"optimizer state {prefix} does not fit this model: {e}") from None
    for group, setting in zip(opt.param_groups, settings):
        group.update(setting)


def save_train_state(path: Path, st: TrainState, model_cfg: ModelConfig, train_cfg: TrainConfig) -> None:
    """Atomic; refuses (CheckpointError) if any weight is NaN/Inf."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in (("G", st.G), ("D", st.D), ("G_ema", st.G_ema)):
        tensors.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
    opt_g, groups_g = _optimizer_tensors("opt_g", st.opt_g)
    opt_d, groups_d = _optimizer_tensors("opt_d", st.opt_d)
    tensors.update(opt_g)
    tensors.update(opt_d)
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.data"] = st.data_gen.get_state()
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    metadata = {"format": FORMAT, "step": str(st.step), "elapsed": repr(st.elapsed),
                "images_seen": str(st.images_seen), "model_config": model_cfg.to_json(),
                "train_config": json.dumps(train_cfg.to_dict()),
                "opt_g.param_groups": groups_g, "opt_d.param_groups": groups_d}
    save_tensors(path, tensors, metadata)


def read_configs(path: Path) -> tuple[ModelConfig, TrainConfig, dict]:
    """The configs a checkpoint was written with (reads only the header)."""
    _, metadata = read_tensors(path, metadata_only=True)
    return _configs(path, metadata) + (metadata,)


def _configs(path, metadata) -> tuple[ModelConfig, TrainConfig]:
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an attn-demo training checkpoint")
    try:
        return (ModelConfig.from_json(metadata["model_config"]),
                TrainConfig.from_dict(json.loads(metadata["train_config"])))
    except (KeyError, ValueError, ConfigError) as e:
        raise CheckpointError(f"{path}: unreadable configs ({e})") from None


def load_ema_generator(path: Path, G_ema: torch.nn.Module) -> dict:
    """Restore only the EMA generator of a training checkpoint into G_ema (what an export needs: no
    discriminator, optimizer or training-only branch is built or read). Returns the checkpoint's
    step, elapsed seconds and images seen."""
    tensors, metadata = read_tensors(path)
    _configs(path, metadata)
    state = _module_state(path, tensors, "G_ema", G_ema)
    progress = _progress(path, metadata)
    G_ema.load_state_dict(state)
    return progress


def load_discriminator_state(path: Path, D: torch.nn.Module) -> dict:
    """Restore only the discriminator of a training checkpoint into D, a plain one built from the model
    config (what an export ships for the studio's view of D): the tensors of a pretrained branch or a
    training head the run attached to its D are left out. Returns the checkpoint's progress."""
    tensors, metadata = read_tensors(path)
    _configs(path, metadata)
    own = D.state_dict()
    sub = {k[2:]: v for k, v in tensors.items() if k.startswith("D.") and k[2:] in own}
    D.load_state_dict(check_state(sub, own, f"{path} [D]"))
    return _progress(path, metadata)


def _module_state(path, tensors: dict, name: str, module: torch.nn.Module) -> dict:
    """The checkpoint's tensors of `name` (G, D, G_ema), checked against the module's own."""
    sub = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")}
    return check_state(sub, module.state_dict(), f"{path} [{name}]")


def _progress(path, metadata: dict) -> dict:
    """A training checkpoint's step, elapsed training seconds and images seen."""
    try:
        return {"step": int(metadata["step"]), "elapsed": float(metadata["elapsed"]),
                "images_seen": int(metadata.get("images_seen", "0"))}
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: incomplete training checkpoint ({e})") from None


def load_train_state(path: Path, st: TrainState) -> None:
    """Restore st in place from path. Validates everything before touching st."""
    tensors, metadata = read_tensors(path)
    _configs(path, metadata)
    states = {name: _module_state(path, tensors, name, module)
              for name, module in (("G", st.G), ("D", st.D), ("G_ema", st.G_ema))}
    progress = _progress(path, metadata)
    try:
        rng_torch, rng_data = tensors["rng.torch"], tensors["rng.data"]
    except KeyError as e:
        raise CheckpointError(f"{path}: incomplete training checkpoint ({e})") from None
    # Optimisers first: their checks may still refuse the file before any weight changes.
    _restore_optimizer("opt_g", st.opt_g, tensors, metadata.get("opt_g.param_groups", ""))
    _restore_optimizer("opt_d", st.opt_d, tensors, metadata.get("opt_d.param_groups", ""))
    for name, module in (("G", st.G), ("D", st.D), ("G_ema", st.G_ema)):
        module.load_state_dict(states[name])
    torch.set_rng_state(rng_torch)
    st.data_gen.set_state(rng_data)
    if torch.cuda.is_available():
        cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    st.step, st.elapsed, st.images_seen = progress["step"], progress["elapsed"], progress["images_seen"]
