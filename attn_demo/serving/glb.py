"""A material set on an object, as a binary glTF 2.0 (GLB) file: Blender, three.js, Unity, Unreal.

    python -m attn_demo material --weights weights/textures64 --seed 7 --class paving \
        --width 1024 --height 1024 --glb paving.glb --shape sphere --repeat 2

Shapes: a plane (2 x 2 units, facing up), a cube (2 units, each face the texture), a UV sphere
(radius 1) and a surround: an open cylinder (radius 1) seen from inside, a band wrapped once around
the viewer (or `repeat` times), as tall as the band's aspect makes it. `repeat` is the tiling factor
of the texture coordinates. The material is glTF's metallic-roughness PBR: the albedo as
baseColorTexture (sRGB), the OpenGL normal map as normalTexture (glTF's own convention), and one
packed texture, occlusion in red, roughness in green, metalness (0) in blue, as both
metallicRoughnessTexture and occlusionTexture. Every vertex carries its tangent (glTF's bitangent,
cross(normal, tangent) x w, points up the image), so no viewer has to guess one.

Written by hand with `struct` (the GLB container is a 12-byte header, a JSON chunk and a binary
chunk; Khronos glTF 2.0 specification, section 4.4); the tests read it back with pygltflib.
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

from ..checks import check_whole
from ..errors import InputError
from .material_set import MaterialSet, png_bytes, write_atomic

SHAPES = ("sphere", "cube", "plane", "surround")
MAX_REPEAT = 16
GLB_MAX_SIDE = 4096               # the largest texture WebGL 2 devices commonly take
GLB_MAX_PIXELS = 2048 * 2048
REPEAT, CLAMP = 10497, 33071
LINEAR, LINEAR_MIPMAP_LINEAR = 9729, 9987
FLOAT, UINT32 = 5126, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


def _face_winding(pos: np.ndarray, nrm: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Triangles turned counter-clockwise as seen from the side their normals face (glTF's front)."""
    a, b, c = pos[tris[:, 0]], pos[tris[:, 1]], pos[tris[:, 2]]
    geometric = np.cross(b - a, c - a)
    facing = (geometric * (nrm[tris[:, 0]] + nrm[tris[:, 1]] + nrm[tris[:, 2]])).sum(1)
    out = tris.copy()
    flip = facing < 0
    out[flip] = out[flip][:, [0, 2, 1]]
    return out


def _grid(rows: int, cols: int) -> np.ndarray:
    """Two triangles per cell of a (rows + 1) x (cols + 1) vertex grid."""
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    a = (i * (cols + 1) + j).ravel()
    b, c, d = a + 1, a + cols + 1, a + cols + 2
    return np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)])


