"""The Textures tab's named endpoints: /material and /material_glb, where the studio has a canvas model.

    from gradio_client import Client
    c = Client("http://127.0.0.1:7860/")
    zip_path, manifest = c.predict("textures64", 7, 1024, 1024, "both", 1.0, "paving", 4.0, 2.0, 0.8, 0.3,
                                   api_name="/material")
    glb_path, info = c.predict("textures64", 7, 512, 512, "both", 1.0, "paving", 4.0, 2.0, 0.8, 0.3,
                               "sphere", 2, api_name="/material_glb")

The parameters have the names and limits of the CLI's `material` verb (serving/material_set.py's
LIMITS, serving/glb.py's SHAPES and MAX_REPEAT); every value is bounded in its component and
checked again in the handler (NaN passes Gradio's bounds). The files are the material panel's
(textures/material.py: `export_material`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._gradio import gr
from ...checks import SEED_MAX
from ...models.latents import PSI_RANGE
from ...serving import glb, material_set
from ...serving.canvas import MAX_SIDE
from ...serving.material_set import LIMITS, Strengths
from ..endpoint import ApiNumber, ApiText, described, hidden_buttons
from ..guard import PAINT, gpu, guard
from .desk import CanvasDesk, CanvasView
from .material import export_material


@dataclass
class MaterialInputs:
    """The hidden components of /material and /material_glb."""
    canvas: list                 # model, seed, width, height, tiling, truncation, label
    strengths: list              # Strengths' fields, in their order
    shape: Any
    repeat: Any
    file_out: Any
    info_out: Any
    buttons: list


def canvas_inputs(desk: CanvasDesk) -> list:
    """What to paint: model, seed, width, height, tiling, truncation and surface, described."""
    first = desk.default_view()
    cell = desk.engine(first.model).cell
    return [
        described(ApiText(label="canvas model"), f"a texture model (config kind canvas): {', '.join(desk.models)}",
                  first.model),
        described(ApiNumber(label="seed", minimum=0, maximum=SEED_MAX, value=0),
                  f"a whole number in 0..{SEED_MAX}", 7, whole=True),
        described(ApiNumber(label="width", minimum=1, maximum=MAX_SIDE, value=first.width),
                  f"pixels, a multiple of the model's cell ({cell} px for {first.model}); "
                  "width x height at most 2048 x 2048 (or a 4096 x 1024 band)", first.width, whole=True),
        described(ApiNumber(label="height", minimum=1, maximum=MAX_SIDE, value=first.height),
                  "pixels, as width", first.height, whole=True),
        described(ApiText(label="tiling", value="both"), "'both' (a tile), 'x' (a band that wraps left "
                  "to right) or 'none'; every map tiles as the canvas does", "both"),
        described(ApiNumber(label="truncation", minimum=PSI_RANGE[0], maximum=PSI_RANGE[1], value=1.0),
                  "psi in [0, 1]", 1.0),
        described(ApiText(label="label"), "a surface class name or index", first.label or "")]


def material_inputs(desk: CanvasDesk) -> MaterialInputs:
    """The hidden components, described and with examples for the "Use via API" page (inside a gr.Blocks)."""
    defaults = Strengths()
    with gr.Column(visible=False):
        canvas = canvas_inputs(desk)
        strengths = [described(ApiNumber(label=k, minimum=lo, maximum=hi, value=getattr(defaults, k)),
                               f"{material_set.HELP[k]}, {lo:g}..{hi:g}", getattr(defaults, k))
                     for k, (lo, hi) in LIMITS.items()]
        shape = described(ApiText(label="shape", value="sphere"), f"one of {', '.join(glb.SHAPES)}; surround: "
                          "the band on a cylinder seen from inside", "sphere")
        repeat = described(ApiNumber(label="repeat", minimum=1, maximum=glb.MAX_REPEAT, value=1),
                           f"the tiling factor of the object's texture coordinates, 1..{glb.MAX_REPEAT}", 2, whole=True)
        return MaterialInputs(canvas, strengths, shape, repeat, gr.File(label="file"), gr.JSON(label="info"),
                              hidden_buttons(2))


@dataclass(frozen=True)
class CanvasArgs:
    """A canvas the API names: the endpoints' first seven parameters."""
    model: Any
    seed: Any
    width: Any
    height: Any
    tiling: Any
    truncation: Any
    label: Any

    def view(self, desk: CanvasDesk) -> CanvasView:
        """The view that paints it, every value checked (CanvasDesk.view)."""
        return desk.view(desk.default_view(), self.model, self.seed, self.width, self.height, self.tiling,
                         self.truncation, self.label or None)


