"""Material sets and GLB objects of the Textures tab's canvas: the tab's material panel with its
3-D preview (three.js, served by the app itself), the 1:1 zoom, and the named API endpoints.

    from gradio_client import Client
    c = Client("http://127.0.0.1:7860/")
    zip_path, manifest = c.predict("textures64", 7, 1024, 1024, "both", 1.0, "paving", 4.0, 2.0, 0.8, 0.3,
                                   api_name="/material")
    glb_path, info = c.predict("textures64", 7, 512, 512, "both", 1.0, "paving", 4.0, 2.0, 0.8, 0.3,
                               "sphere", 2, api_name="/material_glb")

The parameters have the names and limits of the CLI's `material` verb (serving/material_set.py's
LIMITS, serving/glb.py's SHAPES and MAX_REPEAT); every value is bounded in its component and
checked again in the handler (NaN passes Gradio's bounds). A set made from the studio's view keeps
the canvas state (re-rolled cells included) in its manifest, so it can be painted again.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...checks import SEED_MAX
from ...models.latents import PSI_RANGE
from ...serving import glb, material_set
from ...serving.canvas import MAX_SIDE
from ...serving.material_set import LIMITS, MaterialSet, Strengths
from .desk import CanvasDesk, CanvasView


def view_material(desk: CanvasDesk, v: CanvasView, strengths: Strengths = Strengths()) -> MaterialSet:
    """The material set of the canvas a view shows (its re-rolled cells included)."""
    strengths = strengths.checked()
    engine = desk.engine(v.model)
    result = desk.render(v)
    meta = material_set.canvas_meta(engine, v.seed, result.class_index, v.psi, len(v.edited), v.sliders)
    return material_set.material_set(result.image, v.tiling, strengths, {**meta, "state": desk.state_dict(v)})


def export_material(desk: CanvasDesk, v: CanvasView, strengths: Strengths = Strengths(), shape: str | None = None,
                    repeat: int = 1) -> list[Path]:
    """The zip of the view's material set and, with a shape, its GLB, in a fresh export folder.
    The object's arguments are checked before anything is painted or written."""
    if shape is not None:
        shape, repeat = glb.check_shape(shape, repeat, v.tiling)
    mat = view_material(desk, v, strengths)
    folder = desk.files.new_folder()
    stem = material_set.default_stem(mat) + (f"_edited{len(v.edited)}" if v.edited else "")
    out = [material_set.write_zip(mat, folder / f"{stem}_material.zip", stem)]
    if shape is not None:
        out.append(glb.write_glb(mat, folder / f"{stem}_{shape}.glb", shape, repeat))
    return out