def shape_mesh(shape: str, u_rep: float = 1.0, v_rep: float = 1.0, aspect: float = 1.0) -> dict[str, np.ndarray]:
    """positions, normals, tangent directions, the image's up direction at each vertex, UVs and
    triangles of a shape. `aspect`: a surround's height over its circumference."""
    if shape == "plane":
        s, t = np.meshgrid([0.0, 1.0], [0.0, 1.0], indexing="xy")        # u along x, v along z (towards the viewer)
        s, t = s.ravel(), t.ravel()
        pos = np.stack([2 * s - 1, np.zeros_like(s), 2 * t - 1], 1)
        nrm = np.tile([0.0, 1.0, 0.0], (4, 1))
        tan, up = np.tile([1.0, 0.0, 0.0], (4, 1)), np.tile([0.0, 0.0, -1.0], (4, 1))
        uv, tris = np.stack([s * u_rep, t * v_rep], 1), _grid(1, 1)
    elif shape == "cube":
        parts = []
        for n, down in (((1, 0, 0), (0, -1, 0)), ((-1, 0, 0), (0, -1, 0)), ((0, 0, 1), (0, -1, 0)),
                        ((0, 0, -1), (0, -1, 0)), ((0, 1, 0), (0, 0, 1)), ((0, -1, 0), (0, 0, -1))):
            n, down = np.array(n, float), np.array(down, float)
            right = np.cross(-down, n)                               # right, up, out: a right-handed frame
            s, t = np.meshgrid([0.0, 1.0], [0.0, 1.0], indexing="xy")
            s, t = s.ravel(), t.ravel()
            pos = n + (2 * s - 1)[:, None] * right + (2 * t - 1)[:, None] * down
            parts.append((pos, np.tile(n, (4, 1)), np.tile(right, (4, 1)), np.tile(-down, (4, 1)),
                          np.stack([s * u_rep, t * v_rep], 1)))
        pos, nrm, tan, up, uv = (np.concatenate([p[k] for p in parts]) for k in range(5))
        tris = np.concatenate([_grid(1, 1) + 4 * f for f in range(6)])
    elif shape == "sphere":
        rows, cols = 48, 96
        theta, phi = np.meshgrid(np.linspace(0, math.pi, rows + 1), np.linspace(0, 2 * math.pi, cols + 1),
                                 indexing="ij")
        theta, phi = theta.ravel(), phi.ravel()
        pos = np.stack([np.sin(theta) * np.sin(phi), np.cos(theta), np.sin(theta) * np.cos(phi)], 1)
        nrm = pos.copy()
        tan = np.stack([np.cos(phi), np.zeros_like(phi), -np.sin(phi)], 1)
        up = np.stack([np.cos(theta) * np.sin(phi), -np.sin(theta), np.cos(theta) * np.cos(phi)], 1) * -1
        uv = np.stack([phi / (2 * math.pi) * u_rep, theta / math.pi * v_rep], 1)
        tris = _grid(rows, cols)
    elif shape == "surround":
        cols = 128
        height = 2 * math.pi * aspect
        t, phi = np.meshgrid([0.0, 1.0], np.linspace(0, 2 * math.pi, cols + 1), indexing="ij")
        t, phi = t.ravel(), phi.ravel()
        pos = np.stack([np.cos(phi), height * (0.5 - t), np.sin(phi)], 1)
        nrm = np.stack([-np.cos(phi), np.zeros_like(phi), -np.sin(phi)], 1)   # inwards: seen from inside
        tan = np.stack([-np.sin(phi), np.zeros_like(phi), np.cos(phi)], 1)
        up = np.tile([0.0, 1.0, 0.0], (len(phi), 1))
        uv = np.stack([phi / (2 * math.pi) * u_rep, t * v_rep], 1)
        tris = _grid(1, cols)
    else:
        raise InputError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    return {"position": pos.astype(np.float32), "normal": nrm.astype(np.float32), "tangent": tan.astype(np.float32),
            "up": up.astype(np.float32), "uv": uv.astype(np.float32),
            "triangles": _face_winding(pos, nrm, tris).astype(np.uint32)}


def check_shape(shape, repeat, tiling: str) -> tuple[str, int]:
    """The shape and tiling factor for a canvas of this tiling, or a clear error (before any painting)."""
    if shape not in SHAPES:
        raise InputError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    repeat = check_whole("repeat", repeat, 1, MAX_REPEAT)
    if shape in ("sphere", "surround") and tiling == "none":
        raise InputError(f"a {shape} wraps the texture around: paint a canvas that tiles (tiling both or x)")
    if shape in ("plane", "cube") and repeat > 1 and tiling != "both":
        raise InputError(f"repeat {repeat} lays the texture side by side in both directions: "
                         "paint a tile (tiling both), or use repeat 1")
    return shape, repeat


def check_glb_args(mat: MaterialSet, shape, repeat) -> tuple[str, int]:
    """The shape and tiling factor for this material, or a clear error."""
    shape, repeat = check_shape(shape, repeat, mat.tiling)
    w, h = mat.size
    if max(w, h) > GLB_MAX_SIDE or w * h > GLB_MAX_PIXELS:
        raise InputError(f"a canvas of {w} x {h} is too large for a GLB: its textures are at most "
                         f"{GLB_MAX_PIXELS:,} pixels, sides up to {GLB_MAX_SIDE}")
    return shape, repeat


def _repeats(mat: MaterialSet, shape: str, repeat: int) -> tuple[float, float, float]:
    """(u repeat, v repeat, a surround's height over its circumference)."""
    w, h = mat.size
    if shape == "sphere":              # twice around the equator as from pole to pole: square texels
        return (2.0 * repeat, float(repeat)) if mat.tiling == "both" else (float(repeat), 1.0)
    if shape == "surround":
        return float(repeat), 1.0, h / (w * repeat)
    return float(repeat), float(repeat), 1.0


