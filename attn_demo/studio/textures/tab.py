"""The Textures tab: canvas models (textures/desk.py) in the page, with its widgets, handlers and wiring.

Paint a canvas of any size and tiling, judge its seams in a 3 x 3 preview, click it to see
where its attention looks (or what looks at a pixel), re-roll the cells under a brush or the
cells a pixel attends to, undo, see the training crops nearest the clicked window (is it a
copy?), export the tile with its height and normal maps, load a state
back, and make an exact loop. Painting runs in its own concurrency group (one at a time), so a
large canvas never makes the image studio's clicks wait; a click that only inspects runs with
those clicks.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .._gradio import gr
from ...checks import SEED_MAX, check_finite, check_seed, check_whole, parse_head
from ...imaging import draw
from ...serving import materials
from ...serving.canvas import MAX_REROLL_SHARE
from ...serving.engine import MapSettings
from .. import web
from .desk import LOOP_MAX_FRAMES, CanvasDesk, CanvasView
from ..exports import ANIMATION_FORMATS
from ..guard import PAINT, PRIVATE, guard
from ..tabs import TabHandlers, TabWidgets
from .material import MaterialWidgets, material_layout, wire_material, zoom_button
from ..view import MAX_SLIDERS, MODE_LABELS

TILING_LABELS = {"tile: wraps both ways": "both", "band: wraps left-right (360° around the viewer)": "x",
                 "none: no wrap": "none"}
ACTIONS = ("inspect attention", "re-roll under the brush", "re-roll what this pixel looks at")


@dataclass
class TextureWidgets(TabWidgets):
    width: gr.Number
    height: gr.Number
    tiling: gr.Radio
    paint_btn: gr.Button
    action: gr.Radio
    brush: gr.Slider
    share: gr.Slider
    undo_btn: gr.Button
    info: gr.Markdown
    overlay: gr.Image
    preview: gr.Image
    loop_seed: gr.Number
    loop_frames: gr.Slider
    loop_fps: gr.Slider
    loop_format: gr.Radio
    loop_follow: gr.Checkbox
    loop_btn: gr.Button
    loop_img: gr.Image
    loop_file: gr.File
    material: MaterialWidgets | None = None     # the material set and 3-D preview (material.py)

    @property
    def settings(self) -> list:
        return [self.view, self.model, self.seed, self.width, self.height, self.tiling, self.psi, self.label,
                self.layer, self.head, self.mode, *self.sliders]

    @property
    def shown(self) -> list:
        return [self.image, self.preview, self.overlay, self.info, self.view]

    @property
    def restored(self) -> list:
        return [self.model, self.seed, self.width, self.height, self.tiling, self.psi, self.label, self.layer,
                self.head, self.mode, *self.sliders]


def texture_layout(desk: CanvasDesk) -> TextureWidgets:
    """The tab's widgets (call inside a gr.Tab)."""
    v = desk.default_view()
    engine = desk.engine(v.model)
    classes = engine.class_names if engine.cfg.num_classes else []
    cell = engine.cell
    gr.Markdown("Seamless textures and wrap-around bands from a **texture model**: any size (multiples of "
                f"{cell} px, up to 2048 × 2048 or a 4096 × 1024 band), tiling by construction. Click the canvas "
                "to see where its attention looks, or re-roll a region; the 3 × 3 preview shows the seams.")
    view = gr.State(v)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=260):
            model = gr.Dropdown(desk.models, value=v.model, label="Texture model", elem_id="tex_model")
            label = gr.Dropdown(classes, value=v.label, label="Surface", visible=bool(classes), elem_id="tex_class")
            with gr.Row():
                seed = gr.Number(value=v.seed, label="Seed", minimum=0, maximum=SEED_MAX, elem_id="tex_seed")
                rand_btn = gr.Button("random", size="sm", min_width=60, elem_id="tex_rand")
            psi = gr.Slider(0.05, 1.0, value=v.psi, step=0.05, label="Truncation ψ", elem_id="tex_psi")
            with gr.Accordion("Sliders: the model's principal directions (the global latent)", open=False):
                sliders = [gr.Slider(visible=False, elem_id=f"tex_slider{i}") for i in range(MAX_SLIDERS)]
            with gr.Row():
                width = gr.Number(value=v.width, label="Width (px)", step=cell, minimum=cell, elem_id="tex_w")
                height = gr.Number(value=v.height, label="Height (px)", step=cell, minimum=cell, elem_id="tex_h")
            tiling = gr.Radio(list(TILING_LABELS), value=next(iter(TILING_LABELS)), label="Tiling",
                              elem_id="tex_tiling")
            paint_btn = gr.Button("Paint", variant="primary", elem_id="tex_paint")
            action = gr.Radio(list(ACTIONS), value=ACTIONS[0], label="A click on the canvas", elem_id="tex_action")
            brush = gr.Slider(0, 8, value=1, step=1, label="Brush radius (latent cells)", elem_id="tex_brush")
            # 0, the default: a local patch (the brush around the cell the pixel looks at most); a share of a
            # flat map spreads over cells all across the canvas
            share = gr.Slider(0, MAX_REROLL_SHARE, value=0, step=0.05, elem_id="tex_share",
                              label="Re-roll the cells holding this share of the pixel's attention "
                                    "(0: the brush around the cell it looks at most)")
            undo_btn = gr.Button("Undo the last re-roll", size="sm", elem_id="tex_undo", interactive=False)
        with gr.Column(scale=2, min_width=300):
            image = gr.Image(elem_id="tex_img", format="png", show_label=False, interactive=False, type="numpy",
                             buttons=["download"])
            info = gr.Markdown(elem_id="tex_info")
            zoom_btn = zoom_button()
            with gr.Accordion("Is this a copy? The nearest training crops of the window around the clicked pixel "
                              "(distance · surface)", open=False, elem_id="tex_nn_panel"):
                nn_features = gr.Gallery(label="By the feature net's features", columns=4, height="auto",
                                         allow_preview=False, format="png", elem_id="tex_nn_features")
                nn_pixels = gr.Gallery(label="By pixels", columns=4, height="auto", allow_preview=False,
                                       format="png", elem_id="tex_nn_pixels")
        with gr.Column(scale=2, min_width=300):
            with gr.Tabs():
                with gr.Tab("Attention"):
                    overlay = gr.Image(elem_id="tex_overlay", format="png", show_label=False, interactive=False,
                                       type="numpy", buttons=["download"])
                with gr.Tab("3 × 3 preview"):
                    preview = gr.Image(elem_id="tex_preview", format="png", show_label=False, interactive=False,
                                       type="numpy", buttons=["download"])
            with gr.Row():
                layer = gr.Dropdown(engine.layers, value=engine.layers[-1], label="Layer", elem_id="tex_layer")
                head = gr.Dropdown(["mean"] + [str(h) for h in range(engine.cfg.heads)], value="mean", label="Head")
            mode = gr.Radio(list(MODE_LABELS), value=next(iter(MODE_LABELS)), label="Mode", elem_id="tex_mode")
    with gr.Row():
        export_btn = gr.Button("Export: the tile or band PNG, its height map (16-bit), normal map (OpenGL), "
                               "3 × 3 preview and state", elem_id="tex_export")
        import_file = gr.File(label="Load a textures state .json (or its exported PNG)", file_types=[".json", ".png"],
                              type="binary", elem_id="tex_import")
    export_files = gr.File(label="Exports", file_count="multiple", interactive=False, elem_id="tex_files")
    with gr.Accordion("Loop: the whole latent field around a circle through seed B (an exact loop)", open=False):
        with gr.Row():
            loop_seed = gr.Number(value=11, label="Seed B", minimum=0, maximum=SEED_MAX)
            loop_frames = gr.Slider(4, LOOP_MAX_FRAMES, value=24, step=1, label="Frames")
            loop_fps = gr.Slider(1, 30, value=12, step=1, label="Frames per second")
            loop_format = gr.Radio(list(ANIMATION_FORMATS), value="gif", label="Format")
            loop_follow = gr.Checkbox(value=False, label="Show the clicked pixel's map beside each frame")
        loop_btn = gr.Button("Make the loop (canvases up to 512 × 512)", elem_id="tex_loop")
        with gr.Row():
            loop_img = gr.Image(type="filepath", show_label=False, interactive=False, elem_id="tex_loop_img")
            loop_file = gr.File(label="The loop file", interactive=False, elem_id="tex_loop_file")
    material = material_layout(desk, zoom_btn)
    return TextureWidgets.of(locals())


