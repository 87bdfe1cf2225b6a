"""Checkpoints are data: safetensors files plus config.json, never pickled code.

A model directory holds

    config.json          the ModelConfig the generator rebuilds from
    model.safetensors    the generator's state dict (spectral-norm u/v included)
    directions.safetensors  optional slider directions (see latents.Directions)
    README.md            optional model card

Saving is atomic (temp file in the same directory, fsync, rename, fsync of the
directory): a crash mid-save leaves the previous file intact. Loading reads
the safetensors header first, checks every name, shape and dtype against a
freshly built model, checks every tensor is finite, loads into that fresh
model and runs a smoke forward pass; only then is the model returned. A
caller that holds a model in use swaps its reference only on success, so a
bad file never leaves a half-loaded model behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as st_save

from .config import ModelConfig
from ..errors import AttnDemoError, CheckpointError, ConfigError, InputError
from .latents import Directions
from .networks import Generator, build_generator, generator_parameters

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
DIRECTIONS_FILE = "directions.safetensors"
CARD_FILE = "README.md"
MAX_FILE_BYTES = 2 << 30        # refuse larger weight files before reading them
MAX_CONFIG_BYTES = 1 << 20
MAX_PARAMETERS = 500_000_000     # a config asking for more is refused before anything is allocated
_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


# ------------------------------------------------------------------ writing
def atomic_write(path: Path, data: bytes) -> None:
    """Write bytes so that `path` holds either the old or the new content, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), 0o644)   # mkstemp makes 0600; these are ordinary, shareable files
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temps(directory: Path) -> int:
    """Delete temp files an interrupted save left behind; returns how many."""
    n = 0
    for p in Path(directory).glob(".*.tmp"):
        p.unlink(missing_ok=True)
        n += 1
    return n


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Atomically save tensors as safetensors. Refuses non-finite float tensors."""
    out = {}
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"refusing to save non-finite values in {name}")
        out[name] = t
    atomic_write(path, _sorted_header(st_save(out, metadata=metadata)))


def _sorted_header(blob: bytes) -> bytes:
    """safetensors writes the header from hash maps, in an order new on every save: the same tensors
    and metadata gave new bytes each time (a rebuilt index of the same data, a re-export of the same
    run). The header rewritten with sorted keys (and padded to 8 bytes as the library pads it) makes
    a file a function of its content; the data after the header are untouched."""
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", None)
    ordered = {"__metadata__": dict(sorted(meta.items()))} if meta is not None else {}
    ordered.update(sorted(header.items()))
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + blob[8 + n:]


def save_pretrained(model_dir: Path, generator: Generator, card: str | None = None,
                    directions: Directions | None = None) -> Path:
    """Write a model directory. The weights go last, so a directory with weights is complete."""
    model_dir = Path(model_dir)
    cfg = generator.cfg
    atomic_write(model_dir / CONFIG_FILE, (cfg.to_json() + "\n").encode())
    if card is not None:
        atomic_write(model_dir / CARD_FILE, card.encode())
    if directions is not None:
        save_directions(model_dir, directions)
    save_tensors(model_dir / WEIGHTS_FILE, generator.state_dict(),
                 {"format": "attn-demo-generator", "config": cfg.to_json()})
    return model_dir


def save_directions(model_dir: Path, directions: Directions) -> None:
    save_tensors(Path(model_dir) / DIRECTIONS_FILE,
                 {"vectors": directions.vectors, "stds": directions.stds,
                  "spans": torch.tensor(directions.spans, dtype=torch.float32)},
                 {"labels": json.dumps(list(directions.labels))})


# ------------------------------------------------------------------ reading
def describe_non_safetensors(head: bytes) -> str | None:
    """Name the format of a file that is not safetensors, from its first bytes."""
    if head.startswith(b"PK\x03\x04"):
        return "a PyTorch zip checkpoint (torch.save)"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle"
    return None


def read_tensors(path: Path, max_bytes: int | None = None, metadata_only: bool = False):
    """Open a safetensors file defensively. Returns (tensors, metadata).

    Every failure becomes a CheckpointError that says what the file is and
    what to do; nothing in the file is ever executed. With metadata_only,
    only the header is read (tensors is then empty).
    """
    path = Path(path)
    max_bytes = max_bytes or MAX_FILE_BYTES
    if not path.is_file():
        raise CheckpointError(f"missing file {path}")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path} is empty: not a valid checkpoint (an interrupted copy?)")
    if size > max_bytes:
        raise CheckpointError(f"{path} is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")
    with open(path, "rb") as f:
        head = f.read(16)
    kind = describe_non_safetensors(head)
    if kind is not None:
        raise CheckpointError(
            f"{path} is {kind} renamed to .safetensors; attn-demo never unpickles weights. "
            "Convert it on a machine you trust: python -m attn_demo convert --help")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {} if metadata_only else {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{path} is not a valid safetensors file (empty, truncated or corrupt): {e}") from None
    return tensors, metadata


def read_header(path: Path) -> dict[str, torch.Tensor]:
    """Names and shapes of a safetensors file without reading its data (as meta tensors)."""
    read_tensors(path, metadata_only=True)          # the same checks and messages as a full read
    with safe_open(str(path), framework="pt") as f:
        return {name: torch.empty(f.get_slice(name).get_shape(), device="meta") for name in f.keys()}


def load_config(model_dir: Path) -> ModelConfig:
    path = Path(model_dir) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"missing file {path}: a model directory needs {CONFIG_FILE} "
                              f"and {WEIGHTS_FILE}")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path} is too large to be a config")
    try:
        return ModelConfig.from_json(path.read_text(encoding="utf-8"))
    except (ConfigError, UnicodeDecodeError, TypeError, ValueError, OverflowError) as e:
        raise CheckpointError(f"{path}: {e}") from None


def check_state(tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor],
                what: str, limit: int = 5, dtypes: bool = True) -> dict[str, torch.Tensor]:
    """Compare names, shapes and dtypes with a reference state dict; cast floats to fp32.

    Raises a CheckpointError naming the first mismatches (a different
    architecture), unsupported dtypes, or non-finite values.
    """
    missing = [k for k in expected if k not in tensors]
    extra = [k for k in tensors if k not in expected]
    shapes = [f"{k} {tuple(tensors[k].shape)} != {tuple(v.shape)}"
              for k, v in expected.items() if k in tensors and tensors[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {', '.join(missing[:limit])}")
    if extra:
        problems.append(f"unexpected {len(extra)}: {', '.join(extra[:limit])}")
    if shapes:
        problems.append(f"shape mismatch {len(shapes)}: {'; '.join(shapes[:limit])}")
    if problems:
        raise CheckpointError(f"{what} does not match its config (a different architecture?): "
                              + " | ".join(problems))
    if not dtypes:
        return tensors
    out = {}
    for name, ref in expected.items():
        t = tensors[name]
        if ref.is_floating_point():
            if t.dtype not in _FLOAT_DTYPES:
                raise CheckpointError(f"{what}: {name} has dtype {t.dtype}, expected a float type")
            t = t.to(ref.dtype)
            if not bool(torch.isfinite(t).all()):
                raise CheckpointError(f"{what}: {name} holds NaN or Inf values: the weights are corrupt")
        elif t.dtype != ref.dtype:
            raise CheckpointError(f"{what}: {name} has dtype {t.dtype}, expected {ref.dtype}")
        out[name] = t
    return out


def load_pretrained(model_dir: Path) -> Generator:
    """Load a model directory into a fresh Generator (eval mode, CPU), fully validated."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise CheckpointError(f"{model_dir} is not a model directory (expected {CONFIG_FILE} "
                              f"and {WEIGHTS_FILE} inside)")
    cfg = load_config(model_dir)
    # The size the config asks for, counted on the meta device (no memory): a giant model is
    # refused before anything is allocated. Then a file for another architecture (or with a
    # huge extra tensor) is refused from its header, before its data is read.
    n = generator_parameters(cfg)
    if n > MAX_PARAMETERS:
        raise CheckpointError(f"{model_dir / CONFIG_FILE} describes a generator of {n:,} parameters, "
                              f"over the {MAX_PARAMETERS:,} limit")
    generator = build_generator(cfg)
    check_state(read_header(model_dir / WEIGHTS_FILE), generator.state_dict(), str(model_dir / WEIGHTS_FILE),
                dtypes=False)
    tensors, _ = read_tensors(model_dir / WEIGHTS_FILE)
    state = check_state(tensors, generator.state_dict(), str(model_dir / WEIGHTS_FILE))
    generator.load_state_dict(state, strict=True)
    generator.eval()
    _smoke_test(generator, model_dir)
    return generator


