"""The "What attention does" tab's widgets: the controls, the picture to paint on, the result, the
faithfulness and D's accordions, and the training versions (versions.py). Handlers and wiring: tab.py."""
from __future__ import annotations

from dataclasses import dataclass

from .._gradio import gr
from ..view import DISPLAY
from .versions import versions_layout

TAB = "What attention does"
ACTION_LABELS = {"switch attention off": "off", "hide the brush's region from every pixel": "hide",
                 "redirect to the target region": "redirect"}
SCOPE_LABELS = {"the whole layer": "layer", "the clicked pixel": "click", "the pixels under the brush": "brush"}
PAINT_LABELS = {"brush: two corners": "brush", "target: two corners": "target",
                "brush: free hand": "brush-paint", "target: free hand": "target-paint"}
# A new View refreshes the tab only while it is on screen: the page checks, and only then presses the
# hidden button (a hidden tab costs no request after every render; the picture is drawn when it opens).
REFRESH_IF_OPEN = ("() => { const e = document.querySelector('#surg_sketch'); "
                   "if (e && e.offsetParent !== null) document.getElementById('surg_refresh_go').click(); }")
INTRO = """Does the attention change the picture? Intervene on it and re-render: **switch it off** (the
attention output is 0, so the features pass unchanged) for the whole layer, the pixel you clicked on the
image or the pixels under a brush; **hide** the brush's region from every pixel; or **redirect** the
clicked pixel (or the brush) to look only at a target region. The layer and head are the attention
view's. Draw a brush or a target with two clicks on the picture below (opposite corners), type
`x0, y0, x1, y1` in its pixels (0..512), or choose *free hand* and paint it on the layer's grid (drag;
Shift-drag erases; a click paints one cell)."""


@dataclass
class SurgeryWidgets:
    refresh_go: gr.Button                    # pressed by the page when a new View comes and the tab is open
    action: gr.Radio
    scope: gr.Radio
    paint: gr.Radio
    brush: gr.Textbox
    target: gr.Textbox
    clear_btn: gr.Button
    run_btn: gr.Button
    sketch: gr.Image
    corner: gr.State
    picture: gr.Image
    info: gr.Markdown
    k: gr.Slider
    faith_btn: gr.Button
    curve_btn: gr.Button
    faith: gr.Markdown
    curve_img: gr.Image
    d_btn: gr.Button
    d_img: gr.Image
    d_info: gr.Markdown
    export_btn: gr.Button
    export_files: gr.File
    grid: gr.Textbox | None = None           # the layer's grid side, for painting in the page (paint.js)
    paint_go: gr.Button | None = None        # pressed by paint.js when a drag ends: the server draws it
    versions: object = None                  # the timeline and A/B (versions.VersionsWidgets)
    tab: gr.Tab | None = None

    @property
    def shown(self) -> list:
        """What `SurgeryHandlers.on_refresh` sets: the picture to paint on, the result and the controls."""
        return [self.sketch, self.picture, self.info, self.faith, self.curve_img, self.action, self.scope,
                self.brush, self.target, self.k, self.grid]


def surgery_layout() -> SurgeryWidgets:
    gr.Markdown(INTRO)
    refresh_go = gr.Button(elem_id="surg_refresh_go", elem_classes="attn-carrier")
    grid = gr.Textbox(elem_id="surg_grid", elem_classes="attn-carrier", show_label=False)
    paint_go = gr.Button(elem_id="surg_paint_go", elem_classes="attn-carrier")
    corner = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=260):
            action = gr.Radio(list(ACTION_LABELS), value=next(iter(ACTION_LABELS)), label="Action",
                              elem_id="surg_action")
            scope = gr.Radio(list(SCOPE_LABELS), value=next(iter(SCOPE_LABELS)), elem_id="surg_scope",
                             label="Whose attention (switch off, redirect)")
            paint = gr.Radio(list(PAINT_LABELS), value=next(iter(PAINT_LABELS)), elem_id="surg_paint",
                             label="The picture draws the")
            brush = gr.Textbox(label="Brush x0, y0, x1, y1, or a painted mask:N:…",
                               placeholder="e.g. 128, 128, 384, 384", elem_id="surg_brush")
            target = gr.Textbox(label="Target x0, y0, x1, y1 (redirect), or a painted mask:N:…",
                                placeholder="e.g. 0, 300, 512, 512", elem_id="surg_target")
            with gr.Row():
                clear_btn = gr.Button("Clear brush and target", size="sm", elem_id="surg_clear")
                run_btn = gr.Button("Intervene and re-render", variant="primary", elem_id="surg_run")
        with gr.Column(scale=1, min_width=300):
            sketch = gr.Image(elem_id="surg_sketch", format="png", buttons=[], interactive=False, type="numpy",
                              height=DISPLAY, width=DISPLAY,
                              label="The image on screen: brush (cyan), target (magenta), the click")
    picture = gr.Image(elem_id="surg_img", format="png", type="numpy", interactive=False, buttons=["download"],
                       label="before | after | the difference, in grey levels")
    info = gr.Markdown(elem_id="surg_info")
    with gr.Accordion("Is the map faithful? Delete what it points at", open=True):
        with gr.Row():
            k = gr.Slider(1, 64, value=5, step=1, label="k: key cells removed", elem_id="surg_k")
            faith_btn = gr.Button("Test the clicked pixel's map", elem_id="surg_faith_btn")
            curve_btn = gr.Button("… and draw the deletion curve", elem_id="surg_curve_btn")
        faith = gr.Markdown(elem_id="surg_faith")
        curve_img = gr.Image(elem_id="surg_curve", format="png", type="numpy", interactive=False,
                             buttons=["download"], show_label=False, visible=False)
    with gr.Accordion("The discriminator's view of this image", open=False):
        d_btn = gr.Button("Where D's attention looks from the clicked pixel", elem_id="surg_d_btn")
        d_info = gr.Markdown(elem_id="surg_d_info")
        d_img = gr.Image(elem_id="surg_d_img", format="png", type="numpy", interactive=False,
                         buttons=["download"], show_label=False)
    versions = versions_layout()
    with gr.Row():
        export_btn = gr.Button("Export: before, after, difference (PNG, each carries the view) and the "
                               "difference (.npy)", elem_id="surg_export_btn")
    export_files_ = gr.File(elem_id="surg_export", label="Exports", file_count="multiple", interactive=False)
    return SurgeryWidgets(refresh_go, action, scope, paint, brush, target, clear_btn, run_btn, sketch, corner,
                          picture, info, k, faith_btn, curve_btn, faith, curve_img, d_btn, d_img, d_info,
                          export_btn, export_files_, grid, paint_go, versions)
