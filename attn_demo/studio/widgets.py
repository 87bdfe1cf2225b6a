"""The studio's widgets and their arrangement (events.py wires them to handlers).

One column of controls, the large clickable image, the attention view with
its tabs and controls, then tabs for the gallery, interpolation and export.
On a narrow screen the columns stack.
"""
from __future__ import annotations

from dataclasses import dataclass

from ._gradio import gr
from ..checks import SEED_MAX
from ..models.latents import PSI_RANGE, SLIDER_RANGE
from ..imaging.draw import COLORMAPS
from .core import MAX_DATASET_PER_CLASS, MAX_GRID, Studio
from .exports import ANIMATION_FORMATS, EXPORT_SIZES
from .pictures import PictureWidgets, picture_layout
from .surgery import SurgeryWidgets, surgery_layout
from .tabs import TabWidgets
from .textures import TextureWidgets, texture_layout
from .view import DISPLAY, MAX_PINS, MAX_SLIDERS, MODE_LABELS, View

PATH_LABELS = {"seed to seed (slerp; 3+ seeds loop back)": "slerp",
               "exact loop through 2 seeds: a·cos θ + b·sin θ (every frame a prior sample)": "circle"}
ALL_TAB = "All layers & heads"


def has_grid(engine) -> bool:
    """Whether the "All layers & heads" grid shows more than one map: not for one layer of one head."""
    return len(engine.layers) > 1 or engine.cfg.heads > 1


NORM_LABELS = {"each map to its own maximum": "peak", "one scale: relative to uniform (1/Nk)": "uniform"}

HELP = """
Self-attention lets each pixel of a feature map gather information from every other one. The
**bright** areas are where the clicked pixel takes its information from (*where this pixel looks*),
or which pixels take information from it (*what looks at this pixel*). The colour bar under the map
gives the real attention weights, with the weight of a uniform map (1/Nk) marked. By default each map
is scaled to its own maximum; *one scale relative to uniform* draws every map from 0 to 8x uniform, so
a nearly flat map looks flat and maps can be compared.

- **γ (gamma)** is how much of the attention output the layer mixes into its features. It starts
  at 0 in training: near 0, the map hardly matters to the image, however sharp it looks.
- **Entropy** measures spread: 100% of uniform means the pixel looks everywhere equally, low values
  mean it looks at a few places.
- **Mean distance** is how far, in image pixels, the pixel looks on average: local texture or
  long-range structure (SAGAN's point: attention reaches far where convolutions cannot).
- A layer's map is coarser than the image (G16 is 16x16 for a 32x32 image, keys pooled to 8x8);
  the map is smoothed over the image with bilinear interpolation.
"""



@dataclass
class Widgets(TabWidgets):
    prev_btn: gr.Button
    next_btn: gr.Button
    reset_btn: gr.Button
    slider_img: gr.Image
    click_info: gr.Textbox
    live_toggle: gr.Checkbox
    view_data: gr.Textbox
    open_query: gr.Textbox
    open_go: gr.Button
    live_xy: gr.Textbox
    live_go: gr.Button
    overlay: gr.Image
    legend: gr.Image
    stats: gr.Markdown
    summary_kind: gr.Radio
    summary_img: gr.Image
    summary_md: gr.Markdown
    pin_btn: gr.Button
    clear_btn: gr.Button
    compare_img: gr.Image
    all_img: gr.Image
    view_tabs: gr.Tabs          # the attention view's tabs: the "All layers & heads" grid is drawn while open
    all_tab: gr.Tab             # hidden for a model whose grid would be identical tiles (one layer, one head)
    all_open: gr.State
    cmap: gr.Dropdown
    alpha: gr.Slider
    norm: gr.Radio
    grid_count: gr.Slider
    grid_btn: gr.Button
    gallery: gr.Gallery
    ds_count: gr.Slider
    ds_btn: gr.Button
    ds_file: gr.File
    interp_seeds: gr.Textbox
    interp_frames: gr.Slider
    interp_fps: gr.Slider
    interp_follow: gr.Checkbox
    interp_path: gr.Radio
    interp_format: gr.Radio
    interp_btn: gr.Button
    interp_img: gr.Image
    interp_video: gr.Video      # an MP4 loops here (a page's <img> shows GIF and WebP, not MP4)
    interp_file: gr.File
    export_size: gr.Radio
    share_btn: gr.Button
    share_link: gr.Textbox
    textures: TextureWidgets | None = None      # the Textures tab, when a canvas model is loaded
    pictures: PictureWidgets | None = None      # the "Your picture" tab
    surgery: SurgeryWidgets | None = None       # the "What attention does" tab (studio/surgery/)

    @property
    def settings(self) -> list:
        """Every widget a render or a map depends on, in `Handlers.view_from` order."""
        return [self.view, self.model, self.seed, self.psi, self.label, *self.sliders,
                self.layer, self.head, self.mode, self.alpha, self.cmap, self.norm]

    @property
    def shown(self) -> list:
        """What a render changes: the image and everything drawn from it."""
        return [self.image, *self.shown_map]

    @property
    def shown_map(self) -> list:
        """What a click or a map control changes: not the image, which stays as it is."""
        return [self.overlay, self.legend, self.stats, self.click_info, self.view]

    @property
    def values(self) -> list:
        """The widgets of `settings` without the View: what `Handlers.values_of` sets back."""
        return self.settings[1:]

    @property
    def restored(self) -> list:
        """The widgets `Handlers.widgets_for` sets: the values, with the model's choices; not the seed,
        which is set after them (its change renders, from every widget: they must be in place)."""
        return [self.model, self.psi, *self.model_dependent, self.mode, self.alpha, self.cmap, self.norm]

    @property
    def model_dependent(self) -> list:
        return [self.label, self.layer, self.head, *self.sliders]