def glb_bytes(mat: MaterialSet, shape: str = "sphere", repeat: int = 1) -> bytes:
    """The GLB file of a material set on a shape."""
    shape, repeat = check_glb_args(mat, shape, repeat)
    u_rep, v_rep, *rest = _repeats(mat, shape, repeat)
    mesh = shape_mesh(shape, u_rep, v_rep, rest[0] if rest else 1.0)
    # glTF's bitangent is cross(normal, tangent.xyz) * w: w makes it point up the image
    w = np.sign((np.cross(mesh["normal"], mesh["tangent"]) * mesh["up"]).sum(1))
    tangent = np.concatenate([mesh["tangent"], np.where(w == 0, 1, w)[:, None]], 1).astype(np.float32)

    blob, views, accessors = bytearray(), [], []

    def view(data: bytes, target: int | None = None) -> int:
        while len(blob) % 4:
            blob.append(0)
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(data),
                      **({"target": target} if target else {})})
        blob.extend(data)
        return len(views) - 1

    def accessor(a: np.ndarray, kind: str, target: int, bounds: bool = False) -> int:
        ctype = UINT32 if a.dtype == np.uint32 else FLOAT
        entry = {"bufferView": view(np.ascontiguousarray(a).tobytes(), target), "componentType": ctype,
                 "count": int(a.shape[0]), "type": kind}
        if bounds:
            entry.update(min=[float(v) for v in a.min(0)], max=[float(v) for v in a.max(0)])
        accessors.append(entry)
        return len(accessors) - 1

    attributes = {"POSITION": accessor(mesh["position"], "VEC3", ARRAY_BUFFER, bounds=True),
                  "NORMAL": accessor(mesh["normal"], "VEC3", ARRAY_BUFFER),
                  "TANGENT": accessor(tangent, "VEC4", ARRAY_BUFFER),
                  "TEXCOORD_0": accessor(mesh["uv"], "VEC2", ARRAY_BUFFER)}
    indices = accessor(mesh["triangles"].ravel(), "SCALAR", ELEMENT_ARRAY_BUFFER)
    pictures = {"albedo": mat.maps["albedo"], "normal": mat.maps["normal_gl"], "occlusion_roughness_metalness": mat.orm()}
    images = [{"bufferView": view(png_bytes(p)), "mimeType": "image/png", "name": name} for name, p in pictures.items()]
    wrap_s = REPEAT if mat.tiling in ("both", "x") else CLAMP
    wrap_t = REPEAT if mat.tiling == "both" else CLAMP
    name = str(mat.meta.get("surface") or mat.meta.get("model") or "material")
    doc = {
        "asset": {"version": "2.0", "generator": "attn-demo (serving/glb.py)"},
        "scene": 0, "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": shape}],
        "meshes": [{"name": shape, "primitives": [{"attributes": attributes, "indices": indices, "material": 0,
                                                   "mode": 4}]}],
        "materials": [{"name": name,
                       "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicFactor": 1.0,
                                                "roughnessFactor": 1.0, "metallicRoughnessTexture": {"index": 2}},
                       "normalTexture": {"index": 1, "scale": 1.0},
                       "occlusionTexture": {"index": 2, "strength": 1.0}}],
        "textures": [{"sampler": 0, "source": i} for i in range(3)],
        "images": images,
        "samplers": [{"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR, "wrapS": wrap_s, "wrapT": wrap_t}],
        "accessors": accessors, "bufferViews": views, "buffers": [{"byteLength": len(blob)}],
        "extras": {"attn_demo": {**mat.meta, "tiling": mat.tiling, "repeat": repeat, "shape": shape,
                                 "strengths": mat.manifest("material")["strengths"]}},
    }
    return pack_glb(doc, bytes(blob))


def pack_glb(doc: dict, blob: bytes) -> bytes:
    """The GLB container: header (magic, version 2, length), the JSON chunk padded with spaces and
    the BIN chunk padded with zeros, each to 4 bytes."""
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    blob += b"\0" * (-len(blob) % 4)
    length = 12 + 8 + len(text) + 8 + len(blob)
    return b"".join([struct.pack("<4sII", b"glTF", 2, length), struct.pack("<I4s", len(text), b"JSON"), text,
                     struct.pack("<I4s", len(blob), b"BIN\0"), blob])


def write_glb(mat: MaterialSet, target, shape: str = "sphere", repeat: int = 1) -> Path:
    """The GLB written to a temporary name and renamed: never a half-written file."""
    target = Path(target)
    if target.suffix.lower() != ".glb":
        raise InputError(f"a GLB file's name ends in .glb, got {target.name!r}")
    data = glb_bytes(mat, shape, repeat)        # every check and the whole file before anything is written
    return write_atomic(target, lambda tmp: tmp.write_bytes(data))