class TextureHandlers(TabHandlers):
    """The tab's events: widget values into a CanvasView, the desk's canvas and maps out. The verbs
    every tab shares (a click's pixel, import, export, the nearest crops, the model's choices) are
    tabs.TabHandlers'."""

    WHAT = "canvas"
    HIDE_SINGLE = False          # the Layer and Head lists stay, as they always have on this tab

    def click_scale(self, v: CanvasView) -> int:
        return self.desk.display_scale(v)        # small canvases are shown enlarged

    def click_bounds(self, v: CanvasView) -> tuple[int, int]:
        return v.width, v.height

    def open_view(self, v: CanvasView) -> list:
        """Every widget set to show `v`, then the canvas painted (an import)."""
        return [*self.widgets_for(v), *self.show(v)]

    def view_from(self, v: CanvasView, model, seed, width, height, tiling, psi, label, layer, head, mode,
                  *sliders) -> CanvasView:
        if seed is None:
            seed = v.seed
        settings = MapSettings(layer or None, parse_head(head), MODE_LABELS.get(mode, mode))
        engine = self.desk.engine(model)
        if settings.layer is not None and settings.layer not in engine.layers:
            settings = replace(settings, layer=None)          # another model's layer: this one's last
        v = replace(v, map=settings.checked())
        return self.desk.view(v, model, seed, width, height, TILING_LABELS.get(tiling, tiling), psi, label, sliders)

    def show(self, v: CanvasView):
        result = self.desk.render(v)
        picture = draw.upscale_nearest(result.image, self.desk.display_scale(v))
        # the preview and the map are served as JPEG files, as the image studio's maps are
        preview = self.desk.files.jpeg_path(materials.tiled_preview(result.image, v.tiling, max_side=1024))
        overlay, text = self._map(v)
        return picture, preview, overlay, self._info(v, result, text), v

    def _info(self, v: CanvasView, result, text: str) -> str:
        """The line under the canvas: its size, cells, tiling and paint time, then the click's numbers."""
        rows, cols = result.field.shape[1:]
        rerolled = f" · {len(v.edited)} cells re-rolled" if v.edited else ""
        return (f"{v.width} × {v.height} px ({cols} × {rows} latent cells), tiling **{v.tiling}**, painted in "
                f"{result.timings['render_ms']:.0f} ms{rerolled}. {text}")

    def _map(self, v: CanvasView):
        if v.click is None:
            return None, "Click the canvas to see its attention."
        out = self.desk.inspect(v, *v.click)
        return self.desk.files.jpeg_path(out.overlay), f"Clicked ({v.click[0]}, {v.click[1]}): {out.map.describe(markdown=True)}"

    def on_paint(self, *values):
        return self.show(self.view_from(*values))

    def on_map(self, *values):
        v = self.view_from(*values)
        return self._map(v)[0], v

    def on_inspect(self, evt: gr.SelectData, action, v: CanvasView):
        """A click that inspects: the map from the cached render (no painting), and the click's numbers
        in the line under the canvas (where the page draws its ring, web/page.js)."""
        if action != ACTIONS[0]:
            return gr.skip(), gr.skip(), gr.skip()
        v = v.clicked(*self.point_of(evt, v))
        overlay, text = self._map(v)
        return overlay, self._info(v, self.desk.render(v), text), v

    def on_reroll(self, evt: gr.SelectData, action, brush, share, v: CanvasView):
        """A click that re-rolls: the cells under the brush, or those the pixel attends to."""
        if action == ACTIONS[0]:
            return (gr.skip(),) * 5
        x, y = self.point_of(evt, v)
        seed = (v.seed * 1_000_003 + 7919 * (len(v.undo) + 1) + x * 31 + y) % (SEED_MAX + 1)
        if action == ACTIONS[1]:
            v = self.desk.reroll_brush(v, x, y, check_whole("brush radius", brush), seed)
        elif check_finite("share", share) > 0:
            v = self.desk.reroll_attended(v, x, y, seed, share)
        else:                   # a local patch where the pixel looks most (serving/canvas.patch_cells)
            cells = self.desk.engine(v.model).patch_cells(self.desk.render(v), x, y, v.map,
                                                          check_whole("brush radius", brush))
            v = self.desk.reroll(v, cells, seed)
        return self.show(v)

    def on_undo(self, v: CanvasView):
        if not v.undo:           # a second press before the button was disabled (undo_state): nothing to do
            return (gr.skip(),) * 5
        return self.show(self.desk.undo(v))

    def undo_state(self, v: CanvasView):
        """Undo is pressable only when there is a re-roll to undo (no red "nothing to undo")."""
        return gr.update(interactive=bool(v.undo))

    def widgets_for(self, v: CanvasView) -> list:
        """Every widget set to show `v`, its model's choices included (TextureWidgets.restored order)."""
        label, layer, head, *sliders = self.model_updates(v.model, v.sliders, v.map.layer, v.map.head)
        label = gr.update(**{**label, "value": v.label})
        tiling = next(k for k, t in TILING_LABELS.items() if t == v.tiling)
        mode = next(k for k, m in MODE_LABELS.items() if m == v.map.mode)
        return [v.model, v.seed, v.width, v.height, tiling, v.psi, label, layer, head, mode, *sliders]

    def on_model(self, model, v: CanvasView):
        """Another texture model: its classes, layers, heads and a size it can paint."""
        engine = self.desk.engine(model)
        side = 4 * engine.cfg.resolution
        return self.widgets_for(CanvasView(model, v.seed, side, side, v.tiling, v.psi,
                                           engine.class_names[0] if engine.cfg.num_classes else None))

    def on_loop(self, seed_b, frames, fps, fmt, follow, v: CanvasView, progress=gr.Progress()):
        path = self.desk.loop(v, check_seed(seed_b), check_whole("frames", frames), check_finite("fps", fps), fmt,
                              progress=lambda p: progress(p, desc="painting frames"), follow=bool(follow))
        return (None if fmt == "mp4" else str(path)), str(path)