def layout(studio: Studio, default: View) -> Widgets:
    """Every widget of the page, in its place (call inside a gr.Blocks): the controls, the image and the
    attention view side by side, then the lower tabs. Each part is a function below; its widgets come
    back by their variable names, `Widgets`' fields."""
    engine = studio.engine(default.model)
    made = {"view": gr.State(default)}
    gr.Markdown("# attn-demo · self-attention GAN studio\nRoll seeds, move the sliders, and **click any "
                "pixel** of the image to see where the generator's self-attention looks from there.")
    with gr.Row(equal_height=False, elem_id="main_row"):
        made |= controls_column(studio, default, engine)
        made |= image_column()
        made |= map_column(default, engine)
    with gr.Tabs(elem_id="lower_tabs", overflow_behavior="wrap"):   # every tab in reach on a phone
        made |= gallery_tab()
        made |= interpolate_tab()
        made |= export_tab()
        made |= other_tabs(studio)
    return Widgets(**made)


def _named(names: dict) -> dict:
    """A part's widgets by their variable names: the locals that are `Widgets`' fields."""
    return {k: v for k, v in names.items() if k in Widgets.__dataclass_fields__}


def controls_column(studio: Studio, default: View, engine) -> dict:
    """The left column: model, class, seed, truncation, and the sliders with their previews."""
    classes = engine.class_names if engine.cfg.num_classes else []
    directions = list(engine.directions.labels) if engine.directions is not None else []
    with gr.Column(scale=1, min_width=260, elem_id="controls_col"):
        model = gr.Dropdown(studio.models, value=default.model, label="Model", elem_id="model_dd")
        label = gr.Dropdown(classes, value=default.args.label, label="Class", interactive=True,
                            visible=bool(classes))
        # precision=None: Gradio would round 1.5 to 2 silently; the studio refuses it, as the API does.
        seed = gr.Number(value=default.args.seed, label="Seed", minimum=0, maximum=SEED_MAX, elem_id="seed")
        with gr.Row():
            prev_btn = gr.Button("◀ prev", size="sm", min_width=60, elem_id="prev_btn")
            rand_btn = gr.Button("random", size="sm", min_width=60, elem_id="rand_btn")
            next_btn = gr.Button("next ▶", size="sm", min_width=60, elem_id="next_btn")
        psi = gr.Slider(*PSI_RANGE, value=default.args.psi, step=0.01, label="Truncation ψ",
                        info="1 = full variety; lower = cleaner, more typical images")
        with gr.Accordion("Sliders: the model's principal directions (each as far as its images stay "
                          "like the real ones)", open=True):
            spans = list(engine.directions.spans) if engine.directions is not None else []
            sliders = [gr.Slider(-span, span, value=0, step=0.05, visible=i < len(directions),
                                 label=directions[i] if i < len(directions) else f"direction {i + 1}")
                       for i, span in enumerate(spans + [SLIDER_RANGE[1]] * (MAX_SLIDERS - len(spans)))]
            reset_btn = gr.Button("Reset sliders", size="sm")
            slider_img = gr.Image(elem_id="slider_img", label="Each slider one step down and up from here",
                                  format="png", buttons=[], interactive=False, type="numpy",
                                  visible=bool(directions))
    return _named(locals())


