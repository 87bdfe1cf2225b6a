"""Exports for design work: sizes up to 1024 px, a heat-map-only PNG with transparency, names that
say what a file holds, a zip of everything, and the view back from an exported PNG.

Every PNG carries the view's JSON state in its metadata (STATE_KEY), so dropping an exported image
onto the studio restores the view it was made from (`state_from_png`). File names are descriptive
and never collide: model, class, seed, truncation, a hash of the slider values and the size, and for
maps also the layer, mode, head and click, plus a short hash of the map's drawing settings.
"""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from ..errors import InputError
from ..imaging import draw
from .state import MAX_STATE_PNG_PIXELS, STATE_KEY, state_from_png  # noqa: F401 - exports' names
from .view import View

ANIMATION_FORMATS = ("gif", "mp4", "webp")     # write_animation's formats
EXPORT_SIZES = ("native", "x4 pixel", "x4 smooth", "1024 pixel", "1024 smooth")


def export_side(native: int, size: str) -> int:
    """The exported image's side for a size choice (EXPORT_SIZES)."""
    if size not in EXPORT_SIZES:
        raise InputError(f"export size must be one of {', '.join(EXPORT_SIZES)}, got {size!r}")
    if size == "native":
        return native
    return native * 4 if size.startswith("x4") else 1024


def sized(img: np.ndarray, size: str) -> np.ndarray:
    """The image at an export size: nearest (crisp pixels) or Lanczos (smooth)."""
    side = export_side(img.shape[0], size)
    if side == img.shape[0]:
        return img
    if size.endswith("pixel") and side % img.shape[0] == 0:
        return draw.upscale_nearest(img, side // img.shape[0])
    resample = Image.NEAREST if size.endswith("pixel") else Image.LANCZOS
    return np.asarray(Image.fromarray(img).resize((side, side), resample))


def heat_rgba(heat: np.ndarray, side: int, cmap: str, vmax: float | None = None) -> np.ndarray:
    """The map alone, side x side RGBA: its colormap's colour, opaque where the map is high and
    transparent where it is zero (alpha = the map's level), to lay over the image in any editor."""
    levels = draw.map_levels(heat, side, side, vmax)
    colours = np.frombuffer(draw.palette(cmap), np.uint8).reshape(256, 3)[levels]
    return np.dstack([colours, levels])


def _slug(text) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "none"


def _short_hash(value) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True).encode()).hexdigest()[:6]


def image_stem(view: View, side: int, smooth: bool = False) -> str:
    """model_class_seed_psi_sliders_size: what the image is, in its name ("-smooth" when resampled)."""
    a = view.args
    sliders = "sl0" if not any(a.sliders) else "sl" + _short_hash([round(float(v), 6) for v in a.sliders])
    return f"{_slug(view.model)}_{_slug(a.label)}_seed{a.seed}_psi{a.psi:.2f}_{sliders}_{side}px" + \
        ("-smooth" if smooth else "")


def map_stem(view: View, side: int, smooth: bool = False) -> str:
    """The image's name (its side and resampling: the map's pictures may be larger, and say so
    themselves) plus the map's layer, mode, head, click and a hash of how it is drawn."""
    m, (x, y) = view.map, view.click
    head = "mean" if m.head is None else f"h{m.head}"
    look = _short_hash([m.alpha, m.cmap, m.norm])
    return f"{image_stem(view, side, smooth)}_{_slug(m.layer or 'last')}_{m.mode}_{head}_x{x}y{y}_{look}"


def png_info(state: dict) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text(STATE_KEY, json.dumps(state))
    return info


def write_zip(target: Path, files: list[Path]) -> Path:
    """Every file in one zip, written to a temp name and renamed: never a half-written zip."""
    tmp = target.with_suffix(".zip.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for f in files:
                z.write(f, arcname=f.name)
        tmp.replace(target)
    finally:                  # a full disk or an error half-way: no half-written zip left either (issue #37)
        tmp.unlink(missing_ok=True)
    return target


def write_animation(frames: list, target: Path, fps: float) -> Path:
    """Frames (HxWx3 uint8, all one size) as an animated GIF, an animated WebP (lossless, Pillow)
    or an H.264 MP4 (PyAV, which ships FFmpeg in its wheel), by the target's suffix. Written to a
    temporary name and renamed, so a failed write leaves nothing half-written."""
    target = Path(target)
    tmp = target.with_name(target.name + ".part")
    try:
        if target.suffix == ".mp4":
            _write_mp4(frames, tmp, fps)
        else:
            images = [Image.fromarray(f) for f in frames]
            options = {"loop": 0, "duration": int(round(1000 / fps))}
            if target.suffix == ".gif":
                options["disposal"] = 1
                fmt = "GIF"
            else:
                options.update(lossless=True, method=4)
                fmt = "WEBP"
            images[0].save(tmp, format=fmt, save_all=True, append_images=images[1:], **options)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _write_mp4(frames: list, path: Path, fps: float) -> None:
    import av
    from fractions import Fraction
    h, w = frames[0].shape[:2]
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = w + w % 2, h + h % 2          # yuv420p needs even sides
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"}
        for f in frames:
            if f.shape[0] % 2 or f.shape[1] % 2:
                f = np.pad(f, ((0, f.shape[0] % 2), (0, f.shape[1] % 2), (0, 0)), mode="edge")
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