@torch.inference_mode()
def _smoke_test(generator: Generator, where: Path) -> None:
    cfg = generator.cfg
    z = generator.latent_from_seeds([0])
    y = torch.zeros(1, dtype=torch.long) if cfg.num_classes else None
    if not bool(torch.isfinite(generator(z, y)).all()):
        raise CheckpointError(f"{where}: the generator produces NaN/Inf images")


def load_directions(model_dir: Path, z_dim: int) -> Directions | None:
    """Slider directions saved beside a model, or None if there are none."""
    path = Path(model_dir) / DIRECTIONS_FILE
    if not path.exists():
        return None
    tensors, metadata = read_tensors(path)
    try:
        labels = tuple(str(s) for s in json.loads(metadata.get("labels", "[]")))
        vectors, stds = tensors["vectors"].float(), tensors["stds"].float()
        spans = tuple(float(v) for v in tensors["spans"].float()) if "spans" in tensors else ()   # older files: none
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: malformed directions file ({e})") from None
    k = vectors.shape[0] if vectors.ndim == 2 else -1
    if vectors.ndim != 2 or vectors.shape[1] != z_dim or stds.shape != (k,) or len(labels) != k:
        raise CheckpointError(f"{path}: directions do not fit a z of size {z_dim}")
    if not (torch.isfinite(vectors).all() and torch.isfinite(stds).all()):
        raise CheckpointError(f"{path}: directions hold NaN or Inf values")
    try:
        return Directions(vectors, stds, labels, spans)
    except InputError as e:
        raise CheckpointError(f"{path}: {e}") from None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# D's weights beside a model directory's G (written by an export; serving/discriminator.py reads them
# for the studio's view of D's attention). A pretrained branch's tensors are never shipped.
DISCRIMINATOR_FILE = "discriminator.safetensors"


def save_discriminator(model_dir, D) -> Path:
    """D's weights beside a model directory's config (the same config D was built from)."""
    path = Path(model_dir) / DISCRIMINATOR_FILE
    state = {k: v for k, v in D.state_dict().items() if not k.startswith("projected.")}
    save_tensors(path, state, {"format": "attn-demo-discriminator", "config": D.cfg.to_json()})
    return path