def image_column() -> dict:
    """The middle column: the clickable image, the click line, live mode and the page's carriers."""
    with gr.Column(scale=2, min_width=300, elem_id="image_col"):
        image = gr.Image(elem_id="gen_img", format="png", show_label=False, buttons=[], interactive=False,
                         type="numpy", height=DISPLAY, width=DISPLAY)
        click_info = gr.Textbox(elem_id="click_info", show_label=False, interactive=False,
                                placeholder="Click the image to inspect a pixel")
        live_toggle = gr.Checkbox(value=True, elem_id="live_toggle",
                                  label="Live: the map follows the pointer over the image (a click keeps it)")
        # the render's queries and keys for the page (studio/live.py), and the pointer's pixel
        # for the server when a model's are too large to ship
        view_data = gr.Textbox(elem_id="view_data", elem_classes="attn-carrier", show_label=False)
        live_xy = gr.Textbox(elem_id="live_xy", elem_classes="attn-carrier", show_label=False)
        live_go = gr.Button("live point", elem_id="live_go", elem_classes="attn-carrier")
        # history and favourites, kept in the browser (keep.js draws them into this panel)
        gr.HTML('<div id="keep_panel"></div>', elem_id="keep_html")
        with gr.Accordion("Is this a copy? The nearest training images (distance · class)", open=False,
                          elem_id="nn_panel"):
            nn_features = gr.Gallery(label="By the feature net's features", columns=4, height="auto",
                                     allow_preview=False, format="png", elem_id="nn_features")
            nn_pixels = gr.Gallery(label="By pixels", columns=4, height="auto", allow_preview=False,
                                   format="png", elem_id="nn_pixels")
        open_query = gr.Textbox(elem_id="open_query", elem_classes="attn-carrier", show_label=False)
        open_go = gr.Button("open kept view", elem_id="open_go", elem_classes="attn-carrier")
    return _named(locals())


def map_column(default: View, engine) -> dict:
    """The right column: the attention view's tabs and the map's controls."""
    with gr.Column(scale=2, min_width=300, elem_id="map_col"):
        all_open = gr.State(False)
        with gr.Tabs(elem_id="view_tabs", overflow_behavior="wrap") as view_tabs:
            with gr.Tab("Attention"):
                overlay = gr.Image(elem_id="attn_img", format="png", show_label=False, buttons=[],
                                   interactive=False, type="numpy", height=DISPLAY, width=DISPLAY)
                legend = gr.Image(elem_id="attn_legend", format="png", show_label=False, buttons=[],
                                  interactive=False, type="numpy", height=44, width=DISPLAY)
                stats = gr.Markdown(elem_classes="attn-stats")
                # the numbers of the map under the pointer (live.js writes them)
                gr.HTML('<div id="live_numbers"></div>', elem_id="live_html")
            with gr.Tab("Layer summary"):
                summary_kind = gr.Radio(["distance", "entropy"], value="distance",
                                        label="Per pixel: how far it looks (px), or how spread its attention is")
                summary_img = gr.Image(elem_id="summary_img", format="png", show_label=False,
                                       buttons=["download"], interactive=False, type="numpy")
                summary_md = gr.Markdown()
            with gr.Tab(ALL_TAB, elem_id="all_tab", visible=has_grid(engine)) as all_tab:
                gr.Markdown("The clicked pixel's map in every attention layer (rows) and head (columns); "
                            "with several layers, the last row is the attention *rollout*: where the pixel "
                            "draws from through every layer, each mixed with its residual by γ "
                            "(an approximation: the convolutions between the layers are left out).")
                all_img = gr.Image(elem_id="all_img", format="png", show_label=False,
                                   buttons=["download"], interactive=False, type="numpy")
            with gr.Tab("Compare"):
                with gr.Row():
                    pin_btn = gr.Button(f"Pin the clicked point (up to {MAX_PINS})", size="sm", elem_id="pin_btn")
                    clear_btn = gr.Button("Clear pins", size="sm")
                compare_img = gr.Image(elem_id="compare_img", format="png", show_label=False,
                                       buttons=["download"], interactive=False, type="numpy")
        with gr.Row():
            # a list with one possible value is hidden (a one-layer model's Layer, a one-head model's Head)
            layer = gr.Dropdown(engine.layers, value=default.map.layer or engine.layers[-1], label="Layer",
                                interactive=True, min_width=90, elem_id="layer_dd", visible=len(engine.layers) > 1)
            head = gr.Dropdown(["mean"] + [str(h) for h in range(engine.cfg.heads)], value="mean",
                               label="Head", interactive=True, min_width=90, elem_id="head_dd",
                               visible=engine.cfg.heads > 1)
            cmap = gr.Dropdown(list(COLORMAPS), value=default.map.cmap, label="Colormap", min_width=90)
        mode_label = next(label for label, m in MODE_LABELS.items() if m == default.map.mode)
        mode = gr.Radio(list(MODE_LABELS), value=mode_label, label="Mode", elem_id="mode_radio")
        alpha = gr.Slider(0, 1, value=default.map.alpha, step=0.05, label="Opacity")
        norm_label = next(label for label, n in NORM_LABELS.items() if n == default.map.norm)
        norm = gr.Radio(list(NORM_LABELS), value=norm_label, label="Colour scale", elem_id="norm_radio")
        with gr.Accordion("How to read the map", open=False):
            gr.Markdown(HELP)
    return _named(locals())