def add_material_api(studio) -> None:
    """/material and /material_glb (inside a gr.Blocks), where the studio has a canvas model."""
    from .._gradio import gr
    from ..api import ApiNumber, ApiText, described
    from ..guard import gpu, guard
    from .tab import PAINT

    desk: CanvasDesk = studio.canvas
    if not desk.models:
        return
    first = desk.default_view()
    engine = desk.engine(first.model)
    with gr.Column(visible=False):
        model = described(ApiText(label="canvas model"), f"a canvas model: {', '.join(desk.models)}", first.model)
        seed = described(ApiNumber(label="seed", minimum=0, maximum=SEED_MAX, value=0),
                         f"a whole number in 0..{SEED_MAX}", 7, whole=True)
        width = described(ApiNumber(label="width", minimum=1, maximum=MAX_SIDE, value=first.width),
                          f"pixels, a multiple of the model's cell ({engine.cell} px for {first.model}); "
                          "width x height at most 2048 x 2048 (or a 4096 x 1024 band)", first.width, whole=True)
        height = described(ApiNumber(label="height", minimum=1, maximum=MAX_SIDE, value=first.height),
                           "pixels, as width", first.height, whole=True)
        tiling = described(ApiText(label="tiling", value="both"), "'both' (a tile), 'x' (a band that wraps left "
                           "to right) or 'none'; every map tiles as the canvas does", "both")
        psi = described(ApiNumber(label="truncation", minimum=PSI_RANGE[0], maximum=PSI_RANGE[1], value=1.0),
                        "psi in [0, 1]", 1.0)
        label = described(ApiText(label="label"), "a surface class name or index", first.label or "")
        defaults = Strengths()
        strength = [described(ApiNumber(label=k, minimum=lo, maximum=hi, value=getattr(defaults, k)),
                              f"{material_set.HELP[k]}, {lo:g}..{hi:g}", getattr(defaults, k))
                    for k, (lo, hi) in LIMITS.items()]
        shape = described(ApiText(label="shape", value="sphere"), f"one of {', '.join(glb.SHAPES)}; surround: "
                          "the band on a cylinder seen from inside", "sphere")
        repeat = described(ApiNumber(label="repeat", minimum=1, maximum=glb.MAX_REPEAT, value=1),
                           f"the tiling factor of the object's texture coordinates, 1..{glb.MAX_REPEAT}", 2, whole=True)
        file_out = gr.File(label="file")
        info_out = gr.JSON(label="info")
        buttons = [gr.Button(visible=False) for _ in range(2)]

    def view_of(model, seed, width, height, tiling, truncation, label) -> CanvasView:
        return desk.view(desk.default_view(), model, seed, width, height, tiling, truncation, label or None)

    def strengths_of(*values) -> Strengths:
        return Strengths(*values).checked()

    @gpu
    @guard
    def material(model, seed, width, height, tiling, truncation, label, normal_strength, ao_strength, roughness,
                 roughness_contrast):
        """A full material set of a canvas: a zip of the albedo (sRGB), a 16-bit height map, normal maps in
        OpenGL and DirectX conventions, roughness and ambient occlusion (linear), tiling as the canvas tiles,
        and material.json naming every map. Returns the zip and the manifest.

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
            roughness_contrast: how much crevices are rougher and raised detail smoother, 0..1
        """
        strengths = strengths_of(normal_strength, ao_strength, roughness, roughness_contrast)
        v = view_of(model, seed, width, height, tiling, truncation, label)
        path = export_material(desk, v, strengths)[0]
        return str(path), material_set.read_manifest(path)

    @gpu
    @guard
    def material_glb(model, seed, width, height, tiling, truncation, label, normal_strength, ao_strength,
                     roughness, roughness_contrast, shape="sphere", repeat=1):
        """The material set of a canvas on an object, as a GLB (glTF 2.0): base colour, normal map and
        occlusion/roughness/metalness textures embedded. Returns the GLB and what it holds.

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
            roughness_contrast: how much crevices are rougher and raised detail smoother, 0..1
            shape: "sphere", "cube", "plane" or "surround" (a band on a cylinder seen from inside)
            repeat: the tiling factor of the texture coordinates, 1..16
        """
        strengths = strengths_of(normal_strength, ao_strength, roughness, roughness_contrast)
        v = view_of(model, seed, width, height, tiling, truncation, label)
        _, path = export_material(desk, v, strengths, shape, repeat)
        return str(path), {"model": v.model, "seed": v.seed, "shape": shape, "repeat": int(repeat),
                           "tiling": v.tiling, "size": [v.width, v.height], "bytes": path.stat().st_size}

    common = [model, seed, width, height, tiling, psi, label, *strength]
    api = {**PAINT, "api_visibility": "public"}
    buttons[0].click(material, common, [file_out, info_out], api_name="material", **api)
    buttons[1].click(material_glb, [*common, shape, repeat], [file_out, info_out], api_name="material_glb", **api)


# ---------------------------------------------------------------- the Textures tab's panel
WEB = Path(__file__).parent.parent / "web"            # studio/web/
VENDOR = WEB / "vendor" / "three"          # scripts/vendor_three.sh: three.js from npm, served by the app
SHAPE_CHOICES = [("sphere", "sphere"), ("cube", "cube"), ("plane", "plane"),
                 ("surround: the band around you, seen from inside (360°)", "surround")]
