"""A full PBR material set from a canvas: albedo, height, normals, roughness, ambient occlusion.

    python -m attn_demo material --weights weights/textures64 --seed 7 --class paving \
        --width 1024 --height 1024 --tile both --out paving.zip

Every map is derived from the canvas (the albedo) by a filter that wraps around the axes the canvas
tiles (both, x only, or none; an edge that does not wrap is mirrored), so every map tiles exactly
as the albedo does: painting a canvas shifted by whole pixels across its wrap gives every map
shifted the same way (tested). The methods (docs/TEXTURES.md, "A full material set"):

- albedo: the canvas itself (sRGB, 8 bits).
- height: the canvas's luminance (Rec. 709), stretched to the full range (16-bit grey): bright
  stones stand out of dark mortar (serving/materials.py).
- normal: 3 x 3 Sobel derivatives of the height (Sobel & Feldman, 1968), the surface standing
  `normal_strength` pixels high over the full height range; OpenGL convention (+Y up: Blender,
  Unity, glTF) and DirectX (+Y down: Unreal, Substance), the second the first with green inverted.
- ambient occlusion: a multi-scale horizon estimate from the height (in the spirit of horizon-
  based AO, Bavoil, Sainz & Dimitrov 2008): along 8 directions, the highest elevation of the
  height field at 1, 2, 4, 8, 16 and 32 px, the relief standing `ao_strength` pixels high; AO is
  1 minus the mean sine of those horizon angles (1 = open, 0 = fully occluded).
- roughness: `roughness` plus `roughness_contrast` times the cavity: the height's local mean
  (a 17 x 17 box) minus the height, over 2.5 of its standard deviations, clipped to [-1, 1];
  raised, worn detail is smoother, crevices rougher. Linear grey, 8 bits; metalness is 0.

No library beyond numpy and Pillow. Limits: the canvas limits (MAX_PIXELS in all, sides up to
MAX_SIDE); a zip is written to a temporary name and renamed, so nothing is ever half-written.
"""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..checks import check_finite
from ..errors import InputError
from ..models.canvas import TILINGS
from .materials import height_map, height_png16

MAX_SIDE = 4096                   # the canvas limits (serving/canvas.py): 2048 x 2048, or a 4096 x 1024 band
MAX_PIXELS = 2048 * 2048
MANIFEST = "material.json"
MANIFEST_VERSION = 1
MAPS = ("albedo", "height", "normal_gl", "normal_dx", "roughness", "ao")
COLOUR_SPACE = {"albedo": "sRGB", "height": "linear", "normal_gl": "linear", "normal_dx": "linear",
                "roughness": "linear", "ao": "linear"}
METHOD = {
    "albedo": "the canvas as painted",
    "height": "luminance (Rec. 709) stretched to the full range",
    "normal_gl": "3x3 Sobel derivatives of the height; OpenGL convention (+Y up: Blender, Unity, glTF)",
    "normal_dx": "the OpenGL normal map with green inverted; DirectX convention (+Y down: Unreal, Substance)",
    "roughness": "roughness + roughness_contrast x cavity (17x17 local mean of the height minus the height, "
                 "over 2.5 standard deviations, clipped to [-1, 1])",
    "ao": "multi-scale horizon estimate from the height: 8 directions, horizons at 1-32 px, "
          "1 - mean sine of the horizon angle",
}
AO_STEPS = (1, 2, 4, 8, 16, 32)
AO_DIRECTIONS = 8
ROUGHNESS_RADIUS = 8


@dataclass(frozen=True)
class Strengths:
    """How strong the derived maps are; the CLI's --normal-strength ... and the API's parameters
    have these names and LIMITS."""
    normal_strength: float = 4.0        # px the relief stands over the full height range (normals)
    ao_strength: float = 2.0            # px the relief stands for the occlusion's horizons
    roughness: float = 0.8              # the mean roughness
    roughness_contrast: float = 0.3     # how much the cavity moves it

    def checked(self) -> "Strengths":
        return Strengths(**{k: check_finite(k, v, *LIMITS[k]) for k, v in asdict(self).items()})


LIMITS = {"normal_strength": (0.0, 64.0), "ao_strength": (0.0, 64.0), "roughness": (0.0, 1.0),
          "roughness_contrast": (0.0, 1.0)}
HELP = {"normal_strength": "how many pixels the relief stands over the full height range, for the normal maps",
        "ao_strength": "how many pixels the relief stands, for the ambient occlusion (0 = none)",
        "roughness": "the mean roughness (0 = mirror, 1 = matte)",
        "roughness_contrast": "how much crevices are rougher and raised detail smoother"}


