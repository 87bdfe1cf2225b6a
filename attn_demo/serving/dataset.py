"""Synthetic data sets: a model's images as a labelled image folder (issue #23).

    python -m attn_demo dataset --weights weights/emoji32 --per-class 500 --out synth/

OUT/<class>/<class>_<seed>.png for every class (an unconditional model: OUT/images/), then
OUT/labels.csv (file, class, class index, seed) and OUT/manifest.json (model, the weights'
sha256, seeds, psi, sliders, size, date). Image i of the k-th class asked for has seed
seed_start + k * per_class + i, so an export is reproducible and can resume: every image is
written to a temporary name and renamed (a file under its final name is whole), the manifest
says "complete": false until the end, and a second run with the same settings writes only the
missing images. A folder that holds anything else is refused unless `force`. Free disk space is
checked first. With `zip_to`, the folder is built beside the zip and packed at the end (the zip
too is written under a temporary name).
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..checks import check_finite, check_seed, check_whole
from ..errors import InputError
from ..models.checkpoint import atomic_write
from .engine import Engine, RenderArgs

MANIFEST = "manifest.json"
LABELS = "labels.csv"
LOCK = ".export.lock"       # held while an export writes into its folder (issue #37)
MAX_PER_CLASS = 100_000
BATCH = 64
DISK_MARGIN = 1.5


@dataclass
class DatasetPlan:
    model: str
    weights_sha256: str
    classes: list[str]
    per_class: int
    psi: float = 1.0
    sliders: list[float] = field(default_factory=list)
    scale: int = 1
    seed_start: int = 0
    resolution: int = 0

    def seeds(self, k: int) -> range:
        start = self.seed_start + k * self.per_class
        return range(start, start + self.per_class)

    def files(self) -> list[tuple[str, int, str, int]]:
        """(relative path, class index in the model, class name, seed) of every image."""
        out = []
        for k, name in enumerate(self.classes):
            folder = folder_name(name)
            for s in self.seeds(k):
                out.append((f"{folder}/{folder}_{s}.png", k, name, s))
        return out


def folder_name(name: str) -> str:
    """A class name as a folder name any system takes: "Animals & Nature" -> "Animals_Nature"."""
    return re.sub(r"[^A-Za-z0-9-]+", "_", name).strip("_") or "class"


def plan_dataset(engine: Engine, per_class, psi=1.0, classes=None, sliders=(), scale=1,
                 seed_start=0) -> DatasetPlan:
    per_class = check_whole("images per class", per_class, 1, MAX_PER_CLASS)
    psi = check_finite("truncation", psi, 0, 1)
    scale = check_whole("size factor", scale, 1, 16)
    seed_start = check_seed(seed_start)
    names = engine.class_names if engine.cfg.num_classes else ["images"]
    if classes:
        unknown = [c for c in classes if c not in names]
        if unknown:
            raise InputError(f"unknown class(es) {', '.join(map(repr, unknown))}; this model has {', '.join(names)}")
        names = [c for c in names if c in classes]
    last = seed_start + len(names) * per_class - 1
    if last > 2 ** 32 - 1:
        raise InputError(f"the seeds would run past 2**32-1 (last {last}): lower --seed-start or the count")
    engine.latent(RenderArgs(seed_start, psi, names[0] if engine.cfg.num_classes else None, tuple(sliders)))
    return DatasetPlan(engine.name, engine.weights_sha256, list(names), per_class, psi, [float(v) for v in sliders],
                       scale, seed_start, engine.cfg.resolution)


def _png(img: np.ndarray, scale: int) -> bytes:
    if scale > 1:
        img = np.repeat(np.repeat(img, scale, 0), scale, 1)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def _write_whole(path: Path, data: bytes) -> None:
    """A file under its final name is whole: written to a temporary name, then renamed."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _attribution(engine: Engine) -> str:
    """What the model's training images ask of their copies (its training.json), which its images carry."""
    try:
        training = json.loads((Path(engine.path) / "training.json").read_text())
    except (OSError, ValueError, TypeError):
        return ""
    return str(training.get("attribution", ""))


def _check_disk(folder: Path, plan: DatasetPlan, missing: int) -> None:
    per_image = 4 * (plan.resolution * plan.scale) ** 2 + 2048       # raw RGB bound + PNG overhead
    need = int(missing * per_image * DISK_MARGIN)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise InputError(f"not enough free disk space in {folder}: {free / 1e6:.0f} MB free, about "
                         f"{need / 1e6:.0f} MB needed for {missing} images; nothing was written")