def wire_textures(demo: gr.Blocks, w: TextureWidgets, h: TextureHandlers) -> None:
    paint = guard(h.on_paint)
    nn = guard(h.on_neighbours)

    def then_nn(event):
        """After anything that changes the canvas or the click: the window's nearest training crops,
        and whether there is a re-roll to undo."""
        event.then(nn, [w.view], [w.nn_features, w.nn_pixels], **PRIVATE)
        event.then(h.undo_state, [w.view], [w.undo_btn], **PRIVATE)

    then_nn(demo.load(guard(lambda v: h.widgets_for(v)), [w.view], w.restored, **PRIVATE).then(
        paint, w.settings, w.shown, **PAINT))
    # the seed box paints when it is left (page.js turns Enter in a number box into leaving it, so
    # .submit never fires)
    for trigger in (w.paint_btn.click, w.tiling.input, w.label.input, w.psi.release, w.seed.blur,
                    *[s.release for s in w.sliders]):
        then_nn(trigger(paint, w.settings, w.shown, **PAINT))
    then_nn(w.rand_btn.click(None, None, [w.seed], js=web.RANDOM_SEED,
                             **PRIVATE).then(paint, w.settings, w.shown, **PAINT))
    then_nn(w.model.input(guard(h.on_model), [w.model, w.view], w.restored, **PRIVATE).then(
        paint, w.settings, w.shown, **PAINT))
    for trigger in (w.layer.input, w.head.input, w.mode.input):
        trigger(guard(h.on_map), w.settings, [w.overlay, w.view], **PRIVATE)
    then_nn(w.image.select(guard(h.on_inspect), [w.action, w.view], [w.overlay, w.info, w.view], **PRIVATE))
    then_nn(w.image.select(guard(h.on_reroll), [w.action, w.brush, w.share, w.view], w.shown, **PAINT))
    then_nn(w.undo_btn.click(guard(h.on_undo), [w.view], w.shown, **PAINT))
    w.export_btn.click(guard(h.on_export), [w.view], [w.export_files], **PAINT)
    then_nn(w.import_file.upload(guard(h.on_import), [w.import_file], [*w.restored, *w.shown], **PAINT))
    w.loop_btn.click(guard(h.on_loop), [w.loop_seed, w.loop_frames, w.loop_fps, w.loop_format, w.loop_follow, w.view],
                     [w.loop_img, w.loop_file], **PAINT)
    wire_material(w.material, w.view, w.width, w.height, h.desk)
