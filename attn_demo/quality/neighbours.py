"""Is this a copy? The nearest training images of any picture, by features and by pixels (issue #23).

    python -m attn_demo index --weights weights/emoji32 --data data/emoji

writes weights/emoji32/neighbours.safetensors: for every training image, the feature net's
features (L2-normalised, float16) and a THUMB x THUMB thumbnail (uint8), with the data set's
licence and attribution in the header (a few MB: it ships with the model, so the studio shows
neighbours on a fresh machine and a Space). Distances: features, the Euclidean distance of the
normalised features (0 = the same, up to 2); pixels, the RMS difference of the thumbnails in
[0, 1] (the query shrunk the same way).

A canvas model (issue #22) trained on crops of textures: its index holds the grid crops of every
texture at the model's crop size (`grid_crops`), and the studio asks about the crop-size window
around the clicked pixel.

`distance_report` says whether the model copies: the distance of 1,000 samples to their nearest
training image, beside the distance of held-out real images (a random tenth of the data, left
out of the index it is measured against; for textures, whole textures) to theirs. Samples much
closer than held-out real images would be memorised copies.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import CheckpointError, InputError
from ..models.checkpoint import WEIGHTS_FILE, file_sha256, read_tensors, save_tensors

INDEX_FILE = "neighbours.safetensors"
REPORT_FILE = "neighbours.json"
THUMB = 16
FORMAT = "attn-demo-neighbours"
MAX_INDEX = 200_000


def thumbnails(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, R, R) uint8 -> (N, THUMB, THUMB, 3) uint8 (area average)."""
    x = F.adaptive_avg_pool2d(images.float(), THUMB)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