# The arguments /material and /material_glb share (the API page reads each function's docstring).
MATERIAL_ARGS = """
        Args:
            model: a canvas model name, e.g. "textures64"
            seed: a whole number in 0..4294967295
            width: pixels, a multiple of the model's latent cell
            height: pixels; width x height at most 2048 x 2048 (or a 4096 x 1024 band)
            tiling: "both", "x" or "none"
            truncation: psi in [0, 1]
            label: a surface class name or index
            normal_strength: pixels the relief stands over the full height range (normals), 0..64
            ao_strength: pixels the relief stands for the ambient occlusion, 0..64
            roughness: the mean roughness, 0..1
            roughness_contrast: how much crevices are rougher and raised detail smoother, 0..1"""


def material_endpoint(desk: CanvasDesk):
    """/material: a canvas's material set, as a zip."""
    @gpu
    @guard
    def material(model, seed, width, height, tiling, truncation, label, normal_strength, ao_strength, roughness,
                 roughness_contrast):
        """A full material set of a canvas: a zip of the albedo (sRGB), a 16-bit height map, normal maps in
        OpenGL and DirectX conventions, roughness and ambient occlusion (linear), tiling as the canvas tiles,
        and material.json naming every map. Returns the zip and the manifest.
        """
        strengths = Strengths(normal_strength, ao_strength, roughness, roughness_contrast).checked()
        v = CanvasArgs(model, seed, width, height, tiling, truncation, label).view(desk)
        path = export_material(desk, v, strengths)[0]
        return str(path), material_set.read_manifest(path)

    material.__doc__ += MATERIAL_ARGS
    return material


def material_glb_endpoint(desk: CanvasDesk):
    """/material_glb: a canvas's material set on an object, as a GLB."""
    @gpu
    @guard
    def material_glb(model, seed, width, height, tiling, truncation, label, normal_strength, ao_strength,
                     roughness, roughness_contrast, shape="sphere", repeat=1):
        """The material set of a canvas on an object, as a GLB (glTF 2.0): base colour, normal map and
        occlusion/roughness/metalness textures embedded. Returns the GLB and what it holds.
        {args}
            shape: "sphere", "cube", "plane" or "surround" (a band on a cylinder seen from inside)
            repeat: the tiling factor of the texture coordinates, 1..16
        """
        strengths = Strengths(normal_strength, ao_strength, roughness, roughness_contrast).checked()
        v = CanvasArgs(model, seed, width, height, tiling, truncation, label).view(desk)
        _, path = export_material(desk, v, strengths, shape, repeat)
        return str(path), {"model": v.model, "seed": v.seed, "shape": shape, "repeat": int(repeat),
                           "tiling": v.tiling, "size": [v.width, v.height], "bytes": path.stat().st_size}

    material_glb.__doc__ = material_glb.__doc__.replace("{args}", MATERIAL_ARGS.strip("\n").lstrip())
    return material_glb


def add_material_api(studio) -> None:
    """/material and /material_glb (inside a gr.Blocks), where the studio has a canvas model."""
    desk: CanvasDesk = studio.canvas
    if not desk.models:
        return
    w = material_inputs(desk)
    common, api = [*w.canvas, *w.strengths], {**PAINT, "api_visibility": "public"}
    w.buttons[0].click(material_endpoint(desk), common, [w.file_out, w.info_out], api_name="material", **api)
    w.buttons[1].click(material_glb_endpoint(desk), [*common, w.shape, w.repeat], [w.file_out, w.info_out],
                       api_name="material_glb", **api)