def check_image(image) -> np.ndarray:
    """A canvas as the material maps take it: (H, W, 3) uint8 within the canvas limits."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"a material is made from an RGB uint8 picture (H, W, 3), got "
                         f"{getattr(image, 'dtype', type(image).__name__)} {tuple(getattr(image, 'shape', ()))}")
    h, w = image.shape[:2]
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE) or h * w > MAX_PIXELS:
        raise InputError(f"a material set is at most {MAX_PIXELS:,} pixels (2048 x 2048, or a 4096 x 1024 band), "
                         f"sides up to {MAX_SIDE}: this canvas is {w} x {h}")
    return image


def check_tiling(tiling) -> str:
    if tiling not in TILINGS:
        raise InputError(f"tiling must be one of {', '.join(TILINGS)}, got {tiling!r}")
    return tiling


def pad(a: np.ndarray, r: int, tiling: str) -> np.ndarray:
    """(H, W) padded by r on every side: wrapped along the axes that tile, mirrored along the others."""
    a = np.pad(a, ((r, r), (0, 0)), mode="wrap" if tiling == "both" else "symmetric")
    return np.pad(a, ((0, 0), (r, r)), mode="wrap" if tiling in ("both", "x") else "symmetric")


def sobel(height: np.ndarray, tiling: str) -> tuple[np.ndarray, np.ndarray]:
    """(d/dx, d/dy) of the height per pixel (3 x 3 Sobel / 8), rows growing downwards."""
    p = pad(height, 1, tiling)
    h, w = height.shape
    s = lambda dy, dx: p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]     # noqa: E731 - the shifted view
    gx = (s(-1, 1) + 2 * s(0, 1) + s(1, 1) - s(-1, -1) - 2 * s(0, -1) - s(1, -1)) / 8
    gy = (s(1, -1) + 2 * s(1, 0) + s(1, 1) - s(-1, -1) - 2 * s(-1, 0) - s(-1, 1)) / 8
    return gx, gy


def normal_gl(height: np.ndarray, strength: float, tiling: str) -> np.ndarray:
    """(H, W) height in [0, 1] -> (H, W, 3) uint8 tangent-space normals, OpenGL (green up)."""
    gx, gy = sobel(height, tiling)
    n = np.stack([-strength * gx, strength * gy, np.ones_like(height)], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return np.round((n * 0.5 + 0.5) * 255).astype(np.uint8)


def normal_dx(gl: np.ndarray) -> np.ndarray:
    """The DirectX normal map of an OpenGL one: green inverted."""
    out = gl.copy()
    out[..., 1] = 255 - out[..., 1]
    return out


def box_mean(a: np.ndarray, r: int, tiling: str) -> np.ndarray:
    """The mean over a (2r + 1)² box around each pixel, wrapping like the canvas (summed-area table)."""
    p = pad(a.astype(np.float64), r, tiling)
    c = np.zeros((p.shape[0] + 1, p.shape[1] + 1))
    c[1:, 1:] = p.cumsum(0).cumsum(1)
    h, w, k = a.shape[0], a.shape[1], 2 * r + 1
    total = c[k:k + h, k:k + w] - c[:h, k:k + w] - c[k:k + h, :w] + c[:h, :w]
    return (total / (k * k)).astype(np.float32)


def ambient_occlusion(height: np.ndarray, strength: float, tiling: str) -> np.ndarray:
    """(H, W) height in [0, 1] -> (H, W) float32 AO in [0, 1]: 1 minus the mean, over AO_DIRECTIONS
    directions, of the sine of the highest horizon at AO_STEPS pixels, the relief `strength` px high."""
    h, w = height.shape
    if strength == 0:
        return np.ones_like(height, dtype=np.float32)
    r = max(AO_STEPS)
    p = pad(height.astype(np.float32) * np.float32(strength), r, tiling)
    centre = p[r:r + h, r:r + w]
    occlusion = np.zeros((h, w), np.float32)
    for k in range(AO_DIRECTIONS):
        a = 2 * math.pi * k / AO_DIRECTIONS
        best = np.zeros((h, w), np.float32)          # tan of the highest elevation (0: an open horizon)
        for s in AO_STEPS:
            dx, dy = round(math.cos(a) * s), round(math.sin(a) * s)
            q = p[r + dy:r + dy + h, r + dx:r + dx + w]
            np.maximum(best, (q - centre) / np.float32(math.hypot(dx, dy)), out=best)
        occlusion += best / np.sqrt(1 + best * best)  # sin(atan(t))
    return np.clip(1 - occlusion / AO_DIRECTIONS, 0, 1).astype(np.float32)


def roughness_map(height: np.ndarray, base: float, contrast: float, tiling: str) -> np.ndarray:
    """(H, W) height -> (H, W) float32 roughness in [0, 1]: base + contrast x cavity."""
    cavity = box_mean(height, ROUGHNESS_RADIUS, tiling) - height
    spread = float(cavity.std())
    cavity = np.clip(cavity / (2.5 * spread), -1, 1) if spread > 1e-6 else np.zeros_like(cavity)
    return np.clip(base + contrast * cavity, 0, 1).astype(np.float32)


def to_u8(a: np.ndarray) -> np.ndarray:
    return np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)


@dataclass
class MaterialSet:
    """The maps of one canvas (uint8, the height uint16) and what made them."""
    maps: dict[str, np.ndarray]
    tiling: str
    strengths: Strengths
    meta: dict = field(default_factory=dict)      # model, weights_sha256, seed, class, surface, ...

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        h, w = self.maps["albedo"].shape[:2]
        return w, h

    def orm(self) -> np.ndarray:
        """(H, W, 3) uint8 occlusion, roughness, metalness (0): glTF's packed texture."""
        return np.dstack([self.maps["ao"], self.maps["roughness"], np.zeros_like(self.maps["ao"])])

    def file_names(self, stem: str) -> dict[str, str]:
        return {m: f"{stem}_{m}{'16' if m == 'height' else ''}.png" for m in MAPS}

    def manifest(self, stem: str) -> dict:
        """The JSON beside the maps: every map's file, colour space and method; the model, seed,
        class and surface; the tiling and the strengths."""
        w, h = self.size
        names = self.file_names(stem)
        return {"app": "attn-demo", "kind": "material", "version": MANIFEST_VERSION, **self.meta,
                "width": w, "height": h, "tiling": self.tiling, "strengths": asdict(self.strengths),
                "metalness": 0.0,
                "maps": {m: {"file": names[m], "colour_space": COLOUR_SPACE[m],
                             "bits": 16 if m == "height" else 8,
                             "channels": "RGB" if self.maps[m].ndim == 3 else "grey",
                             "method": METHOD[m]} for m in MAPS}}