SHOW_3D = (WEB / "material3d.js").read_text(encoding="utf-8").replace("__VENDOR__", VENDOR.resolve().as_posix())
# 1:1 on the 2-D canvas: one canvas pixel per screen pixel (the page shows small canvases enlarged and
# large ones shrunk to its column); the same button goes back.
ZOOM_1TO1 = """(w, h) => {
  const box = document.getElementById('tex_img'), img = box && box.querySelector('img');
  if (!img) return;
  const on = !box.classList.contains('tex-1to1');
  box.classList.toggle('tex-1to1', on);
  const holder = img.parentElement;
  if (on) {
    const scale = Math.max(1, Math.floor(512 / Math.max(w, h)));
    const side = img.naturalWidth / scale / (window.devicePixelRatio || 1);
    Object.assign(img.style, {width: side + 'px', maxWidth: 'none', maxHeight: 'none', height: 'auto',
                              imageRendering: 'pixelated', objectFit: 'none'});
    Object.assign(holder.style, {overflow: 'auto', maxHeight: '80vh', justifyContent: 'flex-start'});
  } else {
    for (const k of ['width', 'maxWidth', 'maxHeight', 'height', 'imageRendering', 'objectFit']) img.style[k] = '';
    for (const k of ['overflow', 'maxHeight', 'justifyContent']) holder.style[k] = '';
  }
}"""


@dataclass
class MaterialWidgets:
    zoom_btn: object
    strengths: list
    shape: object
    repeat: object
    show_btn: object
    files: object
    view3d: object


def zoom_button():
    """The 1:1 toggle, placed under the canvas (inside the Textures tab's layout)."""
    from .._gradio import gr
    return gr.Button("1:1 zoom (toggle)", size="sm", elem_id="tex_zoom")


def material_layout(desk: CanvasDesk, zoom_btn) -> MaterialWidgets:
    """The material panel (call inside the Textures tab): strengths, object, repeat, the button that
    makes the set and its GLB, and the 3-D view."""
    from .._gradio import gr
    gr.set_static_paths([VENDOR])              # three.js, from the app itself (adds to the static paths)
    defaults = Strengths()
    steps = {"normal_strength": 0.5, "ao_strength": 0.5, "roughness": 0.05, "roughness_contrast": 0.05}
    with gr.Accordion("Material set and 3-D preview: albedo, height, normals, roughness, AO on a lit object",
                      open=True, elem_id="tex_material"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                strengths = [gr.Slider(lo, hi, value=getattr(defaults, k), step=steps[k], elem_id=f"tex_{k}",
                                       label=f"{k.replace('_', ' ')}: {material_set.HELP[k]}")
                             for k, (lo, hi) in LIMITS.items()]
                shape = gr.Radio(SHAPE_CHOICES, value="sphere", label="Object", elem_id="tex_shape")
                repeat = gr.Slider(1, glb.MAX_REPEAT, value=1, step=1, label="Tiling factor (repeat)",
                                   elem_id="tex_repeat")
                show_btn = gr.Button("Show in 3-D, and export the material set (zip) and GLB", variant="primary",
                                     elem_id="tex_show3d")
                files = gr.File(label="Material set and GLB", file_count="multiple", interactive=False,
                                elem_id="tex_material_files")
            with gr.Column(scale=2, min_width=320):
                view3d = gr.HTML('<div id="tex_3d_view" style="height:440px;width:100%;border-radius:8px;'
                                 'background:#1d2026;color:#aaa;display:flex;align-items:center;'
                                 'justify-content:center;touch-action:none">Press “Show in 3-D”: drag to orbit, '
                                 'scroll to zoom</div>', elem_id="tex_3d")
    return MaterialWidgets(zoom_btn, strengths, shape, repeat, show_btn, files, view3d)


def wire_material(w: MaterialWidgets, view, width, height, desk: CanvasDesk) -> None:
    """The panel's events: the set and GLB are made in the painting group, then the page loads the GLB."""
    from ..guard import guard
    from .tab import PAINT

    def on_show(v: CanvasView, *values):
        *strengths, shape, repeat = values
        return [str(p) for p in export_material(desk, v, Strengths(*strengths), shape, repeat)]

    inputs = [view, *w.strengths, w.shape, w.repeat]
    for trigger in (w.show_btn.click, w.shape.input):
        trigger(guard(on_show), inputs, [w.files], **PAINT).success(None, [w.files, w.shape], None, js=SHOW_3D)
    w.zoom_btn.click(None, [width, height], None, js=ZOOM_1TO1)
