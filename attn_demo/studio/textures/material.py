"""Material sets and GLB objects of the Textures tab's canvas: the tab's material panel with its
3-D preview (three.js, served by the app itself) and the 1:1 zoom. The named endpoints that make
the same files, /material and /material_glb, are in textures/api.py.

A set made from the studio's view keeps the canvas state (re-rolled cells included) in its
manifest, so it can be painted again.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .._gradio import gr
from ...serving import glb, material_set
from ...serving.material_set import LIMITS, MaterialSet, Strengths
from ..guard import PAINT, guard
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
    return gr.Button("1:1 zoom (toggle)", size="sm", elem_id="tex_zoom")


def material_layout(desk: CanvasDesk, zoom_btn) -> MaterialWidgets:
    """The material panel (call inside the Textures tab): strengths, object, repeat, the button that
    makes the set and its GLB, and the 3-D view."""
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

    def on_show(v: CanvasView, *values):
        *strengths, shape, repeat = values
        return [str(p) for p in export_material(desk, v, Strengths(*strengths), shape, repeat)]

    inputs = [view, *w.strengths, w.shape, w.repeat]
    for trigger in (w.show_btn.click, w.shape.input):
        trigger(guard(on_show), inputs, [w.files], **PAINT).success(None, [w.files, w.shape], None, js=SHOW_3D)
    w.zoom_btn.click(None, [width, height], None, js=ZOOM_1TO1)
