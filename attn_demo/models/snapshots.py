"""Training snapshots of a model: a few EMA generators along its run, in one safetensors file.

`snapshots.safetensors` beside a model's weights holds about eight generators (the run's kept
checkpoints' EMA G, training/snapshots.py writes them), each tensor under its step,
"000002000.blocks.0.conv1...", stored as float16 to stay small (a 4.7 MB emoji32 model: 2.4 MB a
snapshot). The header's metadata names the format, the steps and the config, which must be the
model directory's own (config.json): a snapshot is that architecture at an earlier step. A
snapshot loads as the model weights do (models/checkpoint.py): the file is read defensively,
never unpickled, its tensors checked against a freshly built generator's names, shapes and dtypes
and for finite values, then a smoke render. The studio's timeline, `/timeline` and
`python -m attn_demo timeline` read them (serving/timeline.py).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open

from ..errors import CheckpointError, InputError
from .checkpoint import _smoke_test, check_state, load_config, read_tensors, save_tensors
from .networks import Generator, build_generator

SNAPSHOTS_FILE = "snapshots.safetensors"
FORMAT = "attn-demo-snapshots-v1"
MAX_SNAPSHOTS = 32
STEP_DIGITS = 9


def _key(step: int, name: str) -> str:
    return f"{step:0{STEP_DIGITS}d}.{name}"


def save_snapshots(model_dir: Path, snapshots: list[tuple[int, Generator]], dtype=torch.float16) -> Path:
    """Write `snapshots` ((step, EMA generator), steps ascending and distinct) beside a model's
    weights. Their config must be the directory's."""
    model_dir = Path(model_dir)
    cfg = load_config(model_dir)
    steps = [s for s, _ in snapshots]
    if not snapshots or len(snapshots) > MAX_SNAPSHOTS:
        raise CheckpointError(f"1..{MAX_SNAPSHOTS} snapshots, got {len(snapshots)}")
    if steps != sorted(set(steps)) or steps[0] < 0:
        raise CheckpointError(f"snapshot steps must be distinct, ascending and >= 0, got {steps}")
    tensors = {}
    for step, G in snapshots:
        if G.cfg.to_json() != cfg.to_json():
            raise CheckpointError(f"the snapshot at step {step} is another architecture than {model_dir}'s config")
        for name, t in G.state_dict().items():
            tensors[_key(step, name)] = t.to(dtype) if t.is_floating_point() else t
    path = model_dir / SNAPSHOTS_FILE
    save_tensors(path, tensors, {"format": FORMAT, "steps": json.dumps(steps), "config": cfg.to_json(),
                                 "dtype": str(dtype).replace("torch.", "")})
    return path


def snapshot_steps(model_dir: Path) -> list[int]:
    """The steps a model ships snapshots of (the header alone is read); [] when it ships none."""
    path = Path(model_dir) / SNAPSHOTS_FILE
    if not path.exists():
        return []
    _, metadata = read_tensors(path, metadata_only=True)
    return _steps(path, metadata, load_config(model_dir).to_json())


def _steps(path: Path, metadata: dict, config: str) -> list[int]:
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an attn-demo snapshots file")
    if metadata.get("config") != config:
        raise CheckpointError(f"{path} was written for another architecture than its model's config.json")
    try:
        steps = json.loads(metadata["steps"])
    except (KeyError, ValueError):
        raise CheckpointError(f"{path}: its list of steps is missing or unreadable") from None
    if (not isinstance(steps, list) or not 1 <= len(steps) <= MAX_SNAPSHOTS
            or not all(type(s) is int and 0 <= s < 10 ** STEP_DIGITS for s in steps) or steps != sorted(set(steps))):
        raise CheckpointError(f"{path}: its steps must be 1..{MAX_SNAPSHOTS} distinct whole numbers, ascending")
    return steps


def no_snapshot(model: str, step, steps: list[int]) -> InputError:
    if not steps:
        return InputError(f"{model} ships no training snapshots (its card says why): no timeline for it")
    return InputError(f"{model} has no snapshot at step {step}; its snapshots are at steps "
                      f"{', '.join(map(str, steps))}")


def load_snapshot(model_dir: Path, step: int) -> Generator:
    """The EMA generator at `step` (eval mode, CPU, float32), fully validated."""
    model_dir = Path(model_dir)
    path = model_dir / SNAPSHOTS_FILE
    cfg = load_config(model_dir)
    steps = snapshot_steps(model_dir)
    if step not in steps:
        raise no_snapshot(model_dir.name, step, steps)
    G = build_generator(cfg)
    prefix = _key(step, "")
    with safe_open(str(path), framework="pt") as f:        # read_tensors checked the file above
        names = [k for k in f.keys() if k.startswith(prefix)]
        tensors = {k[len(prefix):]: f.get_tensor(k) for k in names}
    state = check_state(tensors, G.state_dict(), f"{path} [step {step}]")
    G.load_state_dict(state, strict=True)
    G.eval()
    _smoke_test(G, path)
    return G