def gallery_tab() -> dict:
    """Gallery: samples from the current seed on, and a labelled data set."""
    with gr.Tab("Gallery"):
        with gr.Row():
            grid_count = gr.Slider(4, MAX_GRID, value=16, step=4, label="Images (seeds from the current one on)",
                                   elem_id="grid_count")
            grid_btn = gr.Button("Show samples", variant="secondary")
        gallery = gr.Gallery(elem_id="gallery", columns=8, height="auto", allow_preview=False,
                             show_label=False, format="png")   # never lossy WEBP (the default)
        with gr.Row():
            ds_count = gr.Slider(1, MAX_DATASET_PER_CLASS, value=64, step=1, elem_id="ds_count",
                                 label="A labelled data set: images per class, with these settings")
            ds_btn = gr.Button("Download the data set (zip: a folder per class, labels.csv, manifest.json)",
                               elem_id="ds_btn")
        ds_file = gr.File(label="The data set", interactive=False, elem_id="ds_file")
    return _named(locals())


def interpolate_tab() -> dict:
    """Interpolate: an animation through latent space."""
    with gr.Tab("Interpolate"):
        with gr.Row():
            interp_seeds = gr.Textbox(value="1, 7", label="Seeds: A, B (or several for a loop)")
            interp_frames = gr.Slider(2, 60, value=16, step=1, label="Frames per step")
            interp_fps = gr.Slider(1, 30, value=12, step=1, label="Frames per second")
            interp_follow = gr.Checkbox(label="Show the clicked point's map", value=True)
        with gr.Row():
            interp_path = gr.Radio(list(PATH_LABELS), value=next(iter(PATH_LABELS)), label="Path",
                                   elem_id="interp_path")
            interp_format = gr.Radio(list(ANIMATION_FORMATS), value="gif", label="Format",
                                     info="mp4: H.264, for video editors; webp: lossless, small")
        interp_btn = gr.Button("Make the animation", variant="secondary", elem_id="interp_btn")
        with gr.Row():
            interp_img = gr.Image(type="filepath", show_label=False, interactive=False, buttons=["download"],
                                  elem_id="interp_img")
            interp_video = gr.Video(show_label=False, interactive=False, autoplay=True, loop=True, visible=False,
                                    elem_id="interp_video", buttons=["download"])
            interp_file = gr.File(label="The animation file", interactive=False, elem_id="interp_file")
    return _named(locals())


def export_tab() -> dict:
    """Export / import: the files of the view on screen, its link, and a state to load."""
    with gr.Tab("Export / import"):
        with gr.Row():
            export_size = gr.Radio(list(EXPORT_SIZES), value="native", label="Image size")
            export_btn = gr.Button("Export: a zip of everything, the image, the map (overlay, transparent heat "
                                   "map, .npy) and the state (.json)", elem_id="export_btn")
        export_files = gr.File(elem_id="export_files", label="Exports", file_count="multiple",
                               interactive=False)
        with gr.Row():
            share_btn = gr.Button("Link to this view", size="sm", elem_id="share_btn", scale=0, min_width=160)
            share_link = gr.Textbox(elem_id="share_link", show_label=False, interactive=False, buttons=["copy"],
                                    placeholder="a link that opens on this image and its clicked map")
        import_file = gr.File(elem_id="import_file", label="Load a state .json, or drop an exported PNG",
                              file_types=[".json", ".png"],
                              type="binary")
    return _named(locals())


def other_tabs(studio: Studio) -> dict:
    """The tabs of their own: Your picture, What attention does, and Textures (with a canvas model)."""
    with gr.Tab("Your picture", elem_id="inv_tab"):
        pictures = picture_layout()
    with gr.Tab("What attention does", elem_id="surg_tab") as surgery_tab:
        surgery = surgery_layout()
        surgery.tab = surgery_tab
    textures = None
    if studio.canvas.models:
        with gr.Tab("Textures", elem_id="tex_tab"):
            textures = texture_layout(studio.canvas)
    return _named(locals())
