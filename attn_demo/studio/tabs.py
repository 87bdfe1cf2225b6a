"""What every tab's Gradio layer shares, written once: its widgets' common part and its handlers' verbs.

A tab is a desk without Gradio (desk.Desk: `core.Studio`, `textures.desk.CanvasDesk`), its
widgets and its handlers. The widgets every tab has (`TabWidgets`: the view, the model, class,
seed, truncation and sliders, the map's layer, head and mode, the clickable picture, export,
import and the "is this a copy?" galleries) and the verbs every tab's handlers answer the same
way (`TabHandlers`: a click's pixel, a state file or PNG dropped on the tab, the exports, the
nearest training pictures, the model-dependent choices) live here; a tab adds its own widgets
and verbs and says where it differs with a few class attributes and small overrides:

    WHAT             what the tab's picture is called in a message ("image", "canvas")
    click_scale(v)   page pixels per picture pixel of a click (the image tab: 1, clicks are kept in page pixels)
    click_bounds(v)  the size (width, height) a click must fall inside
    open_view(v)     the outputs that show view `v` after an import
    HIDE_SINGLE      whether a Layer list or Head choice with one possible value is hidden
"""
from __future__ import annotations

from dataclasses import dataclass

from ._gradio import gr
from ..checks import check_whole
from ..errors import AttnDemoError
from ..models.latents import SLIDER_RANGE
from .desk import check_kind, read_state
from .neighbours import LABELS as NN_LABELS
from .view import MAX_SLIDERS


@dataclass
class TabWidgets:
    """The widgets every tab has (a tab's own widgets class adds its others and `settings`, `shown`,
    `restored`: what its render reads, what it changes, what a restored view sets)."""
    view: gr.State              # the session's view on screen (a tab's desk's view class)
    model: gr.Dropdown
    label: gr.Dropdown
    seed: gr.Number
    rand_btn: gr.Button
    psi: gr.Slider
    sliders: list
    layer: gr.Dropdown
    head: gr.Dropdown
    mode: gr.Radio
    image: gr.Image             # the clickable picture
    export_btn: gr.Button
    export_files: gr.File
    import_file: gr.File
    nn_features: gr.Gallery     # "is this a copy?": the nearest training pictures, by features and by pixels
    nn_pixels: gr.Gallery

    @classmethod
    def of(cls, names: dict):
        """The widgets among `names` (a layout's locals) that are this class's fields."""
        return cls(**{k: v for k, v in names.items() if k in cls.__dataclass_fields__})


def choice_updates(engine, label, layer, head, hide_single: bool = True) -> list:
    """The class, layer and head widgets for `engine`'s model, set to `label`, `layer`, `head` (None: the
    model's first class, its last layer, the mean over heads). A Layer list or Head choice with one
    possible value is hidden where `hide_single`; a model without classes hides the class list."""
    names = engine.class_names if engine.cfg.num_classes else []
    label = label if label in names else (names[0] if names else None)
    single = {"visible": len(engine.layers) > 1} if hide_single else {}
    one_head = {"visible": engine.cfg.heads > 1} if hide_single else {}
    return [gr.update(choices=names, value=label, visible=bool(names)),
            gr.update(choices=engine.layers, value=layer or engine.layers[-1], **single),
            gr.update(choices=["mean"] + [str(h) for h in range(engine.cfg.heads)],
                      value="mean" if head is None else str(head), **one_head)]


def slider_updates(engine, values=()) -> list:
    """The MAX_SLIDERS slider widgets for `engine`'s directions (the rest hidden), set to `values`."""
    d = engine.directions
    labels, spans = (list(d.labels), list(d.spans)) if d is not None else ([], [])
    spans += [SLIDER_RANGE[1]] * (MAX_SLIDERS - len(spans))
    values = list(values) + [0.0] * MAX_SLIDERS
    return [gr.update(visible=i < len(labels), label=labels[i] if i < len(labels) else "",
                      minimum=-spans[i], maximum=spans[i], step=0.05, value=values[i]) for i in range(MAX_SLIDERS)]


class TabHandlers:
    """The verbs every tab's handlers share, on the tab's desk (see the module's docstring)."""

    WHAT = "picture"
    HIDE_SINGLE = True

    def __init__(self, desk):
        self.desk = desk

    # ------------------------------------------------------------ what a tab says of itself
    def click_scale(self, v) -> int:
        return 1

    def click_bounds(self, v) -> tuple[int, int]:
        raise NotImplementedError

    def open_view(self, v) -> list:
        raise NotImplementedError

    # ------------------------------------------------------------ the shared verbs
    def point_of(self, evt: gr.SelectData, v) -> tuple[int, int]:
        """A click on the tab's picture: its pixel, checked (whole numbers, inside the picture)."""
        index = evt.index
        if not isinstance(index, (list, tuple)) or len(index) != 2:
            raise AttnDemoError(f"click inside the {self.WHAT}")
        scale = self.click_scale(v)
        x, y = (check_whole("click coordinate", c) // scale for c in index)
        width, height = self.click_bounds(v)
        if not (0 <= x < width and 0 <= y < height):
            raise AttnDemoError(f"click ({x}, {y}) is outside the {self.WHAT}: click inside the {self.WHAT}")
        return x, y

    def on_import(self, data):
        """A state file or an exported PNG (state.read_state, once for every tab); a state of another
        tab's kind says where it loads (desk.check_kind)."""
        v, warnings = self.desk.parse_state(check_kind(read_state(data), self.desk))
        for w in warnings:
            gr.Warning(w)
        return self.open_view(v)

    def on_export(self, *values) -> list[str]:
        """Every file of the view on screen (the session's view, the last input; a tab's export
        options before it): the desk's export."""
        *options, v = values
        return [str(p) for p in self.desk.export(v, *options)]

    def on_neighbours(self, v):
        """The nearest training pictures of the view's picture (the desk's `neighbours`); for a model
        without an index the panel says why it is empty (the first gallery's label)."""
        found = self.desk.neighbours(v)
        if found is None:
            shelf = self.desk.shelf
            why = shelf.missing(v.model, self.desk.engine(v.model).path) if shelf else \
                f"{v.model} ships no neighbour index"
            return gr.update(value=None, visible=True, label=f"Nothing to compare: {why}"), gr.update(visible=False)
        return (gr.update(value=found["features"], visible=True, label=NN_LABELS[0]),
                gr.update(value=found["pixels"], visible=True, label=NN_LABELS[1]))

    def model_updates(self, name: str, sliders=(), layer=None, head=None, label=None) -> list:
        """The model-dependent widgets (class, layer, head, sliders) for model `name`; the class `label`
        stays where the model has it."""
        engine = self.desk.engine(name)
        return [*choice_updates(engine, label, layer, head, self.HIDE_SINGLE), *slider_updates(engine, sliders)]
