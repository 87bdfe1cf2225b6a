"""Named API endpoints for gradio_client: /generate, /inspect, /interpolate, /grid (and, for canvas
models, /material and /material_glb: studio/textures/api.py; /intervene and /d_attention:
studio/surgery/api.py).

Each takes explicit arguments through hidden components. Every numeric
input is bounded in its component (Gradio refuses out-of-range values before
our code runs) and validated again here: NaN and Inf pass Gradio's bound
checks, whole numbers must be whole (1.5 is refused, not rounded), and raw
HTTP callers can send anything. Arguments beyond an endpoint's parameters
are ignored (Gradio drops them).

    from gradio_client import Client
    c = Client("http://127.0.0.1:7860/")
    image_path, info = c.predict("emoji32", 42, 0.8, "Animals & Nature", "", api_name="/generate")
    overlay_path, stats = c.predict("emoji32", 42, 0.8, "Animals & Nature", "", 16, 9, 32, "", "mean",
                                    "looks-at", api_name="/inspect")
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._gradio import gr
from ..checks import SEED_MAX, check_finite, check_seed, check_whole, parse_head, parse_numbers, parse_seeds
from ..models.latents import PSI_RANGE
from ..errors import InputError
from ..imaging.draw import MARKER_COLORS, image_grid
from ..serving.engine import MapSettings, RenderArgs
from ..serving.probe import LOOKS_AT
from .core import MAX_GRID, Studio
from .endpoint import ApiNumber, ApiText, described  # noqa: F401 - the endpoints' inputs, also for callers
from .guard import GROUP, gpu, guard
from .surgery.api import add_intervene_api
from .textures.api import add_material_api
from .view import View

ALL_LAYERS, ROLLOUT = "all", "rollout"    # /inspect's layer may also name every layer, or the rollout


@dataclass
class ApiInputs:
    """The API's hidden input and output components (Gradio reads each endpoint's inputs from them)."""
    model: Any
    seed: Any
    psi: Any
    label: Any
    sliders: Any
    x: Any
    y: Any
    size: Any
    layer: Any
    head: Any
    mode: Any
    seeds: Any
    frames: Any
    count: Any
    route: Any
    fmt: Any
    image_out: Any
    info_out: Any
    file_out: Any
    buttons: Any


def api_inputs(studio: Studio) -> ApiInputs:
    """The hidden components, described and with examples for the "Use via API" page (inside a gr.Blocks)."""
    first = studio.models[0]
    engine = studio.engine(first)
    a_class = engine.class_names[0] if engine.cfg.num_classes else ""
    with gr.Column(visible=False):
        model = described(ApiText(label="model"), f"a model name: {', '.join(studio.models)}", first)
        seed = described(ApiNumber(label="seed", minimum=0, maximum=SEED_MAX, value=0),
                         f"a whole number in 0..{SEED_MAX}; the same seed gives the same image anywhere", 42,
                         whole=True)
        psi = described(ApiNumber(label="truncation", minimum=PSI_RANGE[0], maximum=PSI_RANGE[1], value=1.0),
                        "psi in [0, 1]: 1 = full variety, lower = cleaner, more typical images", 0.8)
        label = described(ApiText(label="label"), "a class name or index; empty for unconditional models", a_class)
        sliders = described(ApiText(label="sliders"), "comma-separated offsets along the slider directions, each "
                            "within its slider's range (see the model card), e.g. '1, 0, -1'; empty for none", "")
        x = described(ApiNumber(label="x", minimum=0, maximum=8191, value=0),
                      "the pixel's column in a size x size picture of the image", 16, whole=True)
        y = described(ApiNumber(label="y", minimum=0, maximum=8191, value=0), "the pixel's row in that picture", 9,
                      whole=True)
        size = described(ApiNumber(label="size", minimum=0, maximum=8192, value=0),
                         "the side of the picture x and y refer to; 0 = the image itself", 0, whole=True)
        layer = described(ApiText(label="layer"), "an attention layer, e.g. G16; empty = the last one; 'all' = "
                          "every layer and head in one picture; 'rollout' = through every layer", "")
        head = described(ApiText(label="head", value="mean"), "'mean' (the mean over heads) or a head index, "
                         "e.g. '0'", "mean")
        mode = described(ApiText(label="mode", value=LOOKS_AT), "'looks-at' (where this pixel looks) or "
                         "'looked-at-by' (what looks at this pixel)", LOOKS_AT)
        seeds = described(ApiText(label="seeds"), "'1, 7' (A to B) or '3, 8, 12' (a closed loop)", "1, 7")
        frames = described(ApiNumber(label="frames", minimum=2, maximum=120, value=16),
                           "frames per step between two seeds, 2..120", 16, whole=True)
        count = described(ApiNumber(label="count", minimum=1, maximum=MAX_GRID, value=16),
                          f"how many images, 1..{MAX_GRID}", 16, whole=True)
        route = described(ApiText(label="path", value="slerp"), "'slerp' (seed to seed; three or more seeds "
                          "loop back) or 'circle' (the exact loop a cos t + b sin t through two seeds)", "circle")
        fmt = described(ApiText(label="format", value="gif"), "'gif', 'mp4' (H.264) or 'webp'", "mp4")
        image_out = gr.Image(format="png", type="numpy", label="image")
        info_out = gr.JSON(label="info")
        file_out = gr.File(label="animation")
        buttons = [gr.Button(visible=False) for _ in range(4)]
    return ApiInputs(**{k: v for k, v in locals().items() if k in ApiInputs.__dataclass_fields__})


def args_of(studio: Studio, model, seed, truncation, label, sliders) -> RenderArgs:
    studio.engine(model)                            # unknown model -> clear error first
    return RenderArgs(check_seed(seed), check_finite("truncation", truncation), label or None,
                      parse_numbers("sliders", sliders))


# The endpoints' parameter names and docstrings are what the app's "Use via API" page shows.
def render_endpoints(studio: Studio):
    """/generate and /grid: one image, or a grid of seeds."""
    @gpu
    @guard
    def generate(model, seed, truncation, label, sliders):
        """Render one image. Returns the image and {"model", "seed", "class", "timings_ms"}.

        Args:
            model: a model name, e.g. "emoji32" (the studio's Model list)
            seed: a whole number in 0..4294967295; the same seed gives the same image anywhere
            truncation: psi in [0, 1]: 1 = full variety, lower = cleaner, more typical images
            label: a class name (e.g. "Animals & Nature") or index; "" for unconditional models
            sliders: comma-separated offsets along the model's slider directions, e.g. "1, 0, -1", each
                within its slider's range; "" for none
        """
        result = studio.render(model, args_of(studio, model, seed, truncation, label, sliders))
        return result.image, {"model": model, "seed": result.args.seed, "class": result.class_index,
                              "timings_ms": result.timings}

    @gpu
    @guard
    def grid(model, seed, count, truncation, label, sliders):
        """A grid of samples for seeds seed, seed + 1, ... Returns the grid and {"seeds": [...]}.

        Args:
            model: a model name, e.g. "emoji32"
            seed: the first seed, a whole number in 0..4294967295
            count: how many images, 1..64
            truncation: psi in [0, 1]
            label: a class name or index; "" for unconditional models
            sliders: comma-separated slider offsets; "" for none
        """
        tiles = studio.grid(model, args_of(studio, model, seed, truncation, label, sliders), check_whole("count", count))
        return image_grid([t for t, _ in tiles], nrow=8), {"seeds": [s for _, s in tiles]}

    return generate, grid


def inspect_endpoint(studio: Studio):
    """/inspect: one pixel's map (or every layer's, or the rollout)."""
    @gpu
    @guard
    def inspect(model, seed, truncation, label, sliders, x, y, size, layer, head, mode):
        """The attention map of one pixel, over the image. Returns the overlay and the map's statistics
        with the map itself ("map"); layer "all" returns every layer and head, "rollout" the rollout.

        Args:
            model: a model name, e.g. "emoji32"
            seed: a whole number in 0..4294967295
            truncation: psi in [0, 1]
            label: a class name or index; "" for unconditional models
            sliders: comma-separated slider offsets, e.g. "1, 0, -1", each within its slider's range; "" for none
            x: the pixel's column in a size x size picture of the image
            y: the pixel's row in that picture
            size: the side of the picture x and y refer to; 0 = the image itself
            layer: an attention layer, e.g. "G16"; "" = the last one; "all" = every layer and head; "rollout"
            head: "mean" (the mean over heads) or a head index, e.g. "0"
            mode: "looks-at" (where this pixel looks) or "looked-at-by" (what looks at this pixel)
        """
        engine = studio.engine(model)
        side = check_whole("size", size) or engine.cfg.resolution
        args = args_of(studio, model, seed, truncation, label, sliders)
        x, y, result = check_whole("x", x), check_whole("y", y), studio.render(model, args)
        if layer in (ALL_LAYERS, ROLLOUT):
            settings = MapSettings(None, parse_head(head), mode or LOOKS_AT).checked()
            out = engine.all_maps(result, x, y, settings, size=(side, side))
            if layer == ALL_LAYERS:        # every layer and head in one labelled picture
                return out.picture, {"maps": [{**m.stats(), "map": m.heat.tolist()} for m in out.maps],
                                     "rollout": None if out.rollout is None else out.rollout.tolist()}
            if out.rollout is None:
                raise InputError("the rollout needs two or more attention layers; this model has one")
            overlay = engine.overlay(result.image, out.rollout, (x, y), (side, side), studio.scale(model),
                                     settings, MARKER_COLORS[0])
            return overlay, {"layer": ROLLOUT, "approximation": True, "grid": list(out.rollout.shape),
                             "x": x, "y": y, "size": [side, side], "map": out.rollout.tolist()}
        settings = MapSettings(layer or None, parse_head(head), mode or LOOKS_AT)
        out = engine.inspect(result, x, y, settings, size=(side, side), scale=studio.scale(model))
        return out.overlay, {**out.stats, "map": out.heat.tolist()}

    return inspect


def interpolate_endpoint(studio: Studio):
    """/interpolate: an animation through latent space."""
    @gpu
    @guard
    def interpolate(model, seeds, truncation, label, frames, path="slerp", format="gif"):
        """An animation through latent space: a GIF, an H.264 MP4 or an animated WebP.

        Args:
            model: a model name, e.g. "emoji32"
            seeds: comma-separated seeds, e.g. "1, 7" (A to B) or "3, 8, 12" (a loop)
            truncation: psi in [0, 1]
            label: a class name or index; "" for unconditional models
            frames: frames per step (slerp) or in all (circle), 2..120
            path: "slerp" (seed to seed) or "circle" (the exact loop a cos t + b sin t through two seeds)
            format: "gif", "mp4" or "webp"
        """
        view = View(model, args_of(studio, model, 0, truncation, label, ""))
        return str(studio.interpolate(view, parse_seeds(seeds), check_whole("frames", frames), path=path or "slerp",
                                      fmt=format or "gif"))

    return interpolate


def add_api(studio: Studio) -> None:
    """Create the hidden components and the four named events (inside a gr.Blocks)."""
    w = api_inputs(studio)
    (generate, grid), inspect, interpolate = render_endpoints(studio), inspect_endpoint(studio), \
        interpolate_endpoint(studio)
    common, shown = [w.model, w.seed, w.psi, w.label, w.sliders], [w.image_out, w.info_out]
    w.buttons[0].click(generate, common, shown, api_name="generate", **GROUP)
    w.buttons[1].click(inspect, [*common, w.x, w.y, w.size, w.layer, w.head, w.mode], shown, api_name="inspect",
                       **GROUP)
    w.buttons[2].click(interpolate, [w.model, w.seeds, w.psi, w.label, w.frames, w.route, w.fmt], [w.file_out],
                       api_name="interpolate", **GROUP)
    w.buttons[3].click(grid, [w.model, w.seed, w.count, w.psi, w.label, w.sliders], shown, api_name="grid", **GROUP)
    add_material_api(studio)        # /material and /material_glb, where there is a canvas model (textures/api.py)
    add_intervene_api(studio)       # /intervene and /d_attention (surgery/api.py)