def material_set(image: np.ndarray, tiling: str = "both", strengths: Strengths = Strengths(),
                 meta: dict | None = None) -> MaterialSet:
    """Every map of a canvas, tiling as the canvas tiles."""
    image, tiling, s = check_image(image), check_tiling(tiling), strengths.checked()
    height = height_map(image)
    gl = normal_gl(height, s.normal_strength, tiling)
    maps = {"albedo": image, "height": height_png16(height), "normal_gl": gl, "normal_dx": normal_dx(gl),
            "roughness": to_u8(roughness_map(height, s.roughness, s.roughness_contrast, tiling)),
            "ao": to_u8(ambient_occlusion(height, s.ao_strength, tiling))}
    return MaterialSet(maps, tiling, s, dict(meta or {}))


def png_bytes(a: np.ndarray, compress_level: int = 3) -> bytes:
    """A map as PNG bytes; a uint16 grey map as a 16-bit PNG."""
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def write_atomic(target: Path, write) -> Path:
    """`write(tmp_path)` then rename to target: a failure leaves nothing, never a half-written file."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        write(tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_zip(mat: MaterialSet, target, stem: str | None = None) -> Path:
    """The maps (PNG, stored: they are compressed already) and material.json in one zip."""
    target = Path(target)
    if target.suffix.lower() != ".zip":
        raise InputError(f"a material set is written as a .zip, got {target.name!r}")
    stem = stem or target.stem
    names = mat.file_names(stem)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w") as z:
            for m in MAPS:
                z.writestr(names[m], png_bytes(mat.maps[m]), compress_type=zipfile.ZIP_STORED)
            z.writestr(MANIFEST, json.dumps(mat.manifest(stem), indent=2) + "\n", compress_type=zipfile.ZIP_DEFLATED)
    return write_atomic(target, write)


def read_manifest(path) -> dict:
    """A material zip's material.json."""
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read(MANIFEST))


def read_zip(path) -> tuple[dict, dict[str, np.ndarray]]:
    """A material zip back: (manifest, maps). For tests and tools."""
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read(MANIFEST))
        maps = {m: np.asarray(Image.open(io.BytesIO(z.read(info["file"]))))
                for m, info in manifest["maps"].items()}
    return manifest, maps


def canvas_meta(engine, seed, class_index, psi: float = 1.0, edited: int = 0, sliders=()) -> dict:
    """What the manifest says made the canvas: the model, its weights' hash, the seed, class and surface."""
    surface = engine.class_names[class_index] if class_index is not None else None
    return {"model": engine.name, "weights_sha256": engine.weights_sha256, "seed": int(seed),
            "class": class_index, "surface": surface, "truncation": float(psi),
            "sliders": [float(v) for v in sliders], "rerolled_cells": int(edited)}


def canvas_material(engine, seed, width, height, tiling: str = "both", psi: float = 1.0, label=None,
                    strengths: Strengths = Strengths(), sliders=()) -> MaterialSet:
    """Paint the seed's canvas with a CanvasEngine, then its material set. Everything is checked
    before the canvas is painted."""
    strengths = strengths.checked()
    check_tiling(tiling)
    f = engine.field(seed, width, height, psi, sliders)           # checks seed, size and limits, psi, sliders
    result = engine.render(f, label, tiling)
    return material_set(result.image, tiling, strengths,
                        canvas_meta(engine, seed, result.class_index, psi, 0, sliders))


def default_stem(mat: MaterialSet) -> str:
    """model_surface_tile_WxH_seedN: what the set is, in its name."""
    w, h = mat.size
    kind = {"both": "tile", "x": "band", "none": "canvas"}[mat.tiling]
    surface = str(mat.meta.get("surface") or "canvas").replace(" ", "-")
    return f"{mat.meta.get('model', 'canvas')}_{surface}_{kind}_{w}x{h}_seed{mat.meta.get('seed', 0)}"