def _prepare(out: Path, plan: DatasetPlan, force: bool) -> None:
    """A fresh folder, or one this same plan began (resume); anything else needs `force`."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / MANIFEST
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text())
        except (OSError, ValueError):
            old = {}
        if old.get("plan") == asdict(plan):
            return                                   # the same export: resume (or verify) it
    if any(p.name != LOCK for p in out.iterdir()) and not force:
        raise InputError(f"{out} is not empty: choose an empty folder, or --force to write into it")


@contextlib.contextmanager
def _only_writer(out: Path):
    """One export at a time per folder (a lock file, flock: other processes and threads alike). A
    second export into the same folder used to delete the first one's temporary files as a killed
    run's leftovers, and the first then failed with FileNotFoundError (issue #37)."""
    try:
        import fcntl
    except ImportError:          # pragma: no cover - not POSIX
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    lock = out / LOCK
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(f"another export is writing into {out} right now: wait for it to finish, "
                             "or choose another folder") from None
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)


def export_dataset(engine: Engine, plan: DatasetPlan, out: Path, force: bool = False, progress=None,
                   zip_to: Path | None = None) -> Path:
    """Write (or finish) the data set of `plan` into folder `out` (or into a zip `zip_to`, built in
    `out`); returns the folder or the zip. A second export into a folder being written is refused."""
    out = Path(out)
    if zip_to is not None and Path(zip_to).exists() and not force:
        raise InputError(f"{zip_to} exists: --force to replace it")
    with _only_writer(out):
        return _export(engine, plan, out, force, progress, zip_to)


def _export(engine: Engine, plan: DatasetPlan, out: Path, force: bool, progress, zip_to: Path | None) -> Path:
    _prepare(out, plan, force)
    files = plan.files()
    missing = [f for f in files if not (out / f[0]).is_file()]
    _check_disk(out, plan, len(missing))
    for p in out.rglob(".*.tmp"):                    # a temporary file a killed run left behind
        p.unlink(missing_ok=True)
    manifest = {"app": "attn-demo", "kind": "synthetic data set", "plan": asdict(plan), "complete": False,
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "attribution": _attribution(engine)}
    atomic_write(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    for name in plan.classes:
        (out / folder_name(name)).mkdir(exist_ok=True)
    done = len(files) - len(missing)
    for i in range(0, len(missing), BATCH):
        chunk = missing[i:i + BATCH]
        args = [RenderArgs(s, plan.psi, name if engine.cfg.num_classes else None, tuple(plan.sliders))
                for _, _, name, s in chunk]
        images, _ = engine.render_many(args)
        for (rel, _, _, _), img in zip(chunk, images):
            try:
                _write_whole(out / rel, _png(img, plan.scale))
            except OSError as e:
                raise InputError(f"could not write {out / rel} ({e.strerror or e}); the images written so far "
                                 "are whole: free some space and run the same command again to finish") from None
        done += len(chunk)
        if progress:
            progress(done / len(files))
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(["file", "class", "class_index", "seed"])
    for rel, k, name, s in files:
        writer.writerow([rel, name, engine.class_names.index(name) if engine.cfg.num_classes else "", s])
    atomic_write(out / LABELS, rows.getvalue().encode())
    manifest.update(complete=True, images=len(files), finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    psi=plan.psi, seeds={c: [r.start, r.stop - 1] for c, r in
                                         ((c, plan.seeds(k)) for k, c in enumerate(plan.classes))})
    atomic_write(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    if zip_to is None:
        return out
    zip_to = Path(zip_to)
    tmp = zip_to.with_name(f".{zip_to.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:   # PNGs are compressed already
            for rel, *_ in files:
                z.write(out / rel, arcname=rel)
            z.write(out / LABELS, arcname=LABELS)
            z.write(out / MANIFEST, arcname=MANIFEST)
        os.replace(tmp, zip_to)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(f"could not write {zip_to} ({e.strerror or e})") from None
    return zip_to


def zip_of(engine: Engine, args: RenderArgs, per_class: int, folder: Path, progress=None) -> Path:
    """A data set with a view's settings (truncation, sliders; seeds from its seed on, kept in
    range), `per_class` images of every class, built in `folder` and packed into a zip there."""
    classes = max(1, engine.cfg.num_classes)
    plan = plan_dataset(engine, per_class, args.psi, None, args.sliders,
                        seed_start=min(args.seed, 2 ** 32 - per_class * classes))
    target = Path(folder) / f"{engine.name}_dataset_{per_class}x{len(plan.classes)}_psi{args.psi:g}.zip"
    return export_dataset(engine, plan, Path(folder) / "images", progress=progress, zip_to=target)
