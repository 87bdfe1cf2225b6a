"""Convert a PyTorch .pt/.pth generator checkpoint to a safe model directory.

    python -m attn_demo convert old.pt --config config.json --out weights/mymodel

attn-demo itself only ever loads safetensors. This one command reads a
pickled checkpoint, and only with torch.load(weights_only=True): PyTorch's
restricted unpickler, which builds tensors and plain containers and refuses
everything else (custom classes, numpy arrays, code). It never falls back
to a full unpickle: a file that needs one is refused. Run it on files whose
origin you know; safetensors files need no conversion.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import torch

from .checkpoint import MAX_FILE_BYTES, check_state, save_pretrained
from .config import ModelConfig, load_json
from ..errors import CheckpointError
from .networks import Generator


def load_legacy_state(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"missing file {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty: not a valid checkpoint")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise CheckpointError(f"{path} is over the {MAX_FILE_BYTES >> 20} MiB limit")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{path} holds objects a safe load refuses (custom classes, numpy arrays or code): {e}. "
            "attn-demo will not unpickle it; save a plain state_dict of tensors instead") from None
    except Exception as e:  # garbage bytes fail in the unpickler in many ways (IndexError, struct.error, ...)
        raise CheckpointError(f"{path} is not a valid PyTorch checkpoint (empty, truncated or corrupt): "
                              f"{str(e).splitlines()[0][:200]}") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    return obj


def convert(pt_path: Path, config_path: Path, out: Path) -> Path:
    cfg = ModelConfig.from_dict(load_json(config_path))
    generator = Generator(cfg)
    state = check_state(load_legacy_state(pt_path), generator.state_dict(), str(pt_path))
    generator.load_state_dict(state)
    return save_pretrained(out, generator.eval())