@torch.no_grad()
def features(net, images: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """(N, 3, R, R) uint8 -> (N, F) L2-normalised float32."""
    out = torch.cat([net(images[i:i + batch].float() / 255) for i in range(0, len(images), batch)])
    return F.normalize(out, dim=1)


@dataclass
class NeighbourIndex:
    features: torch.Tensor            # (N, F) float32, normalised
    thumbs: torch.Tensor              # (N, THUMB, THUMB, 3) uint8
    labels: torch.Tensor | None       # (N,) int64 or None
    meta: dict

    def __len__(self) -> int:
        return self.features.shape[0]

    def nearest(self, net, image: np.ndarray, k: int = 8) -> dict[str, list[tuple[int, float]]]:
        """The k nearest training images of `image` (H, W, 3 uint8): {"features": [(index, distance)],
        "pixels": [...]}, nearest first."""
        if not 1 <= k <= 64:
            raise InputError(f"k must be in 1..64, got {k}")
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
        fd = torch.cdist(features(net, x), self.features)[0]
        q = thumbnails(x).float().reshape(1, -1) / 255
        pd = torch.cdist(q, self.thumbs.reshape(len(self), -1).float() / 255)[0] / (THUMB * THUMB * 3) ** 0.5
        out = {}
        for name, d in (("features", fd), ("pixels", pd)):
            values, idx = d.topk(min(k, len(self)), largest=False)
            out[name] = [(int(i), float(v)) for i, v in zip(idx, values)]
        return out


def build_index(net, images: torch.Tensor, labels: torch.Tensor | None, meta: dict) -> NeighbourIndex:
    if len(images) > MAX_INDEX:
        raise InputError(f"at most {MAX_INDEX} images in an index, got {len(images)}")
    return NeighbourIndex(features(net, images), thumbnails(images), labels, meta)


def save_index(model_dir: Path, index: NeighbourIndex) -> Path:
    tensors = {"features": index.features.half(), "thumbs": index.thumbs}
    if index.labels is not None:
        tensors["labels"] = index.labels.to(torch.int16)
    path = Path(model_dir) / INDEX_FILE
    save_tensors(path, tensors, {"format": FORMAT, **{k: str(v) for k, v in index.meta.items()}})
    return path


def load_index(model_dir: Path) -> NeighbourIndex | None:
    """The index beside a model, or None; a file that is not one is refused with a clear error."""
    path = Path(model_dir) / INDEX_FILE
    if not path.exists():
        return None
    tensors, meta = read_tensors(path, max_bytes=64 << 20)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a neighbour index")
    f, t = tensors.get("features"), tensors.get("thumbs")
    if (f is None or t is None or f.ndim != 2 or t.shape[1:] != (THUMB, THUMB, 3) or t.dtype != torch.uint8
            or len(f) != len(t) or not bool(torch.isfinite(f.float()).all())):
        raise CheckpointError(f"{path}: the index's tensors are not features (N, F) and thumbnails (N, {THUMB}, "
                              f"{THUMB}, 3)")
    labels = tensors.get("labels")
    if labels is not None and labels.shape != (len(f),):
        raise CheckpointError(f"{path}: labels do not match the images")
    return NeighbourIndex(f.float(), t, None if labels is None else labels.long(), meta)


def _quartiles(values: list[float]) -> dict:
    q = statistics.quantiles(values, n=4)
    return {"median": statistics.median(values), "q1": q[0], "q3": q[2], "min": min(values), "n": len(values)}


def grid_crops(images: torch.Tensor, labels: torch.Tensor | None, crop: int
               ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """A canvas model's training images are textures it sees as crops: every texture (N, 3, S, S) cut
    into the (S // crop)^2 crops of a grid -> crops, their labels, and the texture each came from."""
    n, _, h, w = images.shape
    if h < crop or w < crop:
        raise InputError(f"the textures ({w} x {h} px) are smaller than the model's crops ({crop} px)")
    rows, cols = h // crop, w // crop
    crops = images[:, :, :rows * crop, :cols * crop].reshape(n, 3, rows, crop, cols, crop)
    crops = crops.permute(0, 2, 4, 1, 3, 5).reshape(n * rows * cols, 3, crop, crop).contiguous()
    source = torch.arange(n).repeat_interleave(rows * cols)
    return crops, (None if labels is None else labels[source]), source


@torch.no_grad()
def sample_images(engine, labels: torch.Tensor | None, n: int, seed: int = 0) -> torch.Tensor:
    """n samples (psi 1) at the model's resolution, (n, 3, R, R) uint8, with the real images' class mix:
    an image model's renders, or a canvas model's crop-size canvases (tiling both, as it trained)."""
    from ..serving.canvas import CanvasEngine
    from ..serving.engine import RenderArgs
    gen = torch.Generator().manual_seed(seed)
    if engine.cfg.num_classes and labels is not None:
        ys = [engine.class_names[int(labels[i])] for i in torch.randint(0, len(labels), (n,), generator=gen)]
    else:
        ys = [None] * n
    if isinstance(engine, CanvasEngine):
        side = engine.cfg.resolution
        out = [engine.render(engine.field(1_000_000 + i, side, side), y, "both").image for i, y in enumerate(ys)]
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)
    out = []
    for start in range(0, n, 64):
        images, _ = engine.render_many([RenderArgs(seed=1_000_000 + i, label=ys[i])
                                        for i in range(start, min(n, start + 64))])
        out.append(torch.from_numpy(images).permute(0, 3, 1, 2))
    return torch.cat(out)


@torch.no_grad()
def distance_report(net, samples: torch.Tensor, images: torch.Tensor, groups: torch.Tensor | None = None,
                    holdout: float = 0.1, seed: int = 0) -> dict:
    """Nearest-neighbour feature distances of the samples and of held-out real images, both against
    the same index of the other real images. With `groups` (the texture each crop came from) whole
    groups are held out, so a held-out crop never has its own texture's crops in the index."""
    gen = torch.Generator().manual_seed(seed)
    groups = torch.arange(len(images)) if groups is None else groups
    ids = groups.unique()
    out_ids = ids[torch.randperm(len(ids), generator=gen)[:max(1, int(len(ids) * holdout))]]
    held_mask = torch.isin(groups, out_ids)
    bank = features(net, images[~held_mask])
    real_d = torch.cdist(features(net, images[held_mask]), bank).min(1).values
    fake_d = torch.cdist(features(net, samples), bank).min(1).values
    return {"samples": _quartiles(fake_d.tolist()), "held_out_real": _quartiles(real_d.tolist()),
            "index_images": int((~held_mask).sum()), "held_out": int(held_mask.sum()), "psi": 1.0,
            "distance": "features, normalised L2"}


def write_report(model_dir: Path, report: dict) -> str:
    """neighbours.json beside the model, with its table (the model card shows it)."""
    from ..models.checkpoint import atomic_write
    report = {**report, "table": report_table(report)}
    atomic_write(Path(model_dir) / REPORT_FILE, (json.dumps(report, indent=2) + "\n").encode())
    return report["table"]


def report_table(r: dict) -> str:
    s, h = r["samples"], r["held_out_real"]
    row = lambda name, d: f"| {name} | {d['n']} | {d['q1']:.3f} | {d['median']:.3f} | {d['q3']:.3f} | {d['min']:.3f} |"  # noqa: E731
    return "\n".join(["| nearest training image (feature distance) | n | q1 | median | q3 | min |",
                      "|---|---:|---:|---:|---:|---:|", row("model samples (psi 1)", s),
                      row("held-out real images", h)])


def index_meta(data, net_dir: Path) -> dict:
    """What the index's header says: the data, its licence and attribution, the feature net."""
    attribution = ""
    for name in ("ATTRIBUTION.txt", "ATTRIBUTION.md"):
        p = Path(data.source) / name
        if p.exists():
            attribution = p.read_text()[:4000]
            break
    return {"data": data.source, "data_sha256": data.sha256(), "images": len(data),
            "class_names": json.dumps(list(data.class_names)), "thumb": THUMB,
            "feature_net_sha256": file_sha256(Path(net_dir) / WEIGHTS_FILE), "attribution": attribution}
